#include "elf.h"

#include "addr.h"

namespace capframe::mm {
namespace {

constexpr uint64_t kEhdrSize = 64;
constexpr uint64_t kPhdrSize = 56;

constexpr uint16_t kEtExec = 2;
constexpr uint16_t kEmRiscv = 243;
constexpr uint32_t kPtLoad = 1, kPtDynamic = 2, kPtInterp = 3;

// Little-endian byte loads; the caller has checked off + width <= size.
uint64_t load(std::span<const uint8_t> f, uint64_t off, int width) {
    uint64_t v = 0;
    for (int i = width - 1; i >= 0; --i)
        v = v << 8 | f[off + static_cast<uint64_t>(i)];
    return v;
}
uint16_t u16(std::span<const uint8_t> f, uint64_t off) {
    return static_cast<uint16_t>(load(f, off, 2));
}
uint32_t u32(std::span<const uint8_t> f, uint64_t off) {
    return static_cast<uint32_t>(load(f, off, 4));
}
uint64_t u64(std::span<const uint8_t> f, uint64_t off) {
    return load(f, off, 8);
}

Result<void> check_header(std::span<const uint8_t> f) {
    if (f.size() < kEhdrSize) return Error::Truncated;
    if (f[0] != 0x7f || f[1] != 'E' || f[2] != 'L' || f[3] != 'F') return Error::BadFormat;
    if (f[4] != 2 /* ELFCLASS64 */ || f[5] != 1 /* ELFDATA2LSB */ || f[6] != 1 /* EV_CURRENT */)
        return Error::BadFormat;
    if (u16(f, 16) != kEtExec || u16(f, 18) != kEmRiscv || u32(f, 20) != 1) return Error::BadFormat;
    if (u16(f, 52) != kEhdrSize || u16(f, 54) != kPhdrSize) return Error::BadFormat;
    if (u16(f, 56) == 0) return Error::BadFormat;
    if (!in_bounds(f.size(), u64(f, 32), u16(f, 56) * kPhdrSize)) return Error::Truncated;
    return {};
}

// One non-empty PT_LOAD on its own (file bounds, user-space bounds,
// alignment, W+X).
Result<void> check_load(std::span<const uint8_t> f, uint64_t ph, uint64_t lowest_va,
                        uint64_t top_va, ElfSegment& seg) {
    seg.flags = u32(f, ph + 4) & (kPfX | kPfW | kPfR);
    seg.offset = u64(f, ph + 8);
    seg.vaddr = u64(f, ph + 16);
    seg.filesz = u64(f, ph + 32);
    seg.memsz = u64(f, ph + 40);
    uint64_t align = u64(f, ph + 48);
    if (seg.filesz > seg.memsz) return Error::BadFormat;
    if (align & (align - 1)) return Error::BadFormat; // 0 passes: "no constraint"
    if (align >= kPageSize && seg.vaddr % kPageSize != seg.offset % kPageSize)
        return Error::BadFormat;
    if (!in_bounds(f.size(), seg.offset, seg.filesz)) return Error::Truncated;
    // Page range [vaddr rounded down, vaddr + memsz rounded up) inside [lowest, top).
    if (seg.vaddr < lowest_va || seg.vaddr >= top_va || seg.memsz > top_va - seg.vaddr)
        return Error::OutOfRange;
    if ((seg.flags & kPfW) && (seg.flags & kPfX)) return Error::InvalidArgument;
    return {};
}

} // namespace

Result<void> check_elf(std::span<const uint8_t> f, uint64_t lowest_va, uint64_t top_va,
                       ElfImage& out) {
    if (lowest_va % kPageSize || top_va % kPageSize || lowest_va >= top_va)
        return Error::InvalidArgument;
    TRY(check_header(f));

    ElfImage img{};
    img.entry = u64(f, 24);
    uint64_t phoff = u64(f, 32);
    uint64_t phnum = u16(f, 56);
    for (uint64_t i = 0; i < phnum; ++i) {
        uint64_t ph = phoff + i * kPhdrSize;
        uint32_t type = u32(f, ph);
        if (type == kPtInterp || type == kPtDynamic) return Error::BadFormat;
        if (type != kPtLoad) continue;
        uint64_t filesz = u64(f, ph + 32), memsz = u64(f, ph + 40);
        if (memsz == 0 && filesz == 0) continue; // empty: nothing to map
        if (img.segment_count == kMaxElfSegments) return Error::TooMany;
        ElfSegment seg{};
        TRY(check_load(f, ph, lowest_va, top_va, seg));
        // Insertion sort by vaddr.
        int at = img.segment_count++;
        for (; at > 0 && img.segments[at - 1].vaddr > seg.vaddr; --at)
            img.segments[at] = img.segments[at - 1];
        img.segments[at] = seg;
    }
    if (img.segment_count == 0) return Error::BadFormat;

    // Sorted, so only neighbours can share a page.
    for (int i = 1; i < img.segment_count; ++i) {
        const ElfSegment& prev = img.segments[i - 1];
        uint64_t prev_end = 0; // cannot wrap: prev ends at or below top_va, page aligned
        if (!align_up(prev.vaddr + prev.memsz, kPageSize, prev_end) ||
            prev_end > align_down(img.segments[i].vaddr, kPageSize))
            return Error::InvalidArgument;
    }

    if (img.entry % 2) return Error::InvalidArgument;
    bool entry_ok = false;
    for (int i = 0; i < img.segment_count; ++i) {
        const ElfSegment& s = img.segments[i];
        if ((s.flags & kPfX) && img.entry >= s.vaddr && img.entry - s.vaddr < s.memsz)
            entry_ok = true;
    }
    if (!entry_ok) return Error::InvalidArgument;

    out = img;
    return {};
}

} // namespace capframe::mm
