// The boot-image program table reader in mm: a good table, then every kind
// of corruption must give BadFormat (never a read outside the table).
#include "image.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

using namespace capframe;
using namespace capframe::mm;

namespace {

struct Seg {
    uint64_t vaddr, filesz, memsz, flags, data_off;
};

void put64(std::vector<uint8_t>& b, size_t off, uint64_t v) {
    for (int i = 0; i < 8; ++i)
        b[off + size_t(i)] = uint8_t(v >> (8 * i));
}

// One program "prog" with the given segments; data area of 64 bytes at 208.
std::vector<uint8_t> table(uint64_t entry, std::vector<Seg> segs, uint64_t count_override = 0) {
    std::vector<uint8_t> b(8 + 200 + 64, 0);
    put64(b, 0, 1);
    std::memcpy(&b[8], "prog", 5);
    put64(b, 8 + 24, entry);
    put64(b, 8 + 32, count_override ? count_override : segs.size());
    for (size_t i = 0; i < segs.size(); ++i) {
        size_t o = 8 + 40 + i * 40;
        put64(b, o, segs[i].vaddr);
        put64(b, o + 8, segs[i].filesz);
        put64(b, o + 16, segs[i].memsz);
        put64(b, o + 24, segs[i].flags);
        put64(b, o + 32, segs[i].data_off);
    }
    return b;
}

Error find(const std::vector<uint8_t>& b, ProgramView& v, const char* name = "prog") {
    auto r = find_program(std::span<const uint8_t>(b.data(), b.size()), name, v);
    return r.ok() ? Error{} : r.error();
}

} // namespace

TEST(BootImage, FindsAGoodProgram) {
    auto b = table(0x10000, {{0x10000, 16, 0x1000, 5, 208}, {0x11000, 8, 0x2000, 6, 224}});
    ProgramView v;
    ASSERT_EQ(find(b, v), Error{});
    EXPECT_EQ(v.entry, 0x10000u);
    ASSERT_EQ(v.segment_count, 2);
    EXPECT_EQ(v.segments[1].memsz, 0x2000u);
    EXPECT_EQ(v.segments[0].data.size(), 16u);
    EXPECT_EQ(program_count(std::span<const uint8_t>(b.data(), b.size())), 1u);
    EXPECT_STREQ(program_name(std::span<const uint8_t>(b.data(), b.size()), 0), "prog");
    EXPECT_EQ(find(b, v, "other"), Error::NotFound);
}

TEST(BootImage, RejectsCorruptTables) {
    ProgramView v;
    const Seg text{0x10000, 16, 0x1000, 5, 208};
    EXPECT_EQ(find(table(0x10000, {{0x10000, 16, 0x1000, 7, 208}}), v), Error::BadFormat) << "W+X";
    EXPECT_EQ(find(table(0x10000, {{0x10000, 16, 0x1000, 5, 260}}), v), Error::BadFormat)
        << "data past the end";
    EXPECT_EQ(find(table(0x10000, {{0x10000, 16, 0x1000, 5, ~0ull - 4}}), v), Error::BadFormat)
        << "data offset wraps";
    EXPECT_EQ(find(table(0x10000, {{0x10000, 0x2000, 0x1000, 5, 208}}), v), Error::BadFormat)
        << "filesz > memsz";
    EXPECT_EQ(find(table(0x10000, {{0x10010, 16, 0x1000, 5, 208}}), v), Error::BadFormat)
        << "unaligned segment";
    EXPECT_EQ(find(table(0x10000, {{0, 16, 0x1000, 5, 208}}), v), Error::BadFormat) << "page 0";
    EXPECT_EQ(find(table(0x10000, {{0x3ffffff000, 16, 0x1000, 5, 208}}), v), Error::BadFormat)
        << "over the trampoline";
    EXPECT_EQ(find(table(0x10000, {{0x10000, 16, ~0ull - 0x1000, 5, 208}}), v), Error::BadFormat)
        << "memsz wraps";
    EXPECT_EQ(find(table(0x10000, {text, {0x10000, 8, 0x1000, 6, 224}}), v), Error::BadFormat)
        << "overlapping segments";
    EXPECT_EQ(find(table(0x20000, {text}), v), Error::BadFormat) << "entry outside text";
    EXPECT_EQ(find(table(0x11000, {text, {0x11000, 8, 0x1000, 6, 224}}), v), Error::BadFormat)
        << "entry in a non-executable segment";
    EXPECT_EQ(find(table(0x10000, {text}, 9), v), Error::BadFormat) << "too many segments";
    auto b = table(0x10000, {text});
    std::memset(&b[8], 'x', 24); // name not terminated
    EXPECT_EQ(find(b, v, "xxxxxxxxxxxxxxxxxxxxxxxx"), Error::NotFound);
    put64(b, 0, 1000); // count larger than the table
    EXPECT_EQ(find(b, v), Error::BadFormat);
    EXPECT_EQ(program_count(std::span<const uint8_t>(b.data(), b.size())), 0u);
    std::vector<uint8_t> tiny(4, 0);
    EXPECT_EQ(find(tiny, v), Error::BadFormat);
}

TEST(BootImage, TruncationNeverReadsOutside) {
    // The record ends at 208 and the segment's 16 file bytes at 224: any
    // shorter table is incomplete, any longer one is whole.
    auto full = table(0x10000, {{0x10000, 16, 0x1000, 5, 208}});
    for (size_t n = 0; n <= full.size(); ++n) {
        std::vector<uint8_t> cut(full.begin(), full.begin() + long(n)); // exact-size heap buffer
        ProgramView v;
        Error e = find(cut, v);
        if (n < 224)
            EXPECT_NE(e, Error{}) << "a table cut to " << n << " bytes must not parse";
        else
            EXPECT_EQ(e, Error{}) << "a table of " << n << " bytes is complete";
    }
}
