// fork: a child that shares every page of its parent; writable pages become
// copy-on-write in both (pages.cpp's break_cow copies them on the first write).
#include "batch.h"
#include "errors.h"
#include "frames.h"
#include "kernel.h"
#include "mappings.h"
#include "pages.h"
#include "server.h"
#include "slots.h"

namespace capframe::mm {

namespace {

// One page of the parent being shared: its mapping, the child's new slot,
// the child's flags, and where its calls start in the batch.
struct Share {
    uint32_t map, slot;
    uint64_t flags;
    uint64_t first;
    bool protect;
};

// The child's page tables for the pages share_pages maps (FreshTables,
// pages.h): their MapTables at the front of the first share batch.
Result<void> premake_tables(Proc* parent, Proc* c, bool heap_lazy, FreshTables& t) {
    for (uint32_t i = parent->maps; i; i = mapping(i).pnext) {
        const Mapping& m = mapping(i);
        const uint64_t v = va_of(m);
        if (is_lazy(m) || (heap_lazy && in_heap(parent, v))) continue; // not mapped by a share
        t.cover(v, v + kPage);
    }
    TRY(t.allocate(c));
    t.queue(c, c->as_obj);
    return {};
}

// Runs the queued shares: the parent's pages protected by the batch become
// copy-on-write in mm's books, the child's pages mapped are recorded; the
// rest is undone. The first error, if any.
Result<void> run_shares(Proc* c, Share* items, uint64_t n, FreshTables& tables) {
    BatchRun run = g_batch.run(c);
    tables.ran(c, run.done); // (nothing after the first run)
    Result<void> out;
    for (uint64_t k = 0; k < n; ++k) {
        Share& s = items[k];
        Mapping& m = mapping(s.map);
        uint64_t copy = s.first + (s.protect ? 1 : 0), map = copy + 1;
        if (s.protect && s.first < run.done) m.key |= kMapCow;
        if (map < run.done && out.ok() &&
            record_mapping(c, va_of(m), s.flags, m.frame, s.slot).ok())
            continue;
        if (out.ok()) out = map < run.done ? Error::NoMemory : run.error;
        if (copy < run.done) (void)kernel::cap_delete(s.slot); // and its mapping
        g_slots.free(s.slot);
    }
    return out;
}

// The parent's heap in [heap_base, end) read-only in the kernel, a few
// page tables per call (ProtectRange); returns how far it got.
uint64_t protect_heap(Proc* parent, uint64_t end) {
    uint64_t va = parent->heap_base;
    while (va < end) {
        int64_t r = kernel::protect_range(parent->as_obj, va, end);
        if (r < 0 || static_cast<uint64_t>(r) <= va) break;
        va = static_cast<uint64_t>(r);
    }
    return va;
}

// A large heap is shared by records alone (kMapLazy): its writable pages
// become copy-on-write in the parent's books once ProtectRange made them
// read-only, and the child's records wait for its first touch (pages.cpp,
// materialize). Kernel calls for the whole heap: one per few page tables,
// instead of three per page. The rest (and a small heap) as below.
Result<void> share_heap(Proc* parent, Proc* c) {
    uint64_t end = (parent->brk + kPage - 1) & ~(kPage - 1);
    uint64_t reached = protect_heap(parent, end);
    for (uint32_t i = parent->maps; i; i = mapping(i).pnext) {
        Mapping& m = mapping(i);
        uint64_t va = va_of(m);
        if (!in_heap(parent, va)) continue;
        uint64_t flags = flags_of(m) & ~(kMapReserved | kMapLazy);
        if (flags & kMapW) {
            if (va >= reached) continue; // still writable: not shared
            m.key |= kMapCow, flags |= kMapCow;
        }
        TRY(record_mapping(c, va, flags | kMapReserved | kMapLazy, m.frame, 0));
        ++g_book.lazy;
    }
    return reached == end ? Result<void>{} : Result<void>{Error::InvalidArgument};
}

Result<void> share_pages(Proc* parent, Proc* c, bool heap_lazy, uint64_t copy_va) {
    if (heap_lazy) TRY(share_heap(parent, c));
    Share items[abi::kBatchMax / 2];
    uint64_t n = 0;
    flush_deferred_merges(3); // (none: the batch is ours)
    FreshTables tables;
    TRY(premake_tables(parent, c, heap_lazy, tables));
    for (uint32_t i = parent->maps; i; i = mapping(i).pnext) {
        Mapping& m = mapping(i);
        if (heap_lazy && in_heap(parent, va_of(m))) continue; // shared above
        if (is_lazy(m)) {
            // Lazy in the parent too: the child's is a record as well. (If
            // that fails, what is queued runs first and is booked: the
            // batch is left empty.)
            if (auto r = record_mapping(c, va_of(m), flags_of(m) | kMapReserved, m.frame, 0);
                !r.ok()) {
                (void)run_shares(c, items, n, tables);
                return r.error();
            }
            ++g_book.lazy;
            continue;
        }
        uint64_t flags = flags_of(m) & ~kMapReserved;
        // The page copied at once (copy_stack_page) stays writable in the
        // parent, which waits in this call: the child maps it read-only
        // until the copy replaces it.
        const bool copied = va_of(m) == copy_va && (flags & kMapW) && !(flags & kMapCow);
        bool protect = (flags & kMapW) && !(flags & kMapCow) && !copied;
        if (g_batch.room() < 3) {
            TRY(run_shares(c, items, n, tables));
            n = 0;
        }
        auto slot = g_slots.alloc();
        if (!slot.ok()) {
            TRY(run_shares(c, items, n, tables));
            return slot.error();
        }
        if (protect || copied) flags |= kMapCow;
        items[n] = Share{i, slot.value(), flags | kMapReserved, g_batch.size(), protect};
        if (protect) g_batch.add(abi::Sys::Protect, m.slot, rights_of(flags));
        g_batch.add(abi::Sys::CapCopy, frame_info(m.frame).block_slot, 0, slot.value(),
                    abi::kRightsAll & ~abi::kRightDonate, 0);
        g_batch.add(abi::Sys::Map, slot.value(), c->as_obj, va_of(m), rights_of(flags));
        ++n;
    }
    return run_shares(c, items, n, tables);
}

// The stack page under the parent's sp (the fork request's hint; 0 if the
// hint is not on the stack): both processes write it first, so the child
// gets its copy now, while the parent waits in the call, and the parent
// keeps the page writable (share_pages did not protect it). Shared
// copy-on-write instead, it cost two faults, mm's two answers and the
// parent's Protect (issue 14).
uint64_t stack_page(uint64_t sp) {
    const uint64_t va = sp & ~(kPage - 1);
    return in_stack(va) ? va : 0;
}

Result<void> copy_stack_page(Proc* c, uint64_t va) {
    const uint32_t ci = va ? find_mapping(c, va) : kNone;
    if (ci && (mapping(ci).key & kMapCow)) TRY(break_cow(c, ci));
    return {};
}

} // namespace

Result<Proc*> fork(Proc* parent, uint64_t sp) {
    Proc* c = new_proc(State::Running);
    if (!c) return Error::NoMemory;
    c->pid = g_pt.next_pid++;
    c->parent = parent->pid;
    c->group = parent->group;
    group_get(c->group);
    set_name(c, parent->name);
    auto fail = [&](Error e) -> Error {
        teardown(c);
        c->state = State::Free;
        return e;
    };
    if (auto r = make_process_objects(c); !r.ok()) return fail(r.error());
    c->heap_base = parent->heap_base, c->brk = parent->brk;
    // The heap's promises: its untouched pages, and every table of its
    // regions (the child's address space has none yet).
    uint64_t tables = heap_tables(c, (c->brk + kPage - 1) & ~(kPage - 1));
    if (auto r = reserve(c, parent->reserved + tables); !r.ok()) return fail(r.error());
    reserve_to_tables(c, tables);
    // Every shared page may need one copy more: the child holds a frame for
    // each, so that no copy-on-write fault can find memory gone (and its
    // mapping records and capabilities are paid for in frames).
    uint64_t pages = 0, heap_pages = 0, lazy = 0;
    for (uint32_t i = parent->maps; i; i = mapping(i).pnext) {
        ++pages;
        heap_pages += in_heap(parent, va_of(mapping(i)));
        lazy += is_lazy(mapping(i)) && !in_heap(parent, va_of(mapping(i)));
    }
    if (auto r = reserve_cow(c, pages); !r.ok()) return fail(r.error());
    // The child's lazy records each keep a capability slot free for the
    // mapping they will make (slots_fit counts FrameBook::lazy).
    // A small heap keeps the per-page path: its child never faults for it.
    const bool heap_lazy = heap_pages >= g_lazy_heap_pages;
    if (auto r = reserve_lazy_slots(lazy + (heap_lazy ? heap_pages : 0)); !r.ok())
        return fail(r.error());
    // Share every page: writable ones become copy-on-write in both. The
    // kernel's part (protect the parent's page, copy the capability, map
    // the copy in the child) goes in batches; the books follow each batch
    // for exactly the calls that succeeded.
    const uint64_t copy_va = stack_page(sp);
    if (auto r = share_pages(parent, c, heap_lazy, copy_va); !r.ok()) return fail(r.error());
    if (auto r = copy_stack_page(c, copy_va); !r.ok()) return fail(r.error());
    ThreadSetup setup;
    setup.copy_regs_from = parent->thread_obj;
    setup.start = true;
    if (auto r = configure_thread(c, c->as_obj, setup, true); !r.ok()) return fail(r.error());
    return c;
}

} // namespace capframe::mm
