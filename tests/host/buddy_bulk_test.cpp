// The buddy allocator's alloc_pages (servers/mm/buddy.h): n one-page blocks
// carved out of one block with every split in one bulk run, against a fake
// kernel whose splits are in place (the slot becomes the lower half, as
// mm's FrameSplit(slot, slot, hi)), checked as the kernel would check them.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "buddy.h"

using namespace capframe;
using namespace capframe::mm;

namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kBase = 0x80000000;

// Frame caps with in-place splits, queued by bulk_split and made by
// bulk_run (the first `run_limit` of them; the rest refused).
struct InPlaceCaps {
    struct Cap {
        uint64_t pa;
        uint8_t order;
    };
    std::map<uint32_t, Cap> caps; // live, unsplit caps
    uint32_t next = 1000;
    std::vector<std::pair<uint32_t, uint32_t>> queued; // (slot, upper)
    bool allow_bulk = true;
    uint64_t run_limit = ~uint64_t{0}; // splits the next bulk_run makes
    uint64_t runs = 0, single_splits = 0, merges = 0;

    bool split_now(uint32_t slot, uint32_t upper) {
        auto it = caps.find(slot);
        if (it == caps.end() || it->second.order == 0 || caps.count(upper)) {
            ADD_FAILURE() << "a split of slot " << slot << " that is not an unsplit cap";
            return false;
        }
        const uint8_t k = it->second.order - 1;
        it->second.order = k;
        caps[upper] = Cap{it->second.pa + (kPage << k), k};
        return true;
    }
    Result<SplitSlots> split(uint32_t slot, uint8_t order) {
        ++single_splits;
        if (!caps.count(slot) || caps[slot].order != order) return Error::InvalidArgument;
        const uint32_t up = next++;
        if (!split_now(slot, up)) return Error::InvalidArgument;
        return SplitSlots{slot, up};
    }
    Result<void> merge(uint32_t parent, uint32_t lower, uint32_t upper) {
        ++merges;
        auto lo = caps.find(lower), up = caps.find(upper);
        if (parent != lower || lo == caps.end() || up == caps.end() ||
            lo->second.order != up->second.order ||
            up->second.pa != lo->second.pa + (kPage << lo->second.order)) {
            ADD_FAILURE() << "a merge of caps that are not the halves of an in-place split";
            return Error::InvalidArgument;
        }
        ++lo->second.order;
        caps.erase(up);
        return {};
    }
    bool bulk_begin(uint32_t splits) {
        queued.clear();
        return allow_bulk && splits <= 64;
    }
    uint32_t bulk_split(uint32_t slot) {
        queued.push_back({slot, next});
        return next++;
    }
    uint32_t bulk_run() {
        ++runs;
        uint32_t done = 0;
        for (auto [slot, upper] : queued) {
            if (done == run_limit || !split_now(slot, upper)) break;
            ++done;
        }
        queued.clear();
        run_limit = ~uint64_t{0};
        return done;
    }
};
static_assert(FrameCapBulkOps<InPlaceCaps>);

struct Env {
    InPlaceCaps ops;
    std::vector<FrameMeta> meta;
    Buddy<InPlaceCaps> buddy{ops};
    Block root{};

    explicit Env(uint8_t order) : meta(size_t{1} << order) {
        EXPECT_TRUE(buddy.init(kBase, meta).ok());
        root = Block{1, kBase, order};
        ops.caps[1] = InPlaceCaps::Cap{kBase, order};
        EXPECT_TRUE(buddy.add_root(root).ok());
    }
    // Every block the allocator knows is a live cap of exactly its extent,
    // and it knows every live cap.
    bool consistent() const {
        size_t blocks = 0;
        bool ok = true;
        buddy.for_each_block([&](Block b, bool) {
            ++blocks;
            auto it = ops.caps.find(b.slot);
            ok = ok && it != ops.caps.end() && it->second.pa == b.pa && it->second.order == b.order;
        });
        return ok && blocks == ops.caps.size();
    }
    bool whole() const {
        return buddy.free_frames() == (uint64_t{1} << root.order) &&
               buddy.free_blocks(root.order) == 1 && ops.caps.size() == 1;
    }
};

// n distinct, page-aligned one-page blocks inside the window.
void expect_pages(const Block* b, uint32_t n) {
    std::set<uint64_t> seen;
    for (uint32_t i = 0; i < n; ++i) {
        EXPECT_EQ(b[i].order, 0);
        EXPECT_EQ(b[i].pa % kPage, 0u);
        EXPECT_TRUE(seen.insert(b[i].pa).second) << "page handed out twice";
    }
}

} // namespace

TEST(BuddyBulk, EveryCountFromOneRootInOneRunAndBackWhole) {
    for (uint32_t n = 1; n <= BuddyCore::kMaxBulkPages; ++n) {
        Env e(9);
        Block out[BuddyCore::kMaxBulkPages];
        Error error{};
        ASSERT_EQ(e.buddy.alloc_pages(n, out, error), n) << n;
        expect_pages(out, n);
        EXPECT_EQ(e.ops.runs, n > 1 ? 1u : 0u) << "n = " << n << ": one bulk run";
        EXPECT_EQ(e.ops.single_splits, n > 1 ? 0u : 9u) << n;
        EXPECT_EQ(e.buddy.free_frames(), 512u - n);
        EXPECT_TRUE(e.buddy.check());
        EXPECT_TRUE(e.consistent()) << n;
        // What is left free: the largest blocks the rest forms, as many
        // single allocations would have left it (one free block per order
        // at most, none of them a buddy of another).
        for (uint8_t k = 0; k <= 9; ++k)
            EXPECT_LE(e.buddy.free_blocks(k), 1u) << "n = " << n << ", order " << int(k);
        std::mt19937 rng(n);
        std::shuffle(out, out + n, rng);
        for (uint32_t i = 0; i < n; ++i)
            ASSERT_TRUE(e.buddy.free(out[i]).ok());
        EXPECT_TRUE(e.whole()) << "n = " << n << ": merged back into the root";
        EXPECT_TRUE(e.buddy.check());
    }
}

TEST(BuddyBulk, FreePagesComeFirstAndTheRestIsCarved) {
    Env e(6);
    auto one = e.buddy.alloc(0); // leaves one free page, and a block of each order
    ASSERT_TRUE(one.ok());
    ASSERT_EQ(e.buddy.free_blocks(0), 1u);
    Block out[BuddyCore::kMaxBulkPages];
    Error error{};
    ASSERT_EQ(e.buddy.alloc_pages(5, out, error), 5u);
    expect_pages(out, 5);
    EXPECT_EQ(out[0].pa, kBase + kPage) << "the free page first";
    EXPECT_EQ(e.ops.runs, 1u);
    EXPECT_TRUE(e.consistent());
    EXPECT_TRUE(e.buddy.check());
    for (uint32_t i = 0; i < 5; ++i)
        ASSERT_TRUE(e.buddy.free(out[i]).ok()) << i << " pa " << std::hex << out[i].pa;
    ASSERT_TRUE(e.buddy.free(one.value()).ok());
    EXPECT_TRUE(e.whole());
}

// The kernel makes only the first m splits of the run: the pages of every
// chain that completed are handed out, the rest is free again and merges
// back; nothing is lost or handed out twice.
TEST(BuddyBulk, ARunCutShortHandsOutWhatItMadeAndLosesNothing) {
    for (uint32_t n : {2u, 7u, 16u, 32u}) {
        uint32_t total = 0;
        {
            Env probe(9);
            Block out[BuddyCore::kMaxBulkPages];
            Error error{};
            ASSERT_EQ(probe.buddy.alloc_pages(n, out, error), n);
            total = static_cast<uint32_t>(probe.ops.caps.size() - 1); // splits made
        }
        for (uint32_t m = 0; m < total; ++m) {
            Env e(9);
            e.ops.run_limit = m;
            Block out[BuddyCore::kMaxBulkPages];
            Error error{};
            const uint32_t got = e.buddy.alloc_pages(n, out, error);
            EXPECT_LT(got, n) << "n " << n << ", m " << m;
            EXPECT_EQ(error, Error::NoMemory);
            expect_pages(out, got);
            EXPECT_TRUE(e.buddy.check()) << "n " << n << ", m " << m;
            EXPECT_TRUE(e.consistent()) << "n " << n << ", m " << m;
            EXPECT_EQ(e.buddy.free_frames(), 512u - got);
            for (uint32_t i = 0; i < got; ++i)
                ASSERT_TRUE(e.buddy.free(out[i]).ok());
            EXPECT_TRUE(e.whole()) << "n " << n << ", m " << m;
        }
    }
}

TEST(BuddyBulk, WithoutABulkRunItAllocatesPageByPage) {
    Env e(5);
    e.ops.allow_bulk = false;
    Block out[BuddyCore::kMaxBulkPages];
    Error error{};
    ASSERT_EQ(e.buddy.alloc_pages(12, out, error), 12u);
    expect_pages(out, 12);
    EXPECT_EQ(e.ops.runs, 0u);
    EXPECT_GT(e.ops.single_splits, 0u);
    EXPECT_TRUE(e.consistent());
    for (uint32_t i = 0; i < 12; ++i)
        ASSERT_TRUE(e.buddy.free(out[i]).ok());
    EXPECT_TRUE(e.whole());
}

TEST(BuddyBulk, MoreThanThereIsGivesWhatThereIs) {
    Env e(3);
    Block out[BuddyCore::kMaxBulkPages];
    Error error{};
    EXPECT_EQ(e.buddy.alloc_pages(12, out, error), 8u);
    EXPECT_EQ(error, Error::NoMemory);
    expect_pages(out, 8);
    EXPECT_EQ(e.buddy.free_frames(), 0u);
    for (uint32_t i = 0; i < 8; ++i)
        ASSERT_TRUE(e.buddy.free(out[i]).ok());
    EXPECT_TRUE(e.whole());
}

// The allocator's own fault injection (fail_nth_alloc) fails the carving:
// nothing handed out, nothing changed.
TEST(BuddyBulk, AnInjectedFaultFailsTheCarvingAndChangesNothing) {
    Env e(5);
    e.buddy.fail_nth_alloc(1);
    Block out[BuddyCore::kMaxBulkPages];
    Error error{};
    EXPECT_EQ(e.buddy.alloc_pages(4, out, error), 0u);
    EXPECT_EQ(error, Error::NoMemory);
    EXPECT_EQ(e.ops.runs, 0u);
    EXPECT_TRUE(e.whole());
    EXPECT_TRUE(e.buddy.check());
}
