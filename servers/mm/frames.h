// Frames, charges and limits: the buddy allocator over mm's frame
// capabilities, who is charged for what (Accounting), the memory limits of
// process trees (groups), sbrk's reservations, and the fault injection of
// the tests (FailAlloc). Every frame mm hands out goes through here.
#pragma once

#include <cstdint>

#include "accounting.h"
#include "buddy.h"
#include "proc.h"
#include "result.h"

namespace capframe::mm {

// The allocator's capability operations: the kernel splits and (by deleting
// the halves) merges frame capabilities.
struct KernelFrameOps {
    Result<SplitSlots> split(uint32_t slot, uint8_t order);
    // In one batch (one kernel call) when mm's batch is empty, else a call
    // each.
    uint8_t split_chain(uint32_t slot, uint8_t from, uint8_t to, SplitSlots* halves, Error& error);
    uint64_t chain_batches = 0; // batches split_chain made (tests)
    Result<void> merge(uint32_t parent, uint32_t lower, uint32_t upper);
    // alloc_pages's splits, in one batch when mm's batch is empty and the
    // slots for the upper halves are free (Buddy's FrameCapBulkOps).
    bool bulk_begin(uint32_t splits);
    uint32_t bulk_split(uint32_t slot);
    uint32_t bulk_run();
    uint64_t bulk_batches = 0; // batches bulk_run made (tests)

  private:
    uint32_t bulk_uppers_[abi::kBatchMax] = {};
    uint32_t bulk_n_ = 0;
};

// While deferred, the two deletes of each merge go into mm's batch (run
// when it is full, by flush_deferred_merges and by the outermost
// end_deferred_merges; flush_deferred_merges lets them ride in front of
// the next caller's calls) and their slots are freed only once they ran: a
// process's teardown makes a kernel call per batch of merges instead of two
// per merge. In between nothing may allocate frames or slots, and whoever
// queues other calls in mm's batch flushes the merges first.
void begin_deferred_merges();
void end_deferred_merges();
// The same where the request's answer comes next: the merges ride it
// (after the calls riding it already) instead of running now.
void end_deferred_merges_riding();
// A caller about to queue up to `room` calls: the merges ride in front of
// them (Batch::carry) when they fit, else they run now.
void flush_deferred_merges(uint64_t room);

struct Group { // a memory limit on a process tree
    bool used;
    int parent; // enclosing group or -1
    int refs;   // member processes and child groups
    uint64_t limit, charged;
    int setter, target; // who set it on whom (pids): a second setlimit replaces it
};
// One group per (setter, target) pair: a process's own, its parent's on it.
inline constexpr int kMaxGroups = 2 * kMaxProcs + 2;

// Small blocks freed that stay unmerged for the next allocations
// (Buddy::hold): a process's exit and the next one's fork (its address
// space object, order 2, its other objects and tables) then cost no split
// and no merge in the kernel. At most
// kHeldPages frames stay in blocks where larger ones could be, and an
// allocation that finds nothing free merges them first.
inline constexpr uint32_t kHeldPages = 64;
inline constexpr uint8_t kHeldMaxOrder = 2;

struct FrameBook {
    KernelFrameOps ops;
    Buddy<KernelFrameOps> buddy{ops};
    Accounting acct;
    Group groups[kMaxGroups] = {};
    uint64_t free_at_start = 0;
    uint64_t reserved = 0; // frames promised to heaps (sbrk) but not yet mapped
    uint64_t lazy = 0;     // kMapLazy mappings: each will take a slot when made
    // Tests (FailAlloc): the fail_after-th allocation made for pid
    // fail_pid's next request fails (0: off). Only that request counts (not
    // page faults, not other processes), and the failure is off after it.
    uint64_t fail_after = 0;
    int fail_pid = 0;
    int serving_pid = 0; // whose request mm is handling (0: a fault or nobody)
};
extern FrameBook g_book;

uint64_t available(); // free frames not promised to anybody
// The frame accounting: frames promised by sbrk count as in use ("shared")
// and not as free, so that free + in use = total.
Snapshot books_snapshot();

// Where a frame comes from: free memory, or what sbrk promised p for its
// heap pages or for the page tables of its heap.
enum class From : uint8_t { Free, Heap, HeapTables };
// Frames for p (null: mm itself). Out of a promise the frame was already
// counted against memory and the limits; it cannot fail, so an injected
// failure does not land there but on the reservation.
Result<Block> alloc_frames(Proc* p, Use use, uint8_t order, From from = From::Free);
// Up to n (at most Buddy's kMaxBulkPages) one-page frames at once, their
// splits in one kernel call: as n calls of alloc_frames(p, use, 0, from)
// would be charged and checked: out of free memory as many as it holds
// (for a process all or none within its limits: 0 when they do not fit,
// then alloc_frames says why, page by page); out of a promise as many as
// it holds. How many it got, into out; NoMemory
// for an injected failure (FailAlloc), as alloc_frames.
Result<uint32_t> alloc_pages(Proc* p, Use use, uint32_t n, From from, Block* out);
void free_frames(Proc* p, Use use, Block b);
// A frame taken out of p's heap promise (From::Heap) and not used after
// all: free again, and promised again (the inverse of that allocation).
void free_to_reserve(Proc* p, Use use, Block b);
// sbrk's promises, charged as "Shared" until they become pages. For
// FailAlloc a reservation counts as one allocation.
Result<void> reserve(Proc* p, uint64_t n);
void unreserve(Proc* p, uint64_t n);
// n of p's heap promise are for page tables (sbrk), or go back.
void reserve_to_tables(Proc* p, uint64_t n);
void unreserve_tables(Proc* p, uint64_t n);
// n frames of `use` change hands (a shared frame's last owner leaves).
void transfer_charge(Proc* from, Proc* to, Use use, uint64_t n);
// fork's promises for copy-on-write copies: n frames held by p (charged as
// "Shared"); FailAlloc counts it as one allocation.
Result<void> reserve_cow(Proc* p, uint64_t n);
// Room for n more lazy mappings (kMapLazy: a slot each when made), growing
// the capability space if the frames for its leaves are there.
Result<void> reserve_lazy_slots(uint64_t n);
void unreserve_cow(Proc* p, uint64_t n);
// The copy of a shared page for p, out of the unit `holder` kept for it (it
// cannot fail for lack of memory; the copy is charged to p, limit or not).
Result<Block> alloc_cow_copy(Proc* p, Proc* holder);
// Undoes alloc_cow_copy (the copy could not be made).
void return_cow_copy(Proc* p, Proc* holder, Block b);
// Moves every charge of `from` to `to` (exec's new image becomes the process).
void move_charges(Proc* from, Proc* to);
// Releases what is still charged to p (a bug if anything); returns it.
uint64_t release_charges(Proc* p);

// mm's capability space (slots.h) grows inside alloc_frames/reserve; this
// gives back the leaves at its top, moving the capabilities in them down
// first (CapMove). all: down to what the promises need, and pages, copies
// and page tables move too (only between requests: no slot number may be
// held across the call); otherwise two leaves' worth stay, so that a
// process at the edge does not make mm attach and detach a leaf per page,
// and only free blocks move.
void slots_trim(bool all);
uint64_t leaf_frames(); // frames mm holds as leaves of its space

// Limit groups.
void group_get(int g);
void group_put(int g);
// setlimit: a frame limit on pid (0: the caller) and all it forks later.
int64_t set_limit(Proc* p, int pid, uint64_t frames);

} // namespace capframe::mm
