// Fuzzes mm's boot-archive reader (servers/mm/cpio.cpp) with arbitrary bytes.
//
// The input is the archive, exactly `size` bytes. cpio_next walks it; every
// entry must lie inside the archive and the offset must only move forward,
// by a multiple of 4. cpio_find is then checked against a model built from
// that walk (first match, "./" prefix, duplicates, the walk's final error),
// for the name of every entry and a few fixed ones.
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "cpio.h"
#include "fuzz.h"

using namespace capframe;
using namespace capframe::mm;

namespace {

bool inside(std::span<const uint8_t> a, const void* p, size_t n) {
    auto* b = static_cast<const uint8_t*>(p);
    return b >= a.data() && n <= a.size() && b - a.data() <= static_cast<ptrdiff_t>(a.size() - n);
}

struct Walk {
    std::vector<CpioEntry> entries;
    Error end = Error::NotFound; // the error that stopped the walk
};

Walk walk(std::span<const uint8_t> a) {
    Walk w;
    size_t offset = 0;
    for (;;) {
        CpioEntry e;
        std::memset(&e, 0x5a, sizeof e);
        CpioEntry before = e;
        size_t was = offset;
        Result<void> r = cpio_next(a, offset, e);
        if (!r.ok()) {
            FUZZ_CHECK(offset == was && std::memcmp(&e, &before, sizeof e) == 0);
            w.end = r.error();
            FUZZ_CHECK(w.end == Error::NotFound || w.end == Error::Truncated ||
                       w.end == Error::BadFormat);
            return w;
        }
        FUZZ_CHECK(offset > was && offset % 4 == 0 && offset <= a.size());
        FUZZ_CHECK(offset - was >= 110 + e.name_len + 1 + e.data.size());
        FUZZ_CHECK(inside(a, e.name, e.name_len + 1) && e.name[e.name_len] == '\0');
        FUZZ_CHECK(std::strlen(e.name) == e.name_len);
        FUZZ_CHECK(inside(a, e.data.data(), e.data.size()));
        FUZZ_CHECK(e.data.data() > reinterpret_cast<const uint8_t*>(e.name) + e.name_len);
        FUZZ_CHECK(reinterpret_cast<const uint8_t*>(e.name) == a.data() + was + 110);
        FUZZ_CHECK(std::string(e.name) != "TRAILER!!!");
        w.entries.push_back(e);
    }
}

// What cpio_find must answer, from the walk.
Result<CpioEntry> model_find(const Walk& w, const char* name) {
    size_t len = strnlen(name, kCpioMaxName + 1);
    if (len == 0 || len > kCpioMaxName) return Error::InvalidArgument;
    bool found = false;
    CpioEntry match;
    for (CpioEntry e : w.entries) {
        if (e.name_len >= 2 && e.name[0] == '.' && e.name[1] == '/') e.name += 2, e.name_len -= 2;
        if ((e.mode & kCpioTypeMask) != kCpioRegular) continue;
        if (e.name_len != len || std::memcmp(e.name, name, len) != 0) continue;
        if (found) return Error::BadFormat; // ambiguous: found before the walk ends
        found = true;
        match = e;
    }
    if (w.end != Error::NotFound) return w.end;
    if (!found) return Error::NotFound;
    return match;
}

void check_find(std::span<const uint8_t> a, const Walk& w, const char* name) {
    CpioEntry out;
    std::memset(&out, 0x5a, sizeof out);
    CpioEntry before = out;
    Result<void> r = cpio_find(a, name, out);
    Result<CpioEntry> want = model_find(w, name);
    FUZZ_CHECK(r.ok() == want.ok());
    if (!r.ok()) {
        FUZZ_CHECK(r.error() == want.error());
        FUZZ_CHECK(std::memcmp(&out, &before, sizeof out) == 0);
        return;
    }
    const CpioEntry& m = want.value();
    FUZZ_CHECK(out.name == m.name && out.name_len == m.name_len && out.mode == m.mode);
    FUZZ_CHECK(out.data.data() == m.data.data() && out.data.size() == m.data.size());
    FUZZ_CHECK(std::strcmp(out.name, name) == 0);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::span<const uint8_t> a(data, size);
    Walk w = walk(a);

    // Offsets that are never valid.
    for (size_t bad : {size_t{1}, size_t{2}, size + 1, size + 4, ~size_t{0} - 3}) {
        if (bad % 4 == 0 && bad <= size) continue;
        size_t offset = bad;
        CpioEntry e;
        FUZZ_CHECK(cpio_next(a, offset, e).error() == Error::InvalidArgument && offset == bad);
    }
    {
        size_t offset = size & ~size_t{3}; // the end (or the last 4-byte boundary)
        CpioEntry e;
        Result<void> r = cpio_next(a, offset, e);
        if (offset == size) FUZZ_CHECK(!r.ok() && r.error() == Error::Truncated);
    }

    for (size_t i = 0; i < w.entries.size() && i < 64; ++i) {
        std::string n(w.entries[i].name, w.entries[i].name_len);
        check_find(a, w, n.c_str());
        if (n.size() > 2 && n.compare(0, 2, "./") == 0) check_find(a, w, n.c_str() + 2);
    }
    for (const char* n : {"init", "hello", "./init", "TRAILER!!!", ""})
        check_find(a, w, n);
    std::string longest(kCpioMaxName, 'a'), too_long(kCpioMaxName + 1, 'a');
    check_find(a, w, longest.c_str());
    check_find(a, w, too_long.c_str());
    CpioEntry e;
    FUZZ_CHECK(cpio_find(a, nullptr, e).error() == Error::InvalidArgument);
    return 0;
}
