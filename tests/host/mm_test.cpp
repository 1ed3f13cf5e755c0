// mm's logic on the host, against the fake kernel (tests/host/mm/): exec,
// fork with copy-on-write, exit/wait/kill, sbrk's promises, limits, and the
// books after each step. Every test ends with every frame back.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "mm/mm_harness.h"

using namespace mmh;
namespace cabi = ::capframe::abi;

namespace {

constexpr uint64_t kData = 0x12000; // init's data page (fake make_program)
constexpr uint64_t kHeap = 0x15000; // init's heap starts here

int64_t E(cabi::Errno e) {
    return cabi::error_return(e);
}

bool logged(const std::string& what) {
    for (auto& l : fakek::fake().log)
        if (l.find(what) != std::string::npos) return true;
    return false;
}

// init exits: the system shuts down, every frame and object came back.
void end_and_expect_everything_back() {
    auto a = request(1, mmp::Request::Exit, 0);
    EXPECT_FALSE(a.replied);
    EXPECT_EQ(fakek::fake().shutdown_status, 0);
    EXPECT_TRUE(logged("every frame came back"));
    EXPECT_EQ(free_frames(), free_at_start());
    EXPECT_EQ(check_books(), "");
    // mm's table, address space, thread, Control, and its endpoint.
    EXPECT_EQ(fakek::fake().live_objects(), 5u);
    EXPECT_EQ(mm::g_slots.used(), slots_at_start()) << "capability slots leaked";
}

// A string in pid's heap (one new page), returned as its address.
uint64_t put_string(int pid, const std::string& s) {
    auto a = request(pid, mmp::Request::Sbrk, 4096);
    uint64_t va = static_cast<uint64_t>(a.r());
    for (size_t i = 0; i <= s.size(); i += 8) {
        uint64_t w = 0;
        for (size_t b = 0; b < 8 && i + b < s.size(); ++b)
            w |= uint64_t(uint8_t(s[i + b])) << (8 * b);
        EXPECT_TRUE(poke(pid, va + i, w));
    }
    return va;
}

TEST(Mm, BootStartsInitAndEveryFrameComesBack) {
    ASSERT_TRUE(boot(4096));
    EXPECT_EQ(check_books(), "");
    ASSERT_NE(proc(1), nullptr);
    EXPECT_LT(free_frames(), free_at_start()); // init holds frames
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
    EXPECT_EQ(request(1, mmp::Request::Wait, 0).r(), E(cabi::Errno::Child));
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

TEST(Mm, ForkSurvivesEveryInjectedAllocationFailure) {
    ASSERT_TRUE(boot(4096));
    ASSERT_EQ(request(1, mmp::Request::Sbrk, 64 * 4096).r(), int64_t(kHeap));
    for (uint64_t n = 1;; ++n) {
        uint64_t before = free_frames();
        request(1, mmp::Request::FailAlloc, n);
        auto a = request(1, mmp::Request::Fork);
        if (a.r() > 0) break;
        ASSERT_EQ(a.r(), E(cabi::Errno::NoMem));
        ASSERT_EQ(free_frames(), before);
        ASSERT_EQ(check_books(), "");
        ASSERT_LT(n, 100u);
    }
    end_and_expect_everything_back();
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
    EXPECT_EQ(free_frames(), before + pages + (leaves - mm::leaf_frames()));
    EXPECT_LE(mm::leaf_frames(), leaves);
    end_and_expect_everything_back();
}

// fork holds a frame for every copy-on-write copy: once memory is used up,
// both sides can still write every page.
TEST(Mm, CopyOnWriteCopiesAreReservedByFork) {
    ASSERT_TRUE(boot(4096));
    constexpr uint64_t kPages = 200;
    ASSERT_EQ(request(1, mmp::Request::Sbrk, kPages * 4096).r(), int64_t(kHeap));
    for (uint64_t i = 0; i < kPages; ++i)
        ASSERT_TRUE(poke(1, kHeap + i * 4096, i));
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
    EXPECT_EQ(v, 1u) << "the child kept its own copy";
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
        ASSERT_TRUE(fault(child, base, 15)) << "cycle " << i;
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

// Issue 15: with fewer capability slots than frames need (mm's table stops
// at 262,144 slots, about 455 MiB), sbrk promised pages whose first touch
// then killed the process for lack of a slot. A promise now counts the
// slots its frames will need.
TEST(Mm, SbrkPromisesCountCapabilitySlots) {
    ASSERT_TRUE(boot(8192, 4096)); // half a slot per frame
    int64_t pages = 4000;
    EXPECT_EQ(request(1, mmp::Request::Sbrk, uint64_t(pages) * 4096).r(), E(cabi::Errno::NoMem))
        << "more than the slots can back";
    int64_t got = 0;
    while (request(1, mmp::Request::Sbrk, 16 * 4096).r() > 0)
        got += 16;
    EXPECT_GT(got, 500);
    for (int64_t i = 0; i < got; ++i)
        ASSERT_TRUE(fault(1, kHeap + uint64_t(i) * 4096, 15))
            << "promised page " << i << " of " << got;
    EXPECT_EQ(check_books(), "");
    end_and_expect_everything_back();
}

// Issue 15 at 16 GiB (4 Mi frames): one process promises 97% of what is
// free and a sample of the pages (and the last one) is touched; the space
// grows by leaves of mm's own frames for a slot per promised page, and every
// leaf goes back. Then a million single frames straight from the allocator,
// and back.
TEST(Mm, SixteenGiBSpaceGrowsForEveryPromiseAndShrinks) {
    constexpr uint64_t kFrames = uint64_t{4} << 20;
    ASSERT_TRUE(boot(kFrames));
    EXPECT_EQ(mm::leaf_frames(), 0u);
    const uint64_t boot_leaves = fakek::fake().attached_leaves();
    uint64_t avail = available_now(), pages = avail * 97 / 100;
    ASSERT_EQ(request(1, mmp::Request::Sbrk, pages * 4096).r(), int64_t(kHeap));
    EXPECT_GE(mm::g_slots.free_slots(), pages) << "a slot for every promised page is there";
    EXPECT_GE(mm::leaf_frames(), pages / 63);
    EXPECT_EQ(fakek::fake().attached_leaves(), boot_leaves + mm::leaf_frames());
    EXPECT_LT(mm::leaf_frames(), pages / 55) << "a leaf per ~61 frames";
    for (uint64_t i = 0; i < pages; i += 2048)
        ASSERT_TRUE(fault(1, kHeap + i * 4096, 15)) << "page " << i;
    ASSERT_TRUE(fault(1, kHeap + (pages - 1) * 4096, 15));
    EXPECT_EQ(request(1, mmp::Request::Sbrk, (avail - pages) * 4096).r(), E(cabi::Errno::NoMem))
        << "the leaves' frames come out of what was free";
    EXPECT_EQ(check_books(), "");
    ASSERT_GE(request(1, mmp::Request::Sbrk, -static_cast<int64_t>(pages * 4096)).r(), 0);
    EXPECT_EQ(mm::g_book.reserved, 0u);

    // The allocator and the space directly: a million single frames for mm.
    uint64_t before = free_frames();
    std::vector<mm::Block> blocks;
    for (uint64_t i = 0; i < (uint64_t{1} << 20); ++i) {
        auto b = mm::alloc_frames(nullptr, mm::Use::User, 0);
        ASSERT_TRUE(b.ok()) << i;
        blocks.push_back(b.value());
    }
    EXPECT_GE(mm::g_slots.used(), blocks.size());
    EXPECT_GE(mm::leaf_frames(), blocks.size() / 63);
    while (!blocks.empty()) {
        mm::free_frames(nullptr, mm::Use::User, blocks.back());
        blocks.pop_back();
    }
    EXPECT_EQ(free_frames(), before);
    EXPECT_EQ(check_books(), "");
    end_and_expect_everything_back();
    EXPECT_EQ(mm::leaf_frames(), 0u) << "every grown leaf went back";
    EXPECT_EQ(fakek::fake().attached_leaves(), boot_leaves);
}

// Free blocks whose capabilities sit in leaves mm grew must not keep those
// leaves (and their frames) once the frames around them are in use: mm
// moves them down (CapMove) before it gives a leaf back. mm keeps every
// 50th of 5000 single frames (as a long-lived process keeps its pages
// while its children come and go); after the others go back, the only
// leaves left are those up to the highest one holding a kept frame's
// capability, and every other frame is free.
TEST(Mm, FreeBlocksInGrownLeavesMoveDownSoThatTheLeavesGoBack) {
    ASSERT_TRUE(boot(16384));
    const uint64_t before = free_frames();
    ASSERT_EQ(mm::leaf_frames(), 0u);
    std::vector<mm::Block> blocks, kept;
    for (uint64_t i = 0; i < 5000; ++i) {
        auto b = mm::alloc_frames(nullptr, mm::Use::User, 0);
        ASSERT_TRUE(b.ok()) << i;
        (i % 50 == 49 ? kept : blocks).push_back(b.value());
    }
    ASSERT_GE(mm::leaf_frames(), 4900u / 63);
    for (const mm::Block& b : blocks)
        mm::free_frames(nullptr, mm::Use::User, b);
    const uint64_t moves = fakek::fake().moves;
    uint64_t top = 0; // the highest leaf a kept frame's capability is in
    for (const mm::Block& b : kept)
        top = std::max<uint64_t>(top, b.slot / 64);
    const uint64_t needed =
        top < mm::g_slots.boot_leaves() ? 0 : top + 1 - mm::g_slots.boot_leaves();
    EXPECT_EQ(free_frames(), before - kept.size() - needed);
    EXPECT_EQ(mm::leaf_frames(), needed) << "a leaf kept only by free blocks";
    EXPECT_GT(fakek::fake().moves, moves) << "no free block had to move (the test tests nothing)";
    EXPECT_EQ(check_books(), "");
    for (const mm::Block& b : kept)
        mm::free_frames(nullptr, mm::Use::User, b);
    EXPECT_EQ(free_frames(), before);
    EXPECT_EQ(mm::leaf_frames(), 0u);
    end_and_expect_everything_back();
}

// A page a long-lived process touches while the space is large gets a slot
// in a grown leaf; when the space shrinks (FreeFrames, between requests)
// the page's capability moves down with its books, so no leaf stays for
// it, and the process still reads and writes the page.
TEST(Mm, ALiveProcessPageInAGrownLeafMovesDown) {
    ASSERT_TRUE(boot(8192));
    ASSERT_EQ(request(1, mmp::Request::Sbrk, 4096).r(), int64_t(kHeap));
    ASSERT_TRUE(poke(1, kHeap, 7)); // its page tables, before the growth
    ASSERT_EQ(request(1, mmp::Request::Sbrk, 4096).r(), int64_t(kHeap + 4096));
    int child = static_cast<int>(request(1, mmp::Request::Fork).r());
    ASSERT_GT(child, 1);
    constexpr uint64_t kPages = 3000;
    ASSERT_GE(request(child, mmp::Request::Sbrk, kPages * 4096).r(), 0);
    for (uint64_t i = 0; i < kPages; ++i)
        ASSERT_TRUE(fault(child, kHeap + 2 * 4096 + i * 4096, 15)) << i;
    ASSERT_GE(mm::leaf_frames(), kPages / 80);
    ASSERT_TRUE(poke(1, kHeap + 4096, 42)); // pid 1's new page, while the space is large
    uint32_t i = mm::find_mapping(proc(1), kHeap + 4096);
    ASSERT_NE(i, mm::kNone);
    const uint64_t boot_slots = mm::g_slots.boot_leaves() * 64;
    ASSERT_GE(mm::mapping(i).slot, boot_slots) << "the page's capability is in a grown leaf";
    EXPECT_FALSE(request(child, mmp::Request::Exit, 0).replied);
    EXPECT_EQ(request(1, mmp::Request::Wait, 0).r(), child);
    (void)free_frames(); // trims as FreeFrames does
    EXPECT_EQ(mm::leaf_frames(), 0u) << "a leaf stayed for one page";
    i = mm::find_mapping(proc(1), kHeap + 4096);
    ASSERT_NE(i, mm::kNone);
    EXPECT_LT(mm::mapping(i).slot, boot_slots);
    EXPECT_EQ(mm::frame_info(mm::mapping(i).frame).block_slot, mm::mapping(i).slot);
    uint64_t v = 0;
    ASSERT_TRUE(peek(1, kHeap + 4096, v));
    EXPECT_EQ(v, 42u);
    ASSERT_TRUE(poke(1, kHeap + 4096, 43));
    EXPECT_EQ(check_books(), "");
    end_and_expect_everything_back();
}

TEST(Mm, SbrkBeyondMemoryFailsAndChangesNothing) {
    ASSERT_TRUE(boot(4096));
    uint64_t before = free_frames();
    EXPECT_EQ(request(1, mmp::Request::Sbrk, (available_now() + 1) * 4096).r(),
              E(cabi::Errno::NoMem));
    EXPECT_EQ(request(1, mmp::Request::Sbrk, uint64_t{1} << 62).r(), E(cabi::Errno::NoMem));
    EXPECT_EQ(request(1, mmp::Request::Sbrk, -int64_t(4096)).r(), E(cabi::Errno::NoMem));
    EXPECT_EQ(free_frames(), before);
    EXPECT_EQ(mm::g_book.reserved, 0u);
    end_and_expect_everything_back();
}

TEST(Mm, FaultsOutsideTheProcessAreNotResolved) {
    ASSERT_TRUE(boot(4096));
    uint64_t before = free_frames();
    EXPECT_FALSE(fault(1, 0x10000, 15)) << "a store to text";
    EXPECT_EQ(proc(1), nullptr) << "the faulting process is killed";
    EXPECT_TRUE(logged("page not writable"));
    EXPECT_EQ(fakek::fake().shutdown_status, -1) << "init's death ends the system";
    EXPECT_GT(free_frames(), before);
    EXPECT_EQ(free_frames(), free_at_start());
}

TEST(Mm, LimitsBoundAProcessTree) {
    ASSERT_TRUE(boot(4096));
    int child = static_cast<int>(request(1, mmp::Request::Fork).r());
    uint64_t held = mm::g_book.acct.task_total(mm::id_of(proc(child)));
    ASSERT_EQ(request(1, mmp::Request::SetLimit, child, held + 20).r(), 0);
    EXPECT_EQ(request(child, mmp::Request::Sbrk, 64 * 4096).r(), E(cabi::Errno::NoMem));
    EXPECT_GT(request(child, mmp::Request::Sbrk, 8 * 4096).r(), 0);
    EXPECT_EQ(request(child, mmp::Request::Fork).r(), E(cabi::Errno::NoMem));
    EXPECT_EQ(request(1, mmp::Request::SetLimit, 99, 10).r(), E(cabi::Errno::Srch));
    EXPECT_EQ(check_books(), "");
    request(1, mmp::Request::Kill, child);
    EXPECT_EQ(request(1, mmp::Request::Wait, 0).r(), child);
    end_and_expect_everything_back();
}

// Issue 12.6: setlimit on oneself again and again used up every limit group
// (64): then nobody could limit a child. A second setlimit by the same
// process on the same target replaces the first.
TEST(Mm, SetlimitReplacesInsteadOfUsingUpGroups) {
    ASSERT_TRUE(boot(4096));
    int child = static_cast<int>(request(1, mmp::Request::Fork).r());
    for (int i = 0; i < 200; ++i)
        ASSERT_EQ(request(child, mmp::Request::SetLimit, 0, 3000 + i).r(), 0) << "call " << i;
    int used = 0;
    for (auto& g : mm::g_book.groups)
        used += g.used;
    EXPECT_EQ(used, 1);
    // The parent can still limit it, and the child cannot escape that.
    uint64_t held = mm::g_book.acct.task_total(mm::id_of(proc(child)));
    ASSERT_EQ(request(1, mmp::Request::SetLimit, child, held + 30).r(), 0);
    ASSERT_EQ(request(1, mmp::Request::SetLimit, child, held + 20).r(), 0);
    ASSERT_EQ(request(child, mmp::Request::SetLimit, 0, 100000).r(), 0);
    EXPECT_EQ(request(child, mmp::Request::Sbrk, 64 * 4096).r(), E(cabi::Errno::NoMem));
    EXPECT_GT(request(child, mmp::Request::Sbrk, 8 * 4096).r(), 0);
    used = 0;
    for (auto& g : mm::g_book.groups)
        used += g.used;
    EXPECT_LE(used, 3);
    EXPECT_EQ(check_books(), "");
    request(1, mmp::Request::Kill, child);
    end_and_expect_everything_back();
    for (auto& g : mm::g_book.groups)
        EXPECT_FALSE(g.used) << "groups go with their last member";
}

TEST(Mm, ForkUntilMemoryRunsOutThenEverythingComesBack) {
    ASSERT_TRUE(boot(2048));
    std::vector<int> kids;
    for (;;) {
        auto f = request(1, mmp::Request::Fork);
        if (f.r() < 0) {
            EXPECT_EQ(f.r(), E(cabi::Errno::NoMem));
            break;
        }
        kids.push_back(static_cast<int>(f.r()));
        ASSERT_LT(kids.size(), 100u);
    }
    EXPECT_GT(kids.size(), 5u);
    EXPECT_EQ(check_books(), "");
    for (int k : kids)
        EXPECT_EQ(request(1, mmp::Request::Kill, k).r(), 0);
    for (size_t i = 0; i < kids.size(); ++i)
        EXPECT_GT(request(1, mmp::Request::Wait, 0).r(), 0);
    end_and_expect_everything_back();
}

// Issue 11/12: a thread the kernel cannot delete yet (still on another
// hart) must not have its slot and frames handed out again.
TEST(Mm, AnObjectTheKernelKeepsIsNeverHandedOutAgain) {
    ASSERT_TRUE(boot(4096));
    int child = static_cast<int>(request(1, mmp::Request::Fork).r());
    ASSERT_GT(child, 1);
    fakek::fake().busy_thread_deletes = 1u << 30;
    EXPECT_EQ(request(1, mmp::Request::Kill, child).r(), 0);
    EXPECT_TRUE(logged("cannot delete object"));
    fakek::fake().busy_thread_deletes = 0;
    // The refused object's slot still holds it: forks must not reuse it.
    for (int i = 0; i < 3; ++i) {
        auto f = request(1, mmp::Request::Fork);
        ASSERT_GT(f.r(), 0) << "fork after a refused delete";
        EXPECT_EQ(request(static_cast<int>(f.r()), mmp::Request::Exit, 0).replied, false);
    }
    EXPECT_EQ(check_books(), "");
    request(1, mmp::Request::Exit, 0);
    // The kept frames stay out: the count says so instead of lying.
    EXPECT_TRUE(logged("FRAMES LOST"));
}

TEST(Mm, MetadataLayoutFitsItsBudgetAtEverySize) {
    for (uint64_t frames : {1ull, 3ull, 64ull, 4097ull, 65536ull, 1ull << 20, 4ull << 20}) {
        auto l = mm::meta_layout(frames);
        EXPECT_LE(l.bytes, frames * cabi::kMetaBytesPerFrame) << frames << " frames";
        EXPECT_GE(l.map_count, frames) << "at least one mapping record per frame";
    }
}

TEST(Mm, RequestsWithBadArgumentsChangeNothing) {
    ASSERT_TRUE(boot(4096));
    uint64_t before = free_frames();
    EXPECT_EQ(request(1, mmp::Request::MapPage, 0x1234).r(), E(cabi::Errno::Inval));
    EXPECT_EQ(request(1, mmp::Request::MapPage, 0x10000).r(), E(cabi::Errno::Inval));
    EXPECT_EQ(request(1, mmp::Request::UnmapPage, 0x500000).r(), E(cabi::Errno::Inval));
    EXPECT_EQ(request(1, mmp::Request::Kill, 1).r(), E(cabi::Errno::Perm));
    EXPECT_EQ(request(1, mmp::Request::Kill, 77).r(), E(cabi::Errno::Srch));
    EXPECT_EQ(request(1, static_cast<mmp::Request>(999)).r(), E(cabi::Errno::NoSys));
    EXPECT_EQ(request(1, mmp::Request::PrepareWrite, ~0ull - 10, 100).r(), E(cabi::Errno::Fault));
    Msg out;
    Msg m;
    m.badge = 55; // nobody
    EXPECT_TRUE(mm::handle_message(0, m, out));
    EXPECT_EQ(int64_t(out.w[0]), E(cabi::Errno::Inval));
    EXPECT_EQ(free_frames(), before);
    // MapPage and UnmapPage round trip.
    EXPECT_EQ(request(1, mmp::Request::MapPage, 0x600000, 1).r(), 0);
    EXPECT_EQ(free_frames(), before - 2); // the page and its leaf table
    EXPECT_EQ(request(1, mmp::Request::UnmapPage, 0x600000).r(), 0);
    EXPECT_EQ(check_books(), "");
    end_and_expect_everything_back();
}

// mm's batches (servers/mm/batch.h): fork and exit of a process with many
// pages make a kernel call per batch of 64 calls, not per page.
TEST(Mm, ForkAndExitBatchTheirKernelCalls) {
    ASSERT_TRUE(boot(4096));
    constexpr uint64_t kPages = 300;
    ASSERT_EQ(request(1, mmp::Request::Sbrk, kPages * 4096).r(), int64_t(kHeap));
    for (uint64_t i = 0; i < kPages; ++i)
        ASSERT_TRUE(poke(1, kHeap + i * 4096, i + 1));
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
    EXPECT_EQ(free_frames(), before + kPages + (leaves - mm::leaf_frames()));
    end_and_expect_everything_back();
}

// A call that fails in the middle of a batch (the fake kernel answers Busy
// for the n-th call of one kind): fork fails and changes nothing that
// matters, the parent keeps its pages, and the books stay exact.
TEST(Mm, ACallFailingInTheMiddleOfABatchLeavesTheBooksExact) {
    ASSERT_TRUE(boot(4096));
    constexpr uint64_t kPages = 200;
    ASSERT_EQ(request(1, mmp::Request::Sbrk, kPages * 4096).r(), int64_t(kHeap));
    for (uint64_t i = 0; i < kPages; ++i)
        ASSERT_TRUE(poke(1, kHeap + i * 4096, i + 1));
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

} // namespace
