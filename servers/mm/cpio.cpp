#include "cpio.h"

#include "addr.h"

namespace capframe::mm {
namespace {

constexpr size_t kMagicLen = 6;
constexpr size_t kFieldLen = 8;
constexpr size_t kFields = 13;
constexpr size_t kHeaderSize = kMagicLen + kFields * kFieldLen; // 110
constexpr int kFieldMode = 1, kFieldFilesize = 6, kFieldNamesize = 11;

constexpr char kTrailer[] = "TRAILER!!!";
constexpr size_t kTrailerLen = sizeof(kTrailer) - 1;

// Rounds up to a multiple of 4 within `size`; false if that passes the end.
bool pad4(size_t size, size_t off, size_t& padded) {
    size_t extra = (4 - off % 4) % 4;
    if (!in_bounds(size, off, extra)) return false;
    padded = off + extra;
    return true;
}

bool hex_digit(uint8_t c, uint32_t& v) {
    if (c >= '0' && c <= '9')
        v = c - '0';
    else if (c >= 'a' && c <= 'f')
        v = c - 'a' + 10u;
    else if (c >= 'A' && c <= 'F')
        v = c - 'A' + 10u;
    else
        return false;
    return true;
}

// Field `i` of the header at `off` (the caller has checked the header fits).
bool field(std::span<const uint8_t> a, size_t off, int i, uint32_t& v) {
    size_t at = off + kMagicLen + static_cast<size_t>(i) * kFieldLen;
    v = 0;
    for (size_t k = 0; k < kFieldLen; ++k) {
        uint32_t d;
        if (!hex_digit(a[at + k], d)) return false;
        v = v << 4 | d;
    }
    return true;
}

bool same(const char* a, const char* b, size_t n) {
    for (size_t i = 0; i < n; ++i)
        if (a[i] != b[i]) return false;
    return true;
}

} // namespace

Result<void> cpio_next(std::span<const uint8_t> a, size_t& offset, CpioEntry& out) {
    size_t off = offset;
    if (off % 4 || off > a.size()) return Error::InvalidArgument;
    if (!in_bounds(a.size(), off, kHeaderSize)) return Error::Truncated;
    static constexpr char kMagic[] = "070701";
    for (size_t k = 0; k < kMagicLen; ++k)
        if (a[off + k] != static_cast<uint8_t>(kMagic[k])) return Error::BadFormat;
    uint32_t v[kFields];
    for (size_t i = 0; i < kFields; ++i)
        if (!field(a, off, static_cast<int>(i), v[i])) return Error::BadFormat;
    size_t namesize = v[kFieldNamesize], filesize = v[kFieldFilesize];
    if (namesize == 0) return Error::BadFormat;

    size_t name_at = off + kHeaderSize;
    if (!in_bounds(a.size(), name_at, namesize)) return Error::Truncated;
    for (size_t k = 0; k + 1 < namesize; ++k)
        if (a[name_at + k] == 0) return Error::BadFormat;
    if (a[name_at + namesize - 1] != 0) return Error::BadFormat;

    size_t data_at, next;
    if (!pad4(a.size(), name_at + namesize, data_at)) return Error::Truncated;
    if (!in_bounds(a.size(), data_at, filesize)) return Error::Truncated;
    if (!pad4(a.size(), data_at + filesize, next)) return Error::Truncated;

    const char* name = reinterpret_cast<const char*>(&a[name_at]);
    size_t name_len = namesize - 1;
    if (name_len == kTrailerLen && same(name, kTrailer, kTrailerLen)) return Error::NotFound;

    out.name = name;
    out.name_len = name_len;
    out.mode = v[kFieldMode];
    out.data = a.subspan(data_at, filesize);
    offset = next;
    return {};
}

Result<void> cpio_find(std::span<const uint8_t> a, const char* name, CpioEntry& out) {
    if (!name) return Error::InvalidArgument;
    size_t len = 0;
    while (len <= kCpioMaxName && name[len])
        ++len;
    if (len == 0 || len > kCpioMaxName) return Error::InvalidArgument;

    bool found = false;
    CpioEntry match;
    size_t offset = 0;
    for (;;) {
        CpioEntry e;
        Result<void> r = cpio_next(a, offset, e);
        if (!r.ok()) {
            if (r.error() != Error::NotFound) return r.error();
            if (!found) return Error::NotFound;
            out = match;
            return {};
        }
        if (e.name_len >= 2 && e.name[0] == '.' && e.name[1] == '/') {
            e.name += 2;
            e.name_len -= 2;
        }
        if ((e.mode & kCpioTypeMask) != kCpioRegular) continue;
        if (e.name_len != len || !same(e.name, name, len)) continue;
        if (found) return Error::BadFormat;
        found = true;
        match = e;
    }
}

} // namespace capframe::mm
