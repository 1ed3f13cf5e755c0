#include "frames.h"

#include "batch.h"
#include "errors.h"
#include "kernel.h"
#include "slots.h"

namespace capframe::mm {

FrameBook g_book;

Result<SplitSlots> KernelFrameOps::split(uint32_t slot, uint8_t) {
    uint32_t lo = TRY(g_slots.alloc());
    auto hi = g_slots.alloc();
    if (!hi.ok()) {
        g_slots.free(lo);
        return hi.error();
    }
    int64_t r = kernel::frame_split(slot, lo, hi.value());
    if (r < 0) {
        g_slots.free(lo), g_slots.free(hi.value());
        return error_of(r);
    }
    return SplitSlots{lo, hi.value()};
}

namespace {

// The merges queued while deferred: their halves' slots, freed once the
// batch ran.
struct Deferred {
    int depth = 0;
    uint32_t slots[abi::kBatchMax];
    uint64_t n = 0;
} g_deferred;

void run_deferred_merges() {
    if (!g_deferred.n) return;
    uint64_t done = g_batch.run().done;
    for (uint64_t i = 0; i < g_deferred.n; ++i) {
        // Cannot fail (the halves are free, unmapped and without copies);
        // if one does, it is tried alone and its slot kept if it fails again.
        if (i >= done && kernel::cap_delete(g_deferred.slots[i]) < 0) {
            kernel::log("mm: BUG: merge delete of slot %u refused\n", g_deferred.slots[i]);
            continue;
        }
        g_slots.free(g_deferred.slots[i]);
    }
    g_deferred.n = 0;
}

} // namespace

void begin_deferred_merges() {
    ++g_deferred.depth;
}

void end_deferred_merges() {
    if (--g_deferred.depth == 0) run_deferred_merges();
}

void flush_deferred_merges() {
    run_deferred_merges();
}

Result<void> KernelFrameOps::merge(uint32_t, uint32_t lower, uint32_t upper) {
    if (g_deferred.depth > 0) {
        if (g_batch.room() < 2) run_deferred_merges();
        g_batch.add(abi::Sys::CapDelete, lower);
        g_batch.add(abi::Sys::CapDelete, upper);
        g_deferred.slots[g_deferred.n++] = lower;
        g_deferred.slots[g_deferred.n++] = upper;
        return {};
    }
    if (kernel::cap_delete(lower) < 0) return Error::Busy;
    if (kernel::cap_delete(upper) < 0) return Error::Busy; // lower is gone: cannot happen
    g_slots.free(lower), g_slots.free(upper);
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

// Capability slots: a frame taken out of a larger block costs up to two
// (the halves of each split), a shared page one. Frames handed out or
// promised must leave enough slots for every promise (sbrk, fork's copies)
// to be kept, plus a little for mm's own windows and objects.
constexpr uint64_t kSlotsPerFrame = 2, kSlotHeadroom = 64;

bool slots_fit(uint64_t n) {
    uint64_t free = g_slots.count() - g_slots.used();
    return free >= kSlotsPerFrame * (g_book.reserved + n) + kSlotHeadroom;
}

bool injected_failure() {
    if (g_book.fail_after == 0 || g_book.serving_pid != g_book.fail_pid) return false;
    return --g_book.fail_after == 0;
}

} // namespace

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

Result<Block> alloc_frames(Proc* p, Use use, uint8_t order, From from) {
    uint64_t n = uint64_t{1} << order;
    bool from_reserve = from != From::Free;
    uint64_t* pool = !p                         ? nullptr
                     : from == From::Heap       ? &p->reserved
                     : from == From::HeapTables ? &p->table_reserved
                                                : nullptr;
    if (!from_reserve && injected_failure()) return Error::NoMemory;
    if (from_reserve) {
        if (!pool || *pool < n) return Error::NoMemory;
    } else {
        if (available() < n) return Error::NoMemory;
        if (is_process(p) && !group_fits(p->group, n)) return Error::NoMemory;
        if (is_process(p) && !slots_fit(n)) return Error::NoMemory;
    }
    Block b = TRY(g_book.buddy.alloc(order));
    if (from_reserve) {
        *pool -= n, g_book.reserved -= n;
        // The group holds it already: it only changes category.
        (void)g_book.acct.uncharge(id_of(p), Use::Shared, n);
        (void)g_book.acct.charge(id_of(p), use, n);
    } else {
        charge(p, use, n);
    }
    return b;
}

void free_frames(Proc* p, Use use, Block b) {
    uncharge(p, use, uint64_t{1} << b.order);
    if (!g_book.buddy.free(b).ok()) kernel::log("mm: BUG: free of block at 0x%lx refused\n", b.pa);
}

Result<void> reserve(Proc* p, uint64_t n) {
    if (injected_failure() || available() < n || !group_fits(p->group, n) || !slots_fit(n))
        return Error::NoMemory;
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
    if (injected_failure() || available() < n || !group_fits(p->group, n) || !slots_fit(n))
        return Error::NoMemory;
    p->cow_reserved += n, g_book.reserved += n;
    charge(p, Use::Shared, n);
    return {};
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
