#include "buddy.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <vector>

using namespace capframe;
using namespace capframe::mm;

namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kBase = 0x80200000; // aligned to 2^9 pages only

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

std::vector<Entry> dump(const BuddyCore& b) {
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
        uint64_t pfn = pa / kPage;
        const uint64_t end = pfn + pages;
        while (pfn < end) {
            uint8_t k = 0;
            while (k < BuddyCore::kMaxOrder && pfn % (uint64_t{2} << k) == 0 &&
                   pfn + (uint64_t{2} << k) <= end)
                ++k;
            root(pfn * kPage, k);
            pfn += uint64_t{1} << k;
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

} // namespace

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

    ASSERT_TRUE(e.buddy.free(a.value()).ok());
    EXPECT_EQ(e.ops.merges, 9u);
    EXPECT_TRUE(e.back_to_roots());
    auto whole = e.buddy.alloc(9);
    ASSERT_TRUE(whole.ok());
    EXPECT_EQ(whole.value().slot, r.slot);
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
    ASSERT_TRUE(e.buddy.free(a.value()).ok());
    EXPECT_EQ(e.ops.merges, 18u);
    EXPECT_TRUE(e.back_to_roots());
    auto whole = e.buddy.alloc(18);
    ASSERT_TRUE(whole.ok());
    EXPECT_EQ(whole.value().slot, r.slot);
}

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
