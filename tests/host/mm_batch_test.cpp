// mm on the host (mm_test.h): the batches of kernel calls of fork, exit and
// sbrk, and a call failing in the middle of a batch.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "mm_test.h"

using namespace mmt;

namespace {

// The per-page path of fork (a heap under mm::g_lazy_heap_pages pages) for
// the tests written for it; the lazy one has tests of its own
// (mm_lazy_test.cpp).
class MmEagerFork : public ::testing::Test {
  protected:
    MmEagerFork() { mm::g_lazy_heap_pages = ~uint64_t{0}; }
    ~MmEagerFork() override { mm::g_lazy_heap_pages = mm::kLazyHeapPages; }
};

// mm's batches (servers/mm/batch.h): fork and exit of a process with many
// pages make a kernel call per batch of 64 calls, not per page.
TEST_F(MmEagerFork, ForkAndExitBatchTheirKernelCalls) {
    constexpr uint64_t kPages = 300;
    ASSERT_TRUE(boot_with_heap(kPages));
    auto& fk = fakek::fake();
    uint64_t calls = fk.calls, batches = fk.batches;
    auto f = request(1, mmp::Request::Fork);
    int child = static_cast<int>(f.r());
    ASSERT_GT(child, 1);
    // protect, copy and map per page: at least 3 * 300 / 64 batches, and
    // far fewer kernel calls than pages.
    EXPECT_GE(fk.batches - batches, 3 * kPages / 64);
    EXPECT_LT(fk.calls - calls, kPages / 4) << "fork made a kernel call per page";
    for (uint64_t i = 0; i < kPages; i += 37) {
        uint64_t v = 0;
        ASSERT_TRUE(peek(child, kHeap + i * 4096, v));
        EXPECT_EQ(v, i + 1);
    }
    EXPECT_EQ(check_books(), "");
    calls = fk.calls, batches = fk.batches;
    EXPECT_FALSE(request(child, mmp::Request::Exit, 0).replied);
    EXPECT_GE(fk.batches - batches, kPages / 64);
    EXPECT_LT(fk.calls - calls, kPages / 4) << "exit made a kernel call per page";
    EXPECT_EQ(request(1, mmp::Request::Wait, 0).r(), child);
    // Shrinking the heap: unmaps in batches, every page back (and the
    // leaves its pages' capabilities took).
    uint64_t before = free_frames(), leaves = mm::leaf_frames();
    calls = fk.calls;
    ASSERT_GE(request(1, mmp::Request::Sbrk, -static_cast<int64_t>(kPages * 4096)).r(), 0);
    EXPECT_LT(fk.calls - calls, kPages / 4) << "sbrk made a kernel call per page";
    uint64_t after = free_frames(); // (first: it gives back the spare leaves)
    EXPECT_EQ(after, before + kPages + (leaves - mm::leaf_frames()));
    end_and_expect_everything_back();
}

// A call that fails in the middle of a batch (the fake kernel answers Busy
// for the n-th call of one kind): fork fails and changes nothing that
// matters, the parent keeps its pages, and the books stay exact.
TEST_F(MmEagerFork, ACallFailingInTheMiddleOfABatchLeavesTheBooksExact) {
    constexpr uint64_t kPages = 200;
    ASSERT_TRUE(boot_with_heap(kPages));
    auto& fk = fakek::fake();
    int failed = 0;
    for (cabi::Sys s : {cabi::Sys::Protect, cabi::Sys::CapCopy, cabi::Sys::Map})
        for (uint64_t n : {1, 2, 21, 22, 63, 64, 65, 130, 199}) {
            uint64_t before = free_frames();
            fk.fail_sys = s, fk.fail_after = n;
            auto a = request(1, mmp::Request::Fork);
            bool hit = fk.fail_after == 0;
            fk.fail_after = 0;
            if (a.r() > 0) {
                EXPECT_FALSE(hit) << "fork succeeded through an injected failure";
                EXPECT_FALSE(request(int(a.r()), mmp::Request::Exit, 0).replied);
                EXPECT_EQ(request(1, mmp::Request::Wait, 0).r(), a.r());
                continue;
            }
            ++failed;
            ASSERT_TRUE(hit);
            // Busy from a batch; Inval from the copies fork makes before
            // (its endpoint capabilities).
            EXPECT_TRUE(a.r() == E(cabi::Errno::Busy) || a.r() == E(cabi::Errno::Inval))
                << int(s) << " " << n << ": " << a.r();
            EXPECT_EQ(free_frames(), before) << int(s) << " " << n;
            ASSERT_EQ(check_books(), "") << int(s) << " " << n;
            for (uint64_t i = 0; i < kPages; i += 13) {
                uint64_t v = 0;
                ASSERT_TRUE(peek(1, kHeap + i * 4096, v));
                ASSERT_EQ(v, i + 1);
            }
        }
    EXPECT_GE(failed, 15);
    // The parent writes every page (copy-on-write with no sharer left: no
    // copies) and forks; the child sees the new values.
    uint64_t before = free_frames();
    for (uint64_t i = 0; i < kPages; ++i)
        ASSERT_TRUE(poke(1, kHeap + i * 4096, 1000 + i));
    EXPECT_EQ(free_frames(), before);
    int child = static_cast<int>(request(1, mmp::Request::Fork).r());
    ASSERT_GT(child, 1);
    uint64_t v = 0;
    ASSERT_TRUE(peek(child, kHeap + 150 * 4096, v));
    EXPECT_EQ(v, 1150u);
    // The child's exit with a delete refused in the middle of a batch: the
    // one that failed is tried again alone, everything comes back.
    fk.fail_sys = cabi::Sys::CapDelete, fk.fail_after = 70;
    EXPECT_FALSE(request(child, mmp::Request::Exit, 0).replied);
    EXPECT_EQ(fk.fail_after, 0u);
    EXPECT_EQ(request(1, mmp::Request::Wait, 0).r(), child);
    EXPECT_EQ(check_books(), "");
    // The heap shrinks with an unmap refused in the middle.
    before = free_frames();
    fk.fail_sys = cabi::Sys::Unmap, fk.fail_after = 90;
    ASSERT_GE(request(1, mmp::Request::Sbrk, -static_cast<int64_t>(kPages * 4096)).r(), 0);
    EXPECT_EQ(fk.fail_after, 0u);
    EXPECT_EQ(free_frames(), before + kPages);
    end_and_expect_everything_back();
}

// Copy-on-write in batches (break_cow): a call of its last batch refused
// (the window's unmap, the temporary copy's delete, the old mapping's
// removal, the new page's map) is done again alone; the page is copied
// either way and the books stay exact.
TEST(Mm, CopyOnWriteSurvivesARefusedCallInItsBatch) {
    ASSERT_TRUE(boot(4096));
    ASSERT_TRUE(poke(1, kData, 5));
    auto& fk = fakek::fake();
    // (the n-th call of its kind in the fault: the batch's)
    const std::pair<cabi::Sys, uint64_t> refusals[] = {{cabi::Sys::Unmap, 1},
                                                       {cabi::Sys::CapDelete, 1},
                                                       {cabi::Sys::CapDelete, 2},
                                                       {cabi::Sys::Map, 3}};
    for (auto [s, n] : refusals) {
        int child = static_cast<int>(request(1, mmp::Request::Fork).r());
        ASSERT_GT(child, 1);
        uint64_t before = free_frames();
        fk.fail_sys = s, fk.fail_after = n;
        bool ok = fault(child, kData, 15);
        EXPECT_EQ(fk.fail_after, 0u) << "the refusal happened";
        fk.fail_after = 0;
        ASSERT_TRUE(ok) << int(s) << " " << n;
        EXPECT_EQ(free_frames(), before - 1) << "one copy";
        ASSERT_TRUE(poke(child, kData, 6));
        uint64_t v = 0;
        ASSERT_TRUE(peek(1, kData, v));
        EXPECT_EQ(v, 5u) << "the parent keeps its page";
        ASSERT_EQ(check_books(), "") << int(s) << " " << n;
        EXPECT_FALSE(request(child, mmp::Request::Exit, 0).replied);
        EXPECT_EQ(request(1, mmp::Request::Wait, 0).r(), child);
    }
    end_and_expect_everything_back();
}

// Fault-around (pages.cpp's fault_heap): a heap fault inside what sbrk
// promised places the page and up to 15 promised pages after it that are
// not there yet, in one kernel call (the kernel zeroes them: FrameZero, no
// window; the fake kernel's fresh frames hold junk, so the reads below see
// whether they were zeroed); a fault on one of them then resumes without a
// new page; the run stops at the break and at a present page.
TEST(Mm, AHeapFaultPlacesTheNextPromisedPagesInOneKernelCall) {
    ASSERT_TRUE(boot(4096));
    auto& fk = fakek::fake();
    ASSERT_EQ(request(1, mmp::Request::Sbrk, 40 * 4096).r(), int64_t(kHeap));
    const int as = fk.object_of(proc(1)->as_obj);
    const uint64_t mapped = fk.mapped_pages(as), free_before = free_frames(),
                   available = available_now();
    uint64_t batches = fk.batches, calls = fk.calls,
             splits = mm::g_book.ops.chain_batches + mm::g_book.ops.bulk_batches;
    ASSERT_TRUE(fault(1, kHeap + 2 * 4096, 15));
    EXPECT_EQ(fk.mapped_pages(as) - mapped, 16u) << "page 2 and the 15 after it";
    // The buddy allocator's splits are batches of their own: one for the
    // 16 frames (PageFiller::expect, alloc_pages), not a call per page.
    const uint64_t split_batches =
        mm::g_book.ops.chain_batches + mm::g_book.ops.bulk_batches - splits;
    EXPECT_EQ(fk.batches - batches - split_batches, 1u) << "one batch: zero and map each page";
    EXPECT_LE(fk.calls - calls, 2u) << "the frames' splits took more than one kernel call";
    EXPECT_EQ(free_frames(), free_before - 16) << "16 frames out of the free pool";
    EXPECT_EQ(available_now(), available) << "out of the promise: no one else lost a frame";
    ASSERT_TRUE(fault(1, kHeap + 5 * 4096, 15)) << "present and writable: resumed";
    EXPECT_EQ(fk.mapped_pages(as) - mapped, 16u);
    ASSERT_TRUE(fault(1, kHeap + 30 * 4096, 15));
    EXPECT_EQ(fk.mapped_pages(as) - mapped, 26u) << "pages 30..39: the break ends the run";
    ASSERT_TRUE(fault(1, kHeap, 13));
    EXPECT_EQ(fk.mapped_pages(as) - mapped, 28u) << "pages 0 and 1: page 2 is there";
    for (uint64_t i = 0; i < 40; i += 3) {
        uint64_t v = 1;
        ASSERT_TRUE(peek(1, kHeap + i * 4096, v));
        EXPECT_EQ(v, 0u) << "page " << i << " is zero";
    }
    EXPECT_EQ(check_books(), "");
    end_and_expect_everything_back();
}

} // namespace

// The kernel refuses the k-th FrameSplit from now, inside the bulk run
// that carves a small sbrk's frames (alloc_pages) or anywhere after: the
// pages the run made are placed, the rest stay promised and come at their
// first touch, the upper halves' slots of the splits that did not run go
// back, and in the end every frame and slot is back.
TEST(Mm, AFrameSplitRefusedInsideABulkRunLosesNothing) {
    ASSERT_TRUE(boot(4096));
    auto& fk = fakek::fake();
    bool cut_short = false;
    for (uint64_t k = 1; k <= 6; ++k) {
        const uint64_t slots = mm::g_slots.used(), runs = mm::g_book.ops.bulk_batches;
        fk.fail_sys = cabi::Sys::FrameSplit, fk.fail_after = k;
        const int64_t base = request(1, mmp::Request::Sbrk, mm::kEagerSbrkPages * 4096).r();
        ASSERT_EQ(base, int64_t(kHeap)) << k;
        cut_short |= fk.fail_after == 0 && mm::g_book.ops.bulk_batches > runs;
        fk.fail_after = 0;
        EXPECT_EQ(check_books(), "") << k;
        for (uint64_t i = 0; i < mm::kEagerSbrkPages; ++i)
            ASSERT_TRUE(poke(1, kHeap + i * 4096, i + 7)) << k << " page " << i;
        ASSERT_GE(request(1, mmp::Request::Sbrk, -int64_t(mm::kEagerSbrkPages * 4096)).r(), 0);
        EXPECT_EQ(check_books(), "") << k;
        EXPECT_LE(mm::g_slots.used(), slots + 1) << k << ": upper halves' slots kept";
    }
    EXPECT_TRUE(cut_short) << "no bulk run was cut short (the test tests nothing)";
    end_and_expect_everything_back();
}
