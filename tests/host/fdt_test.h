// The helpers of the FDT reader's host tests (fdt_test.cpp, fdt_broken_test.cpp):
// fixtures loaded into exactly-sized heap buffers, header field offsets, and a
// tiny writer for blobs broken on purpose.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "fdt.h"
#include "fixture.h"

namespace fdt_test {

using namespace capframe;

using fixture::Bytes;
using fixture::load;

// A copy of b at `misalign` bytes past a fresh allocation of exactly that size.
struct Buffer {
    std::unique_ptr<uint8_t[]> mem;
    uint8_t* data;
    size_t size;
    Buffer(const Bytes& b, size_t misalign = 0)
        : mem(new uint8_t[b.size() + misalign]), data(mem.get() + misalign), size(b.size()) {
        if (!b.empty()) std::memcpy(data, b.data(), b.size());
    }
};

inline uint32_t get32(const Bytes& b, size_t off) {
    return uint32_t{b[off]} << 24 | uint32_t{b[off + 1]} << 16 | uint32_t{b[off + 2]} << 8 |
           b[off + 3];
}
inline void put32(Bytes& b, size_t off, uint32_t v) {
    for (int i = 0; i < 4; ++i)
        b[off + i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}

// Header field offsets (spec 5.2).
enum : size_t {
    kTotal = 4,
    kOffStruct = 8,
    kOffStrings = 12,
    kOffRsv = 16,
    kVersion = 20,
    kLastComp = 24,
    kSizeStrings = 32,
    kSizeStruct = 36,
};

struct Opened {
    Result<Fdt> result;
    std::string why;
    std::unique_ptr<Buffer> keep; // the blob the Fdt points into
};

inline Opened try_open(const Buffer& buf, size_t available) {
    char why[160];
    std::memset(why, 'X', sizeof why);
    auto r = Fdt::open(buf.data, available, why, sizeof why);
    return Opened{r, why, nullptr};
}
inline Opened try_open(const Bytes& b) {
    auto buf = std::make_unique<Buffer>(b);
    Opened o = try_open(*buf, buf->size);
    o.keep = std::move(buf);
    return o;
}

// Minimal FDT writer for malformed structure blocks. Tokens are appended raw,
// so nothing stops a test from writing nonsense.
class Writer {
  public:
    Writer& tok(uint32_t v) {
        for (int i = 0; i < 4; ++i)
            st_.push_back(static_cast<uint8_t>(v >> (24 - 8 * i)));
        return *this;
    }
    Writer& begin(const char* name) {
        tok(1);
        size_t n = std::strlen(name) + 1;
        st_.insert(st_.end(), name, name + n);
        while (st_.size() % 4)
            st_.push_back(0);
        return *this;
    }
    Writer& end() { return tok(2); }
    Writer& prop_raw(uint32_t nameoff, uint32_t len, const Bytes& value) {
        tok(3).tok(len).tok(nameoff);
        st_.insert(st_.end(), value.begin(), value.end());
        while (st_.size() % 4)
            st_.push_back(0);
        return *this;
    }
    Writer& prop(const char* name, const Bytes& value) {
        uint32_t off = static_cast<uint32_t>(strs_.size());
        strs_.insert(strs_.end(), name, name + std::strlen(name) + 1);
        return prop_raw(off, static_cast<uint32_t>(value.size()), value);
    }
    Writer& finish() { return tok(9); }
    Writer& rsv(uint64_t addr, uint64_t size) {
        rsv_.push_back({addr, size});
        return *this;
    }
    Bytes build(bool rsv_terminator = true) const {
        Bytes b(40, 0);
        auto push64 = [&](uint64_t v) {
            for (int i = 0; i < 8; ++i)
                b.push_back(static_cast<uint8_t>(v >> (56 - 8 * i)));
        };
        for (auto [a, s] : rsv_)
            push64(a), push64(s);
        if (rsv_terminator) push64(0), push64(0);
        size_t off_struct = b.size();
        b.insert(b.end(), st_.begin(), st_.end());
        size_t off_strings = b.size();
        b.insert(b.end(), strs_.begin(), strs_.end());
        put32(b, 0, kFdtMagic);
        put32(b, kTotal, static_cast<uint32_t>(b.size()));
        put32(b, kOffStruct, static_cast<uint32_t>(off_struct));
        put32(b, kOffStrings, static_cast<uint32_t>(off_strings));
        put32(b, kOffRsv, 40);
        put32(b, kVersion, 17);
        put32(b, kLastComp, 16);
        put32(b, kSizeStrings, static_cast<uint32_t>(strs_.size()));
        put32(b, kSizeStruct, static_cast<uint32_t>(st_.size()));
        return b;
    }

  private:
    Bytes st_, strs_;
    std::vector<std::pair<uint64_t, uint64_t>> rsv_;
};

// root { a = <1>; child { }; };
inline Writer small_tree() {
    Writer w;
    w.begin("").prop("a", {0, 0, 0, 1}).begin("child").end().end().finish();
    return w;
}

inline Fdt open_fixture(const Bytes& b) {
    char why[160] = "";
    auto r = Fdt::open(b.data(), b.size(), why, sizeof why);
    EXPECT_TRUE(r.ok()) << why;
    return r.ok() ? r.value() : Fdt{};
}

inline std::string name_of(const Fdt& f, FdtNode n) {
    return f.name(n);
}

} // namespace fdt_test
