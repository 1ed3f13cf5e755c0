// mm: the memory server. The first user task; it owns every free frame (as
// frame capabilities the kernel handed it at boot) and runs the processes:
// exec from the boot archive, fork with copy-on-write, exit/wait/kill, sbrk,
// demand-zero and copy-on-write faults, per-tree memory limits. Every frame
// comes back when processes end. docs/processes.md explains the design.
#include <span>

#include "accounting.h"
#include "bootargs.h"
#include "buddy.h"
#include "capframe/abi.h"
#include "capframe/mm_protocol.h"
#include "capframe/sys.h"
#include "cpio.h"
#include "elf.h"
#include "format.h"

namespace abi = capframe::abi;
namespace mmp = capframe::mmp;
using capframe::Error;
using capframe::Result;
using capframe::mm::Block;
using capframe::mm::SplitSlots;
using capframe::mm::Use;
using Errno = capframe::abi::Errno;

namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kScratchVa = 0x3000000000; // mm's windows onto frames it fills or reads
constexpr uint64_t kScratchSrcVa = kScratchVa + kPage;
constexpr uint64_t kFaultBit = uint64_t{1} << 32;
constexpr int kMaxProcs = 63; // process slots, including exec's image under construction
constexpr uint64_t kHeapTop = abi::kStackGuardVa;
constexpr uint32_t kNone = 0; // "no entry" in the index links below (entries count from 1)

const abi::BootInfo* boot() {
    return reinterpret_cast<const abi::BootInfo*>(abi::kBootInfoVa);
}
std::span<const uint8_t> boot_archive() {
    return {reinterpret_cast<const uint8_t*>(abi::kBootImageVa), boot()->image_bytes};
}

int64_t err(Errno e) {
    return abi::error_return(e);
}

Error error_of(int64_t r) {
    switch (static_cast<Errno>(-r)) {
    case Errno::NoMem:
        return Error::NoMemory;
    case Errno::Busy:
        return Error::Busy;
    case Errno::Exist:
        return Error::AlreadyMapped;
    case Errno::NeedTable:
        return Error::NeedTable;
    default:
        return Error::InvalidArgument;
    }
}

int64_t errno_of(Error e) {
    switch (e) {
    case Error::NoMemory:
    case Error::TooMany:
        return err(Errno::NoMem);
    case Error::Fault:
        return err(Errno::Fault);
    case Error::NotFound:
        return err(Errno::NoEnt);
    case Error::BadFormat:
    case Error::Truncated:
    case Error::OutOfRange:
        return err(Errno::NoExec);
    default:
        return err(Errno::Inval);
    }
}

// ---- slots of mm's own capability table -------------------------------
struct SlotAllocator {
    static constexpr uint64_t kMax = uint64_t{64} << 12;
    uint64_t bits[kMax / 64] = {};
    uint64_t count = 0, hint = 0, used = 0;
    void init(uint64_t slots, uint64_t first_free) {
        count = slots > kMax ? kMax : slots;
        for (uint64_t i = 0; i < first_free; ++i)
            bits[i / 64] |= uint64_t{1} << (i % 64);
        used = first_free;
        hint = first_free / 64;
    }
    Result<uint32_t> alloc() {
        uint64_t words = count / 64;
        for (uint64_t n = 0; n < words; ++n) {
            uint64_t w = (hint + n) % words;
            if (bits[w] == ~uint64_t{0}) continue;
            uint64_t bit = 0; // (no libgcc ctz: the kernel's lp64 build has none)
            while (bits[w] & (uint64_t{1} << bit))
                ++bit;
            bits[w] |= uint64_t{1} << bit;
            hint = w;
            ++used;
            return static_cast<uint32_t>(w * 64 + bit);
        }
        return Error::TooMany;
    }
    void free(uint32_t i) {
        bits[i / 64] &= ~(uint64_t{1} << (i % 64));
        --used;
    }
} g_slots;

// The allocator's capability operations: the kernel splits and (by deleting
// the halves) merges frame capabilities.
struct KernelFrameOps {
    Result<SplitSlots> split(uint32_t slot, uint8_t) {
        uint32_t lo = TRY(g_slots.alloc());
        auto hi = g_slots.alloc();
        if (!hi.ok()) {
            g_slots.free(lo);
            return hi.error();
        }
        int64_t r = sys::frame_split(slot, lo, hi.value());
        if (r < 0) {
            g_slots.free(lo), g_slots.free(hi.value());
            return error_of(r);
        }
        return SplitSlots{lo, hi.value()};
    }
    Result<void> merge(uint32_t, uint32_t lower, uint32_t upper) {
        if (sys::cap_delete(lower) < 0) return Error::Busy;
        if (sys::cap_delete(upper) < 0) return Error::Busy; // lower is gone: cannot happen
        g_slots.free(lower), g_slots.free(upper);
        return {};
    }
} g_ops;

capframe::mm::Buddy<KernelFrameOps> g_buddy(g_ops);
capframe::mm::Accounting g_acct;
uint64_t g_endpoint = 0; // mm's endpoint (slot)
uint64_t g_free_at_start = 0;
uint64_t g_reserved = 0; // frames promised to heaps (sbrk) but not yet mapped
// Tests (FailAlloc): the g_fail_after-th allocation made for pid
// g_fail_pid's next request fails (0: off). Only that request counts (not
// page faults, not other processes), and the failure is off after it.
uint64_t g_fail_after = 0;
int g_fail_pid = 0;
int g_serving_pid = 0; // whose request mm is handling (0: a fault or nobody)

// ---- per-frame records and the mapping index -----------------------------
// In the metadata region the kernel gave mm (abi::kMetaBytesPerFrame per
// frame): the buddy allocator's 16 bytes, then a FrameInfo (16), then a pool
// of Mapping records (5/4 per frame, 32 bytes each) and the hash buckets.
struct FrameInfo {
    uint32_t block_slot; // the frame's own capability (from the allocator)
    uint16_t refs;       // mappings of it
    uint16_t owner;      // process slot + 1 charged for it
    uint32_t rmap;       // first mapping of it (Mapping index)
    uint32_t pad;
};
static_assert(sizeof(FrameInfo) == 16);

// One page mapped in one process. The key packs the page address with the
// process slot (bits 0..6) and flags.
struct Mapping {
    uint64_t key;
    uint32_t frame; // frame index in the window
    uint32_t slot;  // the capability that made the mapping
    uint32_t hnext; // hash chain / free list
    uint32_t pnext, pprev;
    uint32_t rnext; // next mapping of the same frame
};
static_assert(sizeof(Mapping) == 32);
constexpr uint64_t kKeyProcMask = 0x7f;
constexpr uint64_t kMapW = 1 << 7;   // the process may write it (the region is writable)
constexpr uint64_t kMapX = 1 << 8;   // executable
constexpr uint64_t kMapCow = 1 << 9; // mapped read-only until the next write fault
constexpr uint64_t kMapFlags = kMapW | kMapX | kMapCow;

FrameInfo* g_frames = nullptr;
Mapping* g_maps = nullptr; // entry 0 unused
uint32_t* g_buckets = nullptr;
uint64_t g_map_count = 0, g_bucket_mask = 0, g_window_frames = 0, g_window_base = 0;
uint32_t g_map_free = kNone;

uint64_t frame_index(uint64_t pa) {
    return (pa - g_window_base) / kPage;
}
uint64_t frame_pa(uint64_t idx) {
    return g_window_base + idx * kPage;
}
uint64_t hash(uint64_t va, uint64_t proc) {
    return (((va >> 12) * 0x9e3779b97f4a7c15ull) >> 20 ^ proc) & g_bucket_mask;
}

// ---- processes -----------------------------------------------------------
enum class State : uint8_t { Free, Running, Zombie, Building };

struct Group { // a memory limit on a process tree
    bool used;
    int parent; // enclosing group or -1
    int refs;   // member processes and child groups
    uint64_t limit, charged;
};
constexpr int kMaxGroups = 64;
Group g_groups[kMaxGroups];

struct Proc {
    State state = State::Free;
    int pid = 0, parent = 0, status = 0, group = -1;
    bool waiting = false;
    uint64_t wait_va = 0;
    char name[24] = {};
    uint32_t table_obj = 0, as_obj = 0, thread_obj = 0, badged_ep = 0;
    Block table_block{}, as_block{}, thread_block{}, kstack_block{};
    uint32_t tables = kNone; // its page-table frames (index + 1), linked through FrameInfo
    int table_count = 0;
    uint32_t maps = kNone; // list of Mapping indices
    uint64_t heap_base = 0, brk = 0, reserved = 0;
};
Proc g_procs[kMaxProcs + 1]; // the last slot is mm's own (scratch-window tables)
Proc& g_mm_self = g_procs[kMaxProcs];
int g_next_pid = 1;
int g_init_pid = 0;

int slot_of(const Proc* p) {
    return static_cast<int>(p - g_procs);
}
capframe::mm::TaskId id_of(const Proc* p) {
    if (!p || p == &g_mm_self) return capframe::mm::kMmTask;
    return static_cast<capframe::mm::TaskId>(slot_of(p));
}
Proc* proc_by_pid(int pid) {
    for (int i = 0; i < kMaxProcs; ++i)
        if (g_procs[i].state != State::Free && g_procs[i].state != State::Building &&
            g_procs[i].pid == pid)
            return &g_procs[i];
    return nullptr;
}

// ---- limits ---------------------------------------------------------------
bool group_fits(int g, uint64_t n) {
    for (; g >= 0; g = g_groups[g].parent)
        if (g_groups[g].charged + n > g_groups[g].limit) return false;
    return true;
}
void group_add(int g, int64_t n) {
    for (; g >= 0; g = g_groups[g].parent)
        g_groups[g].charged += static_cast<uint64_t>(n);
}
void group_put(int g) {
    while (g >= 0 && --g_groups[g].refs == 0) {
        g_groups[g].used = false;
        g = g_groups[g].parent;
    }
}

uint64_t available() {
    uint64_t f = g_buddy.free_frames();
    return f > g_reserved ? f - g_reserved : 0;
}

// Charges n frames to p and its limit groups (alloc_frames and reserve
// check the limits first).
void charge(Proc* p, Use use, uint64_t n) {
    (void)g_acct.charge(id_of(p), use, n);
    if (p && p != &g_mm_self) group_add(p->group, static_cast<int64_t>(n));
}
void uncharge(Proc* p, Use use, uint64_t n) {
    (void)g_acct.uncharge(id_of(p), use, n);
    if (p && p != &g_mm_self) group_add(p->group, -static_cast<int64_t>(n));
}

bool injected_failure() {
    if (g_fail_after == 0 || g_serving_pid != g_fail_pid) return false;
    if (--g_fail_after) return false;
    return true;
}

// Frames for p. from_reserve: the frame was promised by sbrk (already
// counted against memory and the limits; it cannot fail, so an injected
// failure does not land here but on the reservation).
Result<Block> alloc_frames(Proc* p, Use use, uint8_t order, bool from_reserve = false) {
    uint64_t n = uint64_t{1} << order;
    if (!from_reserve && injected_failure()) return Error::NoMemory;
    if (from_reserve) {
        if (!p || p->reserved < n) return Error::NoMemory;
    } else {
        if (available() < n) return Error::NoMemory;
        if (p && p != &g_mm_self && !group_fits(p->group, n)) return Error::NoMemory;
    }
    Block b = TRY(g_buddy.alloc(order));
    if (from_reserve) {
        p->reserved -= n, g_reserved -= n;
        // The group holds it already: it only changes category.
        (void)g_acct.uncharge(id_of(p), Use::Shared, n);
        (void)g_acct.charge(id_of(p), use, n);
    } else {
        charge(p, use, n);
    }
    return b;
}

void free_frames(Proc* p, Use use, Block b) {
    uncharge(p, use, uint64_t{1} << b.order);
    if (!g_buddy.free(b).ok()) sys::printf("mm: BUG: free of block at 0x%lx refused\n", b.pa);
}

// sbrk's promises are charged as "Shared" until they become pages. For
// mm_fail_alloc a reservation counts as one allocation.
Result<void> reserve(Proc* p, uint64_t n) {
    if (injected_failure() || available() < n || !group_fits(p->group, n)) return Error::NoMemory;
    p->reserved += n, g_reserved += n;
    charge(p, Use::Shared, n);
    return {};
}
void unreserve(Proc* p, uint64_t n) {
    if (n > p->reserved) n = p->reserved;
    p->reserved -= n, g_reserved -= n;
    uncharge(p, Use::Shared, n);
}

// A process's page-table frames: a list through their FrameInfo records.
void push_table(Proc* p, Block t) {
    uint64_t idx = frame_index(t.pa);
    g_frames[idx] = FrameInfo{t.slot, 0, static_cast<uint16_t>(slot_of(p) + 1), p->tables, 0};
    p->tables = static_cast<uint32_t>(idx + 1);
    ++p->table_count;
}
Block pop_table(Proc* p) {
    uint32_t idx = p->tables - 1;
    FrameInfo& f = g_frames[idx];
    Block t{f.block_slot, frame_pa(idx), 0};
    p->tables = f.rmap;
    --p->table_count;
    f = FrameInfo{};
    return t;
}

// Maps `frame` in an address space, donating page-table pages as the kernel
// asks for them (charged to `owner`, recorded for teardown).
Result<void> map_with_tables(Proc* owner, uint64_t frame, uint64_t as, uint64_t va,
                             uint64_t rights) {
    for (int tries = 0; tries < 3; ++tries) {
        int level = 0;
        int64_t r = sys::map(frame, as, va, rights, &level);
        if (r >= 0) return {};
        if (r != err(Errno::NeedTable)) return error_of(r);
        // Tables for heap pages may come out of what sbrk reserved.
        auto got = alloc_frames(owner, Use::PageTable, 0);
        if (!got.ok() && owner->reserved) got = alloc_frames(owner, Use::PageTable, 0, true);
        Block t = TRY(got);
        if (sys::map_table(t.slot, as, va) < 0) {
            free_frames(owner, Use::PageTable, t);
            return Error::InvalidArgument;
        }
        push_table(owner, t);
    }
    return Error::InvalidArgument;
}

// mm's windows onto a frame: `slot` (a capability that is not mapped
// anywhere) is mapped at va until unwindow().
template <class T>
T* window(uint64_t slot, uint64_t va, bool writable) {
    uint64_t rights = abi::kRightRead | (writable ? abi::kRightWrite : 0);
    if (!map_with_tables(&g_mm_self, slot, abi::kSlotSelfAs, va, rights).ok()) return nullptr;
    return reinterpret_cast<T*>(va);
}
void unwindow(uint64_t slot) {
    (void)sys::unmap(slot);
}

// A temporary copy of a frame's capability (to window a frame that is
// mapped elsewhere already).
struct TempCap {
    uint32_t slot = 0;
    explicit TempCap(uint32_t of) {
        auto s = g_slots.alloc();
        if (!s.ok()) return;
        if (sys::cap_copy(of, 0, s.value(), abi::kRightRead | abi::kRightWrite | abi::kRightMap,
                          0) < 0) {
            g_slots.free(s.value());
            return;
        }
        slot = s.value();
    }
    ~TempCap() {
        if (slot) (void)sys::cap_delete(slot), g_slots.free(slot);
    }
};

// Fills a fresh frame (its own capability, not mapped): `len` bytes of src
// at offset `at`, zeroes elsewhere.
Result<void> fill_frame(uint32_t block_slot, const uint8_t* src, uint64_t len, uint64_t at = 0) {
    auto* dst = window<volatile uint64_t>(block_slot, kScratchVa, true);
    if (!dst) return Error::NoMemory;
    for (uint64_t i = 0; i < kPage / 8; ++i)
        dst[i] = 0;
    auto* bytes = reinterpret_cast<volatile uint8_t*>(dst);
    for (uint64_t i = 0; i < len && at + i < kPage; ++i)
        bytes[at + i] = src[i];
    unwindow(block_slot);
    return {};
}

// ---- the mapping index -----------------------------------------------------
uint32_t find_mapping(const Proc* p, uint64_t va) {
    uint64_t proc = static_cast<uint64_t>(slot_of(p));
    for (uint32_t i = g_buckets[hash(va, proc)]; i; i = g_maps[i].hnext)
        if ((g_maps[i].key & ~kMapFlags & ~kKeyProcMask) == va &&
            (g_maps[i].key & kKeyProcMask) == proc)
            return i;
    return kNone;
}

void index_insert(uint32_t i) {
    Mapping& m = g_maps[i];
    uint64_t h = hash(m.key & ~(kMapFlags | kKeyProcMask), m.key & kKeyProcMask);
    m.hnext = g_buckets[h];
    g_buckets[h] = i;
}

void index_remove(uint32_t i) {
    Mapping& m = g_maps[i];
    uint32_t* link = &g_buckets[hash(m.key & ~(kMapFlags | kKeyProcMask), m.key & kKeyProcMask)];
    while (*link != i)
        link = &g_maps[*link].hnext;
    *link = m.hnext;
}

Result<uint32_t> record_mapping(Proc* p, uint64_t va, uint64_t flags, uint64_t frame,
                                uint32_t slot) {
    if (g_map_free == kNone) return Error::NoMemory;
    uint32_t i = g_map_free;
    g_map_free = g_maps[i].hnext;
    Mapping& m = g_maps[i];
    m = Mapping{va | flags | static_cast<uint64_t>(slot_of(p)),
                static_cast<uint32_t>(frame),
                slot,
                0,
                p->maps,
                kNone,
                g_frames[frame].rmap};
    if (p->maps) g_maps[p->maps].pprev = i;
    p->maps = i;
    g_frames[frame].rmap = i;
    ++g_frames[frame].refs;
    index_insert(i);
    return i;
}

Proc* owner_of(const FrameInfo& f) {
    return f.owner ? &g_procs[f.owner - 1] : nullptr;
}

// Removes mapping i (the kernel mapping too, unless the capability that made
// it is already gone); the frame goes back with its last mapping.
void remove_mapping(uint32_t i, bool cap_gone = false) {
    Mapping& m = g_maps[i];
    Proc* p = &g_procs[m.key & kKeyProcMask];
    FrameInfo& f = g_frames[m.frame];
    if (m.slot == f.block_slot) {
        if (!cap_gone) (void)sys::unmap(m.slot);
    } else {
        if (!cap_gone) (void)sys::cap_delete(m.slot);
        g_slots.free(m.slot);
    }
    index_remove(i);
    if (m.pprev)
        g_maps[m.pprev].pnext = m.pnext;
    else
        p->maps = m.pnext;
    if (m.pnext) g_maps[m.pnext].pprev = m.pprev;
    for (uint32_t* link = &f.rmap; *link; link = &g_maps[*link].rnext)
        if (*link == i) {
            *link = m.rnext;
            break;
        }
    Proc* owner = owner_of(f);
    if (--f.refs == 0) {
        f.owner = 0;
        free_frames(owner, Use::User, Block{f.block_slot, frame_pa(m.frame), 0});
    } else if (owner == p) {
        // The charge moves to a process that still maps the frame.
        Proc* heir = &g_procs[g_maps[f.rmap].key & kKeyProcMask];
        uncharge(p, Use::User, 1);
        charge(heir, Use::User, 1);
        f.owner = static_cast<uint16_t>(slot_of(heir) + 1);
    }
    m.key = 0;
    m.hnext = g_map_free;
    g_map_free = i;
}

uint64_t rights_of(uint64_t flags) {
    uint64_t r = abi::kRightRead;
    if ((flags & kMapW) && !(flags & kMapCow)) r |= abi::kRightWrite;
    if (flags & kMapX) r |= abi::kRightExec;
    return r;
}

// Maps frame b (fresh, owned by p from now on) at va in p and records it;
// through_copy: through a copy of its capability (so that revoking the
// frame removes the mapping: RevokePage). On error nothing is left mapped or
// recorded, and b stays the caller's to free.
Result<void> map_fresh(Proc* p, uint64_t va, uint64_t flags, Block b, bool through_copy) {
    uint32_t slot = b.slot;
    if (through_copy) {
        slot = TRY(g_slots.alloc());
        if (sys::cap_copy(b.slot, 0, slot, abi::kRightsAll & ~abi::kRightDonate, 0) < 0) {
            g_slots.free(slot);
            return Error::InvalidArgument;
        }
    }
    auto r = map_with_tables(p, slot, p->as_obj, va, rights_of(flags));
    uint64_t idx = frame_index(b.pa);
    g_frames[idx] = FrameInfo{b.slot, 0, static_cast<uint16_t>(slot_of(p) + 1), kNone, 0};
    if (r.ok() && !record_mapping(p, va, flags, idx, slot).ok()) {
        if (!through_copy) (void)sys::unmap(slot);
        r = Error::NoMemory;
    }
    if (!r.ok()) {
        if (through_copy) (void)sys::cap_delete(slot), g_slots.free(slot);
        g_frames[idx] = FrameInfo{};
    }
    return r;
}

// A fresh page at va in p: zeroed, or `len` bytes of src at offset `at`.
Result<void> new_page(Proc* p, uint64_t va, uint64_t flags, const uint8_t* src, uint64_t len,
                      uint64_t at = 0, bool from_reserve = false, bool through_copy = false) {
    Block b = TRY(alloc_frames(p, Use::User, 0, from_reserve));
    auto r = fill_frame(b.slot, src, len, at);
    if (r.ok()) r = map_fresh(p, va, flags, b, through_copy);
    if (!r.ok()) free_frames(p, Use::User, b);
    return r;
}

// Shares frame `idx` into p at va (fork): through a new copy of its capability.
Result<void> share_page(Proc* p, uint64_t va, uint64_t flags, uint64_t idx) {
    uint32_t slot = TRY(g_slots.alloc());
    auto r = sys::cap_copy(g_frames[idx].block_slot, 0, slot, abi::kRightsAll & ~abi::kRightDonate,
                           0) < 0
                 ? Result<void>(Error::InvalidArgument)
                 : map_with_tables(p, slot, p->as_obj, va, rights_of(flags));
    if (r.ok() && !record_mapping(p, va, flags, idx, slot).ok()) r = Error::NoMemory;
    if (!r.ok()) (void)sys::cap_delete(slot), g_slots.free(slot);
    return r;
}

// A write fault on a copy-on-write page: the last sharer takes the frame
// over; otherwise the page is copied.
Result<void> break_cow(Proc* p, uint32_t i) {
    Mapping& m = g_maps[i];
    FrameInfo& f = g_frames[m.frame];
    uint64_t va = m.key & ~(kMapFlags | kKeyProcMask);
    uint64_t flags = (m.key & kMapFlags) & ~kMapCow;
    if (f.refs == 1) {
        if (sys::protect(m.slot, rights_of(flags)) < 0) return Error::InvalidArgument;
        m.key &= ~kMapCow;
        return {};
    }
    Block b = TRY(alloc_frames(p, Use::User, 0));
    {
        TempCap src(f.block_slot); // its window goes with it
        auto* from =
            src.slot ? window<const volatile uint64_t>(src.slot, kScratchSrcVa, false) : nullptr;
        auto* to = from ? window<volatile uint64_t>(b.slot, kScratchVa, true) : nullptr;
        if (!to) {
            free_frames(p, Use::User, b);
            return Error::NoMemory;
        }
        for (uint64_t w = 0; w < kPage / 8; ++w)
            to[w] = from[w];
        unwindow(b.slot);
    }
    remove_mapping(i); // the page-table entry is free now; its tables stay
    auto r = map_fresh(p, va, flags, b, false);
    if (!r.ok()) free_frames(p, Use::User, b); // the page is gone: the fault kills p
    return r;
}

bool in_heap(const Proc* p, uint64_t va) {
    return va >= p->heap_base && va < ((p->brk + kPage - 1) & ~(kPage - 1));
}
bool in_stack(uint64_t va) {
    return va >= abi::kStackGuardVa + kPage && va < abi::kUserStackTop;
}

// Makes the page at va present (and writable if asked) in p, as a fault
// would: demand-zero heap and stack, copy-on-write. Fault if va is not p's.
Result<uint32_t> touch(Proc* p, uint64_t va, bool write) {
    va &= ~(kPage - 1);
    uint32_t i = find_mapping(p, va);
    if (i) {
        uint64_t flags = g_maps[i].key & kMapFlags;
        if (!write) return i;
        if (!(flags & kMapW)) return Error::Fault;
        if (flags & kMapCow) TRY(break_cow(p, i));
        return find_mapping(p, va);
    }
    if (in_heap(p, va)) {
        TRY(new_page(p, va, kMapW, nullptr, 0, 0, p->reserved > 0));
        return find_mapping(p, va);
    }
    if (in_stack(va)) {
        TRY(new_page(p, va, kMapW, nullptr, 0));
        return find_mapping(p, va);
    }
    return Error::Fault;
}

// Copies between mm and p's memory, page by page through a window.
Result<void> copy_user(Proc* p, uint64_t va, void* buf, uint64_t n, bool to_user) {
    auto* bytes = static_cast<uint8_t*>(buf);
    if (va + n < va || va + n > abi::kMaxVa) return Error::Fault;
    while (n) {
        uint64_t off = va & (kPage - 1), chunk = kPage - off < n ? kPage - off : n;
        uint32_t i = TRY(touch(p, va, to_user));
        TempCap cap(g_frames[g_maps[i].frame].block_slot);
        auto* page =
            cap.slot ? window<volatile uint8_t>(cap.slot, kScratchSrcVa, to_user) : nullptr;
        if (!page) return Error::NoMemory;
        for (uint64_t k = 0; k < chunk; ++k) {
            if (to_user)
                page[off + k] = bytes[k];
            else
                bytes[k] = page[off + k];
        }
        va += chunk, bytes += chunk, n -= chunk;
    }
    return {};
}

// A NUL-terminated string of at most max - 1 bytes from p.
Result<uint64_t> copy_string(Proc* p, uint64_t va, char* buf, uint64_t max) {
    for (uint64_t n = 0; n < max; ++n) {
        TRY(copy_user(p, va + n, &buf[n], 1, false));
        if (!buf[n]) return n;
    }
    return Error::TooMany;
}

// ---- building and ending processes ---------------------------------------
void drop_tables(Proc* p) {
    // Leaf level first: a table can only go once it is empty.
    for (int pass = 0; pass < 3 && p->tables; ++pass)
        for (uint32_t* link = &p->tables; *link;) {
            uint32_t idx = *link - 1;
            FrameInfo& f = g_frames[idx];
            if (sys::unmap_table(f.block_slot) == 0) {
                *link = f.rmap;
                --p->table_count;
                free_frames(p, Use::PageTable, Block{f.block_slot, frame_pa(idx), 0});
                f = FrameInfo{};
            } else {
                link = &f.rmap;
            }
        }
    if (p->table_count) sys::printf("mm: BUG: %d page tables still busy\n", p->table_count);
}

void drop_image(Proc* p) {
    while (p->maps)
        remove_mapping(p->maps);
    unreserve(p, p->reserved);
}

Result<uint32_t> make_object(Proc* p, abi::ObjType type, uint8_t order, Block& block) {
    block = TRY(alloc_frames(p, Use::KernelObject, order));
    auto slot = g_slots.alloc();
    if (!slot.ok() || sys::retype(block.slot, type, slot.value()) < 0) {
        if (slot.ok()) g_slots.free(slot.value());
        free_frames(p, Use::KernelObject, block);
        block = Block{};
        return Error::NoMemory;
    }
    return slot.value();
}

void delete_object(Proc* p, uint32_t& obj, Block& block, Use use) {
    if (!obj) return;
    int64_t r = sys::cap_delete(obj);
    for (int spins = 0; r == err(Errno::Busy) && spins < 1000; ++spins) {
        // A thread still running on another hart stops at its next kernel
        // entry (at the latest the next tick).
        sys::yield();
        r = sys::cap_delete(obj);
    }
    if (r < 0) sys::printf("mm: BUG: cannot delete object slot %u (%ld)\n", obj, r);
    g_slots.free(obj);
    obj = 0;
    free_frames(p, use, block);
}

void stop_thread(Proc* p) {
    if (p->thread_obj) (void)sys::thread_suspend(p->thread_obj);
    delete_object(p, p->thread_obj, p->thread_block, Use::KernelObject);
    if (p->kstack_block.slot) {
        free_frames(p, Use::KernelStack, p->kstack_block); // released with the thread
        p->kstack_block = Block{};
    }
}

// Everything p holds goes back; the slot stays (a zombie keeps its status).
void teardown(Proc* p) {
    stop_thread(p);
    drop_image(p);
    drop_tables(p);
    delete_object(p, p->as_obj, p->as_block, Use::KernelObject);
    if (p->badged_ep) { // removes the copy in the process's table too
        (void)sys::cap_revoke(p->badged_ep);
        (void)sys::cap_delete(p->badged_ep);
        g_slots.free(p->badged_ep);
        p->badged_ep = 0;
    }
    delete_object(p, p->table_obj, p->table_block, Use::KernelObject);
    // Everything was uncharged as it went back; what is left is a bug.
    uint64_t left = g_acct.release_task(id_of(p)).total();
    if (left) {
        sys::printf("mm: BUG: pid %d still charged %lu frames\n", p->pid, left);
        group_add(p->group, -static_cast<int64_t>(left));
    }
    group_put(p->group);
    p->group = -1;
}

Proc* new_proc(State s) {
    for (int i = 0; i < kMaxProcs; ++i)
        if (g_procs[i].state == State::Free) {
            Proc* p = &g_procs[i];
            *p = Proc{};
            p->state = s;
            return p;
        }
    return nullptr;
}

void set_name(Proc* p, const char* name) {
    size_t i = 0;
    for (; i + 1 < sizeof p->name && name[i]; ++i)
        p->name[i] = name[i];
    p->name[i] = 0;
}

// The objects every process has: capability table, address space, thread
// with its guarded kernel stack, and its endpoint capabilities to mm.
Result<void> make_process_objects(Proc* p) {
    p->table_obj = TRY(make_object(p, abi::ObjType::CapTable, 0, p->table_block));
    p->as_obj = TRY(make_object(p, abi::ObjType::AddressSpace, 2, p->as_block));
    p->thread_obj = TRY(make_object(p, abi::ObjType::Thread, 0, p->thread_block));
    p->kstack_block = TRY(alloc_frames(p, Use::KernelStack, 0));
    if (sys::thread_set_stack(p->thread_obj, p->kstack_block.slot) < 0) {
        free_frames(p, Use::KernelStack, p->kstack_block);
        p->kstack_block = Block{};
        return Error::Busy;
    }
    p->badged_ep = TRY(g_slots.alloc());
    if (sys::cap_copy(g_endpoint, 0, p->badged_ep, abi::kRightWrite, uint64_t(p->pid)) < 0 ||
        sys::cap_copy(p->badged_ep, p->table_obj, abi::kSlotMmEndpoint, abi::kRightWrite, 0) < 0) {
        g_slots.free(p->badged_ep);
        p->badged_ep = 0;
        return Error::InvalidArgument;
    }
    return {};
}

// Binds p's thread to an address space with mm as its fault handler.
Result<void> configure_thread(Proc* p, uint32_t as) {
    uint32_t fault_ep = TRY(g_slots.alloc());
    bool ok = sys::cap_copy(g_endpoint, 0, fault_ep, abi::kRightWrite,
                            kFaultBit | uint64_t(p->pid)) == 0 &&
              sys::thread_configure(p->thread_obj, as, p->table_obj, fault_ep) == 0;
    (void)sys::cap_delete(fault_ep);
    g_slots.free(fault_ep);
    return ok ? Result<void>{} : Error::InvalidArgument;
}

// ---- exec -----------------------------------------------------------------
struct Args {
    uint64_t argc = 0;
    uint64_t bytes = 0;
    char strings[abi::kMaxArgBytes];
    uint16_t offsets[abi::kMaxArgs];
};

// The new image of an exec (or of the first process) in `img`, a Building
// slot with its own address space: segments and a stack with argv.
Result<uint64_t> build_image(Proc* img, const capframe::mm::ElfImage& elf,
                             std::span<const uint8_t> file, const Args& args, uint64_t& sp_out,
                             uint64_t& argv_out) {
    uint64_t top = 0;
    for (int s = 0; s < elf.segment_count; ++s) {
        const auto& seg = elf.segments[s];
        uint64_t flags = (seg.flags & 2 ? kMapW : 0) | (seg.flags & 1 ? kMapX : 0);
        uint64_t start = seg.vaddr & ~(kPage - 1);
        uint64_t end = (seg.vaddr + seg.memsz + kPage - 1) & ~(kPage - 1);
        for (uint64_t va = start; va < end; va += kPage) {
            // File bytes of this page: [seg.vaddr, seg.vaddr + filesz) ∩ page.
            uint64_t lo = va > seg.vaddr ? va : seg.vaddr;
            uint64_t file_end = seg.vaddr + seg.filesz;
            uint64_t hi = va + kPage < file_end ? va + kPage : file_end;
            const uint8_t* src = nullptr;
            uint64_t len = 0;
            if (hi > lo) {
                src = file.data() + seg.offset + (lo - seg.vaddr);
                len = hi - lo;
            }
            TRY(new_page(img, va, flags, src, len, lo - va));
        }
        if (end > top) top = end;
    }
    // The stack's top page: the strings, then argv[] (16-byte aligned).
    static uint8_t page[kPage];
    for (uint8_t& c : page)
        c = 0;
    uint64_t str_base = kPage - ((args.bytes + 15) & ~uint64_t{15});
    for (uint64_t k = 0; k < args.bytes; ++k)
        page[str_base + k] = static_cast<uint8_t>(args.strings[k]);
    uint64_t vec = (str_base - (args.argc + 1) * 8) & ~uint64_t{15};
    uint64_t page_va = abi::kUserStackTop - kPage;
    for (uint64_t k = 0; k < args.argc; ++k) {
        uint64_t ptr = page_va + str_base + args.offsets[k];
        for (int b = 0; b < 8; ++b)
            page[vec + k * 8 + b] = static_cast<uint8_t>(ptr >> (8 * b));
    }
    TRY(new_page(img, page_va, kMapW, page, kPage));
    sp_out = page_va + vec;
    argv_out = page_va + vec;
    return top;
}

Result<void> find_program(const char* name, capframe::mm::ElfImage& elf,
                          std::span<const uint8_t>& file) {
    capframe::mm::CpioEntry e;
    TRY(capframe::mm::cpio_find(boot_archive(), name, e));
    TRY(capframe::mm::check_elf(e.data, abi::kUserTextBase, kHeapTop, elf));
    file = e.data;
    return {};
}

void rekey(Proc* from, Proc* to) {
    // Moves every mapping (and frame ownership) of `from` to `to`.
    while (uint32_t i = from->maps) {
        Mapping& m = g_maps[i];
        index_remove(i);
        from->maps = m.pnext;
        if (m.pnext) g_maps[m.pnext].pprev = kNone;
        m.key = (m.key & ~kKeyProcMask) | static_cast<uint64_t>(slot_of(to));
        m.pprev = kNone;
        m.pnext = to->maps;
        if (to->maps) g_maps[to->maps].pprev = i;
        to->maps = i;
        if (g_frames[m.frame].owner == slot_of(from) + 1)
            g_frames[m.frame].owner = static_cast<uint16_t>(slot_of(to) + 1);
        index_insert(i);
    }
    while (from->tables) {
        Block t = pop_table(from);
        push_table(to, t);
    }
    auto moved = g_acct.release_task(id_of(from));
    for (size_t u = 0; u < capframe::mm::kUseCount; ++u)
        (void)g_acct.charge(id_of(to), static_cast<Use>(u), moved.frames[u]);
}

// Replaces p's image by program `name` with `args`. On any error p is as it
// was. On success p's thread starts afresh in the new image.
Result<void> exec_into(Proc* p, const char* name, const Args& args, bool fresh) {
    capframe::mm::ElfImage elf;
    std::span<const uint8_t> file;
    TRY(find_program(name, elf, file));

    Proc* img = new_proc(State::Building);
    if (!img) return Error::NoMemory;
    img->pid = p->pid;
    img->group = p->group;
    if (img->group >= 0) ++g_groups[img->group].refs;
    auto fail = [&](Error e) -> Error {
        teardown(img);
        img->state = State::Free;
        return e;
    };
    auto as = make_object(img, abi::ObjType::AddressSpace, 2, img->as_block);
    if (!as.ok()) return fail(as.error());
    img->as_obj = as.value();
    uint64_t sp = 0, argv = 0;
    auto top = build_image(img, elf, file, args, sp, argv);
    if (!top.ok()) return fail(top.error());

    // Point of no return: switch the thread over, then drop the old image.
    if (!fresh) (void)sys::thread_suspend(p->thread_obj);
    if (!configure_thread(p, img->as_obj).ok() ||
        sys::thread_write_regs(p->thread_obj, elf.entry, sp, args.argc, argv) < 0)
        return fail(Error::InvalidArgument); // cannot happen: p stays stopped
    drop_image(p);
    drop_tables(p);
    if (p->as_obj) delete_object(p, p->as_obj, p->as_block, Use::KernelObject);
    rekey(img, p);
    p->as_obj = img->as_obj, p->as_block = img->as_block;
    img->as_obj = 0;
    group_put(img->group);
    img->group = -1;
    img->state = State::Free;
    set_name(p, name);
    p->heap_base = p->brk = top.value();
    (void)sys::thread_start(p->thread_obj);
    return {};
}

Result<void> read_args(Proc* p, uint64_t argv_va, Args& args) {
    args.argc = args.bytes = 0;
    if (!argv_va) return {};
    for (;;) {
        uint64_t ptr = 0;
        TRY(copy_user(p, argv_va + args.argc * 8, &ptr, 8, false));
        if (!ptr) return {};
        if (args.argc == abi::kMaxArgs) return Error::TooMany;
        auto n = copy_string(p, ptr, args.strings + args.bytes, abi::kMaxArgBytes - args.bytes);
        if (!n.ok()) return n.error();
        args.offsets[args.argc++] = static_cast<uint16_t>(args.bytes);
        args.bytes += n.value() + 1;
    }
}

// ---- fork -----------------------------------------------------------------
Result<Proc*> fork(Proc* parent) {
    Proc* c = new_proc(State::Running);
    if (!c) return Error::NoMemory;
    c->pid = g_next_pid++;
    c->parent = parent->pid;
    c->group = parent->group;
    if (c->group >= 0) ++g_groups[c->group].refs;
    set_name(c, parent->name);
    auto fail = [&](Error e) -> Error {
        teardown(c);
        c->state = State::Free;
        return e;
    };
    if (auto r = make_process_objects(c); !r.ok()) return fail(r.error());
    if (auto r = reserve(c, parent->reserved); !r.ok()) return fail(r.error());
    c->heap_base = parent->heap_base, c->brk = parent->brk;
    // Share every page: writable ones become copy-on-write in both.
    for (uint32_t i = parent->maps; i; i = g_maps[i].pnext) {
        Mapping& m = g_maps[i];
        uint64_t flags = m.key & kMapFlags;
        if ((flags & kMapW) && !(flags & kMapCow)) {
            if (sys::protect(m.slot, rights_of(flags | kMapCow)) < 0) return fail(Error::Busy);
            m.key |= kMapCow;
            flags |= kMapCow;
        }
        uint64_t va = m.key & ~(kMapFlags | kKeyProcMask);
        if (auto r = share_page(c, va, flags, m.frame); !r.ok()) return fail(r.error());
    }
    if (auto r = configure_thread(c, c->as_obj); !r.ok()) return fail(r.error());
    if (sys::thread_copy_regs(c->thread_obj, parent->thread_obj, 0, 0) < 0 ||
        sys::thread_start(c->thread_obj) < 0)
        return fail(Error::InvalidArgument);
    return c;
}

// ---- exit and wait ----------------------------------------------------------
void reply_to(Proc* p, int64_t result, uint64_t w1 = 0) {
    sys::Msg m;
    m.w[0] = static_cast<uint64_t>(result), m.w[1] = w1;
    (void)sys::thread_reply(p->thread_obj, m);
}

// Reaps zombie child c for waiting parent p and answers p's wait. If the
// status cannot be stored, p gets EFAULT instead and c stays a zombie.
void reap(Proc* p, Proc* c) {
    if (p->wait_va) {
        int32_t st = c->status;
        if (!copy_user(p, p->wait_va, &st, sizeof st, true).ok()) {
            p->waiting = false;
            reply_to(p, err(Errno::Fault));
            return;
        }
    }
    int pid = c->pid;
    c->state = State::Free;
    p->waiting = false;
    reply_to(p, pid);
}

bool has_children(const Proc* p, Proc** zombie) {
    bool any = false;
    for (int i = 0; i < kMaxProcs; ++i) {
        Proc& c = g_procs[i];
        if ((c.state == State::Running || c.state == State::Zombie) && c.parent == p->pid) {
            any = true;
            if (c.state == State::Zombie && zombie) {
                *zombie = &c;
                return true;
            }
        }
    }
    return any;
}

void end_process(Proc* p, int status);

void shutdown_after_init(int status) {
    // Whatever is still running goes first, so the frame count is exact.
    for (int i = 0; i < kMaxProcs; ++i)
        if (g_procs[i].state == State::Running) teardown(&g_procs[i]);
    uint64_t free_now = g_buddy.free_frames();
    sys::printf("mm: init exited; free frames %lu, at start %lu: %s\n", free_now, g_free_at_start,
                free_now == g_free_at_start ? "every frame came back" : "FRAMES LOST");
    sys::shutdown(abi::kSlotControl, free_now == g_free_at_start ? status : 99);
}

void end_process(Proc* p, int status) {
    teardown(p);
    p->status = status;
    if (p->pid == g_init_pid) shutdown_after_init(status);
    // Orphans go to init.
    Proc* init = proc_by_pid(g_init_pid);
    for (int i = 0; i < kMaxProcs; ++i) {
        Proc& c = g_procs[i];
        if ((c.state == State::Running || c.state == State::Zombie) && c.parent == p->pid) {
            c.parent = g_init_pid;
            if (c.state == State::Zombie && init && init->waiting) reap(init, &c);
        }
    }
    Proc* parent = proc_by_pid(p->parent);
    if (!parent || parent->state != State::Running) {
        p->state = State::Free;
        return;
    }
    p->state = State::Zombie;
    if (parent->waiting) reap(parent, p);
}

// ---- requests ---------------------------------------------------------------
capframe::mm::Snapshot snapshot() {
    return g_acct.snapshot(g_buddy.total_frames(), g_buddy.free_frames());
}

void console_sink_write(void*, const char* s, size_t n) {
    sys::write(1, s, n);
}

void meminfo() {
    const abi::BootInfo* b = boot();
    sys::printf("meminfo: RAM free at boot %lu frames; kernel tables %lu, mm's image+objects %lu, "
                "handed to mm %lu\n",
                b->total_frames, b->kernel_boot_frames, b->mm_frames, g_buddy.total_frames());
    capframe::mm::write_meminfo(capframe::Sink{console_sink_write, nullptr}, snapshot(), g_acct);
    for (int i = 0; i < kMaxProcs; ++i)
        if (g_procs[i].state == State::Running)
            sys::printf("meminfo: task %d is pid %d (%s)\n", i, g_procs[i].pid, g_procs[i].name);
    sys::printf("meminfo: \"shared\" counts heap pages promised by sbrk, not yet touched: %lu\n",
                g_reserved);
    uint64_t sum = b->kernel_boot_frames + b->mm_frames + g_buddy.total_frames();
    sys::printf("meminfo: boot accounting %s: %lu + %lu + %lu = %lu of %lu\n",
                sum == b->total_frames ? "adds up" : "MISMATCH", b->kernel_boot_frames,
                b->mm_frames, g_buddy.total_frames(), sum, b->total_frames);
}

// ./capframe memmap: every frame mm manages, in address order, as runs of
// frames with the same holder: "memmap: PA COUNT KIND PID NAME" (KIND free,
// user, shared, ptable, kobj, kstack or mm; free runs have pid 0 and "-").
// Frames of the window that are not mm's (the kernel, mm's image) are not
// listed. Returns the number of runs.
uint64_t memmap() {
    struct Holder {
        const char* kind;
        const Proc* p;
        bool operator==(const Holder&) const = default;
    };
    auto holder_of = [](uint64_t idx) -> Holder {
        uint64_t pa = frame_pa(idx);
        auto in = [pa](const Block& b) {
            return b.pa && pa >= b.pa && pa < b.pa + (kPage << b.order);
        };
        for (const Proc& q : g_procs) {
            if (q.state == State::Free) continue;
            if (in(q.kstack_block)) return {"kstack", &q};
            if (in(q.table_block) || in(q.as_block) || in(q.thread_block)) return {"kobj", &q};
        }
        const FrameInfo& f = g_frames[idx];
        const Proc* p = owner_of(f);
        if (!p || p == &g_mm_self) return {"mm", &g_mm_self};
        return {f.refs == 0 ? "ptable" : f.refs > 1 ? "shared" : "user", p};
    };
    uint64_t runs = 0, start = 0, count = 0;
    Holder run{};
    auto flush = [&] {
        if (!count) return;
        bool mine = run.p == &g_mm_self || !run.p;
        sys::printf("memmap: 0x%016lx %lu %s %d %s\n", start, count, run.kind,
                    mine ? 0 : run.p->pid,
                    !run.p ? "-"
                    : mine ? "mm"
                           : run.p->name);
        ++runs;
    };
    auto add = [&](uint64_t pa, uint64_t n, Holder h) {
        if (count && h == run && pa == start + count * kPage) {
            count += n;
            return;
        }
        flush();
        start = pa, count = n, run = h;
    };
    sys::printf("memmap: begin, %lu frames, %lu free\n", g_buddy.total_frames(),
                g_buddy.free_frames());
    g_buddy.for_each_block([&](Block b, bool is_free) {
        uint64_t n = uint64_t{1} << b.order;
        if (is_free) return add(b.pa, n, Holder{"free", nullptr});
        for (uint64_t i = 0; i < n; ++i)
            add(b.pa + i * kPage, 1, holder_of(frame_index(b.pa) + i));
    });
    flush();
    sys::printf("memmap: end, %lu runs\n", runs);
    return runs;
}

void kill_for_fault(Proc* p, const sys::Msg& m) {
    uint64_t va = m.w[2];
    uint32_t i = va < abi::kMaxVa ? find_mapping(p, va & ~(kPage - 1)) : kNone;
    const char* why = m.w[1] != 12 && m.w[1] != 13 && m.w[1] != 15 ? "not a page fault"
                      : va >= abi::kMaxVa       ? "outside the user address space"
                      : va >= abi::kTrapframeVa ? "the kernel's page"
                      : !i                      ? "nothing mapped there"
                      : m.w[1] == 12            ? "page not executable"
                      : m.w[1] == 13            ? "page not readable"
                                                : "page not writable";
    sys::printf("mm: pid %d (%s): %s at 0x%016lx, pc 0x%016lx, killed (%s)\n", p->pid, p->name,
                abi::exception_name(m.w[1]), va, m.w[3], why);
    end_process(p, -1);
}

// A fault message {kFaultLabel, scause, stval, sepc}: true if fixed (reply
// 0 resumes the thread).
bool handle_fault(Proc* p, const sys::Msg& m) {
    uint64_t cause = m.w[1], va = m.w[2];
    if (cause != 12 && cause != 13 && cause != 15) return false; // not a page fault
    if (va >= abi::kMaxVa) return false;
    uint32_t i = find_mapping(p, va & ~(kPage - 1));
    if (i) {
        uint64_t flags = g_maps[i].key & kMapFlags;
        if (cause != 15 || !(flags & kMapCow)) return false; // a real protection fault
        auto r = break_cow(p, i);
        if (!r.ok())
            sys::printf("mm: pid %d (%s): no memory for a copy-on-write page\n", p->pid, p->name);
        return r.ok();
    }
    if (cause == 12) return false; // heap and stack are not executable
    if (!in_heap(p, va) && !in_stack(va)) return false;
    auto r = touch(p, va, true);
    if (!r.ok())
        sys::printf("mm: pid %d (%s): no memory for a page at 0x%lx (%s; reserved %lu, free %lu)\n",
                    p->pid, p->name, va, capframe::error_name(r.error()), p->reserved, available());
    return r.ok();
}

int64_t sbrk(Proc* p, int64_t n) {
    uint64_t old = p->brk;
    uint64_t want = old + static_cast<uint64_t>(n);
    if ((n > 0 && want < old) || (n < 0 && want > old) || want < p->heap_base || want > kHeapTop)
        return err(Errno::NoMem);
    uint64_t old_top = (old + kPage - 1) & ~(kPage - 1);
    uint64_t new_top = (want + kPage - 1) & ~(kPage - 1);
    if (new_top > old_top) {
        // The pages, and the page tables they may need (one per 2 MiB and
        // per 1 GiB region the growth enters).
        constexpr uint64_t k2M = uint64_t{1} << 21, k1G = uint64_t{1} << 30;
        uint64_t tables =
            (new_top - 1) / k2M - old_top / k2M + 1 + (new_top - 1) / k1G - old_top / k1G + 1;
        auto r = reserve(p, (new_top - old_top) / kPage + tables);
        if (!r.ok()) return err(Errno::NoMem);
    } else {
        for (uint64_t va = new_top; va < old_top; va += kPage) {
            if (uint32_t i = find_mapping(p, va))
                remove_mapping(i);
            else
                unreserve(p, 1);
        }
    }
    p->brk = want;
    return static_cast<int64_t>(old);
}

int64_t set_limit(Proc* p, int pid, uint64_t frames) {
    Proc* t = pid == 0 ? p : proc_by_pid(pid);
    if (!t || t->state != State::Running || (t != p && t->parent != p->pid))
        return err(Errno::Srch);
    int g = -1;
    for (int i = 0; i < kMaxGroups; ++i)
        if (!g_groups[i].used) g = i;
    if (g < 0) return err(Errno::NoMem);
    g_groups[g] = Group{true, t->group, 1, frames, g_acct.task_total(id_of(t))};
    if (t->group >= 0) ++g_groups[t->group].refs; // held by the new group
    group_put(t->group);                          // t leaves it
    t->group = g;
    return 0;
}

int64_t proc_info(int64_t index, sys::Msg& out) {
    int64_t seen = 0;
    for (int i = 0; i < kMaxProcs; ++i) {
        const Proc& q = g_procs[i];
        if (q.state != State::Running && q.state != State::Zombie) continue;
        if (seen++ != index) continue;
        out.w[1] = static_cast<uint64_t>(q.parent) |
                   (q.state == State::Running ? mmp::kProcRunning : mmp::kProcZombie) << 32;
        out.w[2] = g_acct.task_total(id_of(&q));
        uint64_t name = 0;
        for (int b = 0; b < 8 && q.name[b]; ++b)
            name |= uint64_t(static_cast<uint8_t>(q.name[b])) << (8 * b);
        out.w[3] = name;
        return q.pid;
    }
    return err(Errno::Srch);
}

int64_t program(int64_t index, sys::Msg& out) {
    size_t offset = 0;
    capframe::mm::CpioEntry e;
    for (int64_t i = 0; capframe::mm::cpio_next(boot_archive(), offset, e).ok();) {
        if ((e.mode & 0170000) != 0100000) continue;
        if (i++ != index) continue;
        char name[24] = {};
        for (size_t k = 0; k < e.name_len && k < 23; ++k)
            name[k] = e.name[k];
        for (int w = 0; w < 3; ++w) {
            out.w[1 + w] = 0;
            for (int b = 0; b < 8; ++b)
                out.w[1 + w] |= uint64_t(static_cast<uint8_t>(name[w * 8 + b])) << (8 * b);
        }
        return 0;
    }
    return err(Errno::NoEnt);
}

// Handles one request from p; false when there is no reply (p is gone or
// waits).
bool request(Proc* p, const sys::Msg& m, sys::Msg& out) {
    auto fail = [&](int64_t e) {
        out.w[0] = static_cast<uint64_t>(e);
        return true;
    };
    switch (static_cast<mmp::Request>(m.w[0])) {
    case mmp::Request::Exit:
        if (p->pid == g_init_pid)
            sys::printf("mm: pid %d (%s) exited with status %ld\n", p->pid, p->name,
                        static_cast<int64_t>(m.w[1]));
        end_process(p, static_cast<int>(m.w[1]));
        return false;
    case mmp::Request::Getpid:
        return fail(p->pid);
    case mmp::Request::Meminfo: {
        meminfo();
        auto s = snapshot();
        out.w[1] = s.total, out.w[2] = s.free, out.w[3] = s.in_use();
        return true;
    }
    case mmp::Request::FreeFrames:
        out.w[1] = g_buddy.free_frames();
        return true;
    case mmp::Request::MemMap:
        out.w[1] = memmap();
        return true;
    case mmp::Request::VmPrint: {
        int pid = static_cast<int>(m.w[1]);
        Proc* target = pid == 0 ? nullptr : proc_by_pid(pid);
        if (pid != 0 && (!target || target->state != State::Running)) return fail(err(Errno::Srch));
        sys::printf("vmprint: pid %d (%s)\n", pid, target ? target->name : "mm");
        sys::vmprint_cap(target ? target->as_obj : abi::kSlotSelfAs);
        return true;
    }
    case mmp::Request::MapPage: {
        uint64_t va = m.w[1];
        if (va % kPage || va < abi::kUserTextBase || va >= kHeapTop || find_mapping(p, va))
            return fail(err(Errno::Inval));
        auto r = new_page(p, va, m.w[2] ? kMapW : 0, nullptr, 0, 0, false, true);
        return fail(r.ok() ? 0 : errno_of(r.error()));
    }
    case mmp::Request::UnmapPage: {
        uint32_t i = m.w[1] % kPage ? kNone : find_mapping(p, m.w[1]);
        if (!i) return fail(err(Errno::Inval));
        remove_mapping(i);
        return true;
    }
    case mmp::Request::RevokePage: {
        // Revokes the frame: every capability derived from it goes, and
        // with them the mappings they made.
        uint32_t i = m.w[1] % kPage ? kNone : find_mapping(p, m.w[1]);
        if (!i) return fail(err(Errno::Inval));
        FrameInfo& f = g_frames[g_maps[i].frame];
        // Only a frame no other process maps: a page shared by fork (text,
        // copy-on-write data) would vanish from the other side too.
        for (uint32_t k = f.rmap; k; k = g_maps[k].rnext)
            if (&g_procs[g_maps[k].key & kKeyProcMask] != p) return fail(err(Errno::Perm));
        int64_t n = sys::cap_revoke(f.block_slot);
        for (uint32_t k = f.rmap; k;) {
            uint32_t next = g_maps[k].rnext;
            remove_mapping(k, g_maps[k].slot != f.block_slot);
            k = next;
        }
        out.w[1] = static_cast<uint64_t>(n);
        return true;
    }
    case mmp::Request::Fork: {
        auto c = fork(p);
        if (!c.ok()) return fail(errno_of(c.error()));
        return fail(c.value()->pid);
    }
    case mmp::Request::Exec: {
        static char path[32];
        static Args args;
        if (auto r = copy_string(p, m.w[1], path, sizeof path); !r.ok())
            return fail(r.error() == Error::TooMany ? err(Errno::NoEnt) : errno_of(r.error()));
        if (auto r = read_args(p, m.w[2], args); !r.ok())
            return fail(r.error() == Error::TooMany ? err(Errno::TooBig) : errno_of(r.error()));
        auto r = exec_into(p, path, args, false);
        if (!r.ok()) return fail(errno_of(r.error()));
        return false; // the thread runs the new image
    }
    case mmp::Request::Wait: {
        Proc* zombie = nullptr;
        if (!has_children(p, &zombie)) return fail(err(Errno::Child));
        p->waiting = true;
        p->wait_va = m.w[1];
        if (zombie) reap(p, zombie);
        return false; // answered by reap()
    }
    case mmp::Request::Kill: {
        Proc* t = proc_by_pid(static_cast<int>(m.w[1]));
        if (!t || t->state != State::Running) return fail(err(Errno::Srch));
        if (t->pid == g_init_pid) return fail(err(Errno::Perm));
        sys::printf("mm: pid %d (%s) killed by pid %d\n", t->pid, t->name, p->pid);
        bool self = t == p;
        end_process(t, -1);
        return self ? false : fail(0);
    }
    case mmp::Request::Sbrk:
        return fail(sbrk(p, static_cast<int64_t>(m.w[1])));
    case mmp::Request::SetLimit:
        return fail(set_limit(p, static_cast<int>(m.w[1]), m.w[2]));
    case mmp::Request::ProcInfo:
        return fail(proc_info(static_cast<int64_t>(m.w[1]), out));
    case mmp::Request::Program:
        return fail(program(static_cast<int64_t>(m.w[1]), out));
    case mmp::Request::PrepareWrite: {
        uint64_t va = m.w[1], n = m.w[2];
        if (va + n < va || va + n > abi::kMaxVa) return fail(err(Errno::Fault));
        for (uint64_t page = va & ~(kPage - 1); page < va + n; page += kPage)
            if (!touch(p, page, true).ok()) return fail(err(Errno::Fault));
        return true;
    }
    case mmp::Request::FailAlloc:
        g_fail_after = m.w[1];
        g_fail_pid = p->pid;
        return true;
    }
    return fail(err(Errno::NoSys));
}

[[noreturn]] void serve() {
    sys::Msg m;
    int64_t r = sys::recv(g_endpoint, m);
    for (;;) {
        sys::Msg out;
        bool reply = true;
        uint64_t badge = m.badge;
        Proc* p = proc_by_pid(static_cast<int>(badge & 0xffffffff));
        if (r < 0 || !p || p->state != State::Running) {
            out.w[0] = static_cast<uint64_t>(err(Errno::Inval));
        } else if (badge & kFaultBit) {
            if (m.w[0] == abi::kFaultLabel && handle_fault(p, m)) {
                out.w[0] = 0; // resume
            } else {
                kill_for_fault(p, m);
                reply = false;
            }
        } else {
            bool arming = m.w[0] == static_cast<uint64_t>(mmp::Request::FailAlloc);
            g_serving_pid = p->pid;
            reply = request(p, m, out);
            g_serving_pid = 0;
            if (!arming && g_fail_pid == p->pid) g_fail_after = 0; // one request only
        }
        if (reply) {
            m = out;
            r = sys::reply_recv(g_endpoint, m);
        } else {
            r = sys::recv(g_endpoint, m);
        }
    }
}

// Starts the first process: `init` with its arguments.
Result<Proc*> spawn_init(const char* name, const Args& args) {
    Proc* p = new_proc(State::Running);
    if (!p) return Error::NoMemory;
    p->pid = g_next_pid++;
    set_name(p, name);
    auto fail = [&](Error e) -> Error {
        teardown(p);
        p->state = State::Free;
        return e;
    };
    if (auto r = make_process_objects(p); !r.ok()) return fail(r.error());
    if (auto r = exec_into(p, name, args, true); !r.ok()) return fail(r.error());
    return p;
}

// ---- self-test (bootarg mmtest=1) ----------------------------------------
// Bad input that needs real frame capabilities, which only mm holds. Each
// check prints a TAP line; the runner counts them. Everything is given back.
int g_selftest_failures = 0;

void check(bool ok, const char* what) {
    if (!ok) ++g_selftest_failures;
    sys::printf("%s - mm: %s\n", ok ? "ok" : "not ok", what);
}

void selftest() {
    constexpr uint64_t kTestVa = 0x3100000000;
    const uint64_t self_as = abi::kSlotSelfAs;
    const uint64_t rw = abi::kRightRead | abi::kRightWrite;
    uint64_t free_before = g_buddy.free_frames();
    int tables_before = g_mm_self.table_count;

    Block f = g_buddy.alloc(0).value();
    uint32_t s1 = g_slots.alloc().value(), s2 = g_slots.alloc().value(),
             s3 = g_slots.alloc().value();

    int level = -1;
    check(sys::map(f.slot, self_as, kTestVa, rw, &level) == err(Errno::NeedTable) && level == 1,
          "map where no table exists asks for a level-1 table");
    check(map_with_tables(&g_mm_self, f.slot, self_as, kTestVa, rw).ok(),
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

    Block big = g_buddy.alloc(1).value();
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
    (void)g_buddy.free(big);

    g_slots.free(s1), g_slots.free(s2), g_slots.free(s3);
    (void)g_buddy.free(f);
    // The tables donated for the test mappings go back, leaf level first.
    bool tables_back = true;
    while (g_mm_self.table_count > tables_before) {
        Block t = pop_table(&g_mm_self);
        tables_back = tables_back && sys::unmap_table(t.slot) == 0;
        free_frames(&g_mm_self, Use::PageTable, t);
    }
    check(tables_back, "the emptied page tables are given back");
    check(g_buddy.free_frames() == free_before, "every frame is back after the self-test");
    sys::printf("mm: self-test: %d failure(s)\n", g_selftest_failures);
}

[[noreturn]] void die(const char* what) {
    sys::printf("mm: %s\n", what);
    sys::shutdown(abi::kSlotControl, 1);
}

// Splits bootargs "init=NAME ... -- ARG ARG": the program and its argv.
// False if they do not fit in exec's limits.
bool init_args(const char* bootargs, char* name, Args& args) {
    const char* rest = nullptr;
    for (const char* s = bootargs; *s; ++s)
        if (s[0] == '-' && s[1] == '-' && (s == bootargs || s[-1] == ' ') &&
            (s[2] == ' ' || s[2] == 0)) {
            rest = s + 2;
            break;
        }
    args.argc = args.bytes = 0;
    bool fit = true;
    auto add = [&](const char* w, size_t n) {
        if (args.argc == abi::kMaxArgs || args.bytes + n + 1 > abi::kMaxArgBytes) {
            fit = false;
            return;
        }
        args.offsets[args.argc++] = static_cast<uint16_t>(args.bytes);
        for (size_t k = 0; k < n; ++k)
            args.strings[args.bytes++] = w[k];
        args.strings[args.bytes++] = 0;
    };
    size_t len = 0;
    while (name[len])
        ++len;
    add(name, len);
    while (rest && *rest) {
        while (*rest == ' ')
            ++rest;
        const char* w = rest;
        while (*rest && *rest != ' ')
            ++rest;
        if (rest > w) add(w, static_cast<size_t>(rest - w));
    }
    return fit;
}

} // namespace

int main() {
    const abi::BootInfo* b = boot();
    if (b->magic != abi::kBootInfoMagic) die("no BootInfo from the kernel");
    g_slots.init(b->mm_captable_slots, b->first_free_slot);
    g_window_base = b->window_base;
    g_window_frames = b->window_frames;
    auto* meta = reinterpret_cast<capframe::mm::FrameMeta*>(abi::kFrameMetaVa);
    if (b->meta_bytes < b->window_frames * abi::kMetaBytesPerFrame ||
        !g_buddy.init(b->window_base, std::span(meta, b->window_frames)).ok())
        die("bad frame window");
    // The rest of the metadata region: frame records, mappings, buckets.
    uint64_t base = abi::kFrameMetaVa + b->window_frames * 16;
    g_frames = reinterpret_cast<FrameInfo*>(base);
    base += b->window_frames * sizeof(FrameInfo);
    g_map_count = b->window_frames + b->window_frames / 4;
    g_maps = reinterpret_cast<Mapping*>(base);
    base += g_map_count * sizeof(Mapping);
    uint64_t buckets = 1;
    while (buckets * 2 <= b->window_frames * 2)
        buckets *= 2;
    g_bucket_mask = buckets - 1;
    g_buckets = reinterpret_cast<uint32_t*>(base);
    for (uint64_t i = g_map_count - 1; i >= 1; --i) {
        g_maps[i].hnext = g_map_free;
        g_map_free = static_cast<uint32_t>(i);
    }

    for (uint64_t s = b->first_frame_slot; s < b->first_frame_slot + b->frame_slot_count; ++s) {
        uint64_t pa = 0;
        int64_t info = sys::cap_info(s, &pa);
        uint8_t order = static_cast<uint8_t>(info >> 16);
        if (info < 0 || !g_buddy.add_root(Block{static_cast<uint32_t>(s), pa, order}).ok())
            sys::printf("mm: frame capability %lu unusable\n", s);
    }
    g_free_at_start = g_buddy.free_frames();
    sys::printf("mm: %lu free frames (%lu MiB) in %lu capabilities; %lu capability slots\n",
                g_free_at_start, g_free_at_start >> 8, b->frame_slot_count, g_slots.count);

    Block ep_block{};
    auto ep = make_object(nullptr, abi::ObjType::Endpoint, 0, ep_block);
    if (!ep.ok()) die("cannot make its endpoint");
    g_endpoint = ep.value();
    // Warm both scratch windows once (their page tables stay), so that from
    // here "back where it started" is exact.
    if (auto w = alloc_frames(nullptr, Use::User, 0); w.ok()) {
        (void)window<uint8_t>(w.value().slot, kScratchVa, true);
        unwindow(w.value().slot);
        (void)window<uint8_t>(w.value().slot, kScratchSrcVa, true);
        unwindow(w.value().slot);
        free_frames(nullptr, Use::User, w.value());
    }
    g_free_at_start = g_buddy.free_frames();

    char flag[8];
    if (capframe::find_bootarg(boot()->bootargs, "mmtest", flag, sizeof flag)) selftest();

    static char init[24] = "init";
    static Args args;
    (void)capframe::find_bootarg(boot()->bootargs, "init", init, sizeof init);
    if (!init_args(boot()->bootargs, init, args)) {
        sys::printf("mm: the arguments of '%s' do not fit: at most %lu words, %lu bytes\n", init,
                    abi::kMaxArgs, abi::kMaxArgBytes);
        sys::shutdown(abi::kSlotControl, 1);
    }
    auto t = spawn_init(init, args);
    if (!t.ok()) {
        sys::printf("mm: cannot start '%s': %s\n", init, capframe::error_name(t.error()));
        sys::shutdown(abi::kSlotControl, 1);
    }
    g_init_pid = t.value()->pid;
    sys::printf("mm: started pid %d (%s)\n", g_init_pid, init);
    serve();
    return 0;
}
