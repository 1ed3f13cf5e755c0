#include "hartmask.h"

#include <gtest/gtest.h>

#include <set>

using capframe::HartMasks;

namespace {
// Every id the windows name, in order.
template <size_t N>
std::set<uint64_t> ids_of(const HartMasks<N>& m) {
    std::set<uint64_t> ids;
    for (size_t i = 0; i < m.count; ++i) {
        EXPECT_EQ(m.window[i].base % 64, 0u);
        EXPECT_NE(m.window[i].mask, 0u);
        for (int b = 0; b < 64; ++b)
            if (m.window[i].mask >> b & 1) ids.insert(m.window[i].base + b);
    }
    return ids;
}
} // namespace

TEST(HartMasks, SmallIdsShareOneWindowAtBaseZero) {
    HartMasks<8> m;
    for (uint64_t id : {1, 2, 4, 63})
        ASSERT_TRUE(m.add(id));
    ASSERT_EQ(m.count, 1u);
    EXPECT_EQ(m.window[0].base, 0u);
    EXPECT_EQ(m.window[0].mask, (1ull << 1) | (1ull << 2) | (1ull << 4) | (1ull << 63));
}

TEST(HartMasks, IdsAtAndAbove64GetTheirOwnWindows) {
    HartMasks<8> m;
    for (uint64_t id : {0, 64, 65, 127, 128, 1000, 5})
        ASSERT_TRUE(m.add(id));
    EXPECT_EQ(m.count, 4u); // bases 0, 64, 128, 960
    EXPECT_EQ(ids_of(m), (std::set<uint64_t>{0, 5, 64, 65, 127, 128, 1000}));
    EXPECT_EQ(m.window[1].base, 64u);
    EXPECT_EQ(m.window[1].mask, (1ull << 0) | (1ull << 1) | (1ull << 63));
    EXPECT_EQ(m.window[3].base, 960u);
    EXPECT_EQ(m.window[3].mask, 1ull << 40);
}

TEST(HartMasks, HugeIdsAndDuplicates) {
    HartMasks<2> m;
    ASSERT_TRUE(m.add(~uint64_t{0}));
    ASSERT_TRUE(m.add(~uint64_t{0}));
    EXPECT_EQ(m.count, 1u);
    EXPECT_EQ(m.window[0].base, ~uint64_t{63});
    EXPECT_EQ(m.window[0].mask, 1ull << 63);
}

TEST(HartMasks, FullRefusesANewWindowButTakesKnownOnes) {
    HartMasks<2> m;
    ASSERT_TRUE(m.add(3));
    ASSERT_TRUE(m.add(70));
    EXPECT_FALSE(m.add(200));
    EXPECT_TRUE(m.add(71));
    EXPECT_EQ(m.count, 2u);
    EXPECT_EQ(ids_of(m), (std::set<uint64_t>{3, 70, 71}));
}

TEST(HartMasks, EveryHartOfAnyLayoutIsNamedExactlyOnce) {
    // Sets of up to 8 ids spread over 0..4095: the windows name exactly them.
    uint64_t seed = 12345;
    for (int round = 0; round < 2000; ++round) {
        HartMasks<8> m;
        std::set<uint64_t> want;
        int n = static_cast<int>(seed % 9);
        for (int i = 0; i < n; ++i) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            uint64_t id = (seed >> 33) % 4096;
            ASSERT_TRUE(m.add(id));
            want.insert(id);
        }
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        EXPECT_EQ(ids_of(m), want);
        EXPECT_LE(m.count, want.size());
    }
}
