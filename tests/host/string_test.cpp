// lib/string.cpp, the routines the compiler may call in freestanding code,
// built for the host under other names (tests/meson.build: -Dmemset=... so
// that they do not replace the C library's): every length and alignment
// against a byte loop, with guard bytes around the range that must not
// change, and memmove's overlaps in both directions.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <vector>

extern "C" {
void* capframe_memset(void* dst, int c, size_t n);
void* capframe_memcpy(void* dst, const void* src, size_t n);
void* capframe_memmove(void* dst, const void* src, size_t n);
int capframe_memcmp(const void* a, const void* b, size_t n);
}

namespace {

constexpr size_t kBuf = 512;

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i)
        v[i] = static_cast<uint8_t>(seed + i * 7);
    return v;
}

const size_t kLengths[] = {0, 1, 2, 3, 7, 8, 9, 15, 16, 31, 32, 33, 63, 64, 65, 100, 255, 256, 300};

TEST(String, MemsetFillsExactlyTheRange) {
    for (size_t off = 0; off < 16; ++off)
        for (size_t n : kLengths) {
            auto buf = pattern(kBuf, 1), want = buf;
            EXPECT_EQ(capframe_memset(buf.data() + off, 0xa5, n), buf.data() + off);
            for (size_t i = 0; i < n; ++i)
                want[off + i] = 0xa5;
            ASSERT_EQ(buf, want) << "offset " << off << ", " << n << " bytes";
        }
}

TEST(String, MemsetOfAWholePageToZero) {
    alignas(4096) static uint8_t page[4096 + 64];
    for (auto& b : page)
        b = 0xff;
    capframe_memset(page, 0, 4096);
    for (size_t i = 0; i < 4096; ++i)
        ASSERT_EQ(page[i], 0) << i;
    for (size_t i = 4096; i < sizeof page; ++i)
        ASSERT_EQ(page[i], 0xff) << "past the end: " << i;
}

TEST(String, MemcpyAtEveryAlignmentPair) {
    for (size_t d = 0; d < 16; ++d)
        for (size_t s = 0; s < 16; ++s)
            for (size_t n : kLengths) {
                auto src = pattern(kBuf, 3), dst = pattern(kBuf, 9), want = dst;
                EXPECT_EQ(capframe_memcpy(dst.data() + d, src.data() + s, n), dst.data() + d);
                for (size_t i = 0; i < n; ++i)
                    want[d + i] = src[s + i];
                ASSERT_EQ(dst, want) << "dst +" << d << ", src +" << s << ", " << n << " bytes";
            }
}

TEST(String, MemmoveOverlappingBothWays) {
    for (size_t d = 0; d < 24; ++d)
        for (size_t s = 0; s < 24; ++s)
            for (size_t n : kLengths) {
                if (n + 24 > kBuf) continue;
                auto buf = pattern(kBuf, 5), want = buf;
                std::vector<uint8_t> tmp(want.begin() + s, want.begin() + s + n);
                for (size_t i = 0; i < n; ++i)
                    want[d + i] = tmp[i];
                EXPECT_EQ(capframe_memmove(buf.data() + d, buf.data() + s, n), buf.data() + d);
                ASSERT_EQ(buf, want) << "dst +" << d << ", src +" << s << ", " << n << " bytes";
            }
}

TEST(String, MemcmpOrdersByTheFirstDifferentByte) {
    auto a = pattern(64, 1), b = a;
    EXPECT_EQ(capframe_memcmp(a.data(), b.data(), 64), 0);
    EXPECT_EQ(capframe_memcmp(a.data(), b.data(), 0), 0);
    b[40] = static_cast<uint8_t>(a[40] + 1);
    EXPECT_LT(capframe_memcmp(a.data(), b.data(), 64), 0);
    EXPECT_GT(capframe_memcmp(b.data(), a.data(), 64), 0);
    EXPECT_EQ(capframe_memcmp(a.data(), b.data(), 40), 0);
    a[3] = 0xff, b[3] = 0x01; // bytes compare unsigned
    EXPECT_GT(capframe_memcmp(a.data(), b.data(), 64), 0);
}

} // namespace
