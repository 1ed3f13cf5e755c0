// Fuzzes mm's ELF checker (servers/mm/elf.cpp) with arbitrary files.
//
// The input is the file, exactly `size` bytes. check_elf runs twice: with
// mm's real user window, and with a window taken from the input's last 16
// bytes (often invalid, sometimes tiny). On error `out` must be untouched; on
// success the image must keep every promise of elf.h, which is checked here
// independently, including against the program headers re-read from the file.
#include <cstdint>
#include <cstring>
#include <span>

#include "elf.h"
#include "fuzz.h"

using namespace capframe;
using namespace capframe::mm;

namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kLowest = 0x10000;   // mm's user window (servers/mm/main.cpp)
constexpr uint64_t kTop = 0x3fffffd000; // below the stack guard, trapframe, trampoline
constexpr uint32_t kPtLoad = 1, kPtDynamic = 2, kPtInterp = 3;

uint64_t le(const uint8_t* p, int width) {
    uint64_t v = 0;
    for (int i = width - 1; i >= 0; --i)
        v = v << 8 | p[i];
    return v;
}

bool fits(uint64_t size, uint64_t off, uint64_t len) {
    return off <= size && len <= size - off;
}

void check_image(std::span<const uint8_t> f, uint64_t lo, uint64_t top, const ElfImage& img) {
    FUZZ_CHECK(img.segment_count >= 1 && img.segment_count <= kMaxElfSegments);
    bool entry_ok = false;
    for (int i = 0; i < img.segment_count; ++i) {
        const ElfSegment& s = img.segments[i];
        FUZZ_CHECK(s.memsz > 0 && s.filesz <= s.memsz);
        FUZZ_CHECK(fits(f.size(), s.offset, s.filesz));
        FUZZ_CHECK(s.vaddr >= lo && s.vaddr < top && s.memsz <= top - s.vaddr);
        FUZZ_CHECK(!((s.flags & kPfW) && (s.flags & kPfX)));
        FUZZ_CHECK((s.flags & ~(kPfR | kPfW | kPfX)) == 0);
        if (i > 0) {
            const ElfSegment& p = img.segments[i - 1];
            FUZZ_CHECK(p.vaddr <= s.vaddr);
            uint64_t p_end = (p.vaddr + p.memsz + kPage - 1) & ~(kPage - 1);
            FUZZ_CHECK(p_end <= (s.vaddr & ~(kPage - 1))); // no shared page
        }
        if ((s.flags & kPfX) && img.entry >= s.vaddr && img.entry - s.vaddr < s.memsz)
            entry_ok = true;
    }
    FUZZ_CHECK(entry_ok && img.entry % 2 == 0);

    // The file agrees: a 64-bit RISC-V executable whose non-empty PT_LOADs
    // are exactly the segments, no PT_INTERP or PT_DYNAMIC.
    FUZZ_CHECK(f.size() >= 64 && std::memcmp(f.data(),
                                             "\x7f"
                                             "ELF\x02\x01\x01",
                                             7) == 0);
    FUZZ_CHECK(le(&f[16], 2) == 2 && le(&f[18], 2) == 243 && le(&f[24], 8) == img.entry);
    uint64_t phoff = le(&f[32], 8), phnum = le(&f[56], 2);
    FUZZ_CHECK(phnum >= 1 && fits(f.size(), phoff, phnum * 56));
    int loads = 0;
    for (uint64_t i = 0; i < phnum; ++i) {
        const uint8_t* ph = &f[phoff + i * 56];
        uint32_t type = static_cast<uint32_t>(le(ph, 4));
        FUZZ_CHECK(type != kPtInterp && type != kPtDynamic);
        if (type != kPtLoad || (le(ph + 32, 8) == 0 && le(ph + 40, 8) == 0)) continue;
        ++loads;
        uint64_t vaddr = le(ph + 16, 8);
        bool found = false;
        for (int k = 0; k < img.segment_count; ++k) {
            const ElfSegment& s = img.segments[k];
            found |= s.vaddr == vaddr && s.offset == le(ph + 8, 8) && s.filesz == le(ph + 32, 8) &&
                     s.memsz == le(ph + 40, 8) && s.flags == (le(ph + 4, 4) & 7);
        }
        FUZZ_CHECK(found);
        uint64_t align = le(ph + 48, 8);
        FUZZ_CHECK((align & (align - 1)) == 0);
        if (align >= kPage) FUZZ_CHECK(vaddr % kPage == le(ph + 8, 8) % kPage);
    }
    FUZZ_CHECK(loads == img.segment_count);
}

void run(std::span<const uint8_t> f, uint64_t lo, uint64_t top) {
    ElfImage out;
    std::memset(&out, 0x5a, sizeof out);
    ElfImage before;
    std::memcpy(&before, &out, sizeof out);
    Result<void> r = check_elf(f, lo, top, out);
    if (lo % kPage || top % kPage || lo >= top) {
        FUZZ_CHECK(!r.ok() && r.error() == Error::InvalidArgument);
    }
    if (!r.ok()) {
        FUZZ_CHECK(std::memcmp(&out, &before, sizeof out) == 0); // written only on success
        Error e = r.error();
        FUZZ_CHECK(e == Error::InvalidArgument || e == Error::Truncated || e == Error::BadFormat ||
                   e == Error::TooMany || e == Error::OutOfRange);
        if (f.size() < 64 && lo % kPage == 0 && top % kPage == 0 && lo < top)
            FUZZ_CHECK(e == Error::Truncated);
        return;
    }
    check_image(f, lo, top, out);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::span<const uint8_t> f(data, size);
    run(f, kLowest, kTop);
    if (size >= 80) {
        // A window from the tail: page-aligned most of the time.
        uint64_t lo = le(data + size - 16, 8), top = le(data + size - 8, 8);
        if (lo & 1) lo &= ~(kPage - 1);
        if (top & 1) top &= ~(kPage - 1);
        run(f, lo, top);
    }
    return 0;
}
