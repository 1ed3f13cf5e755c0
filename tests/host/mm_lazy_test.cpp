// mm on the host (mm_test.h): fork of a large heap by records alone
// (kMapLazy, fork.cpp's share_heap): the parent's heap read-only in a few
// ProtectRange calls, the child's pages made in the kernel when it first
// touches them (pages.cpp's materialize), every promise and frame kept.
#include <gtest/gtest.h>

#include "mm_test.h"

using namespace mmt;

namespace {

uint64_t mapped(int pid) {
    return fakek::fake().mapped_pages(fakek::fake().object_of(mmt::proc(pid)->as_obj));
}

TEST(MmLazy, ForkSharesALargeHeapByRecordsAndTheChildMapsWhatItTouches) {
    constexpr uint64_t kPages = 300;
    ASSERT_TRUE(boot_with_heap(kPages));
    auto& fk = fakek::fake();
    uint64_t calls = fk.calls, before = free_frames();
    uint64_t leaves0 = mm::g_slots.leaves(), b0 = fk.batches;
    uint64_t splits0 = mm::g_book.ops.chain_batches + mm::g_book.ops.bulk_batches;
    int child = static_cast<int>(request(1, mmp::Request::Fork).r());
    ASSERT_GT(child, 1);
    // A few batches, and the calls that grow mm's space for the child's
    // slots (each leaf: a frame, a retype, an attach; up to 32 leaves a
    // batch): none per page.
    uint64_t grown = mm::g_slots.leaves() - leaves0;
    // The buddy allocator's splits are batches of their own: a chain for
    // one block, or all of those for up to 32 leaves' frames (alloc_pages;
    // Mm.TheSpaceGrowsThirtyTwoLeavesABatch counts them).
    uint64_t split_batches = mm::g_book.ops.chain_batches + mm::g_book.ops.bulk_batches - splits0;
    EXPECT_LE(fk.batches - b0 - split_batches, 8u + (grown + 31) / 32);
    EXPECT_LT(fk.calls - calls, 12 + 4 * grown) << "fork of a 300-page heap made a call per page";
    EXPECT_EQ(mm::g_book.lazy, kPages) << "every heap page of the child is a record";
    uint64_t present = mapped(child);
    EXPECT_LT(present, 16u) << "only the pages outside the heap are in the kernel";
    EXPECT_EQ(check_books(), "");
    // Reads go through the frame: the page stays lazy.
    for (uint64_t i = 0; i < kPages; i += 37) {
        uint64_t v = 0;
        ASSERT_TRUE(peek(child, kHeap + i * 4096, v));
        EXPECT_EQ(v, i + 1);
    }
    EXPECT_EQ(mm::g_book.lazy, kPages);
    // A read fault makes the page and the lazy ones right above it.
    ASSERT_TRUE(fault(child, kHeap + 100 * 4096, 13));
    EXPECT_EQ(mapped(child), present + mm::kFaultAround);
    EXPECT_EQ(mm::g_book.lazy, kPages - mm::kFaultAround);
    EXPECT_EQ(check_books(), "");
    // A write by the child to a lazy page: made, then copied.
    ASSERT_TRUE(poke(child, kHeap + 5 * 4096, 5005));
    // The parent writes a page the child still shares lazily: the parent
    // gets the copy, the child keeps the old value.
    ASSERT_TRUE(poke(1, kHeap + 250 * 4096, 7250));
    uint64_t v = 0;
    ASSERT_TRUE(peek(child, kHeap + 250 * 4096, v));
    EXPECT_EQ(v, 251u);
    ASSERT_TRUE(peek(1, kHeap + 5 * 4096, v));
    EXPECT_EQ(v, 6u);
    ASSERT_TRUE(peek(child, kHeap + 5 * 4096, v));
    EXPECT_EQ(v, 5005u);
    EXPECT_EQ(check_books(), "");
    // Exit: the lazy records cost no kernel call.
    calls = fk.calls;
    EXPECT_FALSE(request(child, mmp::Request::Exit, 0).replied);
    EXPECT_LT(fk.calls - calls, 40u);
    EXPECT_EQ(request(1, mmp::Request::Wait, 0).r(), child);
    EXPECT_EQ(mm::g_book.lazy, 0u);
    EXPECT_EQ(free_frames(), before + 0) << "the parent's copy took the child's reserved frame";
    EXPECT_EQ(check_books(), "");
    // The parent writes everything again (no sharer: no copies).
    for (uint64_t i = 0; i < kPages; ++i)
        ASSERT_TRUE(poke(1, kHeap + i * 4096, 2000 + i));
    EXPECT_EQ(free_frames(), before);
    end_and_expect_everything_back();
}

TEST(MmLazy, ARefusedProtectRangeFailsTheForkAndChangesNothing) {
    constexpr uint64_t kPages = 1200; // three page tables: several ProtectRange steps
    ASSERT_TRUE(boot_with_heap(kPages));
    auto& fk = fakek::fake();
    for (uint64_t n : {1, 2}) {
        uint64_t before = free_frames();
        fk.fail_sys = cabi::Sys::ProtectRange, fk.fail_after = n;
        auto a = request(1, mmp::Request::Fork);
        bool hit = fk.fail_after == 0;
        fk.fail_after = 0;
        if (!hit) { // one call covered the heap: nothing to refuse
            ASSERT_GT(a.r(), 0);
            EXPECT_FALSE(request(int(a.r()), mmp::Request::Exit, 0).replied);
            EXPECT_EQ(request(1, mmp::Request::Wait, 0).r(), a.r());
            continue;
        }
        EXPECT_LT(a.r(), 0) << n;
        EXPECT_EQ(free_frames(), before) << n;
        EXPECT_EQ(mm::g_book.lazy, 0u);
        ASSERT_EQ(check_books(), "") << n;
    }
    // Every page still the parent's and writable (a page made read-only
    // before the refusal is copy-on-write with no sharer: no copy).
    uint64_t before = free_frames();
    for (uint64_t i = 0; i < kPages; i += 7) {
        uint64_t v = 0;
        ASSERT_TRUE(peek(1, kHeap + i * 4096, v));
        ASSERT_EQ(v, i + 1);
        ASSERT_TRUE(poke(1, kHeap + i * 4096, 3 * i));
    }
    EXPECT_EQ(free_frames(), before);
    end_and_expect_everything_back();
}

TEST(MmLazy, AChildOfALazyChildSharesByRecordsToo) {
    constexpr uint64_t kPages = 100;
    ASSERT_TRUE(boot_with_heap(kPages));
    int child = static_cast<int>(request(1, mmp::Request::Fork).r());
    ASSERT_GT(child, 1);
    int grandchild = static_cast<int>(request(child, mmp::Request::Fork).r());
    ASSERT_GT(grandchild, child);
    EXPECT_EQ(mm::g_book.lazy, 2 * kPages);
    EXPECT_EQ(check_books(), "");
    // The parent goes first: its frames stay for the two that share them.
    ASSERT_TRUE(poke(1, kHeap, 77));
    uint64_t v = 0;
    ASSERT_TRUE(peek(grandchild, kHeap, v));
    EXPECT_EQ(v, 1u);
    ASSERT_TRUE(fault(grandchild, kHeap + 50 * 4096, 15)); // write: made, then copied
    ASSERT_TRUE(poke(grandchild, kHeap + 50 * 4096, 4242));
    ASSERT_TRUE(peek(child, kHeap + 50 * 4096, v));
    EXPECT_EQ(v, 51u);
    EXPECT_EQ(check_books(), "");
    EXPECT_FALSE(request(child, mmp::Request::Exit, 0).replied);
    EXPECT_EQ(request(1, mmp::Request::Wait, 0).r(), child);
    ASSERT_TRUE(peek(grandchild, kHeap + 99 * 4096, v)); // orphaned: still there
    EXPECT_EQ(v, 100u);
    EXPECT_EQ(check_books(), "");
    end_and_expect_everything_back();
}

} // namespace
