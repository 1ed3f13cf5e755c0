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
