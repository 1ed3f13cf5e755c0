// mm's logic on the host, against the fake kernel (tests/host/mm/): exec,
// fork with copy-on-write, exit/wait, injected allocation failures, and sbrk's
// promises. mm_space_test.cpp: the capability space at scale, limits, bad
// requests; mm_batch_test.cpp: batched kernel calls. Every test ends with
// every frame back.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "mm_test.h"

using namespace mmt;

namespace {

TEST(Mm, BootStartsInitAndEveryFrameComesBack) {
    ASSERT_TRUE(boot(4096));
    EXPECT_EQ(check_books(), "");
    ASSERT_NE(proc(1), nullptr);
    EXPECT_LT(free_frames(), free_at_start()); // init holds frames
    end_and_expect_everything_back();
}

// mm holds single pages freed unmerged (kHeldPages): a process that ends
// and the next one forked take the same frames back without a split or a
// merge in the kernel, and every frame still comes back at the end.
TEST(Mm, AForkAfterAnExitTakesTheFreedPagesWithoutSplitsOrMerges) {
    ASSERT_TRUE(boot(4096));
    ASSERT_TRUE(poke(1, kData, 111));
    auto fork_exit_wait = [] {
        auto f = request(1, mmp::Request::Fork);
        ASSERT_TRUE(f.replied);
        int child = static_cast<int>(f.r());
        ASSERT_GT(child, 1);
        EXPECT_TRUE(fault(child, kData, 15)); // a copy: one more page
        EXPECT_FALSE(request(child, mmp::Request::Exit, 0).replied);
        EXPECT_EQ(request(1, mmp::Request::Wait, 0).r(), child);
    };
    fork_exit_wait(); // the first one splits what it needs
    const uint64_t splits = fakek::fake().splits, merges = fakek::fake().merges;
    EXPECT_GT(splits, 0u);
    EXPECT_GT(mm::g_book.buddy.held(), 0u);
    // (Not FreeFrames: counting for a process merges what is held.)
    const uint64_t free_before = mm::g_book.buddy.free_frames();
    for (int i = 0; i < 3; ++i)
        fork_exit_wait();
    EXPECT_EQ(fakek::fake().splits, splits) << "the blocks freed were taken again as they were";
    EXPECT_EQ(fakek::fake().merges, merges);
    EXPECT_EQ(mm::g_book.buddy.free_frames(), free_before);
    EXPECT_LE(mm::g_book.buddy.held(), mm::kHeldPages);
    EXPECT_EQ(check_books(), "");
    end_and_expect_everything_back();
}

// libsys's wait: the status in the answer (m1), the pointer only checked
// (kWaitStatusInAnswer): a bad one fails with the child left to reap, a good
// one is not written by mm.
TEST(Mm, WaitCanAnswerTheStatusWithoutWritingIt) {
    ASSERT_TRUE(boot(4096));
    ASSERT_TRUE(poke(1, kData, 99));
    int child = static_cast<int>(request(1, mmp::Request::Fork).r());
    ASSERT_GT(child, 1);
    EXPECT_FALSE(request(child, mmp::Request::Exit, 5).replied);
    const uint64_t calls = fakek::fake().calls;
    auto bad = request(1, mmp::Request::Wait, cabi::kMaxVa, mmp::kWaitStatusInAnswer);
    ASSERT_TRUE(bad.replied);
    EXPECT_EQ(bad.r(), E(cabi::Errno::Fault)) << "a pointer it cannot write";
    auto text = request(1, mmp::Request::Wait, cabi::kUserTextBase, mmp::kWaitStatusInAnswer);
    EXPECT_EQ(text.r(), E(cabi::Errno::Fault)) << "a read-only page";
    auto good = request(1, mmp::Request::Wait, kData, mmp::kWaitStatusInAnswer);
    ASSERT_TRUE(good.replied);
    EXPECT_EQ(good.r(), child) << "the child stayed to be reaped";
    EXPECT_EQ(good.out.w[1], 5u);
    EXPECT_EQ(fakek::fake().calls - calls, 4u)
        << "one per answer (its ThreadReply riding the receive) and one Protect: the page, "
           "copy-on-write since the fork, made writable for the caller's own store; no window";
    uint64_t v = 0;
    ASSERT_TRUE(peek(1, kData, v));
    EXPECT_EQ(v, 99u) << "mm wrote nothing there";
    EXPECT_EQ(check_books(), "");
    end_and_expect_everything_back();
}

// An exit takes the thread, every mapping, every page table and the
// objects in one kernel call (drop_at_once); a refusal anywhere in it
// leaves the rest to the steps one by one, and everything still comes back.
TEST(Mm, AnExitIsOneKernelCallAndARefusalInItFallsBackStepByStep) {
    ASSERT_TRUE(boot(4096));
    auto& fk = fakek::fake();
    ASSERT_TRUE(poke(1, kData, 1));
    ASSERT_GE(request(1, mmp::Request::Sbrk, 3 * 4096).r(), 0); // a heap: more pages and tables
    bool hit = false;
    auto fork_touch_exit = [&](cabi::Sys refuse, uint64_t nth) -> uint64_t {
        int child = static_cast<int>(request(1, mmp::Request::Fork).r());
        EXPECT_GT(child, 1);
        EXPECT_TRUE(fault(child, kData, 15));
        EXPECT_TRUE(fault(child, kHeap, 15));
        const uint64_t calls = fk.calls;
        fk.fail_sys = refuse, fk.fail_after = nth;
        EXPECT_FALSE(request(child, mmp::Request::Exit, 0).replied);
        const uint64_t made = fk.calls - calls;
        hit = fk.fail_after == 0; // (fewer calls of that kind: no refusal)
        fk.fail_after = 0;
        EXPECT_EQ(request(1, mmp::Request::Wait, 0).r(), child);
        EXPECT_EQ(check_books(), "");
        EXPECT_FALSE(logged("still held"));
        return made;
    };
    (void)fork_touch_exit(cabi::Sys::Uptime, 0); // warm: the blocks a fork takes are held after
    const uint64_t free_before = mm::g_book.buddy.free_frames();
    const uint64_t calls = fk.calls;
    int child = static_cast<int>(request(1, mmp::Request::Fork).r());
    ASSERT_GT(child, 1);
    ASSERT_TRUE(fault(child, kData, 15));
    const uint64_t before_exit = fk.calls;
    EXPECT_FALSE(request(child, mmp::Request::Exit, 0).replied);
    EXPECT_EQ(fk.calls - before_exit, 1u) << "thread, pages, tables and objects in one batch";
    EXPECT_EQ(request(1, mmp::Request::Wait, 0).r(), child);
    EXPECT_GT(fk.calls, calls);
    EXPECT_EQ(mm::g_book.buddy.free_frames(), free_before);
    for (cabi::Sys s :
         {cabi::Sys::CapDelete, cabi::Sys::Unmap, cabi::Sys::UnmapTable, cabi::Sys::CapRevoke}) {
        int hits = 0;
        for (uint64_t n : {1, 2, 3}) {
            const uint64_t made = fork_touch_exit(s, n);
            if (hit) {
                ++hits;
                EXPECT_GT(made, 1u) << "the rest went step by step: " << int(s) << " " << n;
            }
            EXPECT_EQ(mm::g_book.buddy.free_frames(), free_before) << int(s) << " " << n;
        }
        if (s != cabi::Sys::Unmap) {
            EXPECT_GT(hits, 0) << int(s) << " was never refused";
        }
    }
    end_and_expect_everything_back();
}

// A process that ends by its own request waits in that call to mm, on no
// hart: its thread is deleted without a ThreadSuspend first (a kernel
// entry less per exit). One killed by another may be running: suspended.
TEST(Mm, AProcessEndingByItsOwnRequestIsNotSuspendedFirst) {
    ASSERT_TRUE(boot(4096));
    int a = static_cast<int>(request(1, mmp::Request::Fork).r());
    int b = static_cast<int>(request(1, mmp::Request::Fork).r());
    ASSERT_GT(a, 1);
    ASSERT_GT(b, 1);
    const uint64_t suspends = fakek::fake().suspends;
    EXPECT_FALSE(request(a, mmp::Request::Exit, 3).replied);
    EXPECT_EQ(fakek::fake().suspends, suspends);
    EXPECT_EQ(request(1, mmp::Request::Kill, b).r(), 0);
    EXPECT_EQ(fakek::fake().suspends, suspends + 1);
    EXPECT_GT(request(1, mmp::Request::Wait, 0).r(), 1);
    EXPECT_GT(request(1, mmp::Request::Wait, 0).r(), 1);
    EXPECT_EQ(check_books(), "");
    end_and_expect_everything_back();
}

TEST(Mm, ForkSharesPagesAndCopiesOnWrite) {
    ASSERT_TRUE(boot(4096));
    ASSERT_TRUE(poke(1, kData, 111));
    auto f = request(1, mmp::Request::Fork);
    ASSERT_TRUE(f.replied);
    int child = static_cast<int>(f.r());
    ASSERT_GT(child, 1);
    uint64_t v = 0;
    ASSERT_TRUE(peek(child, kData, v));
    EXPECT_EQ(v, 111u);
    uint64_t before = free_frames();
    // A store fault in the child copies the page; the parent keeps its own.
    EXPECT_TRUE(fault(child, kData, 15));
    EXPECT_EQ(free_frames(), before - 1);
    ASSERT_TRUE(poke(child, kData, 222));
    ASSERT_TRUE(peek(1, kData, v));
    EXPECT_EQ(v, 111u);
    ASSERT_TRUE(peek(child, kData, v));
    EXPECT_EQ(v, 222u);
    // The parent, now the frame's last sharer, takes it over without a copy.
    before = free_frames();
    EXPECT_TRUE(fault(1, kData, 15));
    EXPECT_EQ(free_frames(), before);
    EXPECT_EQ(check_books(), "");

    EXPECT_FALSE(request(child, mmp::Request::Exit, 7).replied);
    auto w = request(1, mmp::Request::Wait, 0);
    ASSERT_TRUE(w.replied);
    EXPECT_EQ(w.r(), child);
    EXPECT_EQ(w.out.w[1], 7u) << "the status comes in the answer (libsys's wait takes it there)";
    EXPECT_EQ(request(1, mmp::Request::Wait, 0).r(), E(cabi::Errno::Child));
    end_and_expect_everything_back();
}

// The page under the stack pointer a fork request names is copied at fork
// (parent and child both write it first: two faults saved); every other
// writable page is shared copy-on-write, and a hint outside the stack
// changes nothing.
TEST(Mm, ForkCopiesThePageUnderTheCallersStackPointer) {
    ASSERT_TRUE(boot(4096));
    const uint64_t page = cabi::kUserStackTop - 4096, sp = page + 0x800;
    ASSERT_NE(mm::find_mapping(proc(1), page), mm::kNone) << "init has a stack page";
    ASSERT_TRUE(poke(1, sp, 5));
    ASSERT_TRUE(poke(1, kData, 111));
    auto f = request(1, mmp::Request::Fork, sp);
    ASSERT_TRUE(f.replied);
    int child = static_cast<int>(f.r());
    ASSERT_GT(child, 1);
    const uint32_t pi = mm::find_mapping(proc(1), page), ci = mm::find_mapping(proc(child), page);
    ASSERT_NE(pi, mm::kNone);
    ASSERT_NE(ci, mm::kNone);
    EXPECT_EQ(mm::mapping(pi).key & mm::kMapCow, 0u) << "the parent's stack page is its own";
    EXPECT_EQ(mm::mapping(ci).key & mm::kMapCow, 0u) << "the child's stack page is a copy";
    EXPECT_NE(mm::mapping(pi).frame, mm::mapping(ci).frame);
    EXPECT_NE(mm::mapping(mm::find_mapping(proc(1), kData)).key & mm::kMapCow, 0u)
        << "the data page is still shared copy-on-write";
    uint64_t v = 0;
    ASSERT_TRUE(peek(child, sp, v));
    EXPECT_EQ(v, 5u);
    // Writes need no fault now, and each process sees its own.
    const uint64_t before = free_frames();
    ASSERT_TRUE(poke(1, sp, 6));
    ASSERT_TRUE(poke(child, sp, 7));
    EXPECT_EQ(free_frames(), before);
    ASSERT_TRUE(peek(1, sp, v));
    EXPECT_EQ(v, 6u);
    ASSERT_TRUE(peek(child, sp, v));
    EXPECT_EQ(v, 7u);
    EXPECT_EQ(check_books(), "");
    EXPECT_FALSE(request(child, mmp::Request::Exit, 0).replied);
    EXPECT_EQ(request(1, mmp::Request::Wait, 0).r(), child);

    // A hint on the data page (not the stack): nothing is copied.
    child = static_cast<int>(request(1, mmp::Request::Fork, kData).r());
    ASSERT_GT(child, 1);
    EXPECT_NE(mm::mapping(mm::find_mapping(proc(child), kData)).key & mm::kMapCow, 0u);
    EXPECT_NE(mm::mapping(mm::find_mapping(proc(child), page)).key & mm::kMapCow, 0u);
    EXPECT_FALSE(request(child, mmp::Request::Exit, 0).replied);
    EXPECT_EQ(request(1, mmp::Request::Wait, 0).r(), child);
    end_and_expect_everything_back();
}

// fork makes the child's page tables before the Maps that need them
// (MapTables at the front of its share batch): none of its Maps is refused
// for a missing table, and the child's tables go back when it exits.
TEST(Mm, ForkMakesTheChildsTablesBeforeItsMaps) {
    ASSERT_TRUE(boot_with_heap(4));
    const uint64_t refused = fakek::fake().need_tables;
    int child = static_cast<int>(request(1, mmp::Request::Fork).r());
    ASSERT_GT(child, 1);
    EXPECT_EQ(fakek::fake().need_tables, refused);
    EXPECT_EQ(proc(child)->table_count, 2u) << "text, data and heap share one level-0 table";
    uint64_t v = 0;
    ASSERT_TRUE(peek(child, kHeap + 3 * 4096, v));
    EXPECT_EQ(v, 4u);
    EXPECT_EQ(check_books(), "");
    EXPECT_FALSE(request(child, mmp::Request::Exit, 0).replied);
    EXPECT_EQ(request(1, mmp::Request::Wait, 0).r(), child);
    end_and_expect_everything_back();
}

// More tables than fork makes up front (FreshTables::kMax): the rest are
// made by the Maps, and the child's list still has every leaf before the
// table above it, so its exit unmaps them without a refusal.
TEST(Mm, ForkWithMoreRegionsThanItPremakesListsLeavesFirst) {
    ASSERT_TRUE(boot(4096));
    for (uint64_t i = 0; i < 10; ++i)
        ASSERT_EQ(request(1, mmp::Request::MapPage, 0x40000000 + (i << 21), 1).r(), 0) << i;
    const uint64_t refused = fakek::fake().busy_unmap_tables;
    int child = static_cast<int>(request(1, mmp::Request::Fork).r());
    ASSERT_GT(child, 1);
    EXPECT_EQ(proc(child)->table_count, 13u); // two for init's image, 11 for the pages
    EXPECT_EQ(check_books(), "");
    EXPECT_FALSE(request(child, mmp::Request::Exit, 0).replied);
    EXPECT_EQ(request(1, mmp::Request::Wait, 0).r(), child);
    EXPECT_EQ(fakek::fake().busy_unmap_tables, refused);
    end_and_expect_everything_back();
}

// exec makes the new image's page tables in the batch that makes its
// address space: none of the image's Maps is refused for a missing table.
TEST(Mm, ExecMakesTheImagesTablesWithItsAddressSpace) {
    ASSERT_TRUE(boot(4096));
    uint64_t path = put_string(1, "big");
    const uint64_t refused = fakek::fake().need_tables;
    EXPECT_FALSE(request(1, mmp::Request::Exec, path, 0).replied); // it runs the new image
    EXPECT_EQ(fakek::fake().need_tables, refused);
    EXPECT_STREQ(proc(1)->name, "big");
    EXPECT_EQ(proc(1)->table_count, 2u);
    EXPECT_EQ(check_books(), "");
    end_and_expect_everything_back();
}

TEST(Mm, WaitIsAnsweredWhenTheChildExits) {
    ASSERT_TRUE(boot(4096));
    int child = static_cast<int>(request(1, mmp::Request::Fork).r());
    uint64_t status_va = kHeap;
    ASSERT_EQ(request(1, mmp::Request::Sbrk, 4096).r(), int64_t(kHeap));
    auto w = request(1, mmp::Request::Wait, status_va);
    EXPECT_FALSE(w.replied); // deferred
    fakek::fake().replies.clear();
    request(child, mmp::Request::Exit, 42);
    ASSERT_EQ(fakek::fake().replies.size(), 1u);
    EXPECT_EQ(fakek::fake().replies[0].first, proc(1)->thread_obj);
    EXPECT_EQ(int64_t(fakek::fake().replies[0].second.w[0]), child);
    uint64_t st = 0;
    ASSERT_TRUE(peek(1, status_va, st));
    EXPECT_EQ(static_cast<int32_t>(st), 42);
    end_and_expect_everything_back();
}

TEST(Mm, ExecRefusesBadProgramsAndLeavesTheCallerAsItWas) {
    ASSERT_TRUE(boot(4096));
    ASSERT_TRUE(poke(1, kData, 5));
    uint64_t nope = put_string(1, "nope");
    uint64_t bad = put_string(1, "bad");
    uint64_t free_before = free_frames();
    EXPECT_EQ(request(1, mmp::Request::Exec, nope, 0).r(), E(cabi::Errno::NoEnt));
    EXPECT_EQ(request(1, mmp::Request::Exec, bad, 0).r(), E(cabi::Errno::NoExec));
    EXPECT_EQ(request(1, mmp::Request::Exec, 0xdead0000, 0).r(), E(cabi::Errno::Fault));
    EXPECT_EQ(free_frames(), free_before);
    uint64_t v = 0;
    ASSERT_TRUE(peek(1, kData, v));
    EXPECT_EQ(v, 5u);
    EXPECT_EQ(check_books(), "");
    end_and_expect_everything_back();
}

// exec hands the new image's page tables to the process in their order
// (newest first: a leaf table before the table above it), so the exit that
// follows unmaps them all in one batch without a refusal.
TEST(Mm, AfterExecTheExitUnmapsTheTablesInOneBatch) {
    ASSERT_TRUE(boot(4096));
    int child = static_cast<int>(request(1, mmp::Request::Fork).r());
    ASSERT_GT(child, 1);
    uint64_t path = put_string(child, "prog");
    EXPECT_FALSE(request(child, mmp::Request::Exec, path, 0).replied); // it ran
    ASSERT_STREQ(proc(child)->name, "prog");
    ASSERT_GE(proc(child)->table_count, 2) << "a leaf table and the table above it";
    fakek::fake().busy_unmap_tables = 0;
    EXPECT_FALSE(request(child, mmp::Request::Exit, 0).replied);
    EXPECT_EQ(fakek::fake().busy_unmap_tables, 0u) << "a table came before the one below it";
    EXPECT_EQ(request(1, mmp::Request::Wait, 0).r(), child);
    end_and_expect_everything_back();
}

TEST(Mm, ExecSurvivesEveryInjectedAllocationFailure) {
    ASSERT_TRUE(boot(4096));
    uint64_t path = put_string(1, "big");
    ASSERT_TRUE(poke(1, kData, 9));
    int failures = 0;
    for (uint64_t n = 1;; ++n) {
        uint64_t before = free_frames();
        ASSERT_TRUE(request(1, mmp::Request::FailAlloc, n).replied);
        auto a = request(1, mmp::Request::Exec, path, 0);
        if (!a.replied) break; // it ran: the new image is in place
        ASSERT_EQ(a.r(), E(cabi::Errno::NoMem)) << "allocation " << n;
        ASSERT_EQ(free_frames(), before) << "allocation " << n;
        uint64_t v = 0;
        ASSERT_TRUE(peek(1, kData, v));
        ASSERT_EQ(v, 9u);
        ASSERT_EQ(check_books(), "") << "allocation " << n;
        ++failures;
        ASSERT_LT(n, 200u);
    }
    EXPECT_GT(failures, 10);
    EXPECT_STREQ(proc(1)->name, "big");
    uint64_t v = 1;
    ASSERT_TRUE(peek(1, 0x18000, v)); // big's bss (fake make_program layout)
    EXPECT_EQ(v, 0u) << "the new image's bss is zero";
    ASSERT_TRUE(peek(1, 0x13000, v));
    EXPECT_NE(v, 0u) << "the new image's data is the file's";
    end_and_expect_everything_back();
}

// fork with the n-th allocation failing, for n = 1, 2, ... until one
// succeeds: every failure is ENOMEM with every frame back and exact books.
// sp: the request's stack hint (0: none; else that page is copied at fork).
void fork_survives_every_injected_failure(uint64_t sp) {
    ASSERT_TRUE(boot(4096));
    ASSERT_EQ(request(1, mmp::Request::Sbrk, 64 * 4096).r(), int64_t(kHeap));
    for (uint64_t n = 1;; ++n) {
        uint64_t before = free_frames();
        request(1, mmp::Request::FailAlloc, n);
        auto a = request(1, mmp::Request::Fork, sp);
        if (a.r() > 0) break;
        ASSERT_EQ(a.r(), E(cabi::Errno::NoMem));
        ASSERT_EQ(free_frames(), before);
        ASSERT_EQ(check_books(), "");
        ASSERT_LT(n, 100u);
    }
    end_and_expect_everything_back();
}

TEST(Mm, ForkSurvivesEveryInjectedAllocationFailure) {
    fork_survives_every_injected_failure(0);
}

TEST(Mm, ForkWithAStackHintSurvivesEveryInjectedAllocationFailure) {
    fork_survives_every_injected_failure(cabi::kUserStackTop - 64);
}

TEST(Mm, SbrkPromisesAreKeptUpToTheLastFrame) {
    ASSERT_TRUE(boot(8192));
    uint64_t avail = available_now();
    // Everything free, less the page tables the growth may need and the
    // capability leaves its slots need (a slot per frame, 61 per leaf).
    uint64_t pages = (avail - 40) * 61 / 62;
    ASSERT_EQ(request(1, mmp::Request::Sbrk, pages * 4096).r(), int64_t(kHeap));
    EXPECT_EQ(request(1, mmp::Request::Sbrk, 64 * 4096).r(), E(cabi::Errno::NoMem));
    // Another process cannot take the promised frames.
    auto f = request(1, mmp::Request::Fork);
    EXPECT_EQ(f.r(), E(cabi::Errno::NoMem));
    for (uint64_t i = 0; i < pages; ++i)
        ASSERT_TRUE(fault(1, kHeap + i * 4096, 15)) << "page " << i << " of " << pages;
    EXPECT_EQ(check_books(), "");
    // Shrinking gives the pages back.
    uint64_t before = free_frames(), leaves = mm::leaf_frames();
    EXPECT_GT(leaves, pages / 64) << "the capability space grew for the promise";
    ASSERT_GE(request(1, mmp::Request::Sbrk, -static_cast<int64_t>(pages * 4096)).r(), 0);
    uint64_t after = free_frames(); // (first: it gives back the spare leaves)
    EXPECT_EQ(after, before + pages + (leaves - mm::leaf_frames()));
    EXPECT_LE(mm::leaf_frames(), leaves);
    end_and_expect_everything_back();
}

// fork holds a frame for every copy-on-write copy: once memory is used up,
// both sides can still write every page.
TEST(Mm, CopyOnWriteCopiesAreReservedByFork) {
    constexpr uint64_t kPages = 200;
    ASSERT_TRUE(boot_with_heap(kPages));
    uint64_t before = available_now();
    int child = static_cast<int>(request(1, mmp::Request::Fork).r());
    ASSERT_GT(child, 1);
    EXPECT_GE(before - available_now(), kPages) << "the child holds a frame per writable page";
    // Use up the rest of memory: a grandchild-sized heap nobody touches.
    uint64_t rest = available_now();
    // (a leaf of the capability space per 61 frames comes out of it too)
    ASSERT_GT(request(child, mmp::Request::Sbrk, (rest - rest / 55 - 16) * 4096).r(), 0);
    EXPECT_LT(available_now(), 32u);
    ASSERT_GT(request(1, mmp::Request::Sbrk, (available_now() - 4) * 4096).r(), 0);
    EXPECT_LE(available_now(), 4u);
    EXPECT_EQ(request(1, mmp::Request::Fork).r(), E(cabi::Errno::NoMem));
    // Both write every shared page; the parent first for half, the child
    // first for the other half.
    for (uint64_t i = 0; i < kPages; ++i) {
        int first = i % 2 ? 1 : child, second = i % 2 ? child : 1;
        ASSERT_TRUE(fault(first, kHeap + i * 4096, 15)) << "page " << i;
        ASSERT_TRUE(poke(first, kHeap + i * 4096, 1000 + i));
        ASSERT_TRUE(fault(second, kHeap + i * 4096, 15)) << "page " << i;
        ASSERT_EQ(check_books(), "") << "page " << i;
    }
    uint64_t v = 0;
    ASSERT_TRUE(peek(child, kHeap + 4096, v));
    EXPECT_EQ(v, 2u) << "the child kept its own copy (touch_heap's value)";
    ASSERT_TRUE(peek(1, kHeap + 4096, v));
    EXPECT_EQ(v, 1001u);
    EXPECT_EQ(fakek::fake().live_objects(), 5u + 2 * 3u + mm::leaf_frames())
        << "table, address space and thread of two, and mm's capability leaves";
    request(1, mmp::Request::Kill, child);
    end_and_expect_everything_back();
}

// Issue 12.3: a frame-limited process that forks children sharing many
// pages must not use up mm's mapping records (or capability slots) for
// everyone: each extra mapping of a shared frame is backed by a frame
// charged to the process that made it.
TEST(Mm, SharingPagesCannotExhaustTheBooksForOthers) {
    ASSERT_TRUE(boot(16384));
    int a = static_cast<int>(request(1, mmp::Request::Fork).r());
    ASSERT_GT(a, 1);
    constexpr uint64_t kPromised = 2000; // init's, after the fork (a shares none of it)
    ASSERT_EQ(request(1, mmp::Request::Sbrk, kPromised * 4096).r(), int64_t(kHeap));
    uint64_t a_heap = proc(a)->brk;
    ASSERT_GE(request(a, mmp::Request::Sbrk, 400 * 4096).r(), 0);
    for (uint64_t i = 0; i < 400; ++i)
        ASSERT_TRUE(fault(a, a_heap + i * 4096, 15));
    uint64_t held = mm::g_book.acct.task_total(mm::id_of(proc(a)));
    ASSERT_EQ(request(1, mmp::Request::SetLimit, a, held + 1500).r(), 0);
    int children = 0;
    while (request(a, mmp::Request::Fork).r() > 0)
        ++children;
    EXPECT_LT(children, 4) << "the limit bounds what its children's sharing costs";
    EXPECT_LE(mm::g_maps.maps_in_use, 16384u);
    // Everyone else is unaffected: init's promised pages, a fork, a page.
    for (uint64_t i = 0; i < kPromised; ++i)
        ASSERT_TRUE(fault(1, kHeap + i * 4096, 15)) << "promised page " << i;
    EXPECT_GT(request(1, mmp::Request::Fork).r(), 0);
    EXPECT_EQ(request(1, mmp::Request::MapPage, 0x40000000, 1).r(), 0);
    EXPECT_EQ(check_books(), "");
    end_and_expect_everything_back();
}

TEST(Mm, ForkFailsWhenItsCopiesCannotBeReserved) {
    ASSERT_TRUE(boot(2048));
    uint64_t pages = available_now() / 2 + 10;
    ASSERT_EQ(request(1, mmp::Request::Sbrk, pages * 4096).r(), int64_t(kHeap));
    for (uint64_t i = 0; i < pages; ++i)
        ASSERT_TRUE(fault(1, kHeap + i * 4096, 15));
    uint64_t before = free_frames();
    EXPECT_EQ(request(1, mmp::Request::Fork).r(), E(cabi::Errno::NoMem));
    EXPECT_EQ(free_frames(), before);
    EXPECT_EQ(check_books(), "");
    // Giving half of it back makes room.
    ASSERT_GE(request(1, mmp::Request::Sbrk, -int64_t(pages / 2 * 4096)).r(), 0);
    int child = static_cast<int>(request(1, mmp::Request::Fork).r());
    EXPECT_GT(child, 1);
    request(1, mmp::Request::Kill, child);
    end_and_expect_everything_back();
}

// Where the page tables are known to be there (a page was placed in that
// 2 MiB region), a small growth's pages and a MapPage's page are placed by
// calls that ride the answer: no kernel call of their own before the
// reply, the books made at once. UnmapPage's call rides the same way.
TEST(Mm, CallsThatCannotFailRideTheAnswer) {
    ASSERT_TRUE(boot(4096));
    auto& fk = fakek::fake();
    const int as = fk.object_of(proc(1)->as_obj);
    ASSERT_EQ(request(1, mmp::Request::Sbrk, 4096).r(), int64_t(kHeap)); // makes the tables
    EXPECT_EQ(proc(1)->table_hint, (kHeap >> 21) + 1);
    const uint64_t mapped = fk.mapped_pages(as), free_before = mm::g_book.buddy.free_frames();
    for (int i = 1; i <= 3; ++i) {
        Msg m;
        m.w[0] = uint64_t(mmp::Request::Sbrk), m.w[1] = 2 * 4096;
        m.badge = 1;
        Msg out;
        const uint64_t batches = fk.batches,
                       splits = mm::g_book.ops.chain_batches + mm::g_book.ops.bulk_batches;
        ASSERT_TRUE(mm::handle_message(0, m, out));
        EXPECT_EQ(fk.mapped_pages(as) - mapped, uint64_t(2 * (i - 1)))
            << "nothing placed before the answer";
        EXPECT_EQ(mm::g_batch.carried(), 4u) << "FrameZero and Map for each page ride it";
        EXPECT_EQ(mm::g_batch.queued(), 4u);
        const uint64_t replies = fk.batch_replies;
        answer_as_serve_does(true, out); // BatchReplyRecv
        EXPECT_EQ(fk.batch_replies, replies + 1);
        const uint64_t split_batches =
            mm::g_book.ops.chain_batches + mm::g_book.ops.bulk_batches - splits;
        EXPECT_EQ(fk.batches - split_batches, batches + 1)
            << "one kernel call for both pages, with the answer";
        EXPECT_EQ(fk.mapped_pages(as) - mapped, uint64_t(2 * i));
        EXPECT_EQ(check_books(), "");
    }
    for (uint64_t k = 0; k < 7; ++k) {
        uint64_t v = 1;
        ASSERT_TRUE(peek(1, kHeap + k * 4096, v));
        EXPECT_EQ(v, 0u) << "page " << k << " is zero";
    }
    EXPECT_EQ(mm::g_book.buddy.free_frames(), free_before - 6);
    // MapPage and UnmapPage of a page in the same region: FrameZero,
    // CapCopy and Map ride the first answer; the copy's CapDelete (and the
    // merge of the freed frame with its free buddy) the second.
    const uint64_t va = kHeap + 64 * 4096;
    auto handle = [&](mmp::Request r, uint64_t a1, uint64_t a2, uint64_t riding) {
        Msg m;
        m.w[0] = uint64_t(r), m.w[1] = a1, m.w[2] = a2;
        m.badge = 1;
        Msg out;
        ASSERT_TRUE(mm::handle_message(0, m, out));
        EXPECT_EQ(out.w[0], 0u);
        EXPECT_GE(mm::g_batch.carried(), riding);
        EXPECT_EQ(mm::g_batch.queued(), mm::g_batch.carried());
        const auto* q = static_cast<const cabi::BatchEntry*>(fk.view(mm::kBatchVa));
        EXPECT_EQ(q[0].number, uint64_t(r == mmp::Request::MapPage ? cabi::Sys::FrameZero
                                                                   : cabi::Sys::CapDelete));
        answer_as_serve_does(true, out);
    };
    handle(mmp::Request::MapPage, va, 1, 3);
    EXPECT_EQ(fk.mapped_pages(as) - mapped, 7u);
    ASSERT_TRUE(poke(1, va, 42));
    const uint32_t copy = mm::mapping(mm::find_mapping(proc(1), va)).slot;
    ASSERT_TRUE(mm::g_slots.is_used(copy));
    handle(mmp::Request::UnmapPage, va, 0, 1);
    EXPECT_EQ(fk.mapped_pages(as) - mapped, 6u);
    EXPECT_FALSE(mm::g_slots.is_used(copy)) << "the copy's slot is free once its delete ran";
    EXPECT_EQ(fk.batch_replies_stopped, 0u);
    EXPECT_EQ(check_books(), "");
    // A page MapPage put above the break: a growth over it leaves it as it
    // is (found by the fuzzer: the riding Map was refused, EEXIST).
    const uint64_t top = uint64_t(request(1, mmp::Request::Sbrk, 0).r());
    EXPECT_EQ(request(1, mmp::Request::MapPage, top + 4096, 1).r(), 0);
    ASSERT_TRUE(poke(1, top + 4096, 7));
    ASSERT_EQ(request(1, mmp::Request::Sbrk, 3 * 4096).r(), int64_t(top));
    uint64_t v = 0;
    ASSERT_TRUE(peek(1, top + 4096, v));
    EXPECT_EQ(v, 7u) << "the page MapPage placed is still there";
    EXPECT_FALSE(logged("mm: BUG"));
    EXPECT_EQ(check_books(), "");
    for (uint64_t k = 0; k < 3; ++k)
        ASSERT_TRUE(fault(1, top + k * 4096, 15)) << "page " << k;
    EXPECT_EQ(check_books(), "");
    end_and_expect_everything_back();
}

// A riding call the kernel refuses once (it cannot happen with the real
// kernel; the fake refuses on request): BatchReplyRecv stops with nothing
// replied, mm makes the rest one by one, and the books hold. (After the
// review of the riding calls.)
TEST(Mm, AStoppedRidingBatchIsMadeAloneAndTheBooksHold) {
    ASSERT_TRUE(boot(4096));
    auto& fk = fakek::fake();
    const int as = fk.object_of(proc(1)->as_obj);
    ASSERT_EQ(request(1, mmp::Request::Sbrk, 4096).r(), int64_t(kHeap)); // makes the tables
    const uint64_t mapped = fk.mapped_pages(as), stopped = fk.batch_replies_stopped;
    fk.fail_sys = cabi::Sys::Map, fk.fail_after = 1; // the first riding Map, once
    ASSERT_GE(request(1, mmp::Request::Sbrk, 2 * 4096).r(), 0);
    EXPECT_EQ(fk.fail_after, 0u) << "the refusal happened";
    EXPECT_EQ(fk.batch_replies_stopped, stopped + 1);
    EXPECT_EQ(fk.mapped_pages(as) - mapped, 2u) << "made alone";
    EXPECT_EQ(check_books(), "");
    const uint64_t va = kHeap + 64 * 4096;
    fk.fail_sys = cabi::Sys::CapCopy, fk.fail_after = 1;
    EXPECT_EQ(request(1, mmp::Request::MapPage, va, 1).r(), 0);
    EXPECT_EQ(fk.fail_after, 0u);
    EXPECT_EQ(check_books(), "");
    const uint32_t copy = mm::mapping(mm::find_mapping(proc(1), va)).slot;
    fk.fail_sys = cabi::Sys::CapDelete, fk.fail_after = 1;
    EXPECT_EQ(request(1, mmp::Request::UnmapPage, va).r(), 0);
    EXPECT_EQ(fk.fail_after, 0u);
    EXPECT_FALSE(mm::g_slots.is_used(copy)) << "its delete was made alone, then the slot freed";
    EXPECT_EQ(check_books(), "");
    EXPECT_EQ(fk.batch_replies_stopped, stopped + 3);
    EXPECT_FALSE(logged("mm: BUG")) << "each was made alone at the second try";
    end_and_expect_everything_back();
}

// Every boot starts with nothing held (the held count is reset with the
// allocator; found by the review: host tests boot mm again and again).
TEST(Mm, ABootAfterHeldBlocksStartsWithNoneHeld) {
    ASSERT_TRUE(boot(4096));
    int child = static_cast<int>(request(1, mmp::Request::Fork).r());
    ASSERT_GT(child, 1);
    EXPECT_FALSE(request(child, mmp::Request::Exit, 0).replied);
    EXPECT_EQ(request(1, mmp::Request::Wait, 0).r(), child);
    ASSERT_GT(mm::g_book.buddy.held(), 0u);
    ASSERT_TRUE(boot(4096));
    EXPECT_EQ(mm::g_book.buddy.held(), 0u);
    EXPECT_TRUE(mm::g_book.buddy.check());
    EXPECT_EQ(check_books(), "");
    end_and_expect_everything_back();
}

// A growth of up to kEagerSbrkPages pages is placed by sbrk at once, zeroed
// (the fake kernel's fresh frames hold junk), in one kernel call, out of the
// promise; a larger one stays a promise until touched.
TEST(Mm, ASmallSbrkPlacesItsPagesAtOnce) {
    ASSERT_TRUE(boot(4096));
    auto& fk = fakek::fake();
    const int as = fk.object_of(proc(1)->as_obj);
    const uint64_t mapped = fk.mapped_pages(as), available = available_now(), batches = fk.batches,
                   splits = mm::g_book.ops.chain_batches + mm::g_book.ops.bulk_batches,
                   calls = fk.calls;
    ASSERT_EQ(request(1, mmp::Request::Sbrk, mm::kEagerSbrkPages * 4096).r(), int64_t(kHeap));
    EXPECT_EQ(fk.mapped_pages(as) - mapped, mm::kEagerSbrkPages);
    // The buddy allocator's splits are batches of their own: one for all
    // the frames (PageFiller::expect, alloc_pages).
    const uint64_t split_batches =
        mm::g_book.ops.chain_batches + mm::g_book.ops.bulk_batches - splits;
    EXPECT_EQ(fk.batches - batches - split_batches, 1u) << "one batch: zero and map each page";
    EXPECT_LE(fk.calls - calls, 2u) << "the frames' splits took more than one kernel call";
    EXPECT_EQ(proc(1)->reserved, 0u) << "the pages came out of the promise";
    EXPECT_LT(available_now(), available);
    for (uint64_t i = 0; i < mm::kEagerSbrkPages; ++i) {
        uint64_t v = 1;
        ASSERT_TRUE(peek(1, kHeap + i * 4096, v));
        EXPECT_EQ(v, 0u) << "page " << i << " is zero";
    }
    const uint64_t big = mm::kEagerSbrkPages + 1;
    ASSERT_GE(request(1, mmp::Request::Sbrk, int64_t(big * 4096)).r(), 0);
    EXPECT_EQ(fk.mapped_pages(as) - mapped, mm::kEagerSbrkPages) << "a larger growth waits";
    EXPECT_EQ(proc(1)->reserved, big);
    EXPECT_EQ(check_books(), "");
    ASSERT_GE(request(1, mmp::Request::Sbrk, -int64_t((big + mm::kEagerSbrkPages) * 4096)).r(), 0);
    EXPECT_EQ(available_now(), available);
    // The kernel refuses the placement (the 3rd FrameZero): sbrk still
    // succeeds, the pages not placed stay promised (their frames back in
    // the free pool), and their first touch gets them. (Through the
    // filler, whose batch's results come back: the heap's tables are not
    // known to be there. Calls that ride the answer cannot fail.)
    proc(1)->table_hint = 0;
    fk.fail_sys = cabi::Sys::FrameZero, fk.fail_after = 3;
    const uint64_t top = uint64_t(request(1, mmp::Request::Sbrk, 0).r());
    ASSERT_EQ(request(1, mmp::Request::Sbrk, 8 * 4096).r(), int64_t(top));
    EXPECT_EQ(fk.fail_after, 0u) << "the failure was injected";
    const uint64_t placed = fk.mapped_pages(as) - mapped;
    EXPECT_LT(placed, 8u);
    EXPECT_EQ(proc(1)->reserved, 8 - placed) << "what was not placed is still promised";
    EXPECT_EQ(check_books(), "");
    for (uint64_t i = 0; i < 8; ++i)
        ASSERT_TRUE(fault(1, top + i * 4096, 15)) << "page " << i;
    EXPECT_EQ(fk.mapped_pages(as) - mapped, 8u);
    EXPECT_EQ(proc(1)->reserved, 0u);
    ASSERT_GE(request(1, mmp::Request::Sbrk, -int64_t(8 * 4096)).r(), 0);
    EXPECT_EQ(available_now(), available);
    EXPECT_EQ(check_books(), "");
    end_and_expect_everything_back();
}

// Issue 12.5: each grow/shrink cycle of one page kept the two table frames
// it reserved, until a limited process could not grow at all.
TEST(Mm, SbrkGrowAndShrinkGiveEveryPromiseBack) {
    ASSERT_TRUE(boot(4096));
    int child = static_cast<int>(request(1, mmp::Request::Fork).r());
    uint64_t held = mm::g_book.acct.task_total(mm::id_of(proc(child)));
    ASSERT_EQ(request(1, mmp::Request::SetLimit, child, held + 200).r(), 0);
    uint64_t base = proc(child)->brk;
    for (int i = 0; i < 300; ++i) {
        ASSERT_EQ(request(child, mmp::Request::Sbrk, 4096).r(), int64_t(base)) << "cycle " << i;
        // (A one-page growth is placed by sbrk itself: no fault needed.)
        ASSERT_NE(mm::find_mapping(proc(child), base), 0u) << "cycle " << i;
        ASSERT_EQ(request(child, mmp::Request::Sbrk, -int64_t(4096)).r(), int64_t(base + 4096));
    }
    EXPECT_EQ(proc(child)->reserved + proc(child)->table_reserved, 0u);
    EXPECT_LE(mm::g_book.acct.task_total(mm::id_of(proc(child))), held + 2)
        << "only the page tables it made stay";
    // A growth across many 2 MiB regions and back gives its promise back too.
    uint64_t before = available_now();
    ASSERT_GE(request(child, mmp::Request::Sbrk, 150 * 4096).r(), 0);
    ASSERT_GE(request(child, mmp::Request::Sbrk, -int64_t(150 * 4096)).r(), 0);
    EXPECT_EQ(available_now(), before);
    EXPECT_EQ(check_books(), "");
    request(1, mmp::Request::Kill, child);
    end_and_expect_everything_back();
}

} // namespace
