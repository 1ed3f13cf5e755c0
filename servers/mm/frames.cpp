#include "frames.h"

#include "batch.h"
#include "errors.h"
#include "kernel.h"
#include "mappings.h"
#include "slots.h"

namespace capframe::mm {

FrameBook g_book;

// Splits are in place (the block's capability becomes its lower half), so
// a split costs one slot and a frame at most one; merges are their inverse.
Result<SplitSlots> KernelFrameOps::split(uint32_t slot, uint8_t) {
    uint32_t hi = TRY(g_slots.alloc());
    int64_t r = kernel::frame_split(slot, slot, hi);
    if (r < 0) {
        g_slots.free(hi);
        return error_of(r);
    }
    return SplitSlots{slot, hi};
}

uint8_t KernelFrameOps::split_chain(uint32_t slot, uint8_t from, uint8_t to, SplitSlots* halves,
                                    Error& error) {
    const auto want = static_cast<uint8_t>(from - to);
    uint8_t n = 0;
    if (g_batch.size() != 0 || g_batch.room() < want) { // someone's calls are queued
        for (uint8_t k = from; k > to; --k, ++n) {
            auto h = split(slot, k);
            if (!h.ok()) {
                error = h.error();
                break;
            }
            halves[n] = h.value();
        }
        return n;
    }
    for (; n < want; ++n) {
        auto hi = g_slots.alloc();
        if (!hi.ok()) {
            error = hi.error();
            break;
        }
        halves[n] = SplitSlots{slot, hi.value()};
        g_batch.add(abi::Sys::FrameSplit, slot, slot, hi.value());
    }
    if (n == 0) return 0;
    ++chain_batches;
    const BatchRun run = g_batch.run();
    for (uint64_t j = run.done; j < n; ++j)
        g_slots.free(halves[j].upper);
    if (run.done < n) error = run.ok() ? Error::NoMemory : run.error;
    return static_cast<uint8_t>(run.done);
}

bool KernelFrameOps::bulk_begin(uint32_t splits) {
    bulk_n_ = 0;
    return splits <= abi::kBatchMax && g_batch.size() == 0 && g_batch.room() >= splits &&
           g_slots.free_slots() >= splits;
}

uint32_t KernelFrameOps::bulk_split(uint32_t slot) {
    if (bulk_n_ == abi::kBatchMax) return 0;
    auto hi = g_slots.alloc(); // (bulk_begin saw the slots free)
    if (!hi.ok()) return 0;
    bulk_uppers_[bulk_n_++] = hi.value();
    g_batch.add(abi::Sys::FrameSplit, slot, slot, hi.value());
    return hi.value();
}

uint32_t KernelFrameOps::bulk_run() {
    ++bulk_batches;
    const BatchRun run = g_batch.run();
    for (uint64_t j = run.done; j < bulk_n_; ++j)
        g_slots.free(bulk_uppers_[j]);
    const auto done = static_cast<uint32_t>(run.done);
    bulk_n_ = 0;
    return done;
}

namespace {

// The merges queued while deferred: their halves' slots; the upper one is
// freed once the batch ran.
struct Deferred {
    int depth = 0;
    struct {
        uint32_t lower, upper;
    } merges[abi::kBatchMax];
    uint64_t n = 0;
} g_deferred;

// The first `ran` queued merges succeeded (the batch page, Batch::carry);
// the rest are tried alone, and a slot is kept if its merge fails again.
void merges_ran(uint64_t ran) {
    for (uint64_t i = 0; i < g_deferred.n; ++i) {
        auto [lower, upper] = g_deferred.merges[i];
        // Cannot fail (the halves are free, unmapped and without copies).
        if (i >= ran && kernel::frame_merge(lower, upper) < 0) {
            kernel::log("mm: BUG: merge of slots %u and %u refused\n", lower, upper);
            continue;
        }
        g_slots.free(upper);
    }
    g_deferred.n = 0;
}

void run_deferred_merges() {
    if (!g_deferred.n) return;
    g_batch.carry(g_deferred.n, merges_ran);
    (void)g_batch.run();
    if (g_deferred.depth == 0) slots_trim(false); // (skipped while merges were deferred)
}

} // namespace

void begin_deferred_merges() {
    ++g_deferred.depth;
}

void end_deferred_merges() {
    if (--g_deferred.depth == 0) run_deferred_merges();
}

void end_deferred_merges_riding() {
    if (--g_deferred.depth == 0 && g_deferred.n) g_batch.carry(g_deferred.n, merges_ran);
}

void flush_deferred_merges(uint64_t room) {
    if (!g_deferred.n) return;
    // They ride in front of the caller's calls, in its kernel call, when
    // the queue holds just them (behind calls carried already, which ride
    // too) and the caller's fit.
    if (g_batch.size() + g_batch.carried_by(merges_ran) == g_deferred.n && g_batch.room() >= room)
        g_batch.carry(g_deferred.n, merges_ran);
    else
        run_deferred_merges();
}

Result<void> KernelFrameOps::merge(uint32_t, uint32_t lower, uint32_t upper) {
    if (g_deferred.depth > 0) {
        if (g_batch.room() < 1) run_deferred_merges();
        g_batch.add(abi::Sys::FrameMerge, lower, upper);
        g_deferred.merges[g_deferred.n++] = {lower, upper};
        return {};
    }
    if (kernel::frame_merge(lower, upper) < 0) return Error::Busy;
    g_slots.free(upper);
    return {};
}

namespace {

bool group_fits(int g, uint64_t n) {
    for (; g >= 0; g = g_book.groups[g].parent)
        if (g_book.groups[g].charged + n > g_book.groups[g].limit) return false;
    return true;
}

void group_add(int g, int64_t n) {
    for (; g >= 0; g = g_book.groups[g].parent)
        g_book.groups[g].charged += static_cast<uint64_t>(n);
}

bool is_process(const Proc* p) {
    return p && p != &mm_self();
}

// Charges n frames to p and its limit groups (alloc_frames and reserve
// check the limits first).
void charge(Proc* p, Use use, uint64_t n) {
    (void)g_book.acct.charge(id_of(p), use, n);
    if (is_process(p)) group_add(p->group, static_cast<int64_t>(n));
}

void uncharge(Proc* p, Use use, uint64_t n) {
    (void)g_book.acct.uncharge(id_of(p), use, n);
    if (is_process(p)) group_add(p->group, -static_cast<int64_t>(n));
}

// Capability slots: a frame taken out of a larger block costs up to one
// (the upper half of a split in place), a shared page one. Frames handed out or
// promised must leave enough slots for every promise (sbrk, fork's copies)
// to be kept, plus a little for mm's own windows and objects. The space
// grows by one-page leaves of mm's own frames (63 slots, of which the leaf's
// table capability and its frame take up to 2): a promise that needs more
// slots than are free makes the leaves at once, out of frames it checks are
// there, so that slots and frames are both kept.
constexpr uint64_t kSlotsPerFrame = 1, kSlotHeadroom = 64;
constexpr uint64_t kNetSlotsPerLeaf = SlotAllocator::kLeafSlots - 1 - 2;

bool g_growing = false; // grow() is allocating: no growth inside it

bool frames_for(uint64_t n); // below

uint64_t slots_target(uint64_t n) {
    return kSlotsPerFrame * (g_book.reserved + n) + g_book.lazy + kSlotHeadroom;
}

// Up to `want` more leaves: frames of mm's own, each retyped into a
// one-page CapTable and attached at the top of mm's space. A large promise
// grows the space by hundreds of leaves, and a kernel entry per call was
// most of a 512 MiB fork's entries: up to 32 leaves (a Retype and a
// CapAttach each) go in one batch when mm's batch is free, one leaf by
// single calls when a caller's calls are queued in it. A refused call
// keeps the leaves made before it and gives the rest back. False if none
// could be made or fewer than asked.
bool grow(uint64_t want) {
    struct Made {
        Block frame;
        uint32_t slot;
    } made[abi::kBatchMax / 2];
    // (Calls carried in front, riding an answer or merges, may be there:
    // they go in front of these.)
    const bool batched = g_batch.size() == 0 && g_batch.room() >= 2;
    const uint64_t first = g_slots.leaves(), most = batched ? g_batch.room() / 2 : 1;
    if (want > g_slots.max_leaves() - first) want = g_slots.max_leaves() - first;
    if (want > most) want = most; // the rest on the next turn
    uint64_t n = 0;
    // The frames at once: their splits in one batch while ours is empty.
    Block frames[BuddyCore::kMaxBulkPages];
    static_assert(BuddyCore::kMaxBulkPages >= abi::kBatchMax / 2);
    g_growing = true;
    auto bulk =
        alloc_pages(nullptr, Use::KernelObject, static_cast<uint32_t>(want), From::Free, frames);
    const uint32_t got = bulk.ok() ? bulk.value() : 0;
    g_growing = false;
    for (uint32_t k = 0; k < got; ++k) {
        auto t = g_slots.alloc();
        if (!t.ok()) { // the frames without a slot go back
            for (uint32_t j = k; j < got; ++j)
                free_frames(nullptr, Use::KernelObject, frames[j]);
            break;
        }
        made[n++] = {frames[k], t.value()};
    }
    // The calls: done counts those that succeeded, from the first.
    uint64_t done = 0;
    int64_t refused = 0;
    if (batched && n) {
        for (uint64_t k = 0; k < n; ++k) {
            g_batch.add(abi::Sys::Retype, made[k].frame.slot,
                        static_cast<uint64_t>(abi::ObjType::CapTable), made[k].slot);
            g_batch.add(abi::Sys::CapAttach, 0, made[k].slot, first + k);
        }
        BatchRun run = g_batch.run();
        done = run.done, refused = run.result;
    } else if (n) {
        refused = kernel::retype(made[0].frame.slot, abi::ObjType::CapTable, made[0].slot);
        if (refused >= 0) ++done, refused = kernel::cap_attach(0, made[0].slot, first);
        if (refused >= 0) ++done, refused = 0;
    }
    for (uint64_t k = 0; k < n; ++k) {
        if (2 * k + 1 < done) {
            g_slots.push_leaf({made[k].frame.slot, made[k].slot});
            continue;
        }
        if (2 * k < done) (void)kernel::cap_delete(made[k].slot); // retyped, not attached
        g_slots.free(made[k].slot);
        free_frames(nullptr, Use::KernelObject, made[k].frame);
    }
    if (refused < 0) kernel::log("mm: BUG: a capability leaf was refused: %ld\n", long(refused));
    return n > 0 && n == want && refused == 0; // (0 at the directory's end)
}

// At least `target` free slots, growing while frames allow.
void grow_to(uint64_t target) {
    if (g_growing) return;
    while (g_slots.free_slots() < target) {
        uint64_t missing = target - g_slots.free_slots();
        if (!grow((missing + kNetSlotsPerLeaf - 1) / kNetSlotsPerLeaf)) return;
    }
}

// Whether n more frames for processes (handed out or promised) leave the
// slots every promise needs; grows the space if that takes leaves, and only
// if the frames for them are there besides the n.
bool slots_fit(uint64_t n) {
    uint64_t target = slots_target(n), free = g_slots.free_slots();
    if (free >= target) return true;
    // Held blocks keep slots a merge would free: merged first (review).
    if (g_book.buddy.held() && !g_growing && g_deferred.depth == 0) {
        g_book.buddy.release_held();
        if ((free = g_slots.free_slots()) >= target) return true;
    }
    uint64_t leaves = (target - free + kNetSlotsPerLeaf - 1) / kNetSlotsPerLeaf;
    if (g_slots.leaves() + leaves > g_slots.max_leaves() || !frames_for(n + leaves)) return false;
    grow_to(target);
    return g_slots.free_slots() >= target && available() >= n;
}

// A slot of the top leaf last found holding a capability that cannot move
// (0: none): while it does, a partial trim does not look at that leaf again.
uint32_t g_pinned = 0;

// Moves the capability in slot s of the top leaf to slot `to` below it, and
// every record of mm's that names s with it. What can move: a free block
// (only the allocator names it) and, with `live` (between requests, when no
// slot number is held anywhere else), a page of a process (its FrameInfo,
// its block in the allocator, the mappings made with it), a copy a shared
// page's mapping was made with (that mapping), and a page table (its
// FrameInfo and block). False, nothing changed, for anything else.
bool move_slot(uint32_t s, uint32_t to, bool live) {
    uint64_t pa = 0;
    int64_t info = kernel::cap_info(s, &pa);
    if (info < 0 || (info & 0xff) != static_cast<int64_t>(abi::ObjType::Frame)) return false;
    Block b{s, pa, static_cast<uint8_t>(info >> 16)};
    FrameInfo* f = nullptr;
    uint32_t copy = kNone; // the mapping made with s, a copy
    if (!g_book.buddy.is_free(b)) {
        if (!live || pa < g_maps.window_base || frame_index(pa) >= g_maps.window_frames)
            return false;
        f = &frame_info(frame_index(pa));
        if (f->owner == 0) return false;
        if (f->block_slot != s) {
            for (uint32_t i = f->refs ? f->rmap : kNone; i != kNone; i = mapping(i).rnext)
                if (mapping(i).slot == s) copy = i;
            if (copy == kNone) return false;
        } else if (b.order != 0 || !g_book.buddy.is_block(b)) {
            return false;
        }
    }
    if (kernel::cap_move(s, to) < 0) return false;
    if (copy != kNone) {
        mapping(copy).slot = to;
    } else {
        (void)g_book.buddy.move_block(b, to);
        if (f) {
            f->block_slot = to;
            for (uint32_t i = f->refs ? f->rmap : kNone; i != kNone; i = mapping(i).rnext)
                if (mapping(i).slot == s) mapping(i).slot = to;
        }
    }
    return true;
}

// Moves the capabilities in the top leaf (one mm attached) to free slots
// below it, so that the leaf can go: a capability that sits there by the
// chance of when it was made would otherwise keep the leaf (and its frame)
// and every leaf under it. False, with the moves so far kept, at a slot
// that cannot move (move_slot) or when no slot below is free.
bool evacuate_top_leaf(bool live) {
    constexpr uint64_t kLeaf = SlotAllocator::kLeafSlots;
    const uint64_t leaf = g_slots.leaves() - 1;
    if (!live && g_pinned / kLeaf == leaf && g_slots.is_used(g_pinned)) return false;
    for (uint64_t bit = 1; bit < kLeaf; ++bit) {
        const auto s = static_cast<uint32_t>(leaf * kLeaf + bit);
        if (!g_slots.is_used(s)) continue;
        auto to = g_slots.alloc(); // the lowest free slot
        if (!to.ok()) return false;
        if (to.value() / kLeaf >= leaf || !move_slot(s, to.value(), live)) {
            g_slots.free(to.value());
            g_pinned = s;
            return false;
        }
        g_slots.free(s);
    }
    return true;
}

bool injected_failure() {
    if (g_book.fail_after == 0 || g_book.serving_pid != g_book.fail_pid) return false;
    return --g_book.fail_after == 0;
}

// How many allocations succeed before the injected failure of the request
// being served (~0: none armed), and that many made at once.
uint64_t allocations_before_failure() {
    if (g_book.fail_after == 0 || g_book.serving_pid != g_book.fail_pid) return ~uint64_t{0};
    return g_book.fail_after - 1;
}
void count_allocations(uint64_t n) {
    if (g_book.fail_after != 0 && g_book.serving_pid == g_book.fail_pid) g_book.fail_after -= n;
}

} // namespace

namespace {
// Gives back top leaves while the slots left without one are at least
// `keep`; live: also moves capabilities of live pages down (only between
// requests: nothing else holds a slot number then).
void trim_to(uint64_t keep, bool live) {
    while (g_slots.grown() && g_slots.free_slots() >= keep + SlotAllocator::kLeafSlots - 1) {
        if (!g_slots.top_leaf_empty() && (!evacuate_top_leaf(live) || !g_slots.top_leaf_empty()))
            return;
        SlotAllocator::Leaf l = g_slots.top_leaf();
        if (kernel::cap_detach(0, g_slots.leaves() - 1) < 0) return;
        g_slots.pop_leaf();
        uint64_t pa = 0;
        (void)kernel::cap_info(l.frame_slot, &pa);
        if (kernel::cap_delete(l.table_slot) < 0)
            kernel::log("mm: BUG: a detached leaf's table would not go\n");
        g_slots.free(l.table_slot);
        g_growing = true; // (free_frames trims: not from inside a trim)
        free_frames(nullptr, Use::KernelObject, Block{l.frame_slot, pa, 0});
        g_growing = false;
    }
}

// Spare leaves (what slots_trim(false) keeps) go back when memory is short:
// whether n frames are there then.
bool frames_for(uint64_t n) {
    if (available() >= n) return true;
    if (!g_growing && g_deferred.depth == 0) trim_to(slots_target(0), false);
    return available() >= n;
}
} // namespace

void slots_trim(bool all) {
    // Not from inside a growth or a trim, nor while merges wait in the
    // batch (their upper slots are still taken; the outermost
    // end_deferred_merges trims).
    if (g_growing || g_deferred.depth > 0) return;
    // Keep kSpareLeaves leaves' worth unless asked for everything, so that
    // a fork of a large process and its exit do not grow and trim the same
    // leaves each time (with 2 spare, 10-13 leaves and 30-40 kernel calls
    // per fork+exit of an 8 MiB process). They are mm's frames, given back
    // when memory is short (frames_for) and on every count of free frames
    // (FreeFrames, the end). The top leaf goes when the slots left without
    // it are enough: the free blocks in it move down first.
    constexpr uint64_t kSpareLeaves = 128; // 512 KiB at most
    if (!all) {
        trim_to(slots_target(0) + kSpareLeaves * SlotAllocator::kLeafSlots, false);
        return;
    }
    // Everything: held pages merge first (their slots go), and the leaves'
    // own frames merge as they go back.
    const uint32_t hold = g_book.buddy.hold_limit();
    g_book.buddy.hold(0, kHeldMaxOrder);
    g_book.buddy.release_held();
    trim_to(slots_target(0), true);
    g_book.buddy.hold(hold, kHeldMaxOrder);
}

uint64_t leaf_frames() {
    return g_slots.grown();
}

void group_get(int g) {
    if (g >= 0) ++g_book.groups[g].refs;
}

void group_put(int g) {
    while (g >= 0 && --g_book.groups[g].refs == 0) {
        g_book.groups[g].used = false;
        g = g_book.groups[g].parent;
    }
}

uint64_t available() {
    uint64_t f = g_book.buddy.free_frames();
    return f > g_book.reserved ? f - g_book.reserved : 0;
}

Snapshot books_snapshot() {
    return g_book.acct.snapshot(g_book.buddy.total_frames(), available());
}

namespace {
// The promise an allocation `from` comes out of (null: free memory, or a
// promise p does not have).
[[gnu::always_inline]] inline uint64_t* promise_of(Proc* p, From from) {
    if (!p || from == From::Free) return nullptr;
    return from == From::Heap ? &p->reserved : &p->table_reserved;
}

// n frames allocated for p: charged to it as `use`, out of free memory or
// out of the promise (whose group holds them already: they only change
// category).
[[gnu::always_inline]] inline void take(Proc* p, Use use, From from, uint64_t n) {
    if (uint64_t* pool = promise_of(p, from)) {
        *pool -= n, g_book.reserved -= n;
        (void)g_book.acct.uncharge(id_of(p), Use::Shared, n);
        (void)g_book.acct.charge(id_of(p), use, n);
    } else {
        charge(p, use, n);
    }
}
} // namespace

Result<Block> alloc_frames(Proc* p, Use use, uint8_t order, From from) {
    uint64_t n = uint64_t{1} << order;
    // Keep the headroom the promises need (best effort: mm's own
    // allocations and copies of shared pages take slots without a check).
    if (!is_process(p) || from != From::Free) grow_to(slots_target(0));
    if (from != From::Free) {
        uint64_t* pool = promise_of(p, from);
        if (!pool || *pool < n) return Error::NoMemory;
    } else {
        if (injected_failure()) return Error::NoMemory;
        if (!frames_for(n)) return Error::NoMemory;
        if (is_process(p) && !group_fits(p->group, n)) return Error::NoMemory;
        if (is_process(p) && !slots_fit(n)) return Error::NoMemory;
        if (available() < n) return Error::NoMemory; // (growth took frames)
    }
    Block b = TRY(g_book.buddy.alloc(order));
    take(p, use, from, n);
    return b;
}

Result<uint32_t> alloc_pages(Proc* p, Use use, uint32_t n, From from, Block* out) {
    if (!is_process(p) || from != From::Free) grow_to(slots_target(0));
    if (n > BuddyCore::kMaxBulkPages) n = BuddyCore::kMaxBulkPages;
    if (from != From::Free) {
        uint64_t* pool = promise_of(p, from);
        if (!pool) return 0;
        if (*pool < n) n = static_cast<uint32_t>(*pool);
    } else {
        // An injected failure (FailAlloc) lands where it would have landed
        // on n single allocations: those before it are made here.
        const uint64_t before = allocations_before_failure();
        if (before == 0 && injected_failure()) return Error::NoMemory;
        if (n > before) n = static_cast<uint32_t>(before);
        // As many as free memory holds (the rest are alloc_frames's to
        // refuse page by page); for a process all or none within its limits.
        if (!frames_for(n)) n = static_cast<uint32_t>(available());
        if (n == 0) return 0;
        if (is_process(p) && (!group_fits(p->group, n) || !slots_fit(n) || available() < n))
            return 0;
    }
    Error error{};
    const uint32_t got = g_book.buddy.alloc_pages(n, out, error);
    take(p, use, from, got);
    if (from == From::Free) count_allocations(got);
    return got;
}

void free_frames(Proc* p, Use use, Block b) {
    uncharge(p, use, uint64_t{1} << b.order);
    if (!g_book.buddy.free(b).ok()) kernel::log("mm: BUG: free of block at 0x%lx refused\n", b.pa);
    slots_trim(false);
}

void free_to_reserve(Proc* p, Use use, Block b) {
    const uint64_t n = uint64_t{1} << b.order;
    (void)g_book.acct.uncharge(id_of(p), use, n);
    (void)g_book.acct.charge(id_of(p), Use::Shared, n);
    if (!g_book.buddy.free(b).ok()) kernel::log("mm: BUG: free of block at 0x%lx refused\n", b.pa);
    p->reserved += n, g_book.reserved += n;
}

Result<void> reserve(Proc* p, uint64_t n) {
    if (injected_failure() || !frames_for(n) || !group_fits(p->group, n) || !slots_fit(n))
        return Error::NoMemory; // (slots_fit grows only when the frames are there)
    p->reserved += n, g_book.reserved += n;
    charge(p, Use::Shared, n);
    return {};
}

void unreserve(Proc* p, uint64_t n) {
    if (n > p->reserved) n = p->reserved;
    p->reserved -= n, g_book.reserved -= n;
    uncharge(p, Use::Shared, n);
}

void reserve_to_tables(Proc* p, uint64_t n) {
    if (n > p->reserved) n = p->reserved;
    p->reserved -= n, p->table_reserved += n;
}

void unreserve_tables(Proc* p, uint64_t n) {
    if (n > p->table_reserved) n = p->table_reserved;
    p->table_reserved -= n, g_book.reserved -= n;
    uncharge(p, Use::Shared, n);
}

void transfer_charge(Proc* from, Proc* to, Use use, uint64_t n) {
    uncharge(from, use, n);
    charge(to, use, n);
}

Result<void> reserve_cow(Proc* p, uint64_t n) {
    if (n == 0) return {};
    if (injected_failure() || !frames_for(n) || !group_fits(p->group, n) || !slots_fit(n))
        return Error::NoMemory;
    p->cow_reserved += n, g_book.reserved += n;
    charge(p, Use::Shared, n);
    return {};
}

Result<void> reserve_lazy_slots(uint64_t n) {
    g_book.lazy += n; // as if made: the target counts them
    bool fits = slots_fit(0);
    g_book.lazy -= n; // each record adds its own
    return fits ? Result<void>{} : Result<void>{Error::NoMemory};
}

void unreserve_cow(Proc* p, uint64_t n) {
    if (n > p->cow_reserved) n = p->cow_reserved;
    p->cow_reserved -= n, g_book.reserved -= n;
    uncharge(p, Use::Shared, n);
}

Result<Block> alloc_cow_copy(Proc* p, Proc* holder) {
    if (!holder->cow_reserved) return Error::NoMemory; // a bug: check_books says which
    Block b = TRY(g_book.buddy.alloc(0));
    holder->cow_reserved -= 1, g_book.reserved -= 1;
    uncharge(holder, Use::Shared, 1);
    charge(p, Use::User, 1);
    return b;
}

void return_cow_copy(Proc* p, Proc* holder, Block b) {
    uncharge(p, Use::User, 1);
    if (!g_book.buddy.free(b).ok()) kernel::log("mm: BUG: free of block at 0x%lx refused\n", b.pa);
    holder->cow_reserved += 1, g_book.reserved += 1;
    charge(holder, Use::Shared, 1);
}

void move_charges(Proc* from, Proc* to) {
    auto moved = g_book.acct.release_task(id_of(from));
    for (size_t u = 0; u < kUseCount; ++u)
        (void)g_book.acct.charge(id_of(to), static_cast<Use>(u), moved.frames[u]);
}

uint64_t release_charges(Proc* p) {
    uint64_t left = g_book.acct.release_task(id_of(p)).total();
    if (left && is_process(p)) group_add(p->group, -static_cast<int64_t>(left));
    return left;
}

int64_t set_limit(Proc* p, int pid, uint64_t frames) {
    Proc* t = pid == 0 ? p : proc_by_pid(pid);
    if (!t || t->state != State::Running || (t != p && t->parent != p->pid))
        return err(Errno::Srch);
    // A limit p set on t before is replaced, not stacked: the enclosing
    // groups still bound it, so raising it cannot escape them.
    for (int g = t->group; g >= 0; g = g_book.groups[g].parent)
        if (g_book.groups[g].setter == p->pid && g_book.groups[g].target == t->pid) {
            g_book.groups[g].limit = frames;
            return 0;
        }
    int g = -1;
    for (int i = 0; i < kMaxGroups; ++i)
        if (!g_book.groups[i].used) g = i;
    if (g < 0) return err(Errno::NoMem);
    g_book.groups[g] =
        Group{true, t->group, 1, frames, g_book.acct.task_total(id_of(t)), p->pid, t->pid};
    group_get(t->group); // held by the new group
    group_put(t->group); // t leaves it
    t->group = g;
    return 0;
}

} // namespace capframe::mm
