// What the buddy allocator's host tests share (buddy_test.cpp,
// buddy_soak_test.cpp): the fake kernel for its frame capabilities (FakeOps),
// a dump of its blocks, and an allocator over a window with fake caps (Env).
#pragma once

#include "buddy.h"

#include <gtest/gtest.h>

#include "fake_frame_caps.h"

#include <algorithm>
#include <vector>

namespace buddyt {

using namespace capframe;
using namespace capframe::mm;

inline constexpr uint64_t kPage = 4096;
inline constexpr uint64_t kBase = 0x80200000; // aligned to 2^9 pages only

struct FailTest {
    static void bad(const char* what) { ADD_FAILURE() << what; }
};
// The kernel's frame caps (fake_frame_caps.h); a misuse fails the test.
using FakeOps = capframe::test::FakeFrameCaps<FailTest>;

static_assert(FrameCapOps<FakeOps>);
static_assert(!FrameCapOps<int>);
struct WrongOps {
    bool split(uint32_t, uint8_t);
    Result<void> merge(uint32_t, uint32_t, uint32_t);
};
static_assert(!FrameCapOps<WrongOps>);

struct Entry {
    uint32_t slot;
    uint64_t pa;
    uint8_t order;
    bool free;
    bool operator==(const Entry&) const = default;
};

inline std::vector<Entry> dump(const BuddyCore& b) {
    std::vector<Entry> v;
    b.for_each_block([&](Block x, bool f) { v.push_back(Entry{x.slot, x.pa, x.order, f}); });
    return v;
}

// An allocator over a window of `frames` frames at `base`, with fake caps.
struct Env {
    FakeOps ops;
    std::vector<FrameMeta> meta;
    Buddy<FakeOps> buddy{ops};
    std::vector<Entry> roots;

    explicit Env(uint64_t frames, uint64_t base = kBase) : meta(frames) {
        EXPECT_TRUE(buddy.init(base, meta).ok());
    }
    Block root(uint64_t pa, uint8_t order) {
        Block b{ops.make_root(pa, order), pa, order};
        EXPECT_TRUE(buddy.add_root(b).ok());
        roots.push_back(Entry{b.slot, pa, order, true});
        std::sort(roots.begin(), roots.end(), [](auto& a, auto& c) { return a.pa < c.pa; });
        return b;
    }
    // Covers [pa, pa + pages) with the largest naturally aligned roots.
    void root_range(uint64_t pa, uint64_t pages) {
        const uint64_t end = pa + pages * kPage;
        while (pa < end) {
            uint8_t k = largest_aligned_order(pa, end - pa, BuddyCore::kMaxOrder);
            root(pa, k);
            pa += kPage << k;
        }
    }
    // The allocator agrees with the fake kernel about every cap it holds.
    bool consistent() const {
        auto v = dump(buddy);
        for (auto& e : v)
            if (!ops.is_leaf(Block{e.slot, e.pa, e.order})) return false;
        return v.size() == ops.leaves();
    }
    bool back_to_roots() const {
        return dump(buddy) == roots && ops.live_children() == 0 &&
               buddy.free_frames() == buddy.total_frames();
    }
};

} // namespace buddyt
