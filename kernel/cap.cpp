#include "cap.h"

#include "bytes.h"
#ifdef CAPFRAME_TEST_KERNEL
#include "console.h"
#endif

namespace capframe {
namespace {

// The MDB: a circular list through a sentinel; every capability is followed
// by its descendants (depth > its own).
Cap g_mdb;

void mdb_insert_after(Cap* pos, Cap* c) {
    c->prev = pos;
    c->next = pos->next;
    pos->next->prev = c;
    pos->next = c;
}

void mdb_remove(Cap* c) {
    c->prev->next = c->next;
    c->next->prev = c->prev;
    *c = Cap{};
}

Cap* parent_of(const Cap* c) {
    if (c->depth == 0) return nullptr; // a root (no walk back over every capability)
    for (Cap* p = c->prev; p != &g_mdb; p = p->prev)
        if (p->depth < c->depth) return p;
    return nullptr;
}

Cap* last_descendant(Cap* c) {
    Cap* last = nullptr;
    for (Cap* d = c->next; d != &g_mdb && d->depth > c->depth; d = d->next)
        last = d;
    return last;
}

void make_child(Cap* parent, Cap* child, ObjType type, uint8_t rights, uint8_t order,
                uint64_t object) {
    *child = Cap{};
    child->type = type;
    child->rights = rights;
    child->order = order;
    child->object = object;
    child->depth = parent->depth + 1;
    mdb_insert_after(parent, child);
}

// Is `c` the capability retype() made, as opposed to a copy of it?
Cap* donating_frame_of(const Cap* c) {
    Cap* p = parent_of(c);
    if (p && p->type == ObjType::Frame && (p->flags & abi::kCapDonated) &&
        p->donated_as == kDonatedObject && p->object == c->object)
        return p;
    return nullptr;
}

uint8_t object_order(ObjType t) {
    switch (t) {
    case ObjType::AddressSpace:
        return 2;
    case ObjType::Thread:
    case ObjType::Endpoint:
        return 0;
    default:
        return 0xff;
    }
}

CapTableRef table_ref(const Cap* c) {
    auto* h = phys_to<CapTableHeader>(c->object);
    if (h->dir_entries)
        return CapTableRef{phys_to<Cap>(c->object), uint64_t{h->dir_entries} << kLeafShift,
                           phys_to<uint64_t>(h->dir)};
    return CapTableRef{phys_to<Cap>(c->object), abi::kCapSlotsPerPage << c->order};
}

Result<void> captable_check_destroy(const Cap* c) {
    CapTableRef t = table_ref(c);
    if (t.header()->bound_threads || t.header()->attached_to || t.dir) return Error::Busy;
    for (uint64_t i = 1; i < t.count; ++i)
        if (!t.slots[i].empty()) return Error::Busy;
    return {};
}

// Checks whether deleting c would succeed, without changing anything.
Result<void> check_delete(const Cap* c) {
    if (has_children(c)) return Error::Busy;
    if (c->type == ObjType::Frame && (c->flags & (abi::kCapDonated | abi::kCapSplit)))
        return Error::Busy;
    if (!donating_frame_of(c)) return {}; // a copy, or a boot-time root object
    switch (c->type) {
    case ObjType::AddressSpace:
        return as_check_destroy(as_of(c->object));
    case ObjType::Thread:
        return thread_check_destroy(phys_to<Thread>(c->object));
    case ObjType::Endpoint:
        return endpoint_check_destroy(phys_to<Endpoint>(c->object));
    case ObjType::CapTable:
        return captable_check_destroy(c);
    default:
        return {};
    }
}

// A deleted object's frame back to zero (Cap::zeroed), clearing only what
// the object can have written: retype made it in a zeroed frame
// (frame_zero_for_use), and the kernel writes an object only through its
// fields. An address space holds what as_init wrote (its check found
// nothing mapped, no tables, no trapframe), a thread and an endpoint their
// structures, a flat table its header (its slots are empty, and an emptied
// slot is all zero: mdb_remove). Anything else: the whole run. Test kernels
// check the result.
void clear_object(const Cap* c, const Cap* frame) {
    switch (c->type) {
    case ObjType::AddressSpace:
        as_clear(as_of(c->object));
        break;
    case ObjType::Thread:
        memset(phys_to<Thread>(c->object), 0, sizeof(Thread));
        break;
    case ObjType::Endpoint:
        memset(phys_to<Endpoint>(c->object), 0, sizeof(Endpoint));
        break;
    case ObjType::CapTable:
        *table_ref(c).header() = CapTableHeader{};
        break;
    default:
        zero_frames(frame->object, uint64_t{1} << frame->order);
        break;
    }
#ifdef CAPFRAME_TEST_KERNEL
    const auto* w = phys_to<const uint64_t>(frame->object);
    for (uint64_t i = 0; i < (kPageSize << frame->order) / 8; ++i)
        if (w[i])
            panic("deleted object (type %u) at 0x%lx: word %lu of its frame is 0x%lx, not 0",
                  static_cast<unsigned>(c->type), frame->object, i, w[i]);
#endif
}

} // namespace

void zero_frames(uint64_t pa, uint64_t pages) {
    memset(reinterpret_cast<void*>(pa), 0, pages * kPageSize); // by words (lib/string.cpp)
}

void frame_ensure_zero(Cap* frame) {
    if (!frame->zeroed) zero_frames(frame->object, uint64_t{1} << frame->order);
    frame->zeroed = 1;
}

void frame_zero_for_use(Cap* frame) {
    frame_ensure_zero(frame);
    frame->zeroed = 0;
}

void mdb_init() {
    g_mdb.prev = g_mdb.next = &g_mdb;
}
void mdb_insert_root(Cap* c) {
    c->depth = 0;
    mdb_insert_after(g_mdb.prev, c);
}

bool has_children(const Cap* c) {
    return c->next != &g_mdb && c->next->depth > c->depth;
}

bool frame_free_for_use(const Cap* c) {
    if (c->type != ObjType::Frame || c->flags != 0 || has_children(c)) return false;
    // Not a copy: the frame it was copied from could still map the memory.
    const Cap* p = parent_of(c);
    return !p || (p->type == ObjType::Frame && (p->flags & abi::kCapSplit));
}

Result<CapTableRef> table_of(const Thread& t, uint64_t table_slot) {
    if (table_slot == 0) return t.table;
    Cap* c = TRY(lookup(t, table_slot, ObjType::CapTable));
    return table_ref(c);
}

Result<void> cap_attach(const CapTableRef& space, Cap* leaf, uint64_t index) {
    if (!space.dir) return Error::InvalidArgument; // a flat table has no directory
    if (leaf->type != ObjType::CapTable) return Error::BadType;
    if (index == 0 || index >= (space.count >> kLeafShift)) return Error::OutOfRange;
    // Only the capability retype() made names the leaf's memory for good
    // (a copy can be deleted while the leaf lives on), and a leaf is one page.
    if (!donating_frame_of(leaf) || leaf->order != 0) return Error::InvalidArgument;
    CapTableRef t = table_ref(leaf);
    if (t.dir || t.header()->attached_to || t.header()->bound_threads) return Error::Busy;
    for (uint64_t i = 1; i < t.count; ++i)
        if (!t.slots[i].empty()) return Error::Busy;
    if (space.dir[index]) return Error::AlreadyMapped;
    space.dir[index] = leaf->object;
    t.header()->attached_to = reinterpret_cast<uint64_t>(space.dir);
    t.header()->attached_index = static_cast<uint32_t>(index);
    return {};
}

Result<void> cap_detach(const CapTableRef& space, uint64_t index) {
    if (!space.dir) return Error::InvalidArgument;
    if (index >= (space.count >> kLeafShift)) return Error::OutOfRange;
    if (index == 0) return Error::InvalidArgument; // the root
    if (!space.dir[index]) return Error::BadSlot;
    auto* h = phys_to<CapTableHeader>(space.dir[index]);
    if (h->boot_leaf) return Error::Permission;
    const Cap* slots = phys_to<Cap>(space.dir[index]);
    for (uint64_t i = 1; i < kLeafSlots; ++i)
        if (!slots[i].empty()) return Error::Busy;
    h->attached_to = 0;
    h->attached_index = 0;
    space.dir[index] = 0;
    return {};
}

Result<void> cap_copy(Cap* src, Cap* dst, uint8_t rights, uint64_t badge) {
    if (src->type == ObjType::Frame && (src->flags & (abi::kCapDonated | abi::kCapSplit)))
        return Error::Busy; // copies of kernel-owned memory would be mappable
    if (badge && (src->type != ObjType::Endpoint || src->badge)) return Error::InvalidArgument;
    make_child(src, dst, src->type, src->rights & rights, src->order, src->object);
    dst->badge = badge ? badge : src->badge;
    src->zeroed = 0; // the copy may map and write the memory
    return {};
}

Result<void> cap_delete(Cap* c) {
    TRY(check_delete(c));
    // Perform: nothing below can fail.
    if (c->type == ObjType::Frame && (c->flags & abi::kCapMapped)) frame_unmap(c);
    if (Cap* frame = donating_frame_of(c)) {
        switch (c->type) {
        case ObjType::AddressSpace:
            break; // empty by check: nothing mapped, no tables
        case ObjType::Thread:
            thread_destroy(phys_to<Thread>(c->object));
            break;
        case ObjType::Endpoint:
            endpoint_destroy(phys_to<Endpoint>(c->object));
            break;
        default:
            break;
        }
        clear_object(c, frame);
        frame->zeroed = 1;
        frame->flags &= static_cast<uint8_t>(~abi::kCapDonated);
        frame->donated_as = 0;
    }
    Cap* parent = parent_of(c);
    mdb_remove(c);
    // The last half of a split gone: the parent frame is whole again.
    if (parent && parent->type == ObjType::Frame && (parent->flags & abi::kCapSplit) &&
        !has_children(parent))
        parent->flags &= static_cast<uint8_t>(~abi::kCapSplit);
    return {};
}

Result<uint64_t> cap_revoke(Cap* c) {
    uint64_t deleted = 0;
    // Leaf first: the last descendant never has children of its own.
    while (Cap* d = last_descendant(c)) {
        TRY(cap_delete(d));
        ++deleted;
    }
    return deleted;
}

Result<void> frame_split(Cap* frame, Cap* lo, Cap* hi) {
    if (!frame->has(abi::kRightDonate)) return Error::Permission;
    if (frame->order == 0 || lo == hi || hi == frame) return Error::InvalidArgument;
    if (!frame_free_for_use(frame)) return Error::Busy;
    uint8_t order = static_cast<uint8_t>(frame->order - 1);
    if (lo == frame) {
        // In place: the capability becomes the lower half and the upper half
        // its sibling (same depth, same parent), so a split costs one slot.
        *hi = Cap{};
        hi->type = ObjType::Frame;
        hi->rights = frame->rights;
        hi->order = order;
        hi->object = frame->object + (kPageSize << order);
        hi->depth = frame->depth;
        hi->zeroed = frame->zeroed;
        mdb_insert_after(frame, hi); // (frame has no descendants)
        frame->order = order;
        return {};
    }
    make_child(frame, hi, ObjType::Frame, frame->rights, order,
               frame->object + (kPageSize << order));
    make_child(frame, lo, ObjType::Frame, frame->rights, order, frame->object);
    lo->zeroed = hi->zeroed = frame->zeroed;
    frame->zeroed = 0; // written through its halves from now on
    frame->flags |= abi::kCapSplit;
    return {};
}

Result<void> frame_merge(Cap* lo, Cap* hi) {
    if (lo == hi) return Error::InvalidArgument;
    if (!lo->has(abi::kRightDonate) || !hi->has(abi::kRightDonate)) return Error::Permission;
    uint64_t half = kPageSize << lo->order;
    if (lo->order != hi->order || lo->order >= kMaxFrameOrder || lo->rights != hi->rights ||
        !is_aligned(lo->object, half * 2) || hi->object != lo->object + half)
        return Error::InvalidArgument;
    if (!frame_free_for_use(lo) || !frame_free_for_use(hi)) return Error::Busy;
    if (lo->depth != hi->depth || parent_of(lo) != parent_of(hi)) return Error::InvalidArgument;
    lo->zeroed = lo->zeroed && hi->zeroed; // (mdb_remove clears hi)
    mdb_remove(hi);
    lo->order = static_cast<uint8_t>(lo->order + 1);
    return {};
}

Result<void> cap_move(Cap* src, Cap* dst) {
    if (src == dst) return Error::InvalidArgument;
    if (src->type != ObjType::Frame) return Error::BadType;
    // Nothing outside the MDB may point at the slot: the one capability
    // the kernel keeps a pointer to is a kernel stack's (Thread::kstack_cap).
    // Mappings, donated tables and objects, copies and halves name the
    // memory, not the slot.
    if ((src->flags & abi::kCapDonated) && src->donated_as == kDonatedKstack) return Error::Busy;
    *dst = *src; // same place in the MDB: its depth, parent and children stay
    dst->prev->next = dst;
    dst->next->prev = dst;
    *src = Cap{};
    return {};
}

Result<void> retype(Cap* frame, ObjType type, Cap* dst) {
    if (!frame->has(abi::kRightDonate)) return Error::Permission;
    if (type == ObjType::CapTable) {
        if (frame->order > 6) return Error::InvalidArgument;
    } else if (object_order(type) == 0xff) {
        return Error::InvalidArgument; // Frame, Control, Null: not made by retype
    } else if (frame->order != object_order(type)) {
        return Error::InvalidArgument;
    }
    if (!frame_free_for_use(frame)) return Error::Busy;

    uint64_t pa = frame->object;
    frame_zero_for_use(frame);
    switch (type) {
    case ObjType::AddressSpace:
        as_init(pa);
        break;
    case ObjType::Thread:
        thread_init(phys_to<Thread>(pa));
        break;
    case ObjType::CapTable:
        phys_to<CapTableHeader>(pa)->slot_count = abi::kCapSlotsPerPage << frame->order;
        break;
    default:
        break;
    }
    frame->flags |= abi::kCapDonated;
    frame->donated_as = kDonatedObject;
    make_child(frame, dst, type, abi::kRightsAll, frame->order, pa);
    return {};
}

} // namespace capframe
