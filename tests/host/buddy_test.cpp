// The buddy allocator (servers/mm/buddy.h) on the host: the window and its
// roots, splits and merges, failures of the fake kernel, queries, and a
// 1 GiB root. buddy_soak_test.cpp: random soaks and in-place operations.
#include "buddy_test.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <vector>

using namespace capframe;
using namespace capframe::mm;
using namespace buddyt;

TEST(Buddy, MetaIsSixteenBytesPerFrame) {
    EXPECT_EQ(sizeof(FrameMeta), 16u);
    EXPECT_EQ(BuddyCore::meta_bytes_for(1u << 18), 4u << 20);
    EXPECT_GE(BuddyCore::kMaxOrder, 18);
}

TEST(Buddy, InitValidatesTheWindow) {
    FakeOps ops;
    Buddy<FakeOps> b(ops);
    std::vector<FrameMeta> meta(32);
    EXPECT_TRUE(b.check()); // safe before init: an empty window
    EXPECT_EQ(b.alloc(0).error(), Error::NoMemory);
    EXPECT_EQ(b.free(Block{1, kBase, 0}).error(), Error::InvalidArgument);
    EXPECT_EQ(b.add_root(Block{1, kBase, 0}).error(), Error::OutOfRange);
    EXPECT_EQ(b.init(kBase + 8, meta).error(), Error::Misaligned);
    EXPECT_TRUE(b.init(~uint64_t{0} - 0x3ffff, meta).ok()); // near the top, no wrap
    EXPECT_EQ(b.init(~uint64_t{0} - 0xfff - 0x10000, meta).error(), Error::OutOfRange); // wraps
    ASSERT_TRUE(b.init(kBase, meta).ok());
    EXPECT_EQ(b.total_frames(), 0u);
    EXPECT_EQ(b.largest_free_order(), -1);
    EXPECT_TRUE(b.check());
}

TEST(Buddy, RootsComeInAnyOrderAndOverlapsAreSeenFromEitherSide) {
    // add_root keeps the roots sorted instead of marking their frames: a
    // new root is checked against its neighbours in that table only.
    Env e(1024);
    e.root(kBase + 512 * kPage, 4);
    e.root(kBase, 0);               // below
    e.root(kBase + 256 * kPage, 8); // ends where the first starts
    e.root(kBase + 528 * kPage, 4); // right after it
    const auto before = dump(e.buddy);
    auto add = [&](uint64_t pa, uint8_t order) { return e.buddy.add_root(Block{7, pa, order}); };
    EXPECT_EQ(add(kBase + 512 * kPage, 5).error(), Error::AlreadyMapped); // holds two
    EXPECT_EQ(add(kBase + 520 * kPage, 3).error(), Error::AlreadyMapped); // inside, not at the head
    EXPECT_EQ(add(kBase + 532 * kPage, 2).error(), Error::AlreadyMapped); // inside the second
    EXPECT_EQ(add(kBase, 9).error(), Error::AlreadyMapped);               // holds pfn 0 and 256..
    EXPECT_EQ(add(kBase + 384 * kPage, 7).error(), Error::AlreadyMapped); // upper half of one
    EXPECT_EQ(dump(e.buddy), before);
    EXPECT_EQ(e.buddy.root_count(), 4u);
    EXPECT_EQ(e.buddy.total_frames(), 1u + 256 + 16 + 16);
    EXPECT_TRUE(e.buddy.check());
    EXPECT_TRUE(e.consistent());
    e.root(kBase + 1 * kPage, 0); // the gaps are still free to hand in
    e.root(kBase + 544 * kPage, 5);
    EXPECT_EQ(e.buddy.root_count(), 6u);
    EXPECT_TRUE(e.buddy.check());
}

TEST(Buddy, MoreRootsThanTheTableHoldsAreRefused) {
    const uint64_t n = BuddyCore::kMaxRoots;
    Env e(2 * n);
    for (uint64_t i = n; i-- > 0;) // from the top down: every insert shifts the table
        ASSERT_TRUE(e.buddy
                        .add_root(Block{e.ops.make_root(kBase + 2 * i * kPage, 0),
                                        kBase + 2 * i * kPage, 0})
                        .ok());
    const auto before = dump(e.buddy);
    EXPECT_EQ(e.buddy.add_root(Block{7, kBase + kPage, 0}).error(), Error::TooMany);
    EXPECT_EQ(e.buddy.add_root(Block{7, kBase, 0}).error(), Error::AlreadyMapped);
    EXPECT_EQ(dump(e.buddy), before);
    EXPECT_EQ(e.buddy.total_frames(), n);
    EXPECT_TRUE(e.buddy.check());
}

TEST(Buddy, AddRootValidatesAndChangesNothingOnError) {
    Env e(1024); // window: pfn 0x80200 .. 0x80600
    e.root(kBase, 4);
    const auto before = dump(e.buddy);
    auto add = [&](uint64_t pa, uint8_t order) { return e.buddy.add_root(Block{7, pa, order}); };
    EXPECT_EQ(add(kBase, 27).error(), Error::InvalidArgument);
    EXPECT_EQ(add(kBase + 64 * kPage + 0x800, 0).error(), Error::Misaligned);
    EXPECT_EQ(add(kBase + 65 * kPage, 1).error(), Error::Misaligned);
    EXPECT_EQ(add(kBase - kPage, 0).error(), Error::OutOfRange);
    EXPECT_EQ(add(kBase + 1024 * kPage, 0).error(), Error::OutOfRange);
    EXPECT_EQ(add(kBase + 512 * kPage, 10).error(), Error::OutOfRange); // straddles the end
    EXPECT_EQ(add(~uint64_t{0} - 0xfff, 0).error(), Error::OutOfRange);
    EXPECT_EQ(add(kBase, 4).error(), Error::AlreadyMapped);             // same block
    EXPECT_EQ(add(kBase + 8 * kPage, 2).error(), Error::AlreadyMapped); // inside
    EXPECT_EQ(add(kBase, 5).error(), Error::AlreadyMapped);             // contains it
    EXPECT_EQ(dump(e.buddy), before);
    EXPECT_EQ(e.buddy.total_frames(), 16u);
    EXPECT_EQ(e.buddy.free_frames(), 16u);
    EXPECT_TRUE(e.buddy.check());

    e.root(kBase + 16 * kPage, 4); // the neighbour is fine
    e.root(kBase + 1023 * kPage, 0);
    EXPECT_EQ(e.buddy.total_frames(), 33u);
    EXPECT_EQ(dump(e.buddy), e.roots);
    EXPECT_TRUE(e.buddy.check());
}

TEST(Buddy, RootsNeverMergeWithEachOther) {
    Env e(64);
    e.root(kBase, 4);
    e.root(kBase + 16 * kPage, 4); // a buddy by address, but no common parent cap
    EXPECT_EQ(e.buddy.alloc(5).error(), Error::NoMemory);
    auto a = e.buddy.alloc(4), b = e.buddy.alloc(4);
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_TRUE(e.buddy.free(a.value()).ok());
    ASSERT_TRUE(e.buddy.free(b.value()).ok());
    EXPECT_EQ(e.ops.merges, 0u);
    EXPECT_EQ(e.buddy.free_blocks(4), 2u);
    EXPECT_TRUE(e.back_to_roots());
    EXPECT_TRUE(e.buddy.check());
}

TEST(Buddy, OrderZeroIsConstantTimeWhenFree) {
    Env e(64);
    e.root_range(kBase + kPage, 7); // roots of order 0, 1, 2
    auto first = e.buddy.alloc(0);  // the order-0 root
    ASSERT_TRUE(first.ok());
    EXPECT_EQ(e.ops.splits, 0u);
    auto a = e.buddy.alloc(0); // splits the order-1 root once
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(e.ops.splits, 1u);
    auto b = e.buddy.alloc(0); // the free buddy: no cap operation
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(e.ops.splits, 1u);
    ASSERT_TRUE(e.buddy.free(b.value()).ok()); // its buddy is allocated: no merge
    auto c = e.buddy.alloc(0);                 // the list head: no split
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c.value().pa, b.value().pa);
    EXPECT_EQ(e.ops.splits, 1u);
    EXPECT_EQ(e.ops.merges, 0u);
    EXPECT_TRUE(e.buddy.check());
    EXPECT_TRUE(e.consistent());
}

// Frees `a`, the one block taken from the lone root r: r.order merges later
// the root is whole again, under its very cap.
static void expect_merges_back_to_root(Env& e, const Block& a, const Block& r) {
    const uint64_t merges = e.ops.merges;
    ASSERT_TRUE(e.buddy.free(a).ok());
    EXPECT_EQ(e.ops.merges - merges, r.order);
    EXPECT_TRUE(e.back_to_roots());
    auto whole = e.buddy.alloc(r.order);
    ASSERT_TRUE(whole.ok());
    EXPECT_EQ(whole.value().slot, r.slot);
}

TEST(Buddy, SplitsALargeRootDownAndMergesItBack) {
    Env e(1024);
    const Block r = e.root(kBase + 512 * kPage, 9);
    auto a = e.buddy.alloc(0);
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a.value().pa, r.pa);
    EXPECT_EQ(a.value().order, 0);
    EXPECT_TRUE(e.ops.is_leaf(a.value()));
    EXPECT_EQ(e.ops.splits, 9u);
    for (uint8_t k = 0; k < 9; ++k)
        EXPECT_EQ(e.buddy.free_blocks(k), 1u) << int(k);
    EXPECT_EQ(e.buddy.free_blocks(9), 0u);
    EXPECT_EQ(e.buddy.free_frames(), 511u);
    EXPECT_EQ(e.buddy.largest_free_order(), 8);
    EXPECT_TRUE(e.buddy.check());
    EXPECT_TRUE(e.consistent());

    expect_merges_back_to_root(e, a.value(), r);
    EXPECT_TRUE(e.buddy.check());
}

TEST(Buddy, MixedOrdersMergeBackToExactlyTheRoots) {
    Env e(1024);
    e.root_range(kBase + 3 * kPage, 1000); // unaligned start: roots of many orders
    std::vector<Block> held;
    for (uint8_t k : {0, 3, 1, 0, 5, 2, 0, 7, 4, 0, 1, 6, 0, 2}) {
        auto b = e.buddy.alloc(k);
        ASSERT_TRUE(b.ok()) << int(k);
        EXPECT_TRUE(is_aligned(b.value().pa, kPage << k));
        held.push_back(b.value());
        ASSERT_TRUE(e.buddy.check());
    }
    EXPECT_TRUE(e.consistent());
    std::mt19937 rng(7);
    std::shuffle(held.begin(), held.end(), rng);
    for (const Block& b : held) {
        ASSERT_TRUE(e.buddy.free(b).ok());
        ASSERT_TRUE(e.buddy.check());
    }
    EXPECT_TRUE(e.back_to_roots());
}

TEST(Buddy, RejectsBadFreesWithoutChange) {
    Env e(64);
    e.root(kBase, 4);
    e.root(kBase + 32 * kPage, 0);
    auto a = e.buddy.alloc(0), b = e.buddy.alloc(1), c = e.buddy.alloc(0);
    ASSERT_TRUE(a.ok() && b.ok() && c.ok());
    ASSERT_TRUE(e.buddy.free(c.value()).ok());
    const auto before = dump(e.buddy);
    const uint64_t splits = e.ops.splits, merges = e.ops.merges, free = e.buddy.free_frames();

    const Block A = a.value(), B = b.value();
    const Block bad[] = {
        c.value(),                            // double free
        Block{A.slot, A.pa, 1},               // wrong order
        Block{B.slot, B.pa, 0},               // wrong order
        Block{A.slot + 1000, A.pa, 0},        // wrong slot
        Block{B.slot, A.pa, 0},               // another block's slot
        Block{B.slot, B.pa + kPage, 0},       // inside a block
        Block{A.slot, A.pa + 0x10, 0},        // not page aligned
        Block{A.slot, kBase - kPage, 0},      // below the window
        Block{A.slot, kBase + 64 * kPage, 0}, // past the window
        Block{7, kBase + 40 * kPage, 0},      // in the window, never known
        Block{A.slot, A.pa, 200},             // nonsense order
    };
    for (const Block& x : bad)
        EXPECT_EQ(e.buddy.free(x).error(), Error::InvalidArgument) << x.pa << " " << int(x.order);
    for (const Entry& f : before) // a free block is not allocated
        if (f.free) {
            EXPECT_EQ(e.buddy.free(Block{f.slot, f.pa, f.order}).error(), Error::InvalidArgument);
        }

    EXPECT_EQ(dump(e.buddy), before);
    EXPECT_EQ(e.buddy.free_frames(), free);
    EXPECT_EQ(e.ops.splits, splits);
    EXPECT_EQ(e.ops.merges, merges);
    EXPECT_TRUE(e.buddy.check());
    ASSERT_TRUE(e.buddy.free(A).ok());
    ASSERT_TRUE(e.buddy.free(B).ok());
    EXPECT_TRUE(e.back_to_roots());
}

TEST(Buddy, AllocUntilNoMemoryThenFreeAll) {
    Env e(300);
    e.root_range(kBase + 5 * kPage, 290);
    const uint64_t total = e.buddy.total_frames();
    EXPECT_EQ(total, 290u);
    std::vector<Block> held;
    for (;;) {
        auto b = e.buddy.alloc(0);
        if (!b) {
            EXPECT_EQ(b.error(), Error::NoMemory);
            break;
        }
        held.push_back(b.value());
    }
    EXPECT_EQ(held.size(), total);
    EXPECT_EQ(e.buddy.free_frames(), 0u);
    EXPECT_EQ(e.buddy.largest_free_order(), -1);
    EXPECT_EQ(e.buddy.alloc(3).error(), Error::NoMemory);
    EXPECT_TRUE(e.buddy.check());
    EXPECT_TRUE(e.consistent());

    std::mt19937 rng(3);
    std::shuffle(held.begin(), held.end(), rng);
    for (const Block& b : held)
        ASSERT_TRUE(e.buddy.free(b).ok());
    EXPECT_EQ(e.buddy.free_frames(), total);
    EXPECT_TRUE(e.back_to_roots());
    EXPECT_TRUE(e.buddy.check());
}

TEST(Buddy, SplitFailureRollsBackExactly) {
    // Two identical allocators; only A's kernel refuses the third split.
    auto setup = [](Env& e) {
        e.root(kBase, 6);
        e.root(kBase + 64 * kPage, 6);
        e.root(kBase + 128 * kPage, 1);
        EXPECT_TRUE(e.buddy.alloc(0).ok()); // leaves a free order-0 block
    };
    Env a(256), b(256);
    setup(a);
    setup(b);
    const auto before = dump(a.buddy);
    const size_t children = a.ops.live_children();

    a.ops.fail_nth_split(3);
    auto r = a.buddy.alloc(1); // 6 -> 5 -> 4 -> (fails)
    EXPECT_EQ(r.error(), Error::TooMany);
    EXPECT_EQ(a.ops.merges, 2u);
    EXPECT_EQ(dump(a.buddy), before);
    EXPECT_EQ(a.ops.live_children(), children);
    EXPECT_EQ(a.buddy.free_frames(), b.buddy.free_frames());
    EXPECT_TRUE(a.buddy.check());
    EXPECT_TRUE(a.consistent());

    // Free lists are in the same order too: both hand out the same blocks.
    for (uint8_t k : {1, 6, 0, 0, 3, 5, 2}) {
        auto x = a.buddy.alloc(k), y = b.buddy.alloc(k);
        ASSERT_TRUE(x.ok() && y.ok());
        EXPECT_EQ(x.value().pa, y.value().pa) << int(k);
    }
}

TEST(Buddy, FailedRollbackMergeLosesNoFrame) {
    Env e(64);
    e.root(kBase, 6);
    e.ops.fail_nth_split(4);
    e.ops.fail_nth_merge(2); // the rollback's second merge
    EXPECT_EQ(e.buddy.alloc(0).error(), Error::TooMany);
    EXPECT_EQ(e.buddy.free_frames(), 64u);
    EXPECT_TRUE(e.buddy.check());
    EXPECT_TRUE(e.consistent());
    // Still usable: everything can be allocated and comes back.
    std::vector<Block> held;
    for (auto b = e.buddy.alloc(0); b.ok(); b = e.buddy.alloc(0))
        held.push_back(b.value());
    EXPECT_EQ(held.size(), 64u);
    for (const Block& b : held)
        ASSERT_TRUE(e.buddy.free(b).ok());
    EXPECT_TRUE(e.back_to_roots());
}

TEST(Buddy, MergeFailureKeepsFramesFreeAndAllocatable) {
    Env e(8);
    e.root(kBase, 3);
    auto a = e.buddy.alloc(0), b = e.buddy.alloc(0);
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_TRUE(e.buddy.free(a.value()).ok()); // buddy allocated: no merge
    EXPECT_EQ(e.ops.merges, 0u);
    e.ops.fail_nth_merge(1);
    ASSERT_TRUE(e.buddy.free(b.value()).ok()); // the merge fails; both stay free
    EXPECT_EQ(e.buddy.free_frames(), 8u);
    EXPECT_EQ(e.buddy.free_blocks(0), 2u);
    EXPECT_TRUE(e.buddy.check());
    EXPECT_TRUE(e.consistent());

    const uint64_t splits = e.ops.splits;
    auto c = e.buddy.alloc(0), d = e.buddy.alloc(0);
    ASSERT_TRUE(c.ok() && d.ok());
    EXPECT_EQ(e.ops.splits, splits);
    EXPECT_NE(c.value().pa, d.value().pa);
    ASSERT_TRUE(e.buddy.free(c.value()).ok());
    ASSERT_TRUE(e.buddy.free(d.value()).ok());
    EXPECT_TRUE(e.back_to_roots());
}

TEST(Buddy, MergeFailureHalfwayStopsAndALaterFreeRetries) {
    Env e(8);
    e.root(kBase, 3);
    auto a = e.buddy.alloc(0);
    ASSERT_TRUE(a.ok());
    e.ops.fail_nth_merge(2); // order 0 merges, order 1 does not
    ASSERT_TRUE(e.buddy.free(a.value()).ok());
    EXPECT_EQ(e.buddy.free_frames(), 8u);
    EXPECT_EQ(e.buddy.free_blocks(1), 2u);
    EXPECT_EQ(e.buddy.free_blocks(2), 1u);
    EXPECT_EQ(e.buddy.alloc(3).error(), Error::NoMemory); // not merged, so not there
    EXPECT_TRUE(e.buddy.check());
    EXPECT_TRUE(e.consistent());

    auto b = e.buddy.alloc(1);
    ASSERT_TRUE(b.ok());
    ASSERT_TRUE(e.buddy.free(b.value()).ok());
    EXPECT_TRUE(e.back_to_roots());
}

TEST(Buddy, FailNthAlloc) {
    Env e(16);
    e.root(kBase, 4);
    e.buddy.fail_nth_alloc(3);
    auto a = e.buddy.alloc(0), b = e.buddy.alloc(0);
    ASSERT_TRUE(a.ok() && b.ok());
    const auto before = dump(e.buddy);
    const uint64_t splits = e.ops.splits;
    EXPECT_EQ(e.buddy.alloc(0).error(), Error::NoMemory);
    EXPECT_EQ(dump(e.buddy), before);
    EXPECT_EQ(e.ops.splits, splits);
    auto c = e.buddy.alloc(0); // only the third one failed
    ASSERT_TRUE(c.ok());

    e.buddy.fail_nth_alloc(1);
    e.buddy.fail_nth_alloc(0); // disabled again
    auto d = e.buddy.alloc(0);
    ASSERT_TRUE(d.ok());
    for (auto& x : {a, b, c, d})
        ASSERT_TRUE(e.buddy.free(x.value()).ok());
    EXPECT_TRUE(e.back_to_roots());
}

TEST(Buddy, QueriesAndOrderLimits) {
    Env e(64);
    e.root(kBase, 5);
    e.root(kBase + 32 * kPage, 2);
    EXPECT_EQ(e.buddy.largest_free_order(), 5);
    EXPECT_EQ(e.buddy.free_blocks(5), 1u);
    EXPECT_EQ(e.buddy.free_blocks(2), 1u);
    EXPECT_EQ(e.buddy.free_blocks(200), 0u);
    EXPECT_EQ(e.buddy.alloc(6).error(), Error::NoMemory);
    EXPECT_EQ(e.buddy.alloc(BuddyCore::kMaxOrder + 1).error(), Error::InvalidArgument);
    auto a = e.buddy.alloc(5);
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(e.buddy.largest_free_order(), 2);
    EXPECT_EQ(e.buddy.free_frames(), 4u);
    EXPECT_EQ(e.buddy.total_frames(), 36u);
    ASSERT_TRUE(e.buddy.free(a.value()).ok());
}

TEST(Buddy, GigabyteRootOrder18) {
    Env e(uint64_t{1} << 18, 0x80000000);
    const Block r = e.root(0x80000000, 18);
    auto a = e.buddy.alloc(0);
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(e.ops.splits, 18u);
    EXPECT_EQ(e.buddy.free_frames(), (uint64_t{1} << 18) - 1);
    EXPECT_TRUE(e.buddy.check());
    expect_merges_back_to_root(e, a.value(), r);
}
