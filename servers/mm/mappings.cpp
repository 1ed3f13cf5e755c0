#include "mappings.h"

#include "batch.h"
#include "frames.h"
#include "kernel.h"
#include "slots.h"

namespace capframe::mm {

MapBook g_maps;

namespace {

uint64_t hash(uint64_t va, uint64_t proc) {
    return (((va >> 12) * 0x9e3779b97f4a7c15ull) >> 20 ^ proc) & g_maps.bucket_mask;
}

void index_insert(uint32_t i) {
    Mapping& m = mapping(i);
    uint64_t h = hash(va_of(m), m.key & kKeyProcMask);
    m.hnext = g_maps.buckets[h];
    g_maps.buckets[h] = i;
}

void index_remove(uint32_t i) {
    Mapping& m = mapping(i);
    uint32_t* link = &g_maps.buckets[hash(va_of(m), m.key & kKeyProcMask)];
    while (*link != i)
        link = &mapping(*link).hnext;
    *link = m.hnext;
}

// After a mapping of f went: M sharers keep M - 1 reserved frames; any unit
// more goes back.
void settle_cow_reserve(FrameInfo& f) {
    uint64_t sharers = 0, reserved = 0;
    for (uint32_t k = f.rmap; k; k = mapping(k).rnext) {
        ++sharers;
        reserved += (mapping(k).key & kMapReserved) != 0;
    }
    for (uint32_t k = f.rmap; k && reserved + 1 > sharers && reserved; k = mapping(k).rnext)
        if (mapping(k).key & kMapReserved) {
            mapping(k).key &= ~kMapReserved;
            unreserve_cow(proc_of(mapping(k)), 1);
            --reserved;
        }
}

Proc* owner_of(const FrameInfo& f) {
    return f.owner ? &g_pt.procs[f.owner - 1] : nullptr;
}

} // namespace

void maps_init(void* meta, uint64_t window_base, uint64_t window_frames) {
    MetaLayout l = meta_layout(window_frames);
    auto* base = static_cast<uint8_t*>(meta);
    g_maps = MapBook{};
    g_maps.window_base = window_base;
    g_maps.window_frames = window_frames;
    g_maps.frames = static_cast<FrameInfo*>(static_cast<void*>(base + l.frames_offset));
    g_maps.maps = static_cast<Mapping*>(static_cast<void*>(base + l.maps_offset));
    g_maps.buckets = static_cast<uint32_t*>(static_cast<void*>(base + l.buckets_offset));
    g_maps.map_count = l.map_count;
    g_maps.bucket_mask = l.bucket_count - 1;
    // Records come from map_free (given back) first, then from map_next
    // (never used; entry 0 is unused): no loop over every record at boot.
    g_maps.map_next = 1;
}

uint32_t find_mapping(const Proc* p, uint64_t va) {
    uint64_t proc = static_cast<uint64_t>(slot_of(p));
    for (uint32_t i = g_maps.buckets[hash(va, proc)]; i; i = mapping(i).hnext)
        if (va_of(mapping(i)) == va && (mapping(i).key & kKeyProcMask) == proc) return i;
    return kNone;
}

Result<uint32_t> record_mapping(Proc* p, uint64_t va, uint64_t flags, uint64_t frame,
                                uint32_t slot) {
    uint32_t i = g_maps.map_free;
    if (i != kNone)
        g_maps.map_free = mapping(i).hnext;
    else if (g_maps.map_next < g_maps.map_count)
        i = static_cast<uint32_t>(g_maps.map_next++);
    else
        return Error::NoMemory;
    ++g_maps.maps_in_use;
    Mapping& m = mapping(i);
    FrameInfo& f = frame_info(frame);
    m = Mapping{va | flags | static_cast<uint64_t>(slot_of(p)),
                static_cast<uint32_t>(frame),
                slot,
                0,
                p->maps,
                kNone,
                f.rmap};
    if (p->maps) mapping(p->maps).pprev = i;
    p->maps = i;
    f.rmap = i;
    ++f.refs;
    index_insert(i);
    return i;
}

void remove_mapping(uint32_t i, bool cap_gone, bool units_later, bool slot_later) {
    Mapping& m = mapping(i);
    Proc* p = proc_of(m);
    FrameInfo& f = frame_info(m.frame);
    if (is_lazy(m)) {
        --g_book.lazy; // nothing in the kernel
    } else if (m.slot == f.block_slot) {
        if (!cap_gone) (void)kernel::unmap(m.slot);
    } else {
        if (!cap_gone) (void)kernel::cap_delete(m.slot);
        if (!slot_later) g_slots.free(m.slot);
    }
    index_remove(i);
    if (m.pprev)
        mapping(m.pprev).pnext = m.pnext;
    else
        p->maps = m.pnext;
    if (m.pnext) mapping(m.pnext).pprev = m.pprev;
    for (uint32_t* link = &f.rmap; *link; link = &mapping(*link).rnext)
        if (*link == i) {
            *link = m.rnext;
            break;
        }
    if ((m.key & kMapReserved) && !units_later) unreserve_cow(p, 1);
    if (f.refs > 1) settle_cow_reserve(f); // (refs still counts mapping i)
    Proc* owner = owner_of(f);
    if (--f.refs == 0) {
        f.owner = 0;
        free_frames(owner, Use::User, Block{f.block_slot, frame_pa(m.frame), 0});
    } else if (owner == p) {
        // The charge moves to a process that still maps the frame.
        Proc* heir = proc_of(mapping(f.rmap));
        transfer_charge(p, heir, Use::User, 1);
        f.owner = static_cast<uint16_t>(slot_of(heir) + 1);
    }
    m.key = 0;
    m.hnext = g_maps.map_free;
    g_maps.map_free = i;
    --g_maps.maps_in_use;
}

void remove_mapping_riding(uint32_t i) {
    const Mapping& m = mapping(i);
    if (is_lazy(m) || !g_batch.can_ride(1)) return remove_mapping(i);
    const uint32_t slot = m.slot;
    if (slot == frame_info(m.frame).block_slot)
        g_batch.ride(abi::Sys::Unmap, slot);
    else
        g_batch.ride(abi::Sys::CapDelete, slot, 0, 0, 0, 0, slot); // the slot once it ran
    begin_deferred_merges(); // a merge of the frame comes after its unmap
    remove_mapping(i, true, false, true);
    end_deferred_merges_riding();
}

void remove_mappings(const uint32_t* list, uint64_t n, bool units_later) {
    while (n) {
        // The kernel's part for as many as a batch holds, then the books
        // for those it did; the one that failed goes alone, as
        // remove_mapping does it (its error ignored), and the rest again.
        // A lazy mapping (kMapLazy) has no kernel call: only books.
        flush_deferred_merges(8); // the batch is this loop's (merges may ride in front)
        uint64_t k = 0, calls = 0, room = g_batch.room();
        for (; k < n; ++k) {
            const Mapping& m = mapping(list[k]);
            if (is_lazy(m)) continue;
            if (calls == room) break;
            g_batch.add(m.slot == frame_info(m.frame).block_slot ? abi::Sys::Unmap
                                                                 : abi::Sys::CapDelete,
                        m.slot);
            ++calls;
        }
        uint64_t done = calls ? g_batch.run().done : 0;
        // The frames these free merge in the kernel in batches too.
        begin_deferred_merges();
        uint64_t j = 0;
        for (uint64_t made = 0; j < k; ++j) {
            bool lazy = is_lazy(mapping(list[j]));
            if (!lazy && made == done) break; // the call the kernel refused
            remove_mapping(list[j], true, units_later);
            made += lazy ? 0 : 1;
        }
        end_deferred_merges();
        if (j < k) remove_mapping(list[j++], false, units_later);
        list += j, n -= j;
    }
}

void push_table(Proc* p, Block t) {
    uint64_t idx = frame_index(t.pa);
    frame_info(idx) = FrameInfo{t.slot, 0, static_cast<uint16_t>(slot_of(p) + 1), p->tables};
    p->tables = static_cast<uint32_t>(idx + 1);
    ++p->table_count;
}

Block pop_table(Proc* p) {
    uint32_t idx = p->tables - 1;
    FrameInfo& f = frame_info(idx);
    Block t{f.block_slot, frame_pa(idx), 0};
    p->tables = f.rmap;
    --p->table_count;
    f = FrameInfo{};
    return t;
}

void rekey(Proc* from, Proc* to) {
    to->table_hint = from->table_hint, from->table_hint = 0; // (the tables go over too)
    while (uint32_t i = from->maps) {
        Mapping& m = mapping(i);
        index_remove(i);
        from->maps = m.pnext;
        if (m.pnext) mapping(m.pnext).pprev = kNone;
        m.key = (m.key & ~kKeyProcMask) | static_cast<uint64_t>(slot_of(to));
        m.pprev = kNone;
        m.pnext = to->maps;
        if (to->maps) mapping(to->maps).pprev = i;
        to->maps = i;
        if (frame_info(m.frame).owner == slot_of(from) + 1)
            frame_info(m.frame).owner = static_cast<uint16_t>(slot_of(to) + 1);
        index_insert(i);
    }
    // The tables go over in their order (newest first, so a leaf table
    // before the table above it: the order drop_tables unmaps them in, one
    // batch). Popping and pushing them one by one would reverse the list,
    // and then every exit after an exec had the kernel refuse the first
    // UnmapTable (Busy) and took three batches instead of one.
    if (uint32_t first = from->tables) {
        const auto owner = static_cast<uint16_t>(slot_of(to) + 1);
        uint32_t last = first;
        for (uint32_t t = first; t; t = frame_info(t - 1).rmap) {
            frame_info(t - 1).owner = owner;
            last = t;
        }
        frame_info(last - 1).rmap = to->tables;
        to->tables = first;
        to->table_count += from->table_count;
        from->tables = 0;
        from->table_count = 0;
    }
    move_charges(from, to);
}

} // namespace capframe::mm
