#include "image.h"

namespace capframe::mm {
namespace {

constexpr uint64_t kNameLen = 24;
constexpr uint64_t kRecord = kNameLen + 16 + kMaxSegments * 40;
constexpr uint64_t kUserTop = (uint64_t{1} << 38) - 3 * 4096; // below the stack gap

uint64_t u64(std::span<const uint8_t> t, uint64_t off) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i)
        v = v << 8 | t[off + static_cast<uint64_t>(i)];
    return v;
}

bool fits(std::span<const uint8_t> t, uint64_t off, uint64_t len) {
    return off <= t.size() && len <= t.size() - off;
}

bool name_is(std::span<const uint8_t> t, uint64_t off, const char* name) {
    for (uint64_t i = 0; i < kNameLen; ++i) {
        char c = static_cast<char>(t[off + i]);
        if (c != name[i]) return false;
        if (c == '\0') return true;
    }
    return false; // not terminated inside the field
}

} // namespace

uint64_t program_count(std::span<const uint8_t> t) {
    if (!fits(t, 0, 8)) return 0;
    uint64_t n = u64(t, 0);
    if (n > (t.size() - 8) / kRecord) return 0;
    return n;
}

const char* program_name(std::span<const uint8_t> t, uint64_t i) {
    if (i >= program_count(t)) return nullptr;
    uint64_t off = 8 + i * kRecord;
    for (uint64_t k = 0; k < kNameLen; ++k)
        if (t[off + k] == 0) return reinterpret_cast<const char*>(&t[off]);
    return nullptr;
}

Result<void> find_program(std::span<const uint8_t> t, const char* name, ProgramView& out) {
    if (!fits(t, 0, 8)) return Error::BadFormat;
    uint64_t n = u64(t, 0);
    if (n > (t.size() - 8) / kRecord) return Error::BadFormat;
    for (uint64_t i = 0; i < n; ++i) {
        uint64_t rec = 8 + i * kRecord;
        if (!name_is(t, rec, name)) continue;
        out = ProgramView{};
        for (uint64_t k = 0; k < kNameLen - 1 && name[k]; ++k)
            out.name[k] = name[k];
        out.entry = u64(t, rec + kNameLen);
        uint64_t count = u64(t, rec + kNameLen + 8);
        if (count == 0 || count > kMaxSegments) return Error::BadFormat;
        bool entry_ok = false;
        for (uint64_t s = 0; s < count; ++s) {
            uint64_t so = rec + kNameLen + 16 + s * 40;
            SegmentView& seg = out.segments[s];
            seg.vaddr = u64(t, so);
            uint64_t filesz = u64(t, so + 8);
            seg.memsz = u64(t, so + 16);
            seg.flags = u64(t, so + 24);
            uint64_t data = u64(t, so + 32);
            if (seg.vaddr % 4096 || seg.memsz == 0 || filesz > seg.memsz) return Error::BadFormat;
            if (seg.vaddr < 4096 || seg.vaddr >= kUserTop || seg.memsz > kUserTop - seg.vaddr)
                return Error::BadFormat;
            if ((seg.flags & 3) == 3 || seg.flags > 7) return Error::BadFormat; // W+X, junk
            if (!fits(t, data, filesz)) return Error::BadFormat;
            seg.data = t.subspan(data, filesz);
            for (uint64_t p = 0; p < s; ++p) {
                const SegmentView& o = out.segments[p];
                uint64_t oend = o.vaddr + ((o.memsz + 4095) & ~uint64_t{4095});
                uint64_t end = seg.vaddr + ((seg.memsz + 4095) & ~uint64_t{4095});
                if (seg.vaddr < oend && o.vaddr < end) return Error::BadFormat; // overlap
            }
            if ((seg.flags & 1) && out.entry >= seg.vaddr && out.entry - seg.vaddr < seg.memsz)
                entry_ok = true;
        }
        if (!entry_ok) return Error::BadFormat;
        out.segment_count = static_cast<int>(count);
        return {};
    }
    return Error::NotFound;
}

} // namespace capframe::mm
