// Pages of processes: mapping fresh, shared and copied frames into address
// spaces (with the page tables the kernel asks for), mm's windows onto
// frames it fills or reads, demand-zero and copy-on-write, and copies
// between mm and a process's memory.
#pragma once

#include <cstdint>

#include "buddy.h"
#include "capframe/abi.h"
#include "proc.h"
#include "result.h"

namespace capframe::mm {

inline constexpr uint64_t kScratchVa = 0x3000000000; // mm's windows onto frames it fills or reads
inline constexpr uint64_t kScratchSrcVa = kScratchVa + kPage;
inline constexpr uint64_t kHeapTop = abi::kStackGuardVa;

// Maps `frame` in an address space, donating page-table pages as the kernel
// asks for them (charged to `owner`, recorded for teardown).
Result<void> map_with_tables(Proc* owner, uint64_t frame, uint64_t as, uint64_t va,
                             uint64_t rights);

// Donates the page-table page the kernel asks for on the way to va in `as`
// (a Map failed with NeedTable), charged to owner.
Result<void> donate_table(Proc* owner, uint64_t as, uint64_t va);
// The frame donate_table would donate for va (the caller donates it and
// push_table()s it, or frees it as a PageTable frame).
Result<Block> table_frame(Proc* owner, uint64_t va);

// The page tables a fresh address space needs for pages at given
// addresses, made up front: their frames first (as table_frame takes them;
// a split made while calls wait in mm's batch would be a kernel call of
// its own), then their MapTables queued in mm's batch in front of the
// calls that need them, a region's level-1 table before its level-0 ones
// (so drop_tables still takes the leaves first). Without them each table
// is found missing by a Map in mid-batch: a frame split of its own while
// the batch waits, and the batch run again (issue 14). Regions the address
// space object covers itself (the trapframe's 2 MiB, and so the stack)
// need none; whatever is not made here (more than kMax tables) a Map still
// asks for.
struct FreshTables {
    static constexpr uint32_t kMax = 8;
    uint64_t va[kMax];   // a page in each table's range, in making order
    uint32_t wanted = 0; // tables found missing (up to kMax)
    Block frame[kMax];
    uint32_t n = 0;     // frames allocated, for va[0..n)
    uint64_t first = 0; // the first MapTable's index in mm's batch
    // Notes the tables pages in [start, end) need (page aligned).
    void cover(uint64_t start, uint64_t end);
    // Their frames, charged to owner (NoMemory, and none taken, if one
    // cannot be had: the Map that needs it would fail the same way); then
    // their MapTables into `as`.
    Result<void> allocate(Proc* owner);
    void queue(Proc* owner, uint64_t as); // (listed as owner's tables at once)
    // After the batch ran `done` of its calls: the tables not made are
    // taken off owner's list and their frames go back.
    void ran(Proc* owner, uint64_t done);
};

// mm's windows onto a frame: `slot` (a capability that is not mapped
// anywhere) is mapped at va until unwindow(); null if it cannot be.
void* window(uint64_t slot, uint64_t va, bool writable);
void unwindow(uint64_t slot);

// Fresh pages for p, filled and mapped in p, up to kFillPages at a time in
// one or two kernel calls (batches): the first maps windows at kFillVa.. for
// the pages with bytes to write (if any), mm writes them, the second takes
// those windows down, has the kernel zero the others (FrameZero: no window)
// and maps the pages in p (through a new copy of each capability if
// through_copy). add() queues a page (taking its frame now, so that an
// allocation failure is the add's); the group goes when it is full and at
// finish(). src must stay valid until then. A page not placed goes back
// (also when the filler goes out of scope), to p's heap promise if it came
// out of it; on error p has exactly the
// pages placed, and add()/finish() say the first error.
inline constexpr uint64_t kFillPages = 16;
inline constexpr uint64_t kFillVa = kScratchVa + 64 * kPage; // same leaf table as kScratchVa
class PageFiller {
  public:
    explicit PageFiller(Proc* p, bool from_reserve = false, bool through_copy = false)
        : p_(p), from_reserve_(from_reserve), through_copy_(through_copy) {}
    ~PageFiller();
    PageFiller(const PageFiller&) = delete;
    PageFiller& operator=(const PageFiller&) = delete;
    // About n add()s follow: their frames are taken up to 32 at a time
    // (alloc_pages: the splits in one kernel call) instead of one by one.
    // Those not used go back at finish().
    void expect(uint64_t n) { expected_ = n; }
    // A page at va: zeroed, `len` bytes of src at offset `at`.
    Result<void> add(uint64_t va, uint64_t flags, const uint8_t* src, uint64_t len,
                     uint64_t at = 0);
    Result<void> finish();

  private:
    struct Page {
        Block b;
        uint64_t va, flags;
        const uint8_t* src;
        uint64_t len, at;
    };
    Result<void> flush();
    void drop(uint64_t from); // gives queued pages [from, n_) back
    void give_back(Block b);  // free, and promised again if it came out of the promise
    Proc* p_;
    bool from_reserve_, through_copy_;
    Page q_[kFillPages];
    uint64_t n_ = 0;
    uint64_t expected_ = 0;
    Block stock_[BuddyCore::kMaxBulkPages]; // frames taken ahead (expect)
    uint32_t stocked_ = 0, stock_next_ = 0;
    void return_stock();
};

// A demand-zero fault at va in p's heap: the page, and when sbrk promised
// the heap, up to kFaultAround - 1 promised pages after it that are not
// there yet (a sequential toucher then enters the kernel twice per 16
// pages instead of four or five times per page: the fault, mm's two
// batches, the reply).
inline constexpr uint64_t kFaultAround = 16;
// sbrk places a growth of up to this many pages at once (sbrk.cpp).
inline constexpr uint64_t kEagerSbrkPages = 16;
Result<void> fault_heap(Proc* p, uint64_t va);
// A fresh page at va in p: zeroed, or `len` bytes of src at offset `at`.
// from_reserve: a frame sbrk promised. through_copy: mapped through a copy
// of its capability (so that revoking the frame removes the mapping).
Result<void> new_page(Proc* p, uint64_t va, uint64_t flags, const uint8_t* src, uint64_t len,
                      uint64_t at = 0, bool from_reserve = false, bool through_copy = false);
// new_page for a zeroed page, its kernel calls riding the answer to the
// request (Batch::ride: FrameZero, [CapCopy,] Map, made with the reply)
// when p's page tables for va are known to be there (p->table_hint), so
// that none can fail; otherwise (or no room to ride) new_page itself. The
// page is in the books at once; the caller answers next, before anything
// else reaches the kernel. Nothing may map va in p yet (the caller checks).
Result<void> new_page_riding(Proc* p, uint64_t va, uint64_t flags, bool from_reserve,
                             bool through_copy);
// Shares frame `idx` into p at va (fork): through a new copy of its capability.
Result<void> share_page(Proc* p, uint64_t va, uint64_t flags, uint64_t idx);
// A write fault on a copy-on-write page (mapping i): the last sharer takes
// the frame over; otherwise the page is copied.
Result<void> break_cow(Proc* p, uint32_t i);
// Lazy mapping i of p (kMapLazy, fork) made in the kernel, with up to
// kFaultAround - 1 lazy pages right above it: a copy of each frame's
// capability mapped with the record's rights, two calls a page in one batch.
// Error (the page stays lazy) only if mapping i could not be made.
Result<void> materialize(Proc* p, uint32_t i);
uint64_t rights_of(uint64_t flags);

bool in_heap(const Proc* p, uint64_t va);
// Whether p may write [va, va + n) (what copy_user to it would accept),
// made so if it is not yet (touch: a first touch, a copy-on-write copy), so
// that p's own store there cannot fault; mm writes nothing there. A page
// mapped writable costs no kernel call.
bool user_writable(Proc* p, uint64_t va, uint64_t n);
bool in_stack(uint64_t va);
// Makes the page at va present (and writable if asked) in p, as a fault
// would: demand-zero heap and stack, copy-on-write. Fault if va is not p's.
Result<uint32_t> touch(Proc* p, uint64_t va, bool write);

// While one lives, copy_user and copy_string keep the window of the last
// page they used instead of taking it down (two kernel calls a page), so
// that exec's path, argv and strings, mostly on one page, cost one window.
// The window's capability is a copy of the frame's, which stops the frame
// from being freed or merged: nothing may free frames while one lives.
class UserWindowScope {
  public:
    UserWindowScope();
    ~UserWindowScope();
    UserWindowScope(const UserWindowScope&) = delete;
    UserWindowScope& operator=(const UserWindowScope&) = delete;

  private:
    bool outer_; // inside another: that one keeps the window
};

// Copies between mm and p's memory, a page at a time through a window.
Result<void> copy_user(Proc* p, uint64_t va, void* buf, uint64_t n, bool to_user);
// A NUL-terminated string of at most max - 1 bytes from p (TooMany if longer).
Result<uint64_t> copy_string(Proc* p, uint64_t va, char* buf, uint64_t max);

} // namespace capframe::mm
