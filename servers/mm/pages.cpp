#include "pages.h"

#include "errors.h"
#include "frames.h"
#include "kernel.h"
#include "mappings.h"
#include "slots.h"

namespace capframe::mm {

Result<void> map_with_tables(Proc* owner, uint64_t frame, uint64_t as, uint64_t va,
                             uint64_t rights) {
    for (int tries = 0; tries < 3; ++tries) {
        int level = 0;
        int64_t r = kernel::map(frame, as, va, rights, &level);
        if (r >= 0) return {};
        if (r != err(Errno::NeedTable)) return error_of(r);
        // Tables for heap pages come out of what sbrk reserved for them.
        bool heap = owner != &mm_self() && in_heap(owner, va);
        auto got = heap && owner->table_reserved
                       ? alloc_frames(owner, Use::PageTable, 0, From::HeapTables)
                       : alloc_frames(owner, Use::PageTable, 0);
        if (!got.ok() && owner->reserved) got = alloc_frames(owner, Use::PageTable, 0, From::Heap);
        Block t = TRY(got);
        if (kernel::map_table(t.slot, as, va) < 0) {
            free_frames(owner, Use::PageTable, t);
            return Error::InvalidArgument;
        }
        push_table(owner, t);
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

// A temporary copy of a frame's capability (to window a frame that is
// mapped elsewhere already).
struct TempCap {
    uint32_t slot = 0;
    explicit TempCap(uint32_t of) {
        auto s = g_slots.alloc();
        if (!s.ok()) return;
        if (kernel::cap_copy(of, 0, s.value(), abi::kRightRead | abi::kRightWrite | abi::kRightMap,
                             0) < 0) {
            g_slots.free(s.value());
            return;
        }
        slot = s.value();
    }
    ~TempCap() {
        if (slot) (void)kernel::cap_delete(slot), g_slots.free(slot);
    }
    TempCap(const TempCap&) = delete;
    TempCap& operator=(const TempCap&) = delete;
};

// By words where both sides allow it (ELF bytes in the cpio archive are
// 4-byte aligned; -mstrict-align forbids misaligned words).
template <class W>
bool copy_words(uint8_t*& to, const uint8_t*& from, uint64_t& n) {
    if ((reinterpret_cast<uintptr_t>(to) | reinterpret_cast<uintptr_t>(from)) % sizeof(W))
        return false;
    auto* t = static_cast<W*>(static_cast<void*>(to));
    auto* f = static_cast<const W*>(static_cast<const void*>(from));
    uint64_t words = n / sizeof(W);
    for (uint64_t i = 0; i < words; ++i)
        t[i] = f[i];
    to += words * sizeof(W), from += words * sizeof(W), n -= words * sizeof(W);
    return true;
}

void copy_bytes(uint8_t* to, const uint8_t* from, uint64_t n) {
    if (!copy_words<uint64_t>(to, from, n)) (void)copy_words<uint32_t>(to, from, n);
    for (uint64_t i = 0; i < n; ++i)
        to[i] = from[i];
}

// Fills a fresh frame (its own capability, not mapped): `len` bytes of src
// at offset `at`, zeroes elsewhere.
Result<void> fill_frame(uint32_t block_slot, const uint8_t* src, uint64_t len, uint64_t at) {
    auto* dst = static_cast<uint64_t*>(window(block_slot, kScratchVa, true));
    if (!dst) return Error::NoMemory;
    if (at > kPage) at = kPage;
    if (len > kPage - at) len = kPage - at;
    for (uint64_t i = 0; i < kPage / 8; ++i)
        dst[i] = 0;
    copy_bytes(reinterpret_cast<uint8_t*>(dst) + at, src, len);
    unwindow(block_slot);
    return {};
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

Result<void> new_page(Proc* p, uint64_t va, uint64_t flags, const uint8_t* src, uint64_t len,
                      uint64_t at, bool from_reserve, bool through_copy) {
    Block b = TRY(alloc_frames(p, Use::User, 0, from_reserve ? From::Heap : From::Free));
    auto r = fill_frame(b.slot, src, len, at);
    if (r.ok()) r = map_fresh(p, va, flags, b, through_copy);
    if (!r.ok()) free_frames(p, Use::User, b);
    return r;
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

Result<void> break_cow(Proc* p, uint32_t i) {
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
    {
        TempCap src(f.block_slot); // its window goes with it
        auto* from = src.slot ? static_cast<const uint64_t*>(window(src.slot, kScratchSrcVa, false))
                              : nullptr;
        auto* to = from ? static_cast<uint64_t*>(window(b.slot, kScratchVa, true)) : nullptr;
        if (!to) {
            undo();
            return Error::NoMemory;
        }
        for (uint64_t w = 0; w < kPage / 8; ++w)
            to[w] = from[w];
        unwindow(b.slot);
    }
    if (holder) mapping(holder_map).key &= ~kMapReserved; // its unit is this copy
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
        TempCap cap(frame_info(mapping(i).frame).block_slot);
        auto* page =
            cap.slot ? static_cast<uint8_t*>(window(cap.slot, kScratchSrcVa, write)) : nullptr;
        if (!page) return Error::NoMemory;
        bool more = visit(page + off, chunk); // the window goes with cap
        if (!more) return {};
        va += chunk, n -= chunk;
    }
    return {};
}
} // namespace

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
