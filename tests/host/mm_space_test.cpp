// mm on the host (mm_test.h): sbrk's promises and the capability slots they
// need, the space at 16 GiB and its compaction, limits, running out of
// memory, objects the kernel keeps, the metadata budget, and requests with
// bad arguments.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "mm_test.h"

using namespace mmt;

namespace {

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

// A promise that needs many leaves grows the space 32 leaves a batch (a
// Retype and a CapAttach each), not two kernel calls per leaf; a refused
// attach keeps the leaves made before it, gives the rest back, is logged as
// mm's bug, and the promise is refused with nothing lost.
TEST(Mm, TheSpaceGrowsThirtyTwoLeavesABatch) {
    ASSERT_TRUE(boot(uint64_t{1} << 16));
    auto& fk = fakek::fake();
    const uint64_t leaves0 = mm::leaf_frames(), batches0 = fk.batches,
                   splits0 = mm::g_book.ops.chain_batches + mm::g_book.ops.bulk_batches;
    const uint64_t pages = 128 * 61; // about 128 leaves' worth of slots
    ASSERT_EQ(request(1, mmp::Request::Sbrk, pages * 4096).r(), int64_t(kHeap));
    const uint64_t grown = mm::leaf_frames() - leaves0;
    EXPECT_GE(grown, 120u);
    // The buddy allocator's splits for the leaves' frames are batches of
    // their own: one for up to 32 frames (alloc_pages), not one per frame.
    const uint64_t split_batches =
        mm::g_book.ops.chain_batches + mm::g_book.ops.bulk_batches - splits0;
    const uint64_t batches = fk.batches - batches0 - split_batches;
    EXPECT_GE(batches, grown / 32) << "the leaves are made in batches";
    EXPECT_LE(batches, (grown + 31) / 32 + 4) << "a batch per 32 leaves";
    EXPECT_LE(split_batches, 2 * ((grown + 31) / 32) + 4) << "the frames split one at a time";
    EXPECT_EQ(check_books(), "");

    const uint64_t leaves1 = mm::leaf_frames();
    fk.fail_sys = cabi::Sys::CapAttach, fk.fail_after = 5;
    EXPECT_EQ(request(1, mmp::Request::Sbrk, pages * 4096).r(), E(cabi::Errno::NoMem));
    EXPECT_TRUE(logged("mm: BUG: a capability leaf was refused"));
    EXPECT_EQ(mm::leaf_frames(), leaves1 + 4) << "the four attached before the refusal stay";
    EXPECT_EQ(fk.attached_leaves(), mm::g_slots.leaves()) << "the others' leaves are gone";
    EXPECT_EQ(check_books(), "");
    ASSERT_GE(request(1, mmp::Request::Sbrk, -static_cast<int64_t>(pages * 4096)).r(), 0);
    end_and_expect_everything_back();
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
        EXPECT_LE(l.bytes, frames * cabi::kMetaBytesPerFrame + cabi::kMetaSlackBytes) << frames;
        EXPECT_LE(l.zeroed_bytes, frames * cabi::kMetaZeroedBytesPerFrame + cabi::kMetaSlackBytes)
            << frames;
        EXPECT_LE(l.zeroed_bytes, l.maps_offset) << "the records come after the zeroed part";
        EXPECT_GT(l.map_count, frames) << "a mapping record per frame (record 0 unused)";
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

} // namespace

// alloc_pages for mm itself (its capability space's leaves) takes the
// frames there are when fewer than asked are free, as single allocations
// would have (grow() then makes that many leaves); with none free, none.
TEST(Mm, PagesForMmAreTheFramesThereAreWhenFewerAreFree) {
    ASSERT_TRUE(boot(2048));
    std::vector<mm::Block> held;
    while (mm::available() > 3) {
        auto b = mm::alloc_frames(nullptr, mm::Use::User, 0);
        ASSERT_TRUE(b.ok());
        held.push_back(b.value());
    }
    ASSERT_EQ(mm::available(), 3u);
    mm::Block out[mm::BuddyCore::kMaxBulkPages];
    auto got = mm::alloc_pages(nullptr, mm::Use::KernelObject, 8, mm::From::Free, out);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got.value(), 3u) << "the three free frames, not none";
    EXPECT_EQ(mm::available(), 0u);
    auto none = mm::alloc_pages(nullptr, mm::Use::KernelObject, 8, mm::From::Free, out + 3);
    ASSERT_TRUE(none.ok());
    EXPECT_EQ(none.value(), 0u);
    EXPECT_EQ(check_books(), "");
    for (uint32_t i = 0; i < got.value(); ++i)
        mm::free_frames(nullptr, mm::Use::KernelObject, out[i]);
    for (const mm::Block& b : held)
        mm::free_frames(nullptr, mm::Use::User, b);
    end_and_expect_everything_back();
}
