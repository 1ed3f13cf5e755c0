// The buddy allocator on the host (buddy_test.h): in-place capability
// operations (FrameSplit in place, FrameMerge, CapMove) and random soaks with
// and without refused splits and merges.
#include "buddy_test.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <vector>

using namespace capframe;
using namespace capframe::mm;
using namespace buddyt;

namespace {

// Thousands of random allocs and frees. With `faults`, the fake kernel also
// refuses random splits and merges: a failed alloc must change nothing, and
// no frame may ever be lost.
void soak(bool faults, uint64_t seed) {
    Env e(4096);
    e.root_range(kBase + 7 * kPage, 3000);
    e.root_range(kBase + 3072 * kPage, 1024);
    const uint64_t total = e.buddy.total_frames();
    std::mt19937_64 rng(seed);
    std::vector<Block> held;
    uint64_t allocs = 0, failures = 0, exhausted = 0;

    for (int step = 0; step < 6000; ++step) {
        const bool do_alloc = held.empty() || rng() % 100 < 55;
        const bool inject = faults && rng() % 100 < 8;
        if (do_alloc) {
            const uint8_t order = rng() % 2 ? 0 : static_cast<uint8_t>(rng() % 9);
            const auto before = inject ? dump(e.buddy) : std::vector<Entry>{};
            if (inject) e.ops.fail_nth_split(1 + rng() % 3);
            auto b = e.buddy.alloc(order);
            if (b) {
                ASSERT_TRUE(e.ops.is_leaf(b.value()));
                ASSERT_TRUE(is_aligned(b.value().pa, kPage << order));
                held.push_back(b.value());
                ++allocs;
            } else if (b.error() == Error::NoMemory) {
                ASSERT_LT(e.buddy.largest_free_order(), order);
                ++exhausted;
            } else {
                ASSERT_TRUE(inject);
                ASSERT_EQ(dump(e.buddy), before); // rolled back exactly
                ++failures;
            }
        } else {
            if (inject) e.ops.fail_nth_merge(1 + rng() % 3);
            const size_t i = rng() % held.size();
            ASSERT_TRUE(e.buddy.free(held[i]).ok());
            held[i] = held.back();
            held.pop_back();
        }
        e.ops.fail_nth_split(0);
        e.ops.fail_nth_merge(0);
        ASSERT_TRUE(e.buddy.check()) << "step " << step;
        uint64_t used = 0;
        for (const Block& b : held)
            used += uint64_t{1} << b.order;
        ASSERT_EQ(e.buddy.free_frames() + used, total);
        if (step % 500 == 0) {
            ASSERT_TRUE(e.consistent());
        }
    }
    EXPECT_GT(allocs, 2000u);
    EXPECT_GT(exhausted, 10u); // it ran into fragmentation and full memory too
    if (faults) {
        EXPECT_GT(failures, 10u);
    }

    for (const Block& b : held)
        ASSERT_TRUE(e.buddy.free(b).ok());
    EXPECT_TRUE(e.buddy.check());
    EXPECT_TRUE(e.consistent());
    EXPECT_EQ(e.buddy.free_frames(), total);
    if (!faults) {
        EXPECT_TRUE(e.back_to_roots());
    }
}

} // namespace

// In-place capability operations, as mm makes them with the kernel's
// FrameSplit(slot, slot, hi) and FrameMerge: a split keeps the block's slot
// for the lower half, a merge keeps the lower half's slot; a free block's
// capability can move to another slot (CapMove).
class InPlaceOps {
  public:
    struct Cap {
        uint64_t pa;
        uint8_t order;
    };
    uint32_t make_root(uint64_t pa, uint8_t order) {
        caps[next_] = Cap{pa, order};
        return next_++;
    }
    Result<SplitSlots> split(uint32_t slot, uint8_t order) {
        auto it = caps.find(slot);
        if (it == caps.end() || it->second.order != order || order == 0) {
            ADD_FAILURE() << "bad split of slot " << slot;
            return Error::InvalidArgument;
        }
        const uint8_t k = order - 1;
        it->second.order = k;
        caps[next_] = Cap{it->second.pa + (kPage << k), k};
        return SplitSlots{slot, next_++};
    }
    Result<void> merge(uint32_t parent, uint32_t lower, uint32_t upper) {
        auto lo = caps.find(lower), up = caps.find(upper);
        if (parent != lower || lo == caps.end() || up == caps.end() ||
            lo->second.order != up->second.order ||
            up->second.pa != lo->second.pa + (kPage << lo->second.order)) {
            ADD_FAILURE() << "bad merge " << parent << " <- " << lower << ", " << upper;
            return Error::InvalidArgument;
        }
        ++lo->second.order;
        caps.erase(up);
        return {};
    }
    void move(uint32_t from, uint32_t to) {
        ASSERT_EQ(caps.count(to), 0u);
        caps[to] = caps.at(from);
        caps.erase(from);
    }
    std::map<uint32_t, Cap> caps;

  private:
    uint32_t next_ = 1;
};

TEST(Buddy, AFreeBlockMovedToAnotherSlotMergesUnderItsNewSlot) {
    InPlaceOps ops;
    std::vector<FrameMeta> meta(8);
    Buddy<InPlaceOps> buddy{ops};
    const uint64_t base = kBase;
    ASSERT_TRUE(buddy.init(base, meta).ok());
    Block root{ops.make_root(base, 3), base, 3};
    ASSERT_TRUE(buddy.add_root(root).ok());
    Block a = buddy.alloc(0).value(); // the root's slot, at base
    Block b = buddy.alloc(1).value(); // pages 2-3
    EXPECT_EQ(a.slot, root.slot);
    ASSERT_TRUE(buddy.free(a).ok()); // merges with page 1: pages 0-1 free under the root's slot
    Block lo{root.slot, base, 1};
    ASSERT_TRUE(buddy.is_free(lo));
    EXPECT_FALSE(buddy.is_free(b)) << "an allocated block is not free";
    EXPECT_FALSE(buddy.is_free(Block{root.slot, base, 0})) << "the wrong order";
    EXPECT_FALSE(buddy.is_free(Block{root.slot + 1, base, 1})) << "the wrong slot";
    EXPECT_EQ(buddy.move_block(Block{b.slot, b.pa, 0}, 50).error(), Error::InvalidArgument);
    EXPECT_EQ(buddy.move_block(Block{99, base, 1}, 50).error(), Error::InvalidArgument);
    // The free block is the lower half of the splits at pages 2 and 4 (the
    // same capability, split in place): all of them follow it.
    ops.move(root.slot, 50);
    ASSERT_TRUE(buddy.move_block(lo, 50).ok());
    EXPECT_TRUE(buddy.is_free(Block{50, base, 1}));
    EXPECT_FALSE(buddy.is_free(lo));
    EXPECT_TRUE(buddy.check());
    // Freeing b merges everything back into slot 50 (InPlaceOps fails the
    // test if a merge names the old slot).
    ASSERT_TRUE(buddy.free(b).ok());
    EXPECT_TRUE(buddy.check());
    EXPECT_EQ(buddy.free_frames(), 8u);
    ASSERT_EQ(ops.caps.size(), 1u);
    EXPECT_EQ(ops.caps.begin()->first, 50u);
    EXPECT_EQ(ops.caps.begin()->second.order, 3);
    EXPECT_TRUE(buddy.is_free(Block{50, base, 3}));
    // An upper half moves alone: the split above it keeps its lower's slot.
    Block x = buddy.alloc(0).value(); // slot 50 at base; page 1 free in a new slot
    Block up{0, base + kPage, 0};
    buddy.for_each_block([&](Block blk, bool f) {
        if (f && blk.pa == base + kPage) up = blk;
    });
    ASSERT_NE(up.slot, 0u);
    ops.move(up.slot, 60);
    ASSERT_TRUE(buddy.move_block(up, 60).ok());
    ASSERT_TRUE(buddy.free(x).ok());
    EXPECT_EQ(ops.caps.size(), 1u);
    EXPECT_EQ(ops.caps.count(50), 1u);
    EXPECT_TRUE(buddy.check());
}

TEST(Buddy, RandomSoak) {
    soak(false, 0x5eed);
}

TEST(Buddy, RandomSoakWithCapFailures) {
    soak(true, 0xfa11);
}
