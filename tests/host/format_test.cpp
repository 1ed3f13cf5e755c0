#include "format.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

using capframe::snformat;

namespace {
template <class... A>
std::string fmt(const char* f, A... a) {
    char buf[256];
    size_t n = snformat(buf, sizeof buf, f, a...);
    EXPECT_EQ(n, std::string(buf).size());
    return buf;
}
} // namespace

TEST(Format, Integers) {
    EXPECT_EQ(fmt("%d %i %u", -42, 7, 3000000000u), "-42 7 3000000000");
    EXPECT_EQ(fmt("%ld", static_cast<long>(INT64_MIN)), "-9223372036854775808");
    EXPECT_EQ(fmt("%lu", UINT64_MAX), "18446744073709551615");
    EXPECT_EQ(fmt("%x %X %lx", 0xbeefu, 0xbeefu, 0x3ffffff000ul), "beef BEEF 3ffffff000");
    EXPECT_EQ(fmt("%zu", sizeof(uint64_t)), "8");
}

TEST(Format, WidthAndFlags) {
    EXPECT_EQ(fmt("%016lx", 0x80200000ul), "0000000080200000");
    EXPECT_EQ(fmt("[%5d]", 42), "[   42]");
    EXPECT_EQ(fmt("[%-5d]", 42), "[42   ]");
    EXPECT_EQ(fmt("[%05d]", -42), "[-0042]");
    EXPECT_EQ(fmt("[%-8s]", "ab"), "[ab      ]");
    EXPECT_EQ(fmt("[%4s]", "abcdef"), "[abcdef]");
}

TEST(Format, PointersStringsChars) {
    EXPECT_EQ(fmt("%p", reinterpret_cast<void*>(0x1000)), "0x0000000000001000");
    EXPECT_EQ(fmt("%s", static_cast<const char*>(nullptr)), "(null)");
    EXPECT_EQ(fmt("%c%c", 'o', 'k'), "ok");
    EXPECT_EQ(fmt("100%%"), "100%");
}

TEST(Format, UnknownConversionsAreCopiedThrough) {
    EXPECT_EQ(fmt("%q and %"), "%q and %");
}

TEST(Format, TruncatesButReportsFullLength) {
    char buf[8];
    EXPECT_EQ(snformat(buf, sizeof buf, "%s", "0123456789"), 10u);
    EXPECT_STREQ(buf, "0123456");
    EXPECT_EQ(snformat(buf, 1, "abc"), 3u);
    EXPECT_STREQ(buf, "");
}
