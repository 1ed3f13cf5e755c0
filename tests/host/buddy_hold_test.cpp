// Held blocks (Buddy::hold): single pages freed stay unmerged for the
// next allocations, and nothing is lost or refused because of it.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "buddy_test.h"

using namespace capframe;
using namespace capframe::mm;
using namespace buddyt;

TEST(BuddyHold, APageFreedAndAskedForAgainCostsNoSplitAndNoMerge) {
    Env e(1024);
    e.root(kBase, 9);
    e.buddy.hold(4, 0);
    auto a = e.buddy.alloc(0);
    ASSERT_TRUE(a.ok());
    auto b = e.buddy.alloc(0); // a's buddy
    ASSERT_TRUE(b.ok());
    const uint64_t splits = e.ops.splits, merges = e.ops.merges;
    for (int i = 0; i < 10; ++i) {
        ASSERT_TRUE(e.buddy.free(b.value()).ok());
        EXPECT_EQ(e.buddy.held(), 0u) << "its buddy is allocated: nothing to hold";
        ASSERT_TRUE(e.buddy.free(a.value()).ok());
        EXPECT_EQ(e.buddy.held(), 1u);
        a = e.buddy.alloc(0);
        b = e.buddy.alloc(0);
        ASSERT_TRUE(a.ok() && b.ok());
        EXPECT_TRUE(e.buddy.check());
    }
    EXPECT_EQ(e.ops.splits, splits);
    EXPECT_EQ(e.ops.merges, merges);
    EXPECT_TRUE(e.consistent());
    ASSERT_TRUE(e.buddy.free(a.value()).ok());
    ASSERT_TRUE(e.buddy.free(b.value()).ok());
    e.buddy.release_held();
    EXPECT_TRUE(e.back_to_roots());
}

TEST(BuddyHold, AtMostTheLimitIsHeldAndReleaseMergesEverythingBack) {
    for (uint32_t limit : {1u, 3u, 8u, 64u}) {
        Env e(2048);
        e.root_range(kBase + 3 * kPage, 2000); // roots of many orders
        e.buddy.hold(limit, 0);
        std::vector<Block> got;
        for (int i = 0; i < 300; ++i) {
            auto b = e.buddy.alloc(i % 7 == 0 ? 2 : 0);
            ASSERT_TRUE(b.ok());
            got.push_back(b.value());
        }
        std::mt19937 rng(limit);
        std::shuffle(got.begin(), got.end(), rng);
        for (const Block& b : got) {
            ASSERT_TRUE(e.buddy.free(b).ok());
            EXPECT_LE(e.buddy.held(), limit);
        }
        EXPECT_EQ(e.buddy.free_frames(), e.buddy.total_frames());
        EXPECT_TRUE(e.buddy.check());
        EXPECT_TRUE(e.consistent());
        e.buddy.release_held();
        EXPECT_EQ(e.buddy.held(), 0u);
        EXPECT_TRUE(e.back_to_roots()) << "limit " << limit;
        EXPECT_TRUE(e.buddy.check());
    }
}

TEST(BuddyHold, ALargerBlockThatOnlyHeldPagesMakeIsStillHandedOut) {
    Env e(64);
    const Block r = e.root(kBase, 3); // 8 pages, nothing else
    e.buddy.hold(8, 0);
    std::vector<Block> got;
    for (int i = 0; i < 8; ++i)
        got.push_back(e.buddy.alloc(0).value());
    for (const Block& b : got)
        ASSERT_TRUE(e.buddy.free(b).ok());
    EXPECT_GT(e.buddy.held(), 0u);
    EXPECT_EQ(e.buddy.largest_free_order(), 0) << "held: all eight stay single pages";
    auto big = e.buddy.alloc(3);
    ASSERT_TRUE(big.ok()) << "the held pages merge for it";
    EXPECT_EQ(big.value().pa, r.pa);
    EXPECT_EQ(big.value().slot, r.slot);
    EXPECT_EQ(e.buddy.held(), 0u);
    EXPECT_TRUE(e.buddy.check());
    ASSERT_TRUE(e.buddy.free(big.value()).ok());
    EXPECT_TRUE(e.back_to_roots());
}

TEST(BuddyHold, ARefusedMergeOnReleaseLosesNoFrame) {
    Env e(64);
    e.root(kBase, 2);
    e.buddy.hold(4, 0);
    std::vector<Block> got;
    for (int i = 0; i < 4; ++i)
        got.push_back(e.buddy.alloc(0).value());
    for (const Block& b : got)
        ASSERT_TRUE(e.buddy.free(b).ok());
    e.ops.fail_nth_merge(1);
    e.buddy.release_held();
    EXPECT_EQ(e.ops.merges_refused, 1u);
    EXPECT_EQ(e.buddy.free_frames(), 4u);
    EXPECT_TRUE(e.buddy.check());
    EXPECT_TRUE(e.consistent());
    EXPECT_FALSE(e.back_to_roots()) << "the refused pair stays two pages";
    e.buddy.release_held(); // a later release merges what the refusal left
    EXPECT_TRUE(e.back_to_roots());
}

TEST(BuddyHold, SmallBlocksAreHeldUpToTheirOrderAndCountedInPages) {
    Env e(1024);
    e.root(kBase, 9);
    e.buddy.hold(8, 2);
    auto a = e.buddy.alloc(2), b = e.buddy.alloc(2), c = e.buddy.alloc(3);
    ASSERT_TRUE(a.ok() && b.ok() && c.ok());
    const uint64_t splits = e.ops.splits, merges = e.ops.merges;
    ASSERT_TRUE(e.buddy.free(a.value()).ok()); // b is allocated: a just goes free
    ASSERT_TRUE(e.buddy.free(b.value()).ok()); // a is free: b is held (4 pages)
    EXPECT_EQ(e.buddy.held(), 4u);
    ASSERT_TRUE(e.buddy.free(c.value()).ok()); // order 3: above the held order, merges
    EXPECT_EQ(e.buddy.held(), 4u);
    auto again = e.buddy.alloc(2);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again.value().pa, b.value().pa) << "the held block, taken first";
    EXPECT_EQ(e.buddy.held(), 0u);
    EXPECT_EQ(e.ops.splits, splits);
    ASSERT_TRUE(e.buddy.free(again.value()).ok());
    EXPECT_TRUE(e.buddy.check());
    e.buddy.release_held();
    EXPECT_GT(e.ops.merges, merges);
    EXPECT_TRUE(e.back_to_roots());
    EXPECT_TRUE(e.buddy.check());
}

TEST(BuddyHold, RandomChurnNeverLosesAFrameOrPassesTheLimit) {
    Env e(4096);
    e.root_range(kBase + 5 * kPage, 4000);
    e.buddy.hold(32, 3);
    std::mt19937 rng(11);
    std::vector<Block> live;
    for (int step = 0; step < 20000; ++step) {
        if (live.empty() || rng() % 100 < 52) {
            auto b = e.buddy.alloc(static_cast<uint8_t>(rng() % 5));
            if (b.ok()) live.push_back(b.value());
        } else {
            size_t k = rng() % live.size();
            ASSERT_TRUE(e.buddy.free(live[k]).ok());
            live[k] = live.back();
            live.pop_back();
        }
        ASSERT_LE(e.buddy.held(), 32u);
        if (step % 1000 == 0) {
            ASSERT_TRUE(e.buddy.check()) << step;
        }
    }
    EXPECT_TRUE(e.consistent());
    for (const Block& b : live)
        ASSERT_TRUE(e.buddy.free(b).ok());
    EXPECT_EQ(e.buddy.free_frames(), e.buddy.total_frames());
    e.buddy.release_held();
    EXPECT_TRUE(e.back_to_roots());
    EXPECT_TRUE(e.buddy.check());
}

TEST(BuddyHold, HoldingNeverMakesAnAllocationFail) {
    // Everything freed is held where it can be; then the whole root is asked
    // for at once.
    Env e(256);
    const Block r = e.root(kBase, 6);
    e.buddy.hold(64, 3);
    std::vector<Block> got;
    for (uint8_t k : {0, 1, 2, 3, 0, 0, 1, 2, 3, 0, 1})
        got.push_back(e.buddy.alloc(k).value());
    for (const Block& b : got)
        ASSERT_TRUE(e.buddy.free(b).ok());
    EXPECT_GT(e.buddy.held(), 0u);
    auto all = e.buddy.alloc(6);
    ASSERT_TRUE(all.ok());
    EXPECT_EQ(all.value().slot, r.slot);
    EXPECT_EQ(e.buddy.held(), 0u);
    EXPECT_TRUE(e.buddy.check());
}
