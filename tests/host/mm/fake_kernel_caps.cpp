// The fake kernel's capability calls: info, copy, delete, revoke, split,
// merge, move, retype, attach and detach (fake_kernel.h).
#include "fake_kernel_impl.h"

#include "mm_sizing.h"
#include "slots.h"

#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace fakek {

void FakeKernel::remove_cap(uint64_t slot) {
    Cap& c = caps_[slot];
    if (c.type == ObjType::Frame && c.mapped) {
        objects_[size_t(c.map_as)].pages.erase(c.map_va);
        c.mapped = false;
    }
    if (c.parent >= 0) {
        Cap& p = caps_[size_t(c.parent)];
        --p.children;
        if (p.split && p.children == 0) p.split = false;
    }
    c = Cap{};
}

int64_t FakeKernel::delete_descendants(uint64_t slot) {
    int64_t n = 0;
    for (uint64_t i = 0; i < caps_.size(); ++i) {
        if (i % CapSpace::kLeaf == 0 && !caps_.attached(i / CapSpace::kLeaf)) {
            i += CapSpace::kLeaf - 1;
            continue;
        }
        if (caps_.get(i) && caps_[i].type != ObjType::Null && caps_[i].parent == int64_t(slot)) {
            n += delete_descendants(i);
            remove_cap(i);
            ++n;
        }
    }
    for (Object& o : objects_)
        for (auto it = o.held.begin(); it != o.held.end();)
            if (it->second == int64_t(slot)) {
                --caps_[slot].children;
                it = o.held.erase(it);
                ++n;
            } else {
                ++it;
            }
    return n;
}

} // namespace fakek

// The capability calls themselves: libsys's (capframe/syscalls.h), by the fake.
namespace sys {

using namespace fakek;

int64_t cap_info(uint64_t slot, uint64_t* pa) {
    FakeKernel& fk = fake();
    ++fk.calls;
    if (!fk.caps_.get(slot)) return e(Errno::Range);
    Cap* c = fk.cap(slot, ObjType::Null);
    if (!c) return e(Errno::BadSlot);
    if (pa) *pa = c->pa;
    uint64_t flags = (c->mapped ? abi::kCapMapped : 0) | (c->donated ? abi::kCapDonated : 0) |
                     (c->split ? abi::kCapSplit : 0);
    return int64_t(uint64_t(c->type) | uint64_t(c->rights) << 8 | uint64_t(c->order) << 16 |
                   flags << 24);
}

int64_t cap_copy(uint64_t src, uint64_t dst_table, uint64_t dst, uint64_t rights, uint64_t badge) {
    FakeKernel& fk = fake();
    ++fk.calls;
    if (fk.injected(abi::Sys::CapCopy)) return e(Errno::Busy);
    Cap* s = fk.cap(src, ObjType::Null);
    if (!s) return e(Errno::BadSlot);
    if (rights & ~uint64_t(s->rights)) return e(Errno::Perm);
    if (s->type == ObjType::Frame && (s->donated || s->split)) return e(Errno::Busy);
    if (dst_table) {
        Object* t = fk.object(dst_table, ObjType::CapTable);
        if (!t) return e(Errno::BadType);
        if (t->held.count(dst)) return e(Errno::Exist);
        t->held[dst] = int64_t(src);
        ++s->children;
        return 0;
    }
    if (int64_t r = fk.empty_slot(dst); r < 0) return r;
    Cap copy = *s;
    copy.rights = uint8_t(rights);
    copy.badge = badge ? badge : s->badge;
    copy.parent = int64_t(src);
    copy.children = 0;
    copy.mapped = false;
    copy.original = false;
    fk.caps_[dst] = copy;
    ++s->children;
    return 0;
}

int64_t cap_delete(uint64_t slot) {
    FakeKernel& fk = fake();
    ++fk.calls;
    if (fk.injected(abi::Sys::CapDelete)) return e(Errno::Busy);
    Cap* c = fk.cap(slot, ObjType::Null);
    if (!c) return e(Errno::BadSlot);
    if (c->children) return e(Errno::Busy);
    if (c->type == ObjType::Frame && (c->donated || c->split)) return e(Errno::Busy);
    if (c->type != ObjType::Frame && c->original && c->obj >= 0) {
        Object& o = fk.objects_[size_t(c->obj)];
        switch (o.type) {
        case ObjType::AddressSpace:
            // mm drops pages and tables first; the kernel would refuse to
            // lose track of them.
            // (The tables over the trapframe are the object's own.)
            if (!o.pages.empty() || o.l1.size() > 1 || o.l0.size() > 1) return e(Errno::Busy);
            for (const Object& t : fk.objects_)
                if (t.alive && t.type == ObjType::Thread && t.as == c->obj) return e(Errno::Busy);
            break;
        case ObjType::Thread:
            if (fk.busy_thread_deletes) {
                --fk.busy_thread_deletes;
                return e(Errno::Busy);
            }
            if (o.has_stack) fk.caps_[o.kstack_slot].donated = false;
            break;
        case ObjType::CapTable:
            if (o.attached_at >= 0) return e(Errno::Busy); // a leaf of mm's space
            for (auto& [index, parent] : o.held) {
                Cap& p = fk.caps_[size_t(parent)];
                --p.children;
            }
            o.held.clear();
            break;
        default:
            break;
        }
        o.alive = false;
        fk.caps_[o.frame_slot].donated = false;
        fk.caps_[o.frame_slot].obj = -1;
        for (uint64_t k = 0; k < (uint64_t{1} << fk.caps_[o.frame_slot].order); ++k)
            std::memset(fk.page(fk.caps_[o.frame_slot].pa + k * kPage), 0, kPage);
    }
    fk.remove_cap(slot);
    return 0;
}

int64_t cap_revoke(uint64_t slot) {
    FakeKernel& fk = fake();
    ++fk.calls;
    if (fk.injected(abi::Sys::CapRevoke)) return e(Errno::Busy);
    if (!fk.cap(slot, ObjType::Null)) return e(Errno::BadSlot);
    return fk.delete_descendants(slot);
}

int64_t frame_split(uint64_t slot, uint64_t lo, uint64_t hi) {
    FakeKernel& fk = fake();
    ++fk.calls;
    if (fk.injected(abi::Sys::FrameSplit)) return e(Errno::Busy);
    Cap* f = fk.cap(slot, ObjType::Frame);
    if (!f) return e(Errno::BadType);
    if (!(f->rights & abi::kRightDonate)) return e(Errno::Perm);
    if (f->order == 0 || lo == hi || hi == slot) return e(Errno::Inval);
    if (!fk.free_for_use(*f)) return e(Errno::Busy);
    if (lo == slot) { // in place: the cap becomes the lower half, hi its sibling
        if (int64_t r = fk.empty_slot(hi); r < 0) return r;
        Cap& c = fk.caps_[hi];
        c = Cap{};
        c.type = ObjType::Frame;
        c.order = uint8_t(f->order - 1);
        c.pa = f->pa + (kPage << c.order);
        c.rights = f->rights;
        c.parent = f->parent;
        if (f->parent >= 0) ++fk.caps_[size_t(f->parent)].children;
        f->order = c.order;
        ++fk.splits;
        return 0;
    }
    if (int64_t r = fk.empty_slot(lo); r < 0) return r;
    if (int64_t r = fk.empty_slot(hi); r < 0) return r;
    for (int half = 0; half < 2; ++half) {
        Cap& c = fk.caps_[half ? hi : lo];
        c.type = ObjType::Frame;
        c.order = uint8_t(f->order - 1);
        c.pa = f->pa + (half ? kPage << c.order : 0);
        c.rights = f->rights;
        c.parent = int64_t(slot);
    }
    f->split = true;
    f->children += 2;
    ++fk.splits;
    return 0;
}

int64_t frame_merge(uint64_t lo, uint64_t hi) {
    FakeKernel& fk = fake();
    ++fk.calls;
    if (fk.injected(abi::Sys::FrameMerge)) return e(Errno::Busy);
    Cap* l = fk.cap(lo, ObjType::Frame);
    Cap* h = fk.cap(hi, ObjType::Frame);
    if (!l || !h) return e(Errno::BadType);
    if (lo == hi) return e(Errno::Inval);
    if (!(l->rights & abi::kRightDonate) || !(h->rights & abi::kRightDonate)) return e(Errno::Perm);
    uint64_t half = kPage << l->order;
    if (l->order != h->order || l->rights != h->rights || l->pa % (2 * half) ||
        h->pa != l->pa + half)
        return e(Errno::Inval);
    for (Cap* c : {l, h})
        if (!fk.free_for_use(*c)) return e(Errno::Busy);
    if (l->parent != h->parent) return e(Errno::Inval);
    if (l->parent >= 0) --fk.caps_[size_t(l->parent)].children;
    *h = Cap{};
    ++l->order;
    ++fk.merges;
    return 0;
}

int64_t cap_move(uint64_t src, uint64_t dst) {
    FakeKernel& fk = fake();
    ++fk.calls;
    if (fk.injected(abi::Sys::CapMove)) return e(Errno::Busy);
    if (!fk.caps_.get(src)) return e(Errno::Range);
    Cap* s = fk.cap(src, ObjType::Null);
    if (!s) return e(Errno::BadSlot);
    if (int64_t r = fk.empty_slot(dst); r < 0) return r;
    if (src == dst) return e(Errno::Inval);
    if (s->type != ObjType::Frame) return e(Errno::BadType);
    // The fake names donations by slot (tables_, kstack_slot): those stay;
    // a mapping and the children's parent links follow the move.
    if (s->donated) return e(Errno::Busy);
    if (s->mapped) {
        auto& pages = fk.objects_[size_t(s->map_as)].pages;
        auto it = pages.find(s->map_va);
        if (it != pages.end() && it->second == src) it->second = dst;
    }
    if (s->children) {
        for (uint64_t leaf = 0; leaf < fk.caps_.dir_entries(); ++leaf) {
            if (!fk.caps_.attached(leaf)) continue;
            for (uint64_t i = leaf * CapSpace::kLeaf + 1; i < (leaf + 1) * CapSpace::kLeaf; ++i)
                if (fk.caps_[i].type != ObjType::Null && fk.caps_[i].parent == int64_t(src))
                    fk.caps_[i].parent = int64_t(dst);
        }
        for (Object& o : fk.objects_)
            for (auto& [index, parent] : o.held)
                if (parent == int64_t(src)) parent = int64_t(dst);
    }
    fk.caps_[dst] = *s;
    *s = Cap{};
    ++fk.moves;
    return 0;
}

int64_t retype(uint64_t frame, ObjType type, uint64_t dst) {
    FakeKernel& fk = fake();
    ++fk.calls;
    Cap* f = fk.cap(frame, ObjType::Frame);
    if (!f) return e(Errno::BadType);
    if (!(f->rights & abi::kRightDonate)) return e(Errno::Perm);
    if (!fk.free_for_use(*f)) return e(Errno::Busy);
    uint8_t need = type == ObjType::AddressSpace ? 2 : 0;
    if (type == ObjType::Frame || type == ObjType::Null || type == ObjType::Control ||
        uint8_t(type) > uint8_t(ObjType::CapTable) || f->order != need)
        return e(Errno::Inval);
    if (int64_t r = fk.empty_slot(dst); r < 0) return r;
    fk.objects_.emplace_back();
    fk.objects_.back().type = type;
    fk.objects_.back().frame_slot = frame;
    if (type == ObjType::AddressSpace) { // as the kernel's: the root, and the
        // level-1 and level-0 tables over the trapframe's 2 MiB
        fk.objects_.back().l1.insert(abi::kTrapframeVa >> 30);
        fk.objects_.back().l0.insert(abi::kTrapframeVa >> 21);
    }
    f->donated = true;
    f->obj = int(fk.objects_.size() - 1);
    Cap& c = fk.caps_[dst];
    c.type = type;
    c.obj = f->obj;
    c.rights = abi::kRightsAll;
    c.original = true;
    return 0;
}

int64_t cap_attach(uint64_t table, uint64_t leaf, uint64_t index) {
    FakeKernel& fk = fake();
    ++fk.calls;
    if (fk.injected(abi::Sys::CapAttach)) return e(Errno::Busy);
    // Only mm's own space (table 0 or its self capability) has a directory.
    if (table != 0 && !fk.object(table, ObjType::CapTable)) return e(Errno::BadType);
    if (table != 0 && table != abi::kSlotSelfCapTable) return e(Errno::Inval);
    Cap* l = fk.cap(leaf, ObjType::Null);
    if (!fk.caps_.get(leaf)) return e(Errno::Range);
    if (!l) return e(Errno::BadSlot);
    if (l->type != ObjType::CapTable) return e(Errno::BadType);
    if (index == 0 || index >= fk.caps_.dir_entries()) return e(Errno::Range);
    if (!l->original || l->obj < 0 || fk.caps_[fk.objects_[size_t(l->obj)].frame_slot].order != 0)
        return e(Errno::Inval);
    Object& o = fk.objects_[size_t(l->obj)];
    if (o.attached_at >= 0 || !o.held.empty()) return e(Errno::Busy);
    if (fk.caps_.attached(index)) return e(Errno::Exist);
    fk.caps_.attach(index);
    o.attached_at = int64_t(index);
    fk.leaf_obj_[index] = l->obj;
    return 0;
}

int64_t cap_detach(uint64_t table, uint64_t index) {
    FakeKernel& fk = fake();
    ++fk.calls;
    if (table != 0 && !fk.object(table, ObjType::CapTable)) return e(Errno::BadType);
    if (table != 0 && table != abi::kSlotSelfCapTable) return e(Errno::Inval);
    if (index >= fk.caps_.dir_entries()) return e(Errno::Range);
    if (index == 0) return e(Errno::Inval);
    if (!fk.caps_.attached(index)) return e(Errno::BadSlot);
    if (index < fk.boot_leaves_) return e(Errno::Perm);
    for (uint64_t s = 1; s < CapSpace::kLeaf; ++s)
        if (fk.caps_[index * CapSpace::kLeaf + s].type != ObjType::Null) return e(Errno::Busy);
    fk.caps_.detach(index);
    if (fk.leaf_obj_[index] >= 0) fk.objects_[size_t(fk.leaf_obj_[index])].attached_at = -1;
    fk.leaf_obj_[index] = -1;
    return 0;
}

} // namespace sys
