#include "pages.h"

#include "batch.h"
#include "errors.h"
#include "frames.h"
#include "kernel.h"
#include "mappings.h"
#include "slots.h"

#include <cstring>

namespace capframe::mm {

Result<Block> table_frame(Proc* owner, uint64_t va) {
    // Tables for heap pages come out of what sbrk reserved for them.
    bool heap = owner != &mm_self() && in_heap(owner, va);
    auto got = heap && owner->table_reserved
                   ? alloc_frames(owner, Use::PageTable, 0, From::HeapTables)
                   : alloc_frames(owner, Use::PageTable, 0);
    if (!got.ok() && owner->reserved) got = alloc_frames(owner, Use::PageTable, 0, From::Heap);
    return got;
}

Result<void> donate_table(Proc* owner, uint64_t as, uint64_t va) {
    Block t = TRY(table_frame(owner, va));
    if (kernel::map_table(t.slot, as, va) < 0) {
        free_frames(owner, Use::PageTable, t);
        return Error::InvalidArgument;
    }
    push_table(owner, t);
    return {};
}

void FreshTables::cover(uint64_t start, uint64_t end) {
    for (uint64_t v = start; v < end && wanted < kMax;) {
        // (The address space object holds the tables over the trapframe's
        // 2 MiB.) A noted level-1 table always comes with a level-0 one for
        // the same page, so the pages noted say which tables are.
        bool new1 = v >> 30 != abi::kTrapframeVa >> 30, new0 = v >> 21 != abi::kTrapframeVa >> 21;
        for (uint32_t k = 0; k < wanted; ++k)
            new1 = new1 && va[k] >> 30 != v >> 30, new0 = new0 && va[k] >> 21 != v >> 21;
        if (wanted + new1 + new0 > kMax) break;
        if (new1) va[wanted++] = v;
        if (new0) va[wanted++] = v;
        v = ((v >> 21) + 1) << 21; // the next 2 MiB
    }
}

Result<void> FreshTables::allocate(Proc* owner) {
    for (; n < wanted; ++n) {
        auto f = table_frame(owner, va[n]);
        if (!f.ok()) {
            while (n)
                free_frames(owner, Use::PageTable, frame[--n]);
            return f.error();
        }
        frame[n] = f.value();
    }
    return {};
}

void FreshTables::queue(Proc* owner, uint64_t as) {
    first = g_batch.size();
    for (uint32_t k = 0; k < n; ++k) {
        g_batch.add(abi::Sys::MapTable, frame[k].slot, as, va[k]);
        // Listed now, before any table a Map makes in the same batch, so
        // that such a leaf comes before a table above it here.
        push_table(owner, frame[k]);
    }
}

void FreshTables::ran(Proc* owner, uint64_t done) {
    // A MapTable that did not run stopped the batch before anything after
    // it (a Map's table included): the tables not made are the newest
    // listed, the last one first.
    for (uint32_t k = n; k > 0 && first + k > done; --k) {
        Block t = pop_table(owner);
        if (t.slot != frame[k - 1].slot) kernel::log("mm: BUG: premade table list out of order\n");
        free_frames(owner, Use::PageTable, t);
    }
    n = wanted = 0;
}

Result<void> map_with_tables(Proc* owner, uint64_t frame, uint64_t as, uint64_t va,
                             uint64_t rights) {
    for (int tries = 0; tries < 3; ++tries) {
        int level = 0;
        int64_t r = kernel::map(frame, as, va, rights, &level);
        if (r >= 0) return {};
        if (r != err(Errno::NeedTable)) return error_of(r);
        TRY(donate_table(owner, as, va));
    }
    return Error::InvalidArgument;
}

void* window(uint64_t slot, uint64_t va, bool writable) {
    uint64_t rights = abi::kRightRead | (writable ? abi::kRightWrite : 0);
    if (!map_with_tables(&mm_self(), slot, abi::kSlotSelfAs, va, rights).ok()) return nullptr;
    return kernel::view(va);
}

void unwindow(uint64_t slot) {
    (void)kernel::unmap(slot);
}

namespace {

// A temporary copy of a frame's capability mapped as a window at va (to
// read or write a frame that is mapped elsewhere already): the copy and its
// mapping in one kernel call; deleting the copy (one more) takes the
// window down. page is null if it could not be made. With `also`, the same
// kernel call maps that frame of mm's (not mapped anywhere) read-write at
// also_va: also_page, null if it could not be (then nothing of it is left).
struct Window {
    uint32_t slot = 0;
    void* page = nullptr;
    void* also_page = nullptr;
    void open(uint32_t of, uint64_t va, bool writable, uint32_t also = 0, uint64_t also_va = 0) {
        auto s = g_slots.alloc();
        if (!s.ok()) return;
        flush_deferred_merges(3); // (none: the batch is ours)
        g_batch.add(abi::Sys::CapCopy, of, 0, s.value(),
                    abi::kRightRead | abi::kRightWrite | abi::kRightMap, 0);
        g_batch.add(abi::Sys::Map, s.value(), abi::kSlotSelfAs, va,
                    abi::kRightRead | (writable ? abi::kRightWrite : 0));
        if (also)
            g_batch.add(abi::Sys::Map, also, abi::kSlotSelfAs, also_va,
                        abi::kRightRead | abi::kRightWrite);
        uint64_t done = g_batch.run(&mm_self()).done;
        if (done == 0) {
            g_slots.free(s.value());
            return;
        }
        slot = s.value();
        if (done >= 2) page = kernel::view(va);
        if (done == 3) also_page = kernel::view(also_va);
    }
    // The copy's delete rides along (Batch::ride: in front of the next
    // batch, or with the answer) when nothing else waits in the queue: every
    // window at these addresses is opened by a batch, and whatever a later
    // batch does to the frame comes after the delete. Else it is made now.
    void close() {
        if (slot && g_batch.can_ride(1))
            g_batch.ride(abi::Sys::CapDelete, slot, 0, 0, 0, 0, slot); // the slot once it ran
        else if (slot)
            (void)kernel::cap_delete(slot), g_slots.free(slot);
        slot = 0, page = nullptr, also_page = nullptr;
    }
};
struct TempWindow : Window {
    TempWindow() = default;
    TempWindow(uint32_t of, uint64_t va, bool writable) { open(of, va, writable); }
    ~TempWindow() { close(); }
    TempWindow(const TempWindow&) = delete;
    TempWindow& operator=(const TempWindow&) = delete;
};

// The window a UserWindowScope keeps (see pages.h) while one lives.
struct KeptWindow {
    Window w;
    uint64_t frame = 0;
    bool writable = false;
    bool active = false;
} g_kept;

// lib's memcpy copies 8-byte words (4 a turn) where both sides allow it;
// ELF bytes in the cpio archive are only 4-byte aligned (and -mstrict-align
// forbids misaligned words): 4-byte words then.
void copy_bytes(uint8_t* to, const uint8_t* from, uint64_t n) {
    const auto a = reinterpret_cast<uintptr_t>(to), b = reinterpret_cast<uintptr_t>(from);
    if (((a ^ b) & 7) == 0 || ((a | b) & 3) != 0) {
        memcpy(to, from, n);
        return;
    }
    auto* t = static_cast<uint32_t*>(static_cast<void*>(to));
    auto* f = static_cast<const uint32_t*>(static_cast<const void*>(from));
    const uint64_t words = n / 4;
    for (uint64_t i = 0; i < words; ++i)
        t[i] = f[i];
    for (uint64_t i = words * 4; i < n; ++i)
        to[i] = from[i];
}

// Maps frame b (fresh, owned by p from now on) at va in p and records it;
// through_copy: through a copy of its capability. On error nothing is left
// mapped or recorded, and b stays the caller's to free.
Result<void> map_fresh(Proc* p, uint64_t va, uint64_t flags, Block b, bool through_copy) {
    uint32_t slot = b.slot;
    if (through_copy) {
        slot = TRY(g_slots.alloc());
        if (kernel::cap_copy(b.slot, 0, slot, abi::kRightsAll & ~abi::kRightDonate, 0) < 0) {
            g_slots.free(slot);
            return Error::InvalidArgument;
        }
    }
    auto r = map_with_tables(p, slot, p->as_obj, va, rights_of(flags));
    uint64_t idx = frame_index(b.pa);
    frame_info(idx) = FrameInfo{b.slot, 0, static_cast<uint16_t>(slot_of(p) + 1), kNone};
    if (r.ok() && !record_mapping(p, va, flags, idx, slot).ok()) {
        if (!through_copy) (void)kernel::unmap(slot);
        r = Error::NoMemory;
    }
    if (!r.ok()) {
        if (through_copy) (void)kernel::cap_delete(slot), g_slots.free(slot);
        frame_info(idx) = FrameInfo{};
    }
    return r;
}

} // namespace

uint64_t rights_of(uint64_t flags) {
    uint64_t r = abi::kRightRead;
    if ((flags & kMapW) && !(flags & kMapCow)) r |= abi::kRightWrite;
    if (flags & kMapX) r |= abi::kRightExec;
    return r;
}

PageFiller::~PageFiller() {
    drop(0);
    if (stock_next_ < stocked_) return_stock();
}

void PageFiller::return_stock() {
    while (stock_next_ < stocked_)
        give_back(stock_[stock_next_++]);
    stocked_ = stock_next_ = 0;
}

void PageFiller::give_back(Block b) {
    if (from_reserve_)
        free_to_reserve(p_, Use::User, b); // still promised: its first touch gets it
    else
        free_frames(p_, Use::User, b);
}

void PageFiller::drop(uint64_t from) {
    for (uint64_t i = from; i < n_; ++i)
        give_back(q_[i].b);
    n_ = from;
}

Result<void> PageFiller::add(uint64_t va, uint64_t flags, const uint8_t* src, uint64_t len,
                             uint64_t at) {
    if (n_ == kFillPages) TRY(flush());
    const From from = from_reserve_ ? From::Heap : From::Free;
    Block b;
    if (stock_next_ == stocked_ && expected_ > 1) [[unlikely]] {
        // At most what this group of pages takes: its page tables come at
        // its flush, so allocations keep the order single ones had.
        uint64_t want = expected_ < kFillPages - n_ ? expected_ : kFillPages - n_;
        stock_next_ = stocked_ = 0;
        stocked_ = TRY(alloc_pages(p_, Use::User, static_cast<uint32_t>(want), from, stock_));
    }
    if (expected_) --expected_;
    if (stock_next_ < stocked_)
        b = stock_[stock_next_++];
    else
        b = TRY(alloc_frames(p_, Use::User, 0, from));
    if (at > kPage) at = kPage;
    if (len > kPage - at) len = kPage - at;
    q_[n_++] = Page{b, va, flags, src, len, at};
    return {};
}

Result<void> PageFiller::finish() {
    auto r = n_ ? flush() : Result<void>{};
    if (stock_next_ < stocked_) return_stock();
    expected_ = 0;
    return r;
}

// The queued pages, in one or two batches (see pages.h). The books follow
// exactly what the kernel did; pages not placed go back.
Result<void> PageFiller::flush() {
    const uint64_t n = n_;
    flush_deferred_merges(n); // (none: the batch is ours)
    // Pages with bytes to write get a window (the first batch); the others
    // the kernel zeroes in the second (FrameZero), no window needed.
    uint64_t windowed = 0;
    for (uint64_t i = 0; i < n; ++i)
        if (q_[i].len) {
            g_batch.add(abi::Sys::Map, q_[i].b.slot, abi::kSlotSelfAs, kFillVa + i * kPage,
                        abi::kRightRead | abi::kRightWrite);
            ++windowed;
        }
    if (windowed) {
        BatchRun windows = g_batch.run(&mm_self());
        if (windows.done < windowed) {
            for (uint64_t i = 0, k = 0; k < windows.done; ++i)
                if (q_[i].len) unwindow(q_[i].b.slot), ++k;
            drop(0);
            return windows.ok() ? Error::NoMemory : windows.error;
        }
        for (uint64_t i = 0; i < n; ++i) {
            if (!q_[i].len) continue;
            auto* dst = static_cast<uint8_t*>(kernel::view(kFillVa + i * kPage));
            memset(dst, 0, kPage); // a cache line a turn (lib/string.cpp)
            copy_bytes(dst + q_[i].at, q_[i].src, q_[i].len);
        }
    }
    // Then per page: its window goes or the kernel zeroes it, [a copy of its
    // capability], its mapping.
    uint32_t slots[kFillPages];
    uint64_t per = through_copy_ ? 3 : 2, queued = 0;
    Result<void> out;
    for (; queued < n; ++queued) {
        slots[queued] = q_[queued].b.slot;
        if (through_copy_) {
            auto s = g_slots.alloc();
            if (!s.ok()) {
                out = s.error();
                break;
            }
            slots[queued] = s.value();
        }
        const Page& pg = q_[queued];
        if (pg.len)
            g_batch.add(abi::Sys::Unmap, pg.b.slot);
        else
            g_batch.add(abi::Sys::FrameZero, pg.b.slot);
        if (through_copy_)
            g_batch.add(abi::Sys::CapCopy, pg.b.slot, 0, slots[queued],
                        abi::kRightsAll & ~abi::kRightDonate, 0);
        g_batch.add(abi::Sys::Map, slots[queued], p_->as_obj, pg.va, rights_of(pg.flags));
    }
    BatchRun run = g_batch.run(p_);
    if (out.ok() && !run.ok()) out = run.error;
    for (uint64_t i = 0; i < n; ++i) {
        const Page& pg = q_[i];
        const uint64_t first = i * per;
        const bool queued_i = i < queued, unmapped = queued_i && first < run.done,
                   copied = through_copy_ && queued_i && first + 1 < run.done,
                   mapped = queued_i && first + per - 1 < run.done;
        if (mapped) {
            uint64_t idx = frame_index(pg.b.pa);
            frame_info(idx) =
                FrameInfo{pg.b.slot, 0, static_cast<uint16_t>(slot_of(p_) + 1), kNone};
            p_->table_hint = (pg.va >> 21) + 1; // (the Map made it: its tables are there)
            if (record_mapping(p_, pg.va, pg.flags, idx, slots[i]).ok()) {
                q_[i].b = Block{}; // p's now
                continue;
            }
            frame_info(idx) = FrameInfo{};
            if (out.ok()) out = Error::NoMemory;
            if (!through_copy_) (void)kernel::unmap(slots[i]);
        }
        // Not placed: the copy (and the mapping it made) goes, the window
        // if it is still up, then the frame.
        if (through_copy_ && queued_i) {
            if (copied) (void)kernel::cap_delete(slots[i]);
            g_slots.free(slots[i]);
        }
        if (!unmapped && pg.len) unwindow(pg.b.slot); // (a page to zero had no window)
        give_back(pg.b);
        q_[i].b = Block{};
    }
    n_ = 0;
    return out;
}

Result<void> new_page(Proc* p, uint64_t va, uint64_t flags, const uint8_t* src, uint64_t len,
                      uint64_t at, bool from_reserve, bool through_copy) {
    PageFiller f(p, from_reserve, through_copy);
    TRY(f.add(va, flags, src, len, at));
    return f.finish();
}

Result<void> new_page_riding(Proc* p, uint64_t va, uint64_t flags, bool from_reserve,
                             bool through_copy) {
    const uint64_t calls = through_copy ? 3 : 2;
    if (p->table_hint != (va >> 21) + 1 || !g_batch.can_ride(calls))
        return new_page(p, va, flags, nullptr, 0, 0, from_reserve, through_copy);
    // The books first (nothing is queued until they are made), then the
    // calls: none can fail now (a fresh frame of mm's, an empty slot, a
    // page whose tables are there and that nothing maps).
    Block b = TRY(alloc_frames(p, Use::User, 0, from_reserve ? From::Heap : From::Free));
    auto give_back = [&] {
        if (from_reserve)
            free_to_reserve(p, Use::User, b);
        else
            free_frames(p, Use::User, b);
    };
    uint32_t slot = b.slot;
    if (through_copy) {
        auto s = g_slots.alloc();
        if (!s.ok()) {
            give_back();
            return s.error();
        }
        slot = s.value();
    }
    const uint64_t idx = frame_index(b.pa);
    frame_info(idx) = FrameInfo{b.slot, 0, static_cast<uint16_t>(slot_of(p) + 1), kNone};
    if (!record_mapping(p, va, flags, idx, slot).ok()) {
        frame_info(idx) = FrameInfo{};
        if (through_copy) g_slots.free(slot);
        give_back();
        return Error::NoMemory;
    }
    g_batch.ride(abi::Sys::FrameZero, b.slot);
    if (through_copy)
        g_batch.ride(abi::Sys::CapCopy, b.slot, 0, slot, abi::kRightsAll & ~abi::kRightDonate);
    g_batch.ride(abi::Sys::Map, slot, p->as_obj, va, rights_of(flags));
    return {};
}

Result<void> share_page(Proc* p, uint64_t va, uint64_t flags, uint64_t idx) {
    uint32_t slot = TRY(g_slots.alloc());
    auto r = kernel::cap_copy(frame_info(idx).block_slot, 0, slot,
                              abi::kRightsAll & ~abi::kRightDonate, 0) < 0
                 ? Result<void>(Error::InvalidArgument)
                 : map_with_tables(p, slot, p->as_obj, va, rights_of(flags));
    if (r.ok() && !record_mapping(p, va, flags, idx, slot).ok()) r = Error::NoMemory;
    if (!r.ok()) (void)kernel::cap_delete(slot), g_slots.free(slot);
    return r;
}

Result<void> materialize(Proc* p, uint32_t i) {
    struct Item {
        uint32_t map, slot;
        uint64_t first;
    };
    Item items[kFaultAround];
    uint64_t n = 0;
    flush_deferred_merges(2 * kFaultAround); // (none: the batch is ours)
    for (uint32_t k = i; k && is_lazy(mapping(k)) && n < kFaultAround;) {
        const Mapping& m = mapping(k);
        auto slot = g_slots.alloc();
        if (!slot.ok()) break;
        items[n++] = Item{k, slot.value(), g_batch.size()};
        g_batch.add(abi::Sys::CapCopy, frame_info(m.frame).block_slot, 0, slot.value(),
                    abi::kRightsAll & ~abi::kRightDonate, 0);
        g_batch.add(abi::Sys::Map, slot.value(), p->as_obj, va_of(m), rights_of(flags_of(m)));
        uint64_t next = va_of(m) + kPage;
        k = next < abi::kTrapframeVa ? find_mapping(p, next) : kNone;
    }
    if (n == 0) return Error::NoMemory;
    BatchRun run = g_batch.run(p);
    for (uint64_t j = 0; j < n; ++j) {
        Item& it = items[j];
        if (it.first + 1 < run.done) {
            Mapping& m = mapping(it.map);
            m.slot = it.slot;
            m.key &= ~kMapLazy;
            --g_book.lazy;
            continue;
        }
        if (it.first < run.done) (void)kernel::cap_delete(it.slot);
        g_slots.free(it.slot);
    }
    if (!is_lazy(mapping(i))) return {};
    return run.ok() ? Error::NoMemory : run.error;
}

Result<void> break_cow(Proc* p, uint32_t i) {
    if (is_lazy(mapping(i))) TRY(materialize(p, i)); // then as any shared page
    Mapping& m = mapping(i);
    FrameInfo& f = frame_info(m.frame);
    uint64_t va = va_of(m);
    uint64_t flags = flags_of(m) & ~(kMapCow | kMapReserved);
    if (f.refs == 1) {
        if (kernel::protect(m.slot, rights_of(flags)) < 0) return Error::InvalidArgument;
        if (m.key & kMapReserved) unreserve_cow(p, 1); // (none is left for a sole sharer)
        m.key &= ~(kMapCow | kMapReserved);
        return {};
    }
    // The copy comes out of the frame that one of the sharers holds for it
    // (fork reserved one per extra sharer), so it cannot fail for lack of
    // memory.
    uint32_t holder_map = (m.key & kMapReserved) ? i : kNone;
    for (uint32_t k = f.rmap; k && !holder_map; k = mapping(k).rnext)
        if (mapping(k).key & kMapReserved) holder_map = k;
    Proc* holder = holder_map ? proc_of(mapping(holder_map)) : nullptr;
    Block b = TRY(holder ? alloc_cow_copy(p, holder) : alloc_frames(p, Use::User, 0));
    auto undo = [&] {
        if (holder)
            return_cow_copy(p, holder, b);
        else
            free_frames(p, Use::User, b);
    };
    // The source through a temporary copy, the copy through mm's window,
    // both in one kernel call; then one batch takes both windows down,
    // removes the old mapping and maps the copy in its place.
    TempWindow src;
    src.open(f.block_slot, kScratchSrcVa, false, b.slot, kScratchVa);
    auto* from = static_cast<const uint64_t*>(src.page);
    auto* to = static_cast<uint64_t*>(src.also_page);
    if (!to) { // (the source's window is up whenever the copy's is)
        undo();
        return Error::NoMemory;
    }
    memcpy(to, from, kPage);
    uint32_t src_slot = src.slot;
    src.slot = 0;             // deleted by the batch below
    flush_deferred_merges(4); // (none: the batch is ours)
    g_batch.add(abi::Sys::Unmap, b.slot);
    g_batch.add(abi::Sys::CapDelete, src_slot);
    g_batch.add(m.slot == f.block_slot ? abi::Sys::Unmap : abi::Sys::CapDelete, m.slot);
    g_batch.add(abi::Sys::Map, b.slot, p->as_obj, va, rights_of(flags));
    uint64_t done = g_batch.run(p).done;
    if (done < 1) unwindow(b.slot);
    if (done < 2) (void)kernel::cap_delete(src_slot);
    g_slots.free(src_slot);
    if (holder) mapping(holder_map).key &= ~kMapReserved; // its unit is this copy
    remove_mapping(i, done >= 3); // the page-table entry is free now; its tables stay
    if (done >= 4) {
        uint64_t idx = frame_index(b.pa);
        frame_info(idx) = FrameInfo{b.slot, 0, static_cast<uint16_t>(slot_of(p) + 1), kNone};
        if (record_mapping(p, va, flags, idx, b.slot).ok()) return {};
        frame_info(idx) = FrameInfo{};
        (void)kernel::unmap(b.slot);
        free_frames(p, Use::User, b); // the page is gone: the fault kills p
        return Error::NoMemory;
    }
    auto r = map_fresh(p, va, flags, b, false);
    if (!r.ok()) free_frames(p, Use::User, b); // the page is gone: the fault kills p
    return r;
}

bool user_writable(Proc* p, uint64_t va, uint64_t n) {
    if (n == 0 || va + n < va || va + n > abi::kMaxVa) return false;
    for (uint64_t page = va & ~(kPage - 1); page < va + n; page += kPage) {
        uint32_t i = find_mapping(p, page);
        // Mapped writable already (the common case: no kernel call), or
        // made so now (a first touch, a copy-on-write copy): p's own store
        // there cannot fault after this.
        if (i && (flags_of(mapping(i)) & (kMapW | kMapCow | kMapLazy)) == kMapW) continue;
        if (!touch(p, page, true).ok()) return false;
    }
    return true;
}

bool in_heap(const Proc* p, uint64_t va) {
    return va >= p->heap_base && va < ((p->brk + kPage - 1) & ~(kPage - 1));
}

bool in_stack(uint64_t va) {
    return va >= abi::kStackGuardVa + kPage && va < abi::kUserStackTop;
}

Result<void> fault_heap(Proc* p, uint64_t va) {
    va &= ~(kPage - 1);
    const bool promised = p->reserved > 0;
    PageFiller f(p, promised);
    // Fault-around: the promised pages after it that are not there yet,
    // placed with it by the filler's two batches (their frames taken at
    // once). A page that cannot be had ends the run; only the faulting
    // page's failure is an error.
    uint64_t n = 1;
    while (promised && n < kFaultAround && n < p->reserved) {
        uint64_t next = va + n * kPage;
        if (!in_heap(p, next) || find_mapping(p, next)) break;
        ++n;
    }
    f.expect(n);
    TRY(f.add(va, kMapW, nullptr, 0));
    for (uint64_t k = 1; k < n; ++k)
        if (!f.add(va + k * kPage, kMapW, nullptr, 0).ok()) break; // (nothing queued for it)
    auto r = f.finish();
    // The faulting page is what counts; the others were a bonus.
    if (find_mapping(p, va)) return {};
    return r.ok() ? Result<void>{Error::NoMemory} : r;
}

Result<uint32_t> touch(Proc* p, uint64_t va, bool write) {
    va &= ~(kPage - 1);
    uint32_t i = find_mapping(p, va);
    if (i) {
        uint64_t flags = flags_of(mapping(i));
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

namespace {
// The page of p at va through a window (made present first); `visit`
// gets (page bytes, offset, chunk) for the part of [va, va + n) in it.
template <class F>
Result<void> each_page(Proc* p, uint64_t va, uint64_t n, bool write, F&& visit) {
    if (va + n < va || va + n > abi::kMaxVa) return Error::Fault;
    while (n) {
        uint64_t off = va & (kPage - 1), chunk = kPage - off < n ? kPage - off : n;
        uint32_t i = TRY(touch(p, va, write));
        const uint64_t frame = mapping(i).frame;
        TempWindow own;
        Window* w = &own;
        if (g_kept.active) { // keep (or replace) the scope's window
            w = &g_kept.w;
            if (!w->page || g_kept.frame != frame || (write && !g_kept.writable)) {
                w->close();
                g_kept.frame = frame, g_kept.writable = write;
            }
        }
        if (!w->page) w->open(frame_info(frame).block_slot, kScratchSrcVa, write);
        auto* page = static_cast<uint8_t*>(w->page);
        if (!page) return Error::NoMemory;
        bool more = visit(page + off, chunk); // own's window goes with it
        if (!more) return {};
        va += chunk, n -= chunk;
    }
    return {};
}
} // namespace

UserWindowScope::UserWindowScope() : outer_(g_kept.active) {
    g_kept.active = true;
}

UserWindowScope::~UserWindowScope() {
    if (outer_) return;
    g_kept.w.close();
    g_kept = KeptWindow{};
}

Result<void> copy_user(Proc* p, uint64_t va, void* buf, uint64_t n, bool to_user) {
    auto* bytes = static_cast<uint8_t*>(buf);
    return each_page(p, va, n, to_user, [&](uint8_t* page, uint64_t chunk) {
        if (to_user)
            copy_bytes(page, bytes, chunk);
        else
            copy_bytes(bytes, page, chunk);
        bytes += chunk;
        return true;
    });
}

Result<uint64_t> copy_string(Proc* p, uint64_t va, char* buf, uint64_t max) {
    uint64_t n = 0;
    bool done = false;
    uint64_t span = max;
    if (va + span < va || va + span > abi::kMaxVa) span = va < abi::kMaxVa ? abi::kMaxVa - va : 0;
    if (span == 0) return Error::Fault;
    TRY(each_page(p, va, span, false, [&](uint8_t* page, uint64_t chunk) {
        for (uint64_t k = 0; k < chunk; ++k) {
            buf[n] = static_cast<char>(page[k]);
            if (!page[k]) {
                done = true;
                return false;
            }
            ++n;
        }
        return true;
    }));
    if (done) return n;
    return span < max ? Result<uint64_t>(Error::Fault) : Result<uint64_t>(Error::TooMany);
}

} // namespace capframe::mm
