// What the buddy allocator's host tests share (buddy_test.cpp,
// buddy_soak_test.cpp): a fake kernel for its frame capabilities (FakeOps),
// a dump of its blocks, and an allocator over a window with fake caps (Env).
#pragma once

#include "buddy.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace buddyt {

using namespace capframe;
using namespace capframe::mm;

inline constexpr uint64_t kPage = 4096;
inline constexpr uint64_t kBase = 0x80200000; // aligned to 2^9 pages only

// Simulates the kernel's frame caps: hands out fresh slot numbers, checks
// that every split and merge names caps as the kernel would require, and can
// be told to fail the n-th split or merge.
class FakeOps {
  public:
    static constexpr uint32_t kNone = ~0u;
    struct Cap {
        uint64_t pa;
        uint8_t order;
        uint32_t parent;
        uint32_t lower = kNone, upper = kNone; // set while split
    };

    uint32_t make_root(uint64_t pa, uint8_t order) {
        caps_[next_] = Cap{pa, order, kNone};
        return next_++;
    }

    Result<SplitSlots> split(uint32_t slot, uint8_t order) {
        ++splits;
        if (fail_split_ && --fail_split_ == 0) return Error::TooMany;
        auto it = caps_.find(slot);
        if (it == caps_.end() || it->second.lower != kNone || it->second.order != order ||
            order == 0) {
            ADD_FAILURE() << "bad split of slot " << slot << " order " << int(order);
            return Error::InvalidArgument;
        }
        Cap& c = it->second;
        const uint32_t lo = next_++, up = next_++;
        const uint8_t k = order - 1;
        caps_[lo] = Cap{c.pa, k, slot};
        caps_[up] = Cap{c.pa + (kPage << k), k, slot};
        c.lower = lo;
        c.upper = up;
        return SplitSlots{lo, up};
    }

    Result<void> merge(uint32_t parent, uint32_t lower, uint32_t upper) {
        ++merges;
        if (fail_merge_ && --fail_merge_ == 0) return Error::NoMemory;
        auto it = caps_.find(parent);
        if (it == caps_.end() || it->second.lower != lower || it->second.upper != upper ||
            caps_.at(lower).lower != kNone || caps_.at(upper).lower != kNone) {
            ADD_FAILURE() << "bad merge " << parent << " <- " << lower << ", " << upper;
            return Error::InvalidArgument;
        }
        caps_.erase(lower);
        caps_.erase(upper);
        it->second.lower = it->second.upper = kNone;
        return {};
    }

    void fail_nth_split(uint64_t n) { fail_split_ = n; }
    void fail_nth_merge(uint64_t n) { fail_merge_ = n; }

    size_t live_children() const {
        return std::count_if(caps_.begin(), caps_.end(),
                             [](auto& kv) { return kv.second.parent != kNone; });
    }
    size_t leaves() const {
        return std::count_if(caps_.begin(), caps_.end(),
                             [](auto& kv) { return kv.second.lower == kNone; });
    }
    // b names a live, unsplit cap of exactly that extent.
    bool is_leaf(const Block& b) const {
        auto it = caps_.find(b.slot);
        return it != caps_.end() && it->second.lower == kNone && it->second.pa == b.pa &&
               it->second.order == b.order;
    }

    uint64_t splits = 0, merges = 0;

  private:
    std::map<uint32_t, Cap> caps_;
    uint32_t next_ = 100;
    uint64_t fail_split_ = 0, fail_merge_ = 0;
};

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
