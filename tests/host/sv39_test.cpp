// Sv39 mapper on simulated physical memory: table pages are host buffers that
// stand for physical pages at kBase.
#include "sv39.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "sv39_test.h"

using namespace capframe;
using namespace capframe::test;

namespace {

struct Leaf {
    uint64_t va, pa, size, raw;
    bool operator==(const Leaf&) const = default;
};

class Sv39Test : public SimTreeTest {
  protected:
    std::vector<Leaf> leaves() const {
        std::vector<Leaf> v;
        pt.for_each_leaf([&](VirtAddr va, PhysAddr pa, uint64_t size, Pte e) {
            v.push_back({va.value(), pa.value(), size, e.raw()});
        });
        return v;
    }
    // The error `op` returns, and that it changed nothing.
    template <class Op>
    Error fails_unchanged(Op op) {
        auto before = mem.snapshot();
        Result<void> r = op();
        EXPECT_FALSE(r.ok());
        EXPECT_EQ(mem.snapshot(), before);
        return r.error();
    }
};

// ---- Pte and Perm -----------------------------------------------------------

static_assert(Pte::leaf(PhysAddr(0x10000000), perm::kMmio).raw() == 0x40000c7);
static_assert(Pte::leaf(PhysAddr(0x80200000), perm::kKernelText).raw() == 0x2008004b);
static_assert(Pte::table(PhysAddr(0x87f6a000)).raw() == 0x21fda801);
static_assert(Pte(0x21fda801).pa() == PhysAddr(0x87f6a000));
static_assert(Pte(0x21fda801).is_table() && !Pte(0x21fda801).is_leaf());
static_assert(!Pte(0x21fda800).valid() && !Pte(0x21fda800).is_table());
static_assert(Pte(0x40000c7).perm() == (Perm::R | Perm::W));
static_assert(sv39::index(kTrampolineVa, 2) == 255 && sv39::index(kTrampolineVa, 1) == 511 &&
              sv39::index(kTrampolineVa, 0) == 511);
static_assert(has(perm::kUserData, Perm::R | Perm::U) && !has(perm::kUserData, Perm::X));

TEST(Sv39Pte, LeafSetsAccessedAndDirtyOnlyWhenWritable) {
    for (Perm p : {perm::kKernelText, perm::kKernelRodata, perm::kKernelData, perm::kUserText,
                   perm::kUserRodata, perm::kUserData, Perm::X, Perm::R | Perm::G}) {
        Pte e = Pte::leaf(P(0x80000000), p);
        EXPECT_TRUE(e.valid() && e.is_leaf() && e.accessed());
        EXPECT_EQ(e.dirty(), has(p, Perm::W));
        EXPECT_EQ(e.perm(), p);
        EXPECT_EQ(e.pa(), P(0x80000000));
    }
}

TEST(Sv39Pte, WithPermKeepsPpnAndSoftwareBits) {
    Pte e(Pte::leaf(P(0x1234000), perm::kKernelData).raw() | (3u << 8)); // RSW bits
    Pte r = e.with_perm(perm::kKernelRodata);
    EXPECT_EQ(r.pa(), P(0x1234000));
    EXPECT_EQ(r.raw() & (3u << 8), 3u << 8);
    EXPECT_TRUE(r.accessed());
    EXPECT_FALSE(r.dirty());
    EXPECT_FALSE(r.writable());
}

TEST(Sv39Pte, CheckPerm) {
    using S = Sv39<SimMem>;
    EXPECT_TRUE(S::check_perm(Perm::R).ok());
    EXPECT_TRUE(S::check_perm(Perm::X).ok());
    EXPECT_TRUE(S::check_perm(perm::kUserData).ok());
    for (Perm p : {Perm::None, Perm::W, Perm::U, Perm::G, Perm::W | Perm::X,
                   Perm::R | Perm::W | Perm::X, Perm::W | Perm::U})
        EXPECT_EQ(S::check_perm(p).error(), Error::InvalidArgument) << int(p);
}

// ---- map / translate --------------------------------------------------------

TEST_F(Sv39Test, Map4KAndTranslate) {
    ASSERT_TRUE(pt.map(V(0x10000000), P(0x10000000), K4, perm::kMmio).ok());
    EXPECT_EQ(mem.live(), 3u);
    EXPECT_EQ(pt.count_tables(), 3u);
    Result<Translation> t = pt.translate(V(0x10000123));
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t.value().pa, P(0x10000123));
    EXPECT_EQ(t.value().perm, perm::kMmio);
    EXPECT_EQ(t.value().page_size, K4);
    EXPECT_EQ(pt.translate(V(0x10001000)).error(), Error::NotMapped);
    EXPECT_EQ(pt.translate(V(0x0ffff000)).error(), Error::NotMapped);
    EXPECT_EQ(pt.translate(V(0x40000000)).error(), Error::NotMapped);
}

TEST_F(Sv39Test, AlignedRangesUseLargeLeaves) {
    ASSERT_TRUE(pt.map(V(0x80200000), P(0x80200000), M2, perm::kKernelText).ok());
    EXPECT_EQ(pt.count_tables(), 2u); // root + one level-1 table
    ASSERT_TRUE(pt.map(V(0x40000000), P(0xc0000000), G1, perm::kKernelData).ok());
    EXPECT_EQ(pt.count_tables(), 2u); // the 1 GiB leaf sits in the root
    EXPECT_EQ(leaves(),
              (std::vector<Leaf>{
                  {0x40000000, 0xc0000000, G1, Pte::leaf(P(0xc0000000), perm::kKernelData).raw()},
                  {0x80200000, 0x80200000, M2, Pte::leaf(P(0x80200000), perm::kKernelText).raw()},
              }));
    Result<Translation> t = pt.translate(V(0x40000000 + 0x12345678));
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t.value().pa, P(0xc0000000 + 0x12345678));
    EXPECT_EQ(t.value().page_size, G1);
    t = pt.translate(V(0x803fffff));
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t.value().pa, P(0x803fffff));
    EXPECT_EQ(t.value().page_size, M2);
}

TEST_F(Sv39Test, MixedSizesAndMisalignedPa) {
    // 2M + 4K: one 2 MiB leaf, then a 4 KiB one.
    ASSERT_TRUE(pt.map(V(0x80000000), P(0x90000000), M2 + K4, perm::kKernelData).ok());
    auto l = leaves();
    ASSERT_EQ(l.size(), 2u);
    EXPECT_EQ(l[0].size, M2);
    EXPECT_EQ(l[1].va, 0x80200000u);
    EXPECT_EQ(l[1].pa, 0x90200000u);
    EXPECT_EQ(l[1].size, K4);
    // va 2M-aligned but pa only 4K-aligned: all 4 KiB leaves.
    ASSERT_TRUE(pt.map(V(0x40000000), P(0x90401000), M2, perm::kKernelRodata).ok());
    EXPECT_EQ(leaves().size(), 2u + 512u);
    // Starting 4K below a 2M boundary: 1 x 4K, 1 x 2M, 1 x 4K.
    ASSERT_TRUE(pt.map(V(0x1ff000), P(0x1ff000), M2 + 2 * K4, perm::kKernelRodata).ok());
    std::vector<uint64_t> sizes;
    pt.for_each_leaf([&](VirtAddr va, PhysAddr, uint64_t size, Pte) {
        if (va.value() < 0x40000000) sizes.push_back(size);
    });
    EXPECT_EQ(sizes, (std::vector<uint64_t>{K4, M2, K4}));
}

TEST_F(Sv39Test, PageSizePolicy) {
    ASSERT_TRUE(
        pt.map(V(0x80000000), P(0x80000000), M2, perm::kKernelData, PageSizes::Only4K).ok());
    EXPECT_EQ(leaves().size(), 512u);
    EXPECT_EQ(pt.count_tables(), 3u);
    ASSERT_TRUE(
        pt.map(V(0x40000000), P(0x40000000), G1, perm::kKernelData, PageSizes::Upto2M).ok());
    EXPECT_EQ(leaves().size(), 1024u);
    EXPECT_EQ(pt.count_tables(), 4u);
    EXPECT_EQ(pt.translate(V(0x40000000)).value().page_size, M2);
}

TEST_F(Sv39Test, EveryLeafAccessedDirtyIffWritable) {
    ASSERT_TRUE(pt.map(V(0x80000000), P(0x80000000), M2 + 3 * K4, perm::kKernelText).ok());
    ASSERT_TRUE(pt.map(V(0x100000000), P(0x80000000), G1, perm::kKernelData).ok());
    ASSERT_TRUE(pt.map(V(0x10000000), P(0x10000000), 5 * K4, perm::kUserData).ok());
    ASSERT_TRUE(pt.map(V(0x20000000), P(0x20000000), K4, Perm::X).ok());
    int n = 0;
    pt.for_each_leaf([&](VirtAddr, PhysAddr, uint64_t, Pte e) {
        ++n;
        EXPECT_TRUE(e.accessed());
        EXPECT_EQ(e.dirty(), e.writable());
    });
    EXPECT_EQ(n, 2 + 3 + 1 + 5);
}

TEST_F(Sv39Test, SharesExistingTables) {
    ASSERT_TRUE(pt.map(V(0x80000000), P(0x80000000), K4, perm::kKernelData).ok());
    ASSERT_TRUE(pt.map(V(0x80005000), P(0x80005000), K4, perm::kKernelData).ok());
    ASSERT_TRUE(pt.map(V(0x80200000), P(0x80200000), K4, perm::kKernelData).ok());
    EXPECT_EQ(pt.count_tables(), 4u); // root, one level-1, two level-0
    EXPECT_EQ(mem.live(), 4u);
}

TEST_F(Sv39Test, RemapIsRejectedAndChangesNothing) {
    ASSERT_TRUE(pt.map(V(0x80000000), P(0x80000000), 4 * K4, perm::kKernelData).ok());
    ASSERT_TRUE(pt.map(V(0x80200000), P(0x80200000), M2, perm::kKernelText).ok());
    // Same range, overlapping tail (which would need new tables), inside a 2M leaf.
    EXPECT_EQ(fails_unchanged([&] { return pt.map(V(0x80000000), P(0x1000), K4, Perm::R); }),
              Error::AlreadyMapped);
    EXPECT_EQ(
        fails_unchanged([&] { return pt.map(V(0x7fe00000), P(0x1000), M2 + K4 * 4, Perm::R); }),
        Error::AlreadyMapped);
    EXPECT_EQ(fails_unchanged([&] { return pt.map(V(0x80003000), P(0x1000), G1, Perm::R); }),
              Error::AlreadyMapped);
    EXPECT_EQ(fails_unchanged([&] { return pt.map(V(0x80301000), P(0x1000), K4, Perm::R); }),
              Error::AlreadyMapped);
    EXPECT_EQ(
        fails_unchanged([&] { return pt.map(V(0x40000000), P(0x40000000), 2 * G1, Perm::R); }),
        Error::AlreadyMapped);
}

TEST_F(Sv39Test, ArgumentChecks) {
    auto map = [&](uint64_t va, uint64_t pa, uint64_t size, Perm p = Perm::R) {
        return fails_unchanged([&] { return pt.map(V(va), P(pa), size, p); });
    };
    EXPECT_EQ(map(0x1000, 0x1000, 0), Error::InvalidArgument);
    EXPECT_EQ(map(0x1001, 0x1000, K4), Error::Misaligned);
    EXPECT_EQ(map(0x1000, 0x1800, K4), Error::Misaligned);
    EXPECT_EQ(map(0x1000, 0x1000, 100), Error::Misaligned);
    EXPECT_EQ(map(kMaxVa, 0x1000, K4), Error::OutOfRange);
    EXPECT_EQ(map(kMaxVa + K4, 0x1000, K4), Error::OutOfRange);
    EXPECT_EQ(map(kMaxVa - K4, 0x1000, 2 * K4), Error::OutOfRange);
    EXPECT_EQ(map(kTrampolineVa, 0x1000, ~uint64_t{0} & ~(K4 - 1)), Error::OutOfRange); // wraps
    EXPECT_EQ(map(0x1000, ~uint64_t{0} & ~(K4 - 1), 2 * K4), Error::OutOfRange);        // pa wraps
    EXPECT_EQ(map(0x1000, kMaxPa - K4, 2 * K4), Error::OutOfRange);
    EXPECT_EQ(map(0x1000, 0x1000, K4, Perm::W), Error::InvalidArgument);
    EXPECT_EQ(map(0x1000, 0x1000, K4, Perm::R | Perm::W | Perm::X), Error::InvalidArgument);
    EXPECT_EQ(map(0x1000, 0x1000, K4, Perm::W | Perm::X | Perm::U), Error::InvalidArgument);
    EXPECT_EQ(map(0x1000, 0x1000, K4, Perm::U), Error::InvalidArgument);
    EXPECT_EQ(map(0x1000, 0x1000, K4, Perm::None), Error::InvalidArgument);
    EXPECT_EQ(mem.live(), 1u);
    // The very top page is fine.
    EXPECT_TRUE(pt.map(V(kMaxVa - K4), P(kMaxPa - K4), K4, Perm::R).ok());
    EXPECT_EQ(pt.translate(V(kMaxVa - 1)).value().pa, P(kMaxPa - 1));
    EXPECT_EQ(pt.translate(V(kMaxVa)).error(), Error::OutOfRange);
}

// ---- unmap ------------------------------------------------------------------

TEST_F(Sv39Test, UnmapFreesEmptyTables) {
    ASSERT_TRUE(pt.map(V(0x80000000), P(0x80000000), M2 + 3 * K4, perm::kKernelData).ok());
    ASSERT_TRUE(pt.map(V(0x10000000), P(0x10000000), K4, perm::kMmio).ok());
    unsigned live = mem.live();
    ASSERT_TRUE(pt.unmap(V(0x80201000), K4).ok()); // middle of the 4K tail: tables stay
    EXPECT_EQ(mem.live(), live);
    EXPECT_EQ(pt.translate(V(0x80201000)).error(), Error::NotMapped);
    EXPECT_TRUE(pt.translate(V(0x80202000)).ok());
    ASSERT_TRUE(pt.unmap(V(0x80000000), M2 + K4).ok());
    ASSERT_TRUE(pt.unmap(V(0x80202000), K4).ok()); // the last leaf of that level-0 table
    EXPECT_EQ(pt.translate(V(0x80000000)).error(), Error::NotMapped);
    EXPECT_EQ(pt.count_tables(), 3u);
    ASSERT_TRUE(pt.unmap(V(0x10000000), K4).ok());
    EXPECT_EQ(mem.live(), 1u); // only the root is left
    EXPECT_EQ(pt.count_tables(), 1u);
    EXPECT_TRUE(leaves().empty());
    // and the space can be mapped again
    ASSERT_TRUE(pt.map(V(0x80000000), P(0x80000000), K4, perm::kKernelData).ok());
    EXPECT_EQ(mem.live(), 3u);
}

// Tables::Keep (the kernel stacks): the last leaf of a table goes, its
// tables stay and serve the next map without a new table page.
TEST_F(Sv39Test, UnmapKeepingTables) {
    ASSERT_TRUE(pt.map(V(0x80000000), P(0x80000000), K4, perm::kKernelData).ok());
    unsigned live = mem.live();
    ASSERT_EQ(live, 3u);
    ASSERT_TRUE(pt.unmap(V(0x80000000), K4, decltype(pt)::Tables::Keep).ok());
    EXPECT_EQ(pt.translate(V(0x80000000)).error(), Error::NotMapped);
    EXPECT_TRUE(leaves().empty());
    EXPECT_EQ(mem.live(), live);
    EXPECT_EQ(pt.count_tables(), 3u);
    EXPECT_EQ(pt.unmap(V(0x80000000), K4, decltype(pt)::Tables::Keep).error(), Error::NotMapped);
    ASSERT_TRUE(pt.map(V(0x80001000), P(0x80001000), K4, perm::kKernelData).ok());
    EXPECT_EQ(mem.live(), live);                   // no new table
    ASSERT_TRUE(pt.unmap(V(0x80001000), K4).ok()); // the default frees them
    EXPECT_EQ(mem.live(), 1u);
}

TEST_F(Sv39Test, UnmapLargeLeaves) {
    ASSERT_TRUE(pt.map(V(0x40000000), P(0x40000000), G1 + M2, perm::kKernelData).ok());
    ASSERT_TRUE(pt.unmap(V(0x40000000), G1 + M2).ok());
    EXPECT_EQ(mem.live(), 1u);
}

TEST_F(Sv39Test, UnmapErrorsChangeNothing) {
    ASSERT_TRUE(pt.map(V(0x80000000), P(0x80000000), 2 * K4, perm::kKernelData).ok());
    ASSERT_TRUE(pt.map(V(0x80200000), P(0x80200000), M2, perm::kKernelData).ok());
    ASSERT_TRUE(pt.map(V(0x80400000), P(0x80400000), K4, perm::kKernelData).ok());
    auto unmap = [&](uint64_t va, uint64_t size) {
        return fails_unchanged([&] { return pt.unmap(V(va), size); });
    };
    EXPECT_EQ(unmap(0x90000000, K4), Error::NotMapped);
    EXPECT_EQ(unmap(0x80000000, 3 * K4), Error::NotMapped);           // hole at the end
    EXPECT_EQ(unmap(0x80001000, M2), Error::NotMapped);               // hole in the middle
    EXPECT_EQ(unmap(0x80200000, K4), Error::WouldSplitLargePage);     // head of a 2M leaf
    EXPECT_EQ(unmap(0x80200000, M2 + 2 * K4), Error::NotMapped);      // whole leaf, then a hole
    EXPECT_EQ(unmap(0x803ff000, 2 * K4), Error::WouldSplitLargePage); // tail of a 2M leaf
    EXPECT_EQ(unmap(0x80000000, 0), Error::InvalidArgument);
    EXPECT_EQ(unmap(0x80000800, K4), Error::Misaligned);
    EXPECT_EQ(unmap(kMaxVa, K4), Error::OutOfRange);
    EXPECT_EQ(unmap(0x80000000, ~uint64_t{0} & ~(K4 - 1)), Error::OutOfRange);
}

// ---- protect ----------------------------------------------------------------

TEST_F(Sv39Test, Protect) {
    ASSERT_TRUE(pt.map(V(0x80000000), P(0x80000000), M2 + K4, perm::kKernelData).ok());
    ASSERT_TRUE(pt.protect(V(0x80000000), M2 + K4, perm::kKernelRodata).ok());
    pt.for_each_leaf([&](VirtAddr, PhysAddr, uint64_t, Pte e) {
        EXPECT_EQ(e.perm(), perm::kKernelRodata);
        EXPECT_TRUE(e.accessed());
        EXPECT_FALSE(e.dirty());
    });
    ASSERT_TRUE(pt.protect(V(0x80200000), K4, perm::kUserData).ok());
    Result<Translation> t = pt.translate(V(0x80200000));
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t.value().perm, perm::kUserData);
    EXPECT_TRUE(t.value().pte.dirty() && t.value().pte.accessed());
    EXPECT_EQ(t.value().pa, P(0x80200000));
    EXPECT_EQ(pt.translate(V(0x80000000)).value().page_size, M2);

    auto protect = [&](uint64_t va, uint64_t size, Perm p) {
        return fails_unchanged([&] { return pt.protect(V(va), size, p); });
    };
    EXPECT_EQ(protect(0x80000000, K4, perm::kKernelData), Error::WouldSplitLargePage);
    EXPECT_EQ(protect(0x80200000, 2 * K4, perm::kKernelData), Error::NotMapped);
    EXPECT_EQ(protect(0x80000000, M2, Perm::W | Perm::X | Perm::R), Error::InvalidArgument);
    EXPECT_EQ(protect(0x80000000, M2, Perm::W), Error::InvalidArgument);
    EXPECT_EQ(protect(0x80000001, M2, Perm::R), Error::Misaligned);
    EXPECT_EQ(protect(0x80000000, 0, Perm::R), Error::InvalidArgument);
}

// ---- allocation failure -----------------------------------------------------

TEST_F(Sv39Test, AllocationFailureAtEveryStepChangesNothing) {
    // Something already there, so the failing maps reuse some tables.
    ASSERT_TRUE(pt.map(V(0x80000000), P(0x80000000), K4, perm::kKernelData).ok());
    struct Case {
        uint64_t va, size;
        unsigned tables; // new table pages the map needs
    };
    for (Case c : {Case{0x801fe000, 2 * K4 + M2 + K4, 1}, // 4K 4K 2M 4K
                   Case{0x3ffff000, G1, 4},               // 4K, 511 x 2M, 511 x 4K
                   Case{0xc0000000, M2 + 3 * K4, 2}}) {
        unsigned failures = 0;
        for (int n = 0;; ++n) {
            auto before = mem.snapshot();
            unsigned live = mem.live();
            mem.fail_nth_alloc(n);
            Result<void> r = pt.map(V(c.va), P(c.va + 0x100000000), c.size, perm::kKernelData);
            mem.never_fail();
            if (r.ok()) {
                EXPECT_EQ(mem.live() - live, c.tables);
                break;
            }
            ++failures;
            ASSERT_EQ(r.error(), Error::NoMemory) << n;
            EXPECT_EQ(mem.live(), live) << n;
            EXPECT_EQ(mem.snapshot(), before) << n;
        }
        EXPECT_EQ(failures, c.tables); // one per allocation the map makes
        ASSERT_TRUE(pt.unmap(V(c.va), c.size).ok());
        EXPECT_EQ(mem.live(), 3u);
    }
}

TEST(Sv39Create, FailsWithoutMemory) {
    SimMem mem;
    mem.fail_nth_alloc(0);
    EXPECT_EQ(Sv39<SimMem>::create(mem).error(), Error::NoMemory);
    EXPECT_EQ(mem.live(), 0u);
}

// ---- whole-tree operations ---------------------------------------------------

TEST_F(Sv39Test, DestroyFreesEveryTable) {
    ASSERT_TRUE(pt.map(V(0x80000000), P(0x80000000), M2 + 3 * K4, perm::kKernelData).ok());
    ASSERT_TRUE(pt.map(V(0x10000000), P(0x10000000), K4, perm::kMmio).ok());
    ASSERT_TRUE(pt.map(V(kTrampolineVa), P(0x80001000), K4, perm::kTrampoline).ok());
    EXPECT_EQ(pt.count_tables(), mem.live());
    pt.destroy();
    EXPECT_EQ(mem.live(), 0u);
}

TEST_F(Sv39Test, TrampolineAndTrapframeAtTheTop) {
    ASSERT_TRUE(pt.map(V(kTrampolineVa), P(0x80001000), K4, perm::kTrampoline).ok());
    ASSERT_TRUE(pt.map(V(kTrapframeVa), P(0x80002000), K4, perm::kKernelData).ok());
    EXPECT_EQ(kTrampolineVa, 0x3ffffff000u);
    const uint64_t* root = mem.table(pt.root());
    Pte l2(root[255]);
    ASSERT_TRUE(l2.is_table());
    Pte l1(mem.table(l2.pa())[511]);
    ASSERT_TRUE(l1.is_table());
    const uint64_t* l0 = mem.table(l1.pa());
    EXPECT_EQ(Pte(l0[511]).raw(), Pte::leaf(P(0x80001000), perm::kTrampoline).raw());
    EXPECT_EQ(Pte(l0[510]).raw(), Pte::leaf(P(0x80002000), perm::kKernelData).raw());
    EXPECT_EQ(pt.translate(V(kTrampolineVa + 8)).value().pa, P(0x80001008));
}

TEST_F(Sv39Test, ForEachLeafInVaOrderAndStopsEarly) {
    ASSERT_TRUE(pt.map(V(kTrampolineVa), P(0x1000), K4, Perm::R).ok());
    ASSERT_TRUE(pt.map(V(0x80200000), P(0x2000), K4, Perm::R).ok());
    ASSERT_TRUE(pt.map(V(0x40000000), P(0x40000000), G1, Perm::R).ok());
    ASSERT_TRUE(pt.map(V(0x1000), P(0x3000), 2 * K4, Perm::R).ok());
    std::vector<uint64_t> vas;
    for (const Leaf& l : leaves())
        vas.push_back(l.va);
    EXPECT_EQ(vas, (std::vector<uint64_t>{0x1000, 0x2000, 0x40000000, 0x80200000, kTrampolineVa}));
    int seen = 0;
    pt.for_each_leaf([&](VirtAddr, PhysAddr, uint64_t, Pte) { return ++seen < 3; });
    EXPECT_EQ(seen, 3);
}

TEST_F(Sv39Test, SecondHandleOnTheSameRoot) {
    ASSERT_TRUE(pt.map(V(0x80000000), P(0x80000000), K4, perm::kKernelData).ok());
    Sv39<SimMem> other(mem, pt.root());
    EXPECT_EQ(other.root(), pt.root());
    EXPECT_EQ(other.translate(V(0x80000000)).value().pa, P(0x80000000));
    EXPECT_EQ(other.count_tables(), 3u);
}

TEST_F(Sv39Test, TranslateFaultsLikeTheHardware) {
    uint64_t* root = mem.table(pt.root());
    root[1] = Pte::leaf(P(0x40200000), Perm::R).raw(); // misaligned 1 GiB superpage
    root[2] = Pte(Pte::leaf(P(0x80000000), Perm::R).raw() ^ Pte::kR ^ Pte::kW).raw(); // W without R
    EXPECT_EQ(pt.translate(V(0x40000000)).error(), Error::NotMapped);
    EXPECT_EQ(pt.translate(V(0x80000000)).error(), Error::NotMapped);
    root[1] = root[2] = 0;
}

TEST_F(Sv39Test, MapDescendsIntoEmptyExistingTable) {
    // A level-1 table with nothing in it (built by hand): a 1 GiB request
    // cannot replace it with a leaf, so it is filled with 2 MiB leaves.
    Result<PhysAddr> l1 = mem.alloc_table();
    ASSERT_TRUE(l1.ok());
    mem.table(pt.root())[1] = Pte::table(l1.value()).raw();
    ASSERT_TRUE(pt.map(V(0x40000000), P(0x40000000), G1, perm::kKernelData).ok());
    EXPECT_EQ(leaves().size(), 512u);
    EXPECT_EQ(pt.translate(V(0x40000000)).value().page_size, M2);
    ASSERT_TRUE(pt.unmap(V(0x40000000), G1).ok());
    EXPECT_EQ(mem.live(), 1u);
}

} // namespace
