// mm's self-test (bootarg mmtest=1): bad input to the kernel that needs
// real frame capabilities, which only mm holds. It tests the kernel itself,
// so it is the one part of mm that speaks to it by system call directly
// (capframe/sys.h) rather than through kernel.h. Each check prints a TAP
// line; the runner counts them. Everything is given back.
#include "selftest.h"
#include "capframe/sys.h"
#include "errors.h"
#include "frames.h"
#include "mappings.h"
#include "pages.h"
#include "slots.h"

namespace capframe::mm {

namespace {

int g_selftest_failures = 0;

void check(bool ok, const char* what) {
    if (!ok) ++g_selftest_failures;
    sys::printf("%s - mm: %s\n", ok ? "ok" : "not ok", what);
}

using abi::Sys;

void set_entry(abi::BatchEntry& e, Sys n, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0,
               uint64_t a3 = 0, uint64_t a4 = 0) {
    e.number = static_cast<uint64_t>(n);
    e.args[0] = a0, e.args[1] = a1, e.args[2] = a2, e.args[3] = a3, e.args[4] = a4, e.args[5] = 0;
    e.result = 12345; // what the kernel leaves alone for an entry it did not run
}

// The batch call (abi::Sys::Batch) with real frames: what it runs, where it
// stops, and every frame it must refuse to use as its page. Pages at
// va .. va + 3 pages (the tables for va exist).
void batch_checks(uint64_t va) {
    const uint64_t self_as = abi::kSlotSelfAs;
    const uint64_t rw = abi::kRightRead | abi::kRightWrite;
    const uint64_t rwm = rw | abi::kRightMap;
    Block b = g_book.buddy.alloc(0).value(); // the batch page
    Block f = g_book.buddy.alloc(0).value(); // a frame the entries work on
    uint32_t s1 = g_slots.alloc().value(), s2 = g_slots.alloc().value(),
             s3 = g_slots.alloc().value(), s4 = g_slots.alloc().value();
    check(map_with_tables(&mm_self(), b.slot, self_as, va, rw).ok(), "batch: map the batch page");
    auto* e = reinterpret_cast<abi::BatchEntry*>(va);
    uint64_t second = 0;

    set_entry(e[0], Sys::CapCopy, f.slot, 0, s1, rwm, 0);
    set_entry(e[1], Sys::Map, s1, self_as, va + 0x1000, rw);
    set_entry(e[2], Sys::Protect, s1, abi::kRightRead);
    set_entry(e[3], Sys::CapInfo, s1);
    check(sys::batch(b.slot, 4, &second) == 4 && e[0].result == 0 && e[1].result == 0 &&
              e[2].result == 0 && (e[3].result & 0xff) == int64_t(abi::ObjType::Frame) &&
              second == f.pa,
          "batch: four calls in one, each result written back, a1 = the last one's second value");
    check((sys::cap_info(s1) >> 24 & abi::kCapMapped) &&
              *reinterpret_cast<volatile uint64_t*>(va + 0x1000) ==
                  *reinterpret_cast<volatile uint64_t*>(va + 0x1000),
          "batch: the copy it made is mapped and readable");

    set_entry(e[0], Sys::Unmap, s1);
    set_entry(e[1], Sys::CapDelete, s3); // empty
    set_entry(e[2], Sys::CapDelete, s1);
    check(sys::batch(b.slot, 3) == 1 && e[0].result == 0 && e[1].result == err(Errno::BadSlot) &&
              e[2].result == 12345 && sys::cap_info(s1) >= 0,
          "batch: stops at the first failing entry; the entries after it are not run");

    set_entry(e[0], Sys::Map, s1, self_as, va + (uint64_t{1} << 30), abi::kRightRead);
    check(sys::batch(b.slot, 1, &second) == 0 && e[0].result == err(Errno::NeedTable) &&
              second == 1,
          "batch: a Map that needs a table fails with NeedTable, the level in a1");

    const uint64_t refused[] = {
        uint64_t(Sys::Yield),          uint64_t(Sys::Sleep),     uint64_t(Sys::DebugWrite),
        uint64_t(Sys::ConsoleRead),    uint64_t(Sys::Call),      uint64_t(Sys::Recv),
        uint64_t(Sys::Reply),          uint64_t(Sys::ReplyRecv), uint64_t(Sys::ThreadSuspend),
        uint64_t(Sys::BatchReplyRecv), uint64_t(Sys::VmPrint),   uint64_t(Sys::Shutdown),
        uint64_t(Sys::Batch),          uint64_t(Sys::Uptime),    1234};
    bool all_refused = true;
    for (uint64_t n : refused) {
        set_entry(e[0], static_cast<Sys>(n),
                  n == uint64_t(Sys::Shutdown) ? abi::kSlotControl
                  : n == uint64_t(Sys::Batch)  ? b.slot
                                               : 1,
                  n == uint64_t(Sys::DebugWrite) ? va : 1, 8);
        set_entry(e[1], Sys::CapCopy, f.slot, 0, s2, rwm, 0);
        all_refused = all_refused && sys::batch(b.slot, 2) == 0 &&
                      e[0].result == err(Errno::NoSys) && e[1].result == 12345 &&
                      sys::cap_info(s2) == err(Errno::BadSlot);
    }
    check(
        all_refused,
        "batch: IPC (ThreadReply aside), yield, sleep, the console, vmprint, suspend, shutdown, a "
        "nested batch and unknown numbers are refused (ENOSYS), nothing after runs");
    set_entry(e[0], Sys::ThreadReply, abi::kSlotSelfThread, 1, 2, 3, 4);
    check(sys::batch(b.slot, 1) == 0 && e[0].result == err(Errno::NoCaller),
          "batch: ThreadReply runs in a batch (a deferred answer; ENOCALLER for a thread that "
          "waits for none)");

    check(sys::batch(b.slot, abi::kBatchMax + 1) == err(Errno::Inval),
          "batch: more than kBatchMax entries is refused");
    check(sys::batch(b.slot, 0) == 0, "batch: an empty batch runs nothing");

    // BatchReplyRecv whose batch stops: it returns at once, nothing replied
    // or received (had it gone on, the receive would wait for a caller).
    set_entry(e[0], Sys::CapInfo, f.slot);
    set_entry(e[1], Sys::CapDelete, s3); // empty: refused
    set_entry(e[2], Sys::CapCopy, f.slot, 0, s2, rwm, 0);
    {
        Msg m;
        m.w[0] = 7, m.w[1] = 8, m.w[2] = 9, m.w[3] = 10;
        check(sys::batch_reply_recv(g_pt.endpoint, m, b.slot, 3) == err(Errno::Stopped) &&
                  m.w[0] == 1 && m.w[1] == 8 && m.w[2] == 9 && m.w[3] == 10 &&
                  e[1].result == err(Errno::BadSlot) && e[2].result == 12345 &&
                  sys::cap_info(s2) == err(Errno::BadSlot),
              "BatchReplyRecv: a batch that stops returns ESTOPPED at once, a1 = the entries "
              "done, a2..a4 as they went, nothing after the failing entry run");
        check(sys::batch_reply_recv(g_pt.endpoint, m, b.slot, 3, false) == err(Errno::Stopped) &&
                  m.w[0] == 1,
              "BatchReplyRecv: the same with kBatchRecvOnly");
        check(sys::batch_reply_recv(g_pt.endpoint, m, self_as, 1) == err(Errno::Stopped) &&
                  m.w[0] == 0,
              "BatchReplyRecv: an address space is no batch page (ESTOPPED, nothing run)");
        check(sys::batch_reply_recv(g_pt.endpoint, m, b.slot, abi::kBatchMax + 1) ==
                      err(Errno::Stopped) &&
                  m.w[0] == 0,
              "BatchReplyRecv: more than kBatchMax entries stops it before anything runs");
    }
    check(sys::batch(self_as, 1) == err(Errno::BadType),
          "batch: an address space is no batch page");
    check(sys::cap_delete(s1) == 0 && sys::cap_copy(f.slot, 0, s1, abi::kRightRead, 0) == 0 &&
              sys::batch(s1, 1) == err(Errno::Perm),
          "batch: a frame without Write is refused");
    check(sys::batch(f.slot, 1) == err(Errno::Busy),
          "batch: a frame with copies is refused (a copy may be donated or mapped elsewhere)");
    (void)sys::cap_delete(s1);
    check(sys::retype(f.slot, abi::ObjType::Endpoint, s1) == 0 &&
              sys::batch(f.slot, 1) == err(Errno::Busy) && sys::cap_delete(s1) == 0,
          "batch: a donated frame (a kernel object) is refused");
    Block big = g_book.buddy.alloc(1).value();
    check(sys::frame_split(big.slot, s1, s2) == 0 && sys::batch(big.slot, 1) == err(Errno::Busy) &&
              sys::cap_delete(s1) == 0 && sys::cap_delete(s2) == 0,
          "batch: a split frame is refused");
    (void)g_book.buddy.free(big);

    // Mapped writable in another address space: refused.
    Block as_block = g_book.buddy.alloc(2).value();
    Block t1 = g_book.buddy.alloc(0).value(), t2 = g_book.buddy.alloc(0).value();
    bool other = sys::retype(as_block.slot, abi::ObjType::AddressSpace, s1) == 0 &&
                 sys::map_table(t1.slot, s1, 0x40000000) == 1 &&
                 sys::map_table(t2.slot, s1, 0x40000000) == 0 &&
                 sys::map(f.slot, s1, 0x40000000, rw) == 0;
    check(other && sys::batch(f.slot, 1) == err(Errno::Busy),
          "batch: a frame mapped in another address space is refused");
    check(other && sys::unmap_table(t2.slot) == err(Errno::Busy) &&
              sys::unmap_table(t1.slot) == err(Errno::Busy),
          "UnmapTable: a table holding a page, or a table holding that table, is refused");
    check(sys::unmap(f.slot) == 0 && sys::unmap_table(t1.slot) == err(Errno::Busy),
          "UnmapTable: with no page left, a table holding a table is still refused");
    check(sys::unmap_table(t2.slot) == 0 && sys::unmap_table(t1.slot) == 0 &&
              sys::cap_delete(s1) == 0,
          "batch: the other address space goes (its tables leaf level first)");
    (void)g_book.buddy.free(t1), (void)g_book.buddy.free(t2), (void)g_book.buddy.free(as_block);

    // Entries that change the batch page's own capability end the batch
    // before the kernel writes into the page again. f as the batch page:
    // entries written through a mapping that goes before the call.
    check(sys::map(f.slot, self_as, va + 0x2000, rw) == 0, "batch: map a second batch page");
    auto* g = reinterpret_cast<abi::BatchEntry*>(va + 0x2000);
    set_entry(g[0], Sys::Retype, f.slot, uint64_t(abi::ObjType::Endpoint), s1);
    set_entry(g[1], Sys::CapCopy, b.slot, 0, s2, rwm, 0);
    check(sys::unmap(f.slot) == 0 && sys::batch(f.slot, 2) == 1 &&
              (sys::cap_info(s1) & 0xff) == int64_t(abi::ObjType::Endpoint) &&
              sys::cap_info(s2) == err(Errno::BadSlot),
          "batch: an entry that retypes the batch page ends the batch (nothing more run)");
    check(sys::cap_delete(s1) == 0 && (sys::cap_info(f.slot) >> 24 & abi::kCapDonated) == 0,
          "batch: the endpoint made of the batch page deletes cleanly");
    // Through a copy: delete the copy, then retype the frame it came from.
    check(sys::cap_copy(f.slot, 0, s3, rwm, 0) == 0 && sys::map(s3, self_as, va + 0x2000, rw) == 0,
          "batch: map a copy as the batch page");
    set_entry(g[0], Sys::CapDelete, s3);
    set_entry(g[1], Sys::Retype, f.slot, uint64_t(abi::ObjType::Endpoint), s4);
    check(sys::batch(s3, 2) == 1 && sys::cap_info(s3) == err(Errno::BadSlot) &&
              sys::cap_info(s4) == err(Errno::BadSlot) &&
              (sys::cap_info(f.slot) >> 24 & abi::kCapDonated) == 0,
          "batch: an entry that deletes the batch page's capability ends the batch");

    // FrameZero of the batch page itself: the result written after it
    // makes the page non-zero again, so the kernel must not take it for
    // zero (a table made in it would keep a junk entry and never be empty).
    check(sys::map(f.slot, self_as, va + 0x2000, rw) == 0, "batch: map f as the batch page again");
    set_entry(g[0], Sys::Unmap, f.slot);
    set_entry(g[1], Sys::FrameZero, f.slot);
    g[2] = abi::BatchEntry{}; // number 0: not batchable, its result is written
    check(sys::batch(f.slot, 3) == 2,
          "batch: unmap and FrameZero its own page, then a refused entry");
    constexpr uint64_t kTableVa = 0x3500000000; // a 1 GiB region mm does not use
    check(sys::map_table(f.slot, self_as, kTableVa) >= 0 && sys::unmap_table(f.slot) == 0,
          "batch: a page FrameZero zeroed and the batch then wrote is cleared as a table");

    (void)sys::unmap(b.slot);
    g_slots.free(s1), g_slots.free(s2), g_slots.free(s3), g_slots.free(s4);
    (void)g_book.buddy.free(f), (void)g_book.buddy.free(b);
}

} // namespace

void selftest() {
    constexpr uint64_t kTestVa = 0x3100000000;
    const uint64_t self_as = abi::kSlotSelfAs;
    const uint64_t rw = abi::kRightRead | abi::kRightWrite;
    uint64_t free_before = g_book.buddy.free_frames();
    int tables_before = mm_self().table_count;

    Block f = g_book.buddy.alloc(0).value();
    uint32_t s1 = g_slots.alloc().value(), s2 = g_slots.alloc().value(),
             s3 = g_slots.alloc().value();

    int level = -1;
    check(sys::map(f.slot, self_as, kTestVa, rw, &level) == err(Errno::NeedTable) && level == 1,
          "map where no table exists asks for a level-1 table");
    check(map_with_tables(&mm_self(), f.slot, self_as, kTestVa, rw).ok(),
          "map succeeds once mm donates the tables");
    check(sys::map(f.slot, self_as, kTestVa + 0x1000, rw) == err(Errno::Busy),
          "a frame capability maps once (a copy is needed to share)");
    check(sys::cap_copy(f.slot, 0, s1, abi::kRightsAll, 0) == 0 &&
              sys::map(s1, self_as, kTestVa, rw) == err(Errno::Exist),
          "mapping over an existing mapping is refused");
    check(sys::map(s1, self_as, kTestVa + 0x1000, rw) == 0, "a copy maps the frame a second time");
    *reinterpret_cast<volatile uint64_t*>(kTestVa) = 0xabcd;
    check(*reinterpret_cast<volatile uint64_t*>(kTestVa + 0x1000) == 0xabcd,
          "both mappings show the same frame");
    check(sys::cap_revoke(f.slot) == 1 && sys::cap_info(s1) == err(Errno::BadSlot),
          "revoke deletes the copy");
    check(sys::map(s1, self_as, kTestVa + 0x1000, rw) == err(Errno::BadSlot) &&
              sys::cap_copy(f.slot, 0, s1, abi::kRightsAll, 0) == 0 &&
              sys::map(s1, self_as, kTestVa + 0x1000, rw) == 0,
          "revoke removed the copy's mapping (its address maps again)");
    (void)sys::cap_delete(s1);
    check(sys::unmap(f.slot) == 0 && sys::unmap(f.slot) == err(Errno::Inval),
          "unmap, and unmap of an unmapped frame is refused");
    // A copy cannot be donated while the frame it came from can still map
    // the memory (host fuzzer: a retyped copy let user space forge caps).
    check(sys::cap_copy(f.slot, 0, s1, abi::kRightsAll, 0) == 0 &&
              sys::retype(s1, abi::ObjType::Endpoint, s2) == err(Errno::Busy) &&
              sys::map_table(s1, self_as, kTestVa) == err(Errno::Busy) && sys::cap_delete(s1) == 0,
          "a copy of a frame cannot be retyped or become a page table");
    // FrameZero: the kernel zeroes a frame that is free for use (it holds
    // 0xabcd from above).
    check(sys::frame_zero(f.slot) == 0 && sys::map(f.slot, self_as, kTestVa, rw) == 0 &&
              *reinterpret_cast<volatile uint64_t*>(kTestVa) == 0,
          "FrameZero zeroes a frame");
    *reinterpret_cast<volatile uint64_t*>(kTestVa) = 0xabcd;
    check(sys::frame_zero(f.slot) == err(Errno::Busy) && sys::unmap(f.slot) == 0,
          "FrameZero of a mapped frame is refused");
    check(sys::cap_copy(f.slot, 0, s1, abi::kRightsAll, 0) == 0 &&
              sys::frame_zero(f.slot) == err(Errno::Busy) &&
              sys::frame_zero(s1) == err(Errno::Busy) && sys::cap_delete(s1) == 0,
          "FrameZero of a frame with a copy, or of the copy, is refused");
    check(sys::frame_zero(self_as) == err(Errno::BadType) &&
              sys::frame_zero(uint64_t{1} << 40) == err(Errno::Range),
          "FrameZero of an address space or a slot past the table is refused");
    check(sys::map(f.slot, self_as, kTestVa, rw) == 0 &&
              *reinterpret_cast<volatile uint64_t*>(kTestVa) == 0xabcd && sys::unmap(f.slot) == 0,
          "a refused FrameZero changed nothing");

    check(sys::map(f.slot, self_as, abi::kMaxVa, abi::kRightRead) == err(Errno::Range),
          "map at MAXVA is refused");
    check(sys::map(f.slot, self_as, abi::kTrampolineVa, abi::kRightRead) == err(Errno::Range),
          "map over the trampoline is refused");
    check(sys::map(f.slot, self_as, abi::kTrapframeVa, abi::kRightRead) == err(Errno::Range),
          "map over the trapframe is refused");
    check(sys::map(f.slot, self_as, ~uint64_t{0} & ~uint64_t{0xfff}, abi::kRightRead) ==
              err(Errno::Range),
          "map at 2^64 - 4096 is refused");
    check(sys::map(f.slot, self_as, kTestVa + 0x123, abi::kRightRead) == err(Errno::Inval),
          "map at an unaligned address is refused");
    check(sys::map(f.slot, self_as, kTestVa,
                   abi::kRightWrite | abi::kRightExec | abi::kRightRead) == err(Errno::Inval),
          "W+X is refused");
    check(sys::map(f.slot, self_as, kTestVa, abi::kRightWrite) == err(Errno::Inval),
          "W without R is refused");
    check(sys::map(f.slot, self_as, kTestVa, 0x80) == err(Errno::Inval),
          "unknown rights bits are refused");
    check(sys::cap_copy(f.slot, 0, s1, abi::kRightRead | abi::kRightMap, 0) == 0 &&
              sys::map(s1, self_as, kTestVa, rw) == err(Errno::Perm),
          "a read-only copy cannot map writable");
    (void)sys::cap_delete(s1);
    check(sys::cap_copy(f.slot, 0, s1, abi::kRightRead, 0) == 0 &&
              sys::map(s1, self_as, kTestVa, abi::kRightRead) == err(Errno::Perm),
          "a copy without the map right cannot map");
    check(sys::retype(s1, abi::ObjType::Endpoint, s2) == err(Errno::Perm),
          "a copy without the donate right cannot be retyped");
    check(sys::cap_delete(f.slot) == err(Errno::Busy), "a frame with copies cannot be deleted");
    (void)sys::cap_delete(s1);

    check(sys::retype(f.slot, abi::ObjType::AddressSpace, s1) == err(Errno::Inval),
          "an address space needs an order-2 frame");
    check(sys::retype(f.slot, abi::ObjType::Frame, s1) == err(Errno::Inval),
          "retype into a frame is refused");
    check(sys::retype(f.slot, abi::ObjType::Endpoint, s1) == 0, "retype the frame as an endpoint");
    check(sys::map(f.slot, self_as, kTestVa, abi::kRightRead) == err(Errno::Busy),
          "a donated frame cannot be mapped");
    check(sys::cap_copy(f.slot, 0, s2, abi::kRightsAll, 0) == err(Errno::Busy),
          "a donated frame cannot be copied");
    check(sys::cap_delete(f.slot) == err(Errno::Busy), "a donated frame cannot be deleted");
    check(sys::cap_copy(s1, 0, s2, abi::kRightsAll, 0) == 0 && sys::cap_delete(s2) == 0,
          "copy and delete an endpoint capability");
    sys::Msg m;
    check(sys::call(s2, m) == err(Errno::BadSlot), "IPC to a deleted endpoint is refused");
    check(sys::reply(m) == err(Errno::NoCaller), "reply with no caller is refused");
    check(sys::cap_delete(s1) == 0 && sys::map(f.slot, self_as, kTestVa, rw) == 0 &&
              *reinterpret_cast<volatile uint64_t*>(kTestVa) == 0,
          "deleting the endpoint gives back a zeroed, mappable frame");
    (void)sys::unmap(f.slot);

    // Thread capabilities: every thread call needs Write (Read to be the
    // source of ThreadCopyRegs); a copy with fewer rights gets EPERM.
    check(sys::retype(f.slot, abi::ObjType::Thread, s1) == 0 &&
              sys::cap_copy(s1, 0, s2, abi::kRightRead, 0) == 0,
          "a thread and a read-only copy of its capability");
    check(sys::thread_start(s2) == err(Errno::Perm) &&
              sys::thread_suspend(s2) == err(Errno::Perm) &&
              sys::thread_write_regs(s2, 0x10000, 0, 0, 0) == err(Errno::Perm),
          "a thread capability without Write cannot start, suspend or set registers");
    check(sys::cap_delete(s2) == 0 && sys::cap_copy(s1, 0, s2, abi::kRightWrite, 0) == 0 &&
              sys::thread_copy_regs(s1, s2, 0, 0) == err(Errno::Perm),
          "a thread capability without Read cannot be the source of ThreadCopyRegs");
    check(sys::cap_delete(s2) == 0 && sys::cap_delete(s1) == 0, "the thread and its copy go");

    Block big = g_book.buddy.alloc(1).value();
    check(sys::frame_split(big.slot, s1, s2) == 0 &&
              sys::map(big.slot, self_as, kTestVa, abi::kRightRead) == err(Errno::Busy),
          "a split frame cannot be mapped");
    check(sys::frame_split(big.slot, s3, s3) == err(Errno::Inval) ||
              sys::frame_split(big.slot, s3, s3) == err(Errno::Busy),
          "a frame splits only once");
    check(sys::cap_delete(s1) == 0 && sys::cap_delete(s2) == 0 &&
              (sys::cap_info(big.slot) >> 24 & abi::kCapSplit) == 0,
          "deleting both halves makes the frame whole again");
    check(sys::frame_split(f.slot, s1, s2) == err(Errno::Inval), "an order-0 frame cannot split");

    // In-place splits and merges (a slot per split).
    check(sys::frame_split(big.slot, big.slot, big.slot) == err(Errno::Exist),
          "an in-place split into its own slot is refused");
    check(sys::frame_split(big.slot, big.slot, s1) == 0 &&
              (sys::cap_info(big.slot) >> 16 & 0xff) == 0 && (sys::cap_info(s1) >> 16 & 0xff) == 0,
          "an in-place split leaves two order-0 halves");
    check(sys::frame_merge(s1, big.slot) == err(Errno::Inval),
          "a merge needs the lower half first");
    check(sys::frame_merge(big.slot, big.slot) == err(Errno::Inval),
          "a frame cannot merge with itself");
    check(sys::frame_merge(big.slot, f.slot) == err(Errno::Inval),
          "frames that are not buddies do not merge");
    check(sys::frame_merge(big.slot, abi::kSlotSelfThread) == err(Errno::BadType),
          "a merge takes frames");
    check(sys::frame_merge(big.slot, s3) == err(Errno::BadSlot),
          "a merge with an empty slot is refused");
    check(sys::cap_copy(s1, 0, s2, abi::kRightsAll, 0) == 0 &&
              sys::frame_merge(big.slot, s1) == err(Errno::Busy) && sys::cap_delete(s2) == 0,
          "a half with a copy does not merge");
    check(sys::frame_merge(big.slot, s1) == 0 && (sys::cap_info(big.slot) >> 16 & 0xff) == 1 &&
              sys::cap_info(s1) == err(Errno::BadSlot),
          "merging the halves makes the order-1 frame again");

    // CapMove: a frame capability changes slots (mm's compaction).
    {
        uint64_t pa = 0, pa2 = 0;
        const int64_t info = sys::cap_info(big.slot, &pa);
        check(sys::cap_move(big.slot, big.slot) == err(Errno::Exist),
              "a move needs an empty destination");
        check(sys::cap_move(s3, s2) == err(Errno::BadSlot), "a move of an empty slot is refused");
        check(sys::cap_move(big.slot, 0) == err(Errno::Range), "a move to slot 0 is refused");
        check(sys::cap_move(abi::kSlotSelfThread, s3) == err(Errno::BadType),
              "only frames move (a thread does not)");
        check(sys::cap_move(5, s3) == err(Errno::Busy),
              "mm's kernel-stack frame does not move (its thread points at it)");
        check(sys::cap_move(big.slot, s3) == 0 && sys::cap_info(big.slot) == err(Errno::BadSlot) &&
                  sys::cap_info(s3, &pa2) == info && pa2 == pa,
              "a free frame moves: the same capability in the new slot, the old one empty");
        check(sys::frame_split(s3, s3, s1) == 0 && sys::frame_merge(s3, s1) == 0 &&
                  sys::cap_info(s3) == info,
              "the moved capability splits and merges in place");
        check(sys::cap_copy(s3, 0, s2, abi::kRightsAll, 0) == 0 &&
                  sys::cap_move(s3, big.slot) == 0 &&
                  sys::cap_delete(big.slot) == err(Errno::Busy) && sys::cap_delete(s2) == 0 &&
                  sys::cap_info(big.slot) == info,
              "a frame with a copy moves and keeps its child");
    }
    (void)g_book.buddy.free(big);

    // The two-level capability space: a leaf from a frame of mm's own.
    {
        const uint64_t top = g_slots.leaves(), max = g_slots.max_leaves();
        Block lf = g_book.buddy.alloc(0).value(), src = g_book.buddy.alloc(0).value();
        check(sys::cap_attach(0, lf.slot, top) == err(Errno::BadType),
              "attach of a frame (not a table) is a type error");
        check(sys::cap_attach(0, s3, top) == err(Errno::BadSlot),
              "attach of an empty slot is refused");
        check(sys::retype(lf.slot, abi::ObjType::CapTable, s1) == 0,
              "retype a frame as a leaf table");
        check(sys::cap_attach(0, s1, 0) == err(Errno::Range), "index 0 is the root: out of range");
        check(sys::cap_attach(0, s1, max) == err(Errno::Range),
              "an index past the directory is refused");
        check(sys::cap_attach(0, s1, 1) == err(Errno::Exist), "an index in use is refused");
        check(sys::cap_attach(abi::kSlotSelfThread, s1, top) == err(Errno::BadType),
              "attach into a thread (not a table) is a type error");
        check(sys::cap_copy(s1, 0, s2, abi::kRightsAll, 0) == 0 &&
                  sys::cap_attach(0, s2, top) == err(Errno::Inval) && sys::cap_delete(s2) == 0,
              "a copy of the leaf's capability cannot attach it");
        check(sys::cap_copy(src.slot, s1, 5, abi::kRightsAll, 0) == 0 &&
                  sys::cap_attach(0, s1, top) == err(Errno::Busy) && sys::cap_revoke(src.slot) == 1,
              "a leaf that holds a capability cannot attach");
        check(sys::cap_attach(0, s1, top) == 0, "attach the leaf at the top of mm's space");
        const uint64_t in_leaf = top * 64 + 1;
        check(sys::cap_info(in_leaf) == err(Errno::BadSlot) &&
                  sys::cap_info(top * 64) == err(Errno::Range),
              "its slots are empty slots, its header is no slot");
        check(sys::cap_attach(0, s1, top + 1) == err(Errno::Busy), "a leaf attaches once");
        check(sys::cap_delete(s1) == err(Errno::Busy), "an attached leaf cannot be deleted");
        check(sys::cap_detach(0, 0) == err(Errno::Inval), "the root cannot be detached");
        check(sys::cap_detach(0, max) == err(Errno::Range), "detach past the directory is refused");
        check(sys::cap_detach(0, top + 1) == err(Errno::BadSlot) || top + 1 >= max,
              "detach where no leaf is attached is refused");
        check(sys::cap_detach(0, 1) == err(Errno::Perm), "a boot leaf cannot be detached");
        check(sys::cap_copy(src.slot, 0, in_leaf, abi::kRightsAll, 0) == 0 &&
                  sys::cap_info(in_leaf) >= 0 && sys::cap_detach(0, top) == err(Errno::Busy),
              "a capability lives in the new leaf; a leaf in use cannot be detached");
        check(sys::cap_delete(in_leaf) == 0 && sys::cap_detach(0, top) == 0 &&
                  sys::cap_info(in_leaf) == err(Errno::Range),
              "emptied, it detaches, and its slots are gone");
        check(sys::cap_delete(s1) == 0, "a detached leaf's table can be deleted");
        (void)g_book.buddy.free(lf);
        (void)g_book.buddy.free(src);
    }

    g_slots.free(s1), g_slots.free(s2), g_slots.free(s3);
    (void)g_book.buddy.free(f);
    batch_checks(kTestVa + 0x10000);
    // The tables donated for the test mappings go back, leaf level first.
    bool tables_back = true;
    while (mm_self().table_count > tables_before) {
        Block t = pop_table(&mm_self());
        tables_back = tables_back && sys::unmap_table(t.slot) == 0;
        free_frames(&mm_self(), Use::PageTable, t);
    }
    check(tables_back, "the emptied page tables are given back");
    check(g_book.buddy.free_frames() == free_before, "every frame is back after the self-test");
    sys::printf("mm: self-test: %d failure(s)\n", g_selftest_failures);
}

} // namespace capframe::mm
