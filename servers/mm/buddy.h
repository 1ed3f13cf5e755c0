// Buddy allocator over frame capabilities, for the memory server mm.
//
// mm holds every free frame as a frame cap naming a naturally aligned run of
// 2^order pages. The kernel can split a cap into caps for its two halves, and
// deleting both children makes the parent whole again. This allocator decides
// which caps to split and merge; the cap operations come from Ops (kernel
// calls in mm, a fake in the host tests). Pure logic and no heap: the caller
// provides one FrameMeta per 4 KiB frame of the managed physical window.
//
// Costs: alloc is O(1) when a block of the asked order is free, otherwise
// O(kMaxOrder) list checks plus one split per level; free is O(1) plus one
// merge per level it coalesces. add_root is O(roots) (a sorted table of the
// roots, no pass over their frames: at 8 GiB that pass was 33M instructions
// of mm's start); check is O(window frames).
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>

#include "addr.h"
#include "result.h"

namespace capframe::mm {

struct Block {
    uint32_t slot; // the frame cap naming this block
    uint64_t pa;   // physical base, aligned to 2^order pages
    uint8_t order; // 2^order pages
};

struct SplitSlots {
    uint32_t lower; // cap for the lower half
    uint32_t upper; // cap for the upper half
};

// The capability operations the allocator needs:
//   split(slot, order): split cap `slot` of that order (> 0) into two caps of
//     order - 1. May fail (e.g. NoMemory or TooMany when the cap table is full).
//   merge(parent, lower, upper): delete the two children of `parent` so that
//     it is usable again. May fail; the allocator then keeps the halves.
// and, if Ops has it (FrameCapChainOps), for an allocation that splits two
// levels or more:
//   split_chain(slot, from, to, halves, error): the splits of `slot` from
//     order `from` down to `to`, in order (halves[j]: the split at order
//     from - j), at once (mm: one kernel call); returns how many were made,
//     `error` saying why the rest were not.
template <class T>
concept FrameCapOps = requires(T& ops, uint32_t slot, uint8_t order) {
    { ops.split(slot, order) } -> std::same_as<Result<SplitSlots>>;
    { ops.merge(slot, slot, slot) } -> std::same_as<Result<void>>;
};

template <class T>
concept FrameCapChainOps = requires(T& ops, uint32_t slot, uint8_t order, SplitSlots* halves,
                                    Error& error) {
    { ops.split_chain(slot, order, order, halves, error) } -> std::same_as<uint8_t>;
};

// and, if Ops has them (FrameCapBulkOps), for alloc_pages: splits queued
// and run together (mm: one kernel call for all of them):
//   bulk_begin(splits): whether that many splits can be queued now;
//   bulk_split(slot): queues an in-place split of cap `slot` (it becomes the
//     lower half) and returns the upper half's cap, before the split runs;
//   bulk_run(): runs what was queued, in order; returns how many succeeded
//     (the upper caps of the rest are forgotten).
template <class T>
concept FrameCapBulkOps = requires(T& ops, uint32_t slot, uint32_t splits) {
    { ops.bulk_begin(splits) } -> std::same_as<bool>;
    { ops.bulk_split(slot) } -> std::same_as<uint32_t>;
    { ops.bulk_run() } -> std::same_as<uint32_t>;
};

// Per-frame metadata: storage owned by the caller, contents private to the
// allocator. 16 bytes: the free-list links are 27-bit frame indices, which
// bounds one window to 2^27 - 1 frames (512 GiB); more memory than that
// takes several allocator instances.
//
// The frame that heads a block records its cap. Independently of that, frame
// j records the cap of the split block whose upper half starts at j: every
// split block has exactly one such midpoint and no two share one, so the
// parent caps needed for merging fit in the same array without a tree.
struct FrameMeta {
    uint32_t slot;       // cap of the block this frame heads
    uint32_t split_slot; // cap of the split block whose upper half starts here
    uint32_t prev : 27;  // free-list links, frame indices (kNil: none)
    uint32_t order : 5;  // order of the block this frame heads
    uint32_t next : 27;
    uint32_t state : 2; // BuddyCore::State
    uint32_t split : 1; // split_slot is valid
    uint32_t held : 1;  // a free block held unmerged (Buddy::hold)
    uint32_t : 1;
};
static_assert(sizeof(FrameMeta) == 16);

// Everything that does not call Ops: metadata, free lists, validation,
// queries. Buddy<Ops> adds alloc and free on top.
class BuddyCore {
  public:
    static constexpr uint8_t kMaxOrder = 26; // the largest block that fits a window
    static constexpr uint32_t kMaxFrames = (uint32_t{1} << 27) - 1;

    static constexpr size_t meta_bytes_for(uint64_t frames) { return frames * sizeof(FrameMeta); }

    // An empty allocator over an empty window, safe to query before init.
    constexpr BuddyCore() {
        for (uint32_t& h : head_)
            h = kNil;
    }

    // Manages the window [window_base_pa, window_base_pa + meta.size() pages),
    // initially empty. Zeroes meta. Misaligned if the base is not page
    // aligned; OutOfRange if the window has more than kMaxFrames frames or
    // wraps. Nothing changes on error. `zeroed`: meta is all zero already
    // (FrameMeta{} is all zero bits: kNone, no links), as the kernel
    // hands mm's books over: not cleared again (a boot cost per frame).
    Result<void> init(uint64_t window_base_pa, std::span<FrameMeta> meta, bool zeroed = false);

    // Hands in a free block that has no parent cap (boot memory). Root blocks
    // never merge with each other. InvalidArgument if order > kMaxOrder,
    // Misaligned if pa is not aligned to the block size, OutOfRange if it is
    // not inside the window, AlreadyMapped if it overlaps a known block,
    // TooMany past kMaxRoots roots. Nothing changes on error.
    Result<void> add_root(Block b);
    // More than the kernel can hand over: at most 32 RAM ranges, each cut
    // into at most two runs of each order.
    static constexpr uint32_t kMaxRoots = 2048;
    uint32_t root_count() const { return root_count_; }

    uint64_t free_frames() const { return free_frames_; }
    uint64_t total_frames() const { return total_frames_; }
    // Pages in free blocks held unmerged (Buddy::hold).
    uint32_t held() const { return held_; }
    uint32_t free_blocks(uint8_t order) const;
    int largest_free_order() const; // -1 when nothing is free

    // Walks all metadata and free lists and verifies every invariant: blocks
    // aligned, inside the window and disjoint; list links consistent; counts
    // matching. O(window frames); for tests and debugging.
    bool check() const;

    // Whether b names exactly a free block (head frame, slot and order).
    bool is_free(Block b) const;
    // Whether b names exactly a free or an allocated block.
    bool is_block(Block b) const { return block_index(b).ok(); }
    // Block b's capability has moved to new_slot (mm compacts its
    // capability space): b, and every split whose lower half it is (an
    // in-place split's parent is its lower half's capability), now name
    // new_slot. InvalidArgument (nothing changes) unless b is exactly a
    // free or an allocated block.
    Result<void> move_block(Block b, uint32_t new_slot);

    // The n-th alloc call from now fails with NoMemory and changes nothing
    // (n = 1: the next one). 0 disables. For fault-injection tests.
    void fail_nth_alloc(uint64_t n) { fail_countdown_ = n; }

    // The most pages one alloc_pages call hands out (Buddy<Ops>).
    static constexpr uint32_t kMaxBulkPages = 32;

    // Calls f(Block, bool is_free) for every block, in address order.
    template <class F>
    void for_each_block(F&& f) const;

  protected:
    // kNone (all zero bits): the frame heads no block; it lies inside one
    // (no pass at add_root or join marks interiors) or outside every root.
    enum State : uint32_t { kNone = 0, kFree = 2, kAllocated = 3 };
    static constexpr uint32_t kNil = kMaxFrames;

    bool injected_fault() { return fail_countdown_ && --fail_countdown_ == 0; }
    // Smallest order >= `order` with a free block; -1 if none.
    int first_free_order(uint8_t order) const;
    // Unlinks the first free block of that order; returns its frame index.
    uint32_t take_free(uint8_t order);
    // The first free block of that order (its frame index), kNil if none.
    uint32_t first_free(uint8_t order) const { return head_[order]; }
    // Frame index of block b in `state` (kFree or kAllocated); InvalidArgument
    // unless b names exactly such a block (head frame, slot and order).
    Result<uint32_t> index_in_state(Block b, State state) const;
    // Frame index of b if it is a free or an allocated block.
    Result<uint32_t> block_index(Block b) const;
    // If block (i, order) has a parent cap, sets the frame indices of the two
    // halves of that parent and returns true.
    bool parent_halves(uint32_t i, uint8_t order, uint32_t& lower, uint32_t& upper) const;
    void push_free(uint32_t i); // onto the front of its order's list
    void push_held(uint32_t i); // the same, marked held
    void unlink(uint32_t i);    // off its list (held no more); state becomes allocated
    uint32_t held_ = 0;
    // Block i (off the lists) becomes its lower half, still off the lists;
    // the upper half goes onto the front of its free list.
    void apply_split(uint32_t i, SplitSlots halves);
    // Lower half i and its upper half (both off the lists) become the parent.
    void join(uint32_t i);
    Block block_at(uint32_t i) const;

    std::span<FrameMeta> meta_;

  private:
    uint64_t base_pfn_ = 0;
    uint64_t total_frames_ = 0;
    uint64_t free_frames_ = 0;
    uint64_t fail_countdown_ = 0;
    uint32_t head_[kMaxOrder + 1] = {};
    // The roots by address (frame index and order), for add_root's overlap
    // check: aligned power-of-two runs overlap only if one holds the other.
    // Packed as first | order << 27 (kMaxFrames and kMaxOrder fit).
    static constexpr uint32_t root(uint32_t first, uint8_t order) {
        return first | uint32_t{order} << 27;
    }
    static constexpr uint32_t root_first(uint32_t r) { return r & kMaxFrames; }
    static constexpr uint64_t root_end(uint32_t r) {
        return root_first(r) + (uint64_t{1} << (r >> 27));
    }
    uint32_t roots_[kMaxRoots] = {};
    uint32_t root_count_ = 0;
    uint32_t free_count_[kMaxOrder + 1] = {};
};

template <class Ops>
class Buddy : public BuddyCore {
    static_assert(FrameCapOps<Ops>, "Ops needs split(slot, order) -> Result<SplitSlots> and "
                                    "merge(parent, lower, upper) -> Result<void>");

  public:
    constexpr explicit Buddy(Ops& cap_ops) : ops_(cap_ops) {}

    // A block of 2^order pages. Takes a free block of that order if there is
    // one; otherwise splits the smallest larger free block down. If a split
    // fails, the splits of this call are merged back (state as before; should
    // a merge fail too, the pieces stay free) and the split's error is
    // returned. NoMemory if nothing large enough is free; InvalidArgument if
    // order > kMaxOrder.
    Result<Block> alloc(uint8_t order);

    // n blocks of one page each into out[0..n) (n <= kMaxBulkPages). The
    // free one-page blocks first; the rest carved out of the smallest free
    // block that holds them all, every split in one bulk_run (Ops with
    // FrameCapBulkOps, when bulk_begin agrees), else one alloc(0) each.
    // The pages not needed stay free as the largest blocks they form, so
    // the allocator's state is what n calls of alloc(0) could have left.
    // Returns how many it got (n, or fewer with `error` saying why).
    uint32_t alloc_pages(uint32_t n, Block* out, Error& error);

    // Returns an allocated block, then merges it with its buddy while the
    // buddy is free and whole. A failed merge stops merging; the block stays
    // free. InvalidArgument (nothing changes) unless b is exactly a block
    // handed out by alloc and not yet freed. A small block may be held
    // instead (hold).
    Result<void> free(Block b);

    // Blocks of up to 2^max_order pages freed are held, up to `pages` pages
    // in all: left free as they are instead of merged with their buddies,
    // at the front of their lists, where the next alloc of that order (or
    // alloc_pages) takes them. Churn (a block freed and the same size asked
    // for next: a process that ends and the next one's objects and tables)
    // then costs no split and no merge, each a kernel call's
    // work. An alloc that finds nothing free merges the held blocks first
    // (release_held), so holding never makes an allocation fail. 0 pages
    // (the default): every free merges.
    void hold(uint32_t pages, uint8_t max_order) { hold_max_ = pages, hold_order_ = max_order; }
    uint32_t hold_limit() const { return hold_max_; }
    // Merges every free block of up to the held order whose buddy is free
    // and whole (the held ones, and any an earlier refused merge left);
    // held() is 0 after.
    void release_held();

  private:
    // Block i (allocated, off the lists) merges upwards while its buddy is
    // free and whole, then goes onto its free list.
    void merge_up(uint32_t i, uint8_t order);
    // Whether block i of `order` would merge with its buddy.
    bool would_merge(uint32_t i, uint8_t order) const;
    void unsplit(uint32_t i, uint8_t order, uint8_t to);
    // alloc_pages's plan: block `root` of `order` is split down to one page
    // (a chain of `order` in-place splits); of the pages it spans, the
    // first `need` are handed out. The upper half split off at order j + 1
    // holds pages [2^j, 2^(j+1)): taken whole as a page (j = 0) or carved
    // in turn. Returns the splits; with `run`, queues them (slots[] gets
    // the upper caps, in order).
    uint32_t carve_plan(uint32_t root, uint8_t order, uint32_t need, bool run, uint32_t* slots,
                        uint32_t& at);
    // Applies the first `budget` splits of the plan, in the order queued;
    // hands out the pages of every chain that completed. A chain cut short
    // leaves its root whole again (free, merged back where the kernel lets
    // it). Returns false once the budget ran out.
    bool carve_apply(uint32_t root, uint8_t order, uint32_t need, const uint32_t* slots,
                     uint32_t& at, uint32_t& budget, Block* out, uint32_t& got);
    // Of the first `need` pages of a carved block, how many lie in its upper
    // half split off at order j + 1 (pages [2^j, 2^(j+1))); 0: none.
    static uint32_t part_need(uint8_t j, uint32_t need) {
        const uint32_t lo = uint32_t{1} << j;
        return need <= lo ? 0 : need - lo < lo ? need - lo : lo;
    }

    Ops& ops_;
    uint32_t hold_max_ = 0;
    uint8_t hold_order_ = 0;
};

template <class F>
void BuddyCore::for_each_block(F&& f) const {
    for (size_t i = 0; i < meta_.size();) {
        const FrameMeta& m = meta_[i];
        if (m.state == kNone) {
            ++i;
            continue;
        }
        f(block_at(static_cast<uint32_t>(i)), m.state == kFree);
        i += size_t{1} << m.order;
    }
}

template <class Ops>
Result<Block> Buddy<Ops>::alloc(uint8_t order) {
    if (injected_fault()) return Error::NoMemory;
    if (order > kMaxOrder) return Error::InvalidArgument;
    int from = first_free_order(order);
    if (from < 0 && hold_max_) { // what held blocks would make
        release_held();
        from = first_free_order(order);
    }
    if (from < 0) return Error::NoMemory;
    auto k = static_cast<uint8_t>(from);
    const uint32_t i = take_free(k);
    if constexpr (FrameCapChainOps<Ops>) {
        if (k > order + 1) {
            SplitSlots halves[kMaxOrder];
            Error error{};
            const uint8_t made = ops_.split_chain(meta_[i].slot, k, order, halves, error);
            for (uint8_t j = 0; j < made; ++j, --k)
                apply_split(i, halves[j]);
            if (k > order) {
                unsplit(i, k, static_cast<uint8_t>(from));
                return error;
            }
            return block_at(i);
        }
    }
    for (; k > order; --k) {
        Result<SplitSlots> halves = ops_.split(meta_[i].slot, k);
        if (!halves) {
            unsplit(i, k, static_cast<uint8_t>(from));
            return halves.error();
        }
        apply_split(i, halves.value());
    }
    return block_at(i);
}

template <class Ops>
uint32_t Buddy<Ops>::alloc_pages(uint32_t n, Block* out, Error& error) {
    if (n > kMaxBulkPages) n = kMaxBulkPages;
    uint32_t got = 0;
    while (got < n && first_free(0) != kNil) {
        if (injected_fault()) {
            error = Error::NoMemory;
            return got;
        }
        out[got++] = block_at(take_free(0));
    }
    const uint32_t need = n - got;
    if constexpr (FrameCapBulkOps<Ops>) {
        uint8_t want = 0;
        while ((uint32_t{1} << want) < need)
            ++want;
        const int from = need > 1 ? first_free_order(want) : -1;
        uint32_t at = 0;
        if (from >= 0) {
            const auto k = static_cast<uint8_t>(from);
            const uint32_t root = first_free(k);
            const uint32_t splits = carve_plan(root, k, need, false, nullptr, at);
            if (injected_fault()) {
                error = Error::NoMemory;
                return got;
            }
            if (ops_.bulk_begin(splits)) {
                uint32_t slots[kMaxBulkPages + kMaxOrder];
                at = 0;
                (void)carve_plan(root, k, need, true, slots, at);
                uint32_t budget = ops_.bulk_run();
                unlink(root);
                at = 0;
                if (!carve_apply(root, k, need, slots, at, budget, out, got))
                    error = Error::NoMemory;
                return got;
            }
        }
    }
    while (got < n) {
        auto b = alloc(0);
        if (!b) {
            error = b.error();
            break;
        }
        out[got++] = b.value();
    }
    return got;
}

template <class Ops>
uint32_t Buddy<Ops>::carve_plan(uint32_t root, uint8_t order, uint32_t need, bool run,
                                uint32_t* slots, uint32_t& at) {
    uint32_t splits = order;
    if (run)
        for (uint8_t k = order; k > 0; --k)
            slots[at++] = ops_.bulk_split(meta_[root].slot);
    // The upper halves, in the order the chain made them (order - 1 first).
    const uint32_t first = run ? at - order : 0;
    for (uint8_t j = order; j-- > 1;) {
        const uint32_t sub = part_need(j, need);
        if (!sub) continue;
        const uint32_t up = root + (uint32_t{1} << j);
        if (run) meta_[up].slot = slots[first + (order - 1 - j)]; // planned, not yet its
        splits += carve_plan(up, j, sub, run, slots, at);
    }
    return splits;
}

template <class Ops>
bool Buddy<Ops>::carve_apply(uint32_t root, uint8_t order, uint32_t need, const uint32_t* slots,
                             uint32_t& at, uint32_t& budget, Block* out, uint32_t& got) {
    for (uint8_t k = order; k > 0; --k) {
        if (budget == 0) {
            // Cut short: the root goes back whole (merged with the halves
            // split off it, which are free; never held).
            merge_up(root, meta_[root].order);
            return false;
        }
        apply_split(root, SplitSlots{meta_[root].slot, slots[at++]});
        --budget;
    }
    out[got++] = block_at(root);
    if (need > 1) { // the page next to it: the half split off last
        unlink(root + 1);
        out[got++] = block_at(root + 1);
    }
    for (uint8_t j = order; j-- > 1;) {
        const uint32_t sub = part_need(j, need);
        if (!sub) continue;
        const uint32_t up = root + (uint32_t{1} << j);
        unlink(up);
        if (!carve_apply(up, j, sub, slots, at, budget, out, got)) return false;
    }
    return true;
}

// Undoes the splits of a failed alloc: block i (off the lists, order k)
// rejoins the upper halves split off it, which are still free at the front of
// their lists, so the lists end up exactly as before. If the kernel refuses a
// merge, the pieces stay free: more fragmented, but no frame is lost.
template <class Ops>
void Buddy<Ops>::unsplit(uint32_t i, uint8_t k, uint8_t to) {
    for (; k < to; ++k) {
        const uint32_t up = i + (uint32_t{1} << k);
        if (!ops_.merge(meta_[up].split_slot, meta_[i].slot, meta_[up].slot)) break;
        unlink(up);
        join(i);
    }
    push_free(i);
}

template <class Ops>
Result<void> Buddy<Ops>::free(Block b) {
    uint32_t i = TRY(index_in_state(b, kAllocated));
    if (b.order <= hold_order_ && held_ + (uint32_t{1} << b.order) <= hold_max_ &&
        would_merge(i, b.order)) {
        push_held(i);
        return {};
    }
    merge_up(i, b.order);
    return {};
}

template <class Ops>
bool Buddy<Ops>::would_merge(uint32_t i, uint8_t order) const {
    uint32_t lo = 0, up = 0;
    if (!parent_halves(i, order, lo, up)) return false;
    const uint32_t buddy = i == lo ? up : lo;
    return meta_[buddy].state == kFree && meta_[buddy].order == order;
}

template <class Ops>
void Buddy<Ops>::release_held() {
    // Smallest first: what merges goes onto a larger order's list, seen
    // when that list's turn comes.
    for (uint8_t k = 0; k <= hold_order_ && k <= kMaxOrder; ++k) {
        for (uint32_t i = first_free(k); i != kNil;) {
            uint32_t next = meta_[i].next;
            if (meta_[i].held) { // (one whose buddy was taken since: a plain free block)
                meta_[i].held = 0;
                held_ -= uint32_t{1} << k;
            }
            if (would_merge(i, k)) {
                uint32_t lo = 0, up = 0;
                (void)parent_halves(i, k, lo, up);
                if (next == (i == lo ? up : lo)) next = meta_[next].next; // merge_up takes it
                unlink(i);
                merge_up(i, k);
            }
            i = next;
        }
    }
}

template <class Ops>
void Buddy<Ops>::merge_up(uint32_t i, uint8_t order) {
    uint32_t lo = 0, up = 0;
    for (uint8_t k = order; parent_halves(i, k, lo, up); ++k) {
        const uint32_t buddy = i == lo ? up : lo;
        if (meta_[buddy].state != kFree || meta_[buddy].order != k) break;
        if (!ops_.merge(meta_[up].split_slot, meta_[lo].slot, meta_[up].slot)) break;
        unlink(buddy);
        join(lo);
        i = lo;
    }
    push_free(i);
}

} // namespace capframe::mm
