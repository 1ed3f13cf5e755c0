#include "fake_kernel.h"

#include "mm_sizing.h"
#include "slots.h"

#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace fakek {

using abi::Errno;
using abi::ObjType;
using capframe::mm::kernel::Msg;

namespace {

FakeKernel g_fake;

int64_t e(Errno n) {
    return abi::error_return(n);
}

void put(Bytes& b, size_t off, uint64_t v, int width) {
    for (int i = 0; i < width; ++i)
        b.at(off + size_t(i)) = uint8_t(v >> (8 * i));
}

constexpr uint64_t kPage = 4096;

} // namespace

FakeKernel& fake() {
    return g_fake;
}

Bytes make_program(uint64_t text, uint64_t data, uint64_t bss) {
    // Header and two program headers in the first page; text from 0x1000,
    // data from the next page boundary after it.
    uint64_t text_off = 0x1000, text_va = 0x10000;
    uint64_t data_off = (text_off + text + kPage - 1) & ~(kPage - 1);
    uint64_t data_va = text_va + (data_off - text_off);
    Bytes b(data_off + data);
    for (size_t i = text_off; i < b.size(); ++i)
        b[i] = uint8_t(i * 7 + 3);
    const uint8_t ident[16] = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0};
    std::memcpy(b.data(), ident, sizeof ident);
    put(b, 16, 2, 2);   // ET_EXEC
    put(b, 18, 243, 2); // EM_RISCV
    put(b, 20, 1, 4);
    put(b, 24, text_va, 8); // entry
    put(b, 32, 64, 8);      // e_phoff
    put(b, 52, 64, 2);
    put(b, 54, 56, 2);
    put(b, 56, 2, 2);
    struct {
        uint32_t flags;
        uint64_t off, va, filesz, memsz;
    } ph[2] = {{5, text_off, text_va, text, text}, {6, data_off, data_va, data, data + bss}};
    for (int i = 0; i < 2; ++i) {
        size_t o = 64 + size_t(i) * 56;
        put(b, o, 1, 4); // PT_LOAD
        put(b, o + 4, ph[i].flags, 4);
        put(b, o + 8, ph[i].off, 8);
        put(b, o + 16, ph[i].va, 8);
        put(b, o + 24, ph[i].va, 8);
        put(b, o + 32, ph[i].filesz, 8);
        put(b, o + 40, ph[i].memsz, 8);
        put(b, o + 48, kPage, 8);
    }
    return b;
}

Bytes make_archive(const std::vector<std::pair<std::string, Bytes>>& files) {
    Bytes out;
    auto hex8 = [&](uint32_t v) {
        char s[9];
        std::snprintf(s, sizeof s, "%08x", v);
        out.insert(out.end(), s, s + 8);
    };
    auto pad = [&] {
        while (out.size() % 4)
            out.push_back(0);
    };
    uint32_t ino = 1;
    auto add = [&](const std::string& name, uint32_t mode, const Bytes& data) {
        const char magic[] = "070701";
        out.insert(out.end(), magic, magic + 6);
        uint32_t f[13] = {
            ino++, mode, 0, 0, 1, 0, uint32_t(data.size()), 0, 0, 0, 0, uint32_t(name.size() + 1),
            0};
        for (uint32_t v : f)
            hex8(v);
        out.insert(out.end(), name.begin(), name.end());
        out.push_back(0);
        pad();
        out.insert(out.end(), data.begin(), data.end());
        pad();
    };
    for (auto& [name, data] : files)
        add(name, 0100755, data);
    add("TRAILER!!!", 0, {});
    return out;
}

void FakeKernel::reset(uint64_t frames, uint64_t slots, Bytes arch) {
    *this = FakeKernel{};
    archive = std::move(arch);
    uint64_t dir =
        slots ? (slots + CapSpace::kLeaf - 1) / CapSpace::kLeaf : capframe::mm_dir_entries(frames);
    caps_.reset(dir);
    leaf_obj_.assign(dir, -1);
    // Boot leaves as kernel/boot_mm.cpp makes them: the frame capabilities
    // (at most 2 per order) and the spare slots.
    uint64_t boot_caps = 8 + 2 * 19 + 64 + capframe::kMmBootSpareSlots;
    boot_leaves_ = (boot_caps + CapSpace::kLeaf - 2) / (CapSpace::kLeaf - 1);
    if (boot_leaves_ > dir) boot_leaves_ = dir;
    for (uint64_t i = 0; i < boot_leaves_; ++i)
        caps_.attach(i);
    // mm's boot capabilities: its table, address space, thread, Control.
    auto boot_object = [&](uint64_t slot, ObjType t) {
        objects_.emplace_back();
        objects_.back().type = t;
        caps_[slot].type = t;
        caps_[slot].obj = int(objects_.size() - 1);
        caps_[slot].rights = abi::kRightsAll;
        caps_[slot].original = true;
    };
    boot_object(abi::kSlotSelfCapTable, ObjType::CapTable);
    boot_object(abi::kSlotSelfAs, ObjType::AddressSpace);
    boot_object(abi::kSlotSelfThread, ObjType::Thread);
    boot_object(abi::kSlotControl, ObjType::Control);
    // Every frame as maximal aligned blocks.
    uint64_t next = 8, pa = kRamBase, end = kRamBase + frames * kPage;
    info.first_frame_slot = next;
    while (pa < end) {
        uint8_t order = 0;
        while (order < 18 && pa % (kPage << (order + 1)) == 0 && pa + (kPage << (order + 1)) <= end)
            ++order;
        if (next % CapSpace::kLeaf == 0) ++next;
        Cap& c = caps_[next++];
        c.type = ObjType::Frame, c.pa = pa, c.order = order, c.rights = abi::kRightsAll;
        pa += kPage << order;
    }
    info.magic = abi::kBootInfoMagic;
    info.total_frames = frames;
    info.mm_captable_slots = caps_.size();
    info.cap_dir_entries = caps_.dir_entries();
    info.boot_leaves = boot_leaves_;
    info.frame_slot_count = next - info.first_frame_slot;
    info.first_free_slot = first_free_ = next;
    info.image_bytes = archive.size();
    info.window_base = kRamBase;
    info.window_frames = frames;
    info.meta_bytes = frames * abi::kMetaBytesPerFrame;
    info.slot_book_bytes = capframe::mm::SlotAllocator::book_bytes(caps_.dir_entries());
    meta_.assign(info.meta_bytes + info.slot_book_bytes, 0);
}

uint64_t FakeKernel::live_objects() const {
    uint64_t n = 0;
    for (const Object& o : objects_)
        n += o.alive;
    return n;
}

uint64_t FakeKernel::mapped_pages(int as_obj) const {
    return objects_.at(size_t(as_obj)).pages.size();
}

uint64_t FakeKernel::used_slots() const {
    uint64_t n = 0;
    for (uint64_t i = 0; i < caps_.size(); ++i)
        if (const Cap* c = caps_.get(i)) n += c->type != ObjType::Null;
    return n;
}

uint64_t FakeKernel::attached_leaves() const {
    uint64_t n = 0;
    for (uint64_t i = 0; i < caps_.dir_entries(); ++i)
        n += caps_.attached(i);
    return n;
}

int FakeKernel::object_of(uint64_t slot) const {
    const Cap* c = caps_.get(slot);
    return c ? c->obj : -1;
}

bool FakeKernel::injected(abi::Sys s) {
    return fail_after && s == fail_sys && --fail_after == 0;
}

Cap* FakeKernel::cap(uint64_t slot, ObjType type) {
    Cap* c = caps_.get(slot);
    if (!c || c->type == ObjType::Null) return nullptr;
    if (type != ObjType::Null && c->type != type) return nullptr;
    return c;
}

Object* FakeKernel::object(uint64_t slot, ObjType type) {
    Cap* c = cap(slot, type);
    if (!c || c->obj < 0 || type == ObjType::Frame) return nullptr;
    return &objects_[size_t(c->obj)];
}

int64_t FakeKernel::empty_slot(uint64_t slot) {
    Cap* c = caps_.get(slot);
    if (!c) return e(Errno::Range);
    if (c->type != ObjType::Null) return e(Errno::Exist);
    return 0;
}

uint8_t* FakeKernel::page(uint64_t pa) {
    auto& p = memory_[pa & ~(kPage - 1)];
    if (!p) {
        p.reset(new uint8_t[kPage]);
        std::memset(p.get(), 0xa5, kPage); // junk: mm must zero what it hands out
    }
    return p.get() + (pa & (kPage - 1));
}

int64_t FakeKernel::cap_info(uint64_t slot, uint64_t* pa) {
    ++calls;
    if (!caps_.get(slot)) return e(Errno::Range);
    Cap* c = cap(slot, ObjType::Null);
    if (!c) return e(Errno::BadSlot);
    if (pa) *pa = c->pa;
    uint64_t flags = (c->mapped ? abi::kCapMapped : 0) | (c->donated ? abi::kCapDonated : 0) |
                     (c->split ? abi::kCapSplit : 0);
    return int64_t(uint64_t(c->type) | uint64_t(c->rights) << 8 | uint64_t(c->order) << 16 |
                   flags << 24);
}

int64_t FakeKernel::cap_copy(uint64_t src, uint64_t dst_table, uint64_t dst, uint64_t rights,
                             uint64_t badge) {
    ++calls;
    if (injected(abi::Sys::CapCopy)) return e(Errno::Busy);
    Cap* s = cap(src, ObjType::Null);
    if (!s) return e(Errno::BadSlot);
    if (rights & ~uint64_t(s->rights)) return e(Errno::Perm);
    if (s->type == ObjType::Frame && (s->donated || s->split)) return e(Errno::Busy);
    if (dst_table) {
        Object* t = object(dst_table, ObjType::CapTable);
        if (!t) return e(Errno::BadType);
        if (t->held.count(dst)) return e(Errno::Exist);
        t->held[dst] = int64_t(src);
        ++s->children;
        return 0;
    }
    if (int64_t r = empty_slot(dst); r < 0) return r;
    Cap copy = *s;
    copy.rights = uint8_t(rights);
    copy.badge = badge ? badge : s->badge;
    copy.parent = int64_t(src);
    copy.children = 0;
    copy.mapped = false;
    copy.original = false;
    caps_[dst] = copy;
    ++s->children;
    return 0;
}

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

int64_t FakeKernel::cap_delete(uint64_t slot) {
    ++calls;
    if (injected(abi::Sys::CapDelete)) return e(Errno::Busy);
    Cap* c = cap(slot, ObjType::Null);
    if (!c) return e(Errno::BadSlot);
    if (c->children) return e(Errno::Busy);
    if (c->type == ObjType::Frame && (c->donated || c->split)) return e(Errno::Busy);
    if (c->type != ObjType::Frame && c->original && c->obj >= 0) {
        Object& o = objects_[size_t(c->obj)];
        switch (o.type) {
        case ObjType::AddressSpace:
            // mm drops pages and tables first; the kernel would refuse to
            // lose track of them.
            if (!o.pages.empty() || !o.l1.empty() || !o.l0.empty()) return e(Errno::Busy);
            for (const Object& t : objects_)
                if (t.alive && t.type == ObjType::Thread && t.as == c->obj) return e(Errno::Busy);
            break;
        case ObjType::Thread:
            if (busy_thread_deletes) {
                --busy_thread_deletes;
                return e(Errno::Busy);
            }
            if (o.has_stack) caps_[o.kstack_slot].donated = false;
            break;
        case ObjType::CapTable:
            if (o.attached_at >= 0) return e(Errno::Busy); // a leaf of mm's space
            for (auto& [index, parent] : o.held) {
                Cap& p = caps_[size_t(parent)];
                --p.children;
            }
            o.held.clear();
            break;
        default:
            break;
        }
        o.alive = false;
        caps_[o.frame_slot].donated = false;
        caps_[o.frame_slot].obj = -1;
        for (uint64_t k = 0; k < (uint64_t{1} << caps_[o.frame_slot].order); ++k)
            std::memset(page(caps_[o.frame_slot].pa + k * kPage), 0, kPage);
    }
    remove_cap(slot);
    return 0;
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

int64_t FakeKernel::cap_revoke(uint64_t slot) {
    ++calls;
    if (!cap(slot, ObjType::Null)) return e(Errno::BadSlot);
    return delete_descendants(slot);
}

int64_t FakeKernel::frame_split(uint64_t slot, uint64_t lo, uint64_t hi) {
    ++calls;
    Cap* f = cap(slot, ObjType::Frame);
    if (!f) return e(Errno::BadType);
    if (!(f->rights & abi::kRightDonate)) return e(Errno::Perm);
    if (f->order == 0 || lo == hi || hi == slot) return e(Errno::Inval);
    if (f->mapped || f->donated || f->split || f->children ||
        (f->parent >= 0 && !caps_[size_t(f->parent)].split))
        return e(Errno::Busy);
    if (lo == slot) { // in place: the cap becomes the lower half, hi its sibling
        if (int64_t r = empty_slot(hi); r < 0) return r;
        Cap& c = caps_[hi];
        c = Cap{};
        c.type = ObjType::Frame;
        c.order = uint8_t(f->order - 1);
        c.pa = f->pa + (kPage << c.order);
        c.rights = f->rights;
        c.parent = f->parent;
        if (f->parent >= 0) ++caps_[size_t(f->parent)].children;
        f->order = c.order;
        return 0;
    }
    if (int64_t r = empty_slot(lo); r < 0) return r;
    if (int64_t r = empty_slot(hi); r < 0) return r;
    for (int half = 0; half < 2; ++half) {
        Cap& c = caps_[half ? hi : lo];
        c.type = ObjType::Frame;
        c.order = uint8_t(f->order - 1);
        c.pa = f->pa + (half ? kPage << c.order : 0);
        c.rights = f->rights;
        c.parent = int64_t(slot);
    }
    f->split = true;
    f->children += 2;
    return 0;
}

int64_t FakeKernel::frame_merge(uint64_t lo, uint64_t hi) {
    ++calls;
    if (injected(abi::Sys::FrameMerge)) return e(Errno::Busy);
    Cap* l = cap(lo, ObjType::Frame);
    Cap* h = cap(hi, ObjType::Frame);
    if (!l || !h) return e(Errno::BadType);
    if (lo == hi) return e(Errno::Inval);
    if (!(l->rights & abi::kRightDonate) || !(h->rights & abi::kRightDonate)) return e(Errno::Perm);
    uint64_t half = kPage << l->order;
    if (l->order != h->order || l->rights != h->rights || l->pa % (2 * half) ||
        h->pa != l->pa + half)
        return e(Errno::Inval);
    for (Cap* c : {l, h})
        if (c->mapped || c->donated || c->split || c->children ||
            (c->parent >= 0 && !caps_[size_t(c->parent)].split))
            return e(Errno::Busy);
    if (l->parent != h->parent) return e(Errno::Inval);
    if (l->parent >= 0) --caps_[size_t(l->parent)].children;
    *h = Cap{};
    ++l->order;
    return 0;
}

int64_t FakeKernel::cap_move(uint64_t src, uint64_t dst) {
    ++calls;
    if (injected(abi::Sys::CapMove)) return e(Errno::Busy);
    if (!caps_.get(src)) return e(Errno::Range);
    Cap* s = cap(src, ObjType::Null);
    if (!s) return e(Errno::BadSlot);
    if (int64_t r = empty_slot(dst); r < 0) return r;
    if (src == dst) return e(Errno::Inval);
    if (s->type != ObjType::Frame) return e(Errno::BadType);
    // The fake names donations by slot (tables_, kstack_slot): those stay;
    // a mapping and the children's parent links follow the move.
    if (s->donated) return e(Errno::Busy);
    if (s->mapped) {
        auto& pages = objects_[size_t(s->map_as)].pages;
        auto it = pages.find(s->map_va);
        if (it != pages.end() && it->second == src) it->second = dst;
    }
    if (s->children) {
        for (uint64_t leaf = 0; leaf < caps_.dir_entries(); ++leaf) {
            if (!caps_.attached(leaf)) continue;
            for (uint64_t i = leaf * CapSpace::kLeaf + 1; i < (leaf + 1) * CapSpace::kLeaf; ++i)
                if (caps_[i].type != ObjType::Null && caps_[i].parent == int64_t(src))
                    caps_[i].parent = int64_t(dst);
        }
        for (Object& o : objects_)
            for (auto& [index, parent] : o.held)
                if (parent == int64_t(src)) parent = int64_t(dst);
    }
    caps_[dst] = *s;
    *s = Cap{};
    ++moves;
    return 0;
}

int64_t FakeKernel::retype(uint64_t frame, ObjType type, uint64_t dst) {
    ++calls;
    Cap* f = cap(frame, ObjType::Frame);
    if (!f) return e(Errno::BadType);
    if (!(f->rights & abi::kRightDonate)) return e(Errno::Perm);
    if (f->mapped || f->donated || f->split || f->children ||
        (f->parent >= 0 && !caps_[size_t(f->parent)].split))
        return e(Errno::Busy);
    uint8_t need = type == ObjType::AddressSpace ? 2 : 0;
    if (type == ObjType::Frame || type == ObjType::Null || type == ObjType::Control ||
        uint8_t(type) > uint8_t(ObjType::CapTable) || f->order != need)
        return e(Errno::Inval);
    if (int64_t r = empty_slot(dst); r < 0) return r;
    objects_.emplace_back();
    objects_.back().type = type;
    objects_.back().frame_slot = frame;
    f->donated = true;
    f->obj = int(objects_.size() - 1);
    Cap& c = caps_[dst];
    c.type = type;
    c.obj = f->obj;
    c.rights = abi::kRightsAll;
    c.original = true;
    return 0;
}

int64_t FakeKernel::cap_attach(uint64_t table, uint64_t leaf, uint64_t index) {
    ++calls;
    // Only mm's own space (table 0 or its self capability) has a directory.
    if (table != 0 && !object(table, ObjType::CapTable)) return e(Errno::BadType);
    if (table != 0 && table != abi::kSlotSelfCapTable) return e(Errno::Inval);
    Cap* l = cap(leaf, ObjType::Null);
    if (!caps_.get(leaf)) return e(Errno::Range);
    if (!l) return e(Errno::BadSlot);
    if (l->type != ObjType::CapTable) return e(Errno::BadType);
    if (index == 0 || index >= caps_.dir_entries()) return e(Errno::Range);
    if (!l->original || l->obj < 0 || caps_[objects_[size_t(l->obj)].frame_slot].order != 0)
        return e(Errno::Inval);
    Object& o = objects_[size_t(l->obj)];
    if (o.attached_at >= 0 || !o.held.empty()) return e(Errno::Busy);
    if (caps_.attached(index)) return e(Errno::Exist);
    caps_.attach(index);
    o.attached_at = int64_t(index);
    leaf_obj_[index] = l->obj;
    return 0;
}

int64_t FakeKernel::cap_detach(uint64_t table, uint64_t index) {
    ++calls;
    if (table != 0 && !object(table, ObjType::CapTable)) return e(Errno::BadType);
    if (table != 0 && table != abi::kSlotSelfCapTable) return e(Errno::Inval);
    if (index >= caps_.dir_entries()) return e(Errno::Range);
    if (index == 0) return e(Errno::Inval);
    if (!caps_.attached(index)) return e(Errno::BadSlot);
    if (index < boot_leaves_) return e(Errno::Perm);
    for (uint64_t s = 1; s < CapSpace::kLeaf; ++s)
        if (caps_[index * CapSpace::kLeaf + s].type != ObjType::Null) return e(Errno::Busy);
    caps_.detach(index);
    if (leaf_obj_[index] >= 0) objects_[size_t(leaf_obj_[index])].attached_at = -1;
    leaf_obj_[index] = -1;
    return 0;
}

int64_t FakeKernel::map(uint64_t frame, uint64_t as, uint64_t va, uint64_t rights,
                        int* need_level) {
    ++calls;
    if (injected(abi::Sys::Map)) return e(Errno::Busy);
    Cap* f = cap(frame, ObjType::Frame);
    if (!f) return e(Errno::BadType);
    Object* a = object(as, ObjType::AddressSpace);
    if (!a) return e(Errno::BadType);
    if (va >= abi::kTrapframeVa) return e(Errno::Range);
    if (va % kPage || f->order != 0 || (rights & ~7u) || !(rights & abi::kRightRead) ||
        ((rights & abi::kRightWrite) && (rights & abi::kRightExec)))
        return e(Errno::Inval);
    if (!(f->rights & abi::kRightMap) || (rights & ~uint64_t(f->rights))) return e(Errno::Perm);
    if (f->mapped || f->donated || f->split) return e(Errno::Busy);
    if (!a->l1.count(va >> 30)) {
        if (need_level) *need_level = 1;
        return e(Errno::NeedTable);
    }
    if (!a->l0.count(va >> 21)) {
        if (need_level) *need_level = 0;
        return e(Errno::NeedTable);
    }
    if (a->pages.count(va)) return e(Errno::Exist);
    a->pages[va] = frame;
    f->mapped = true;
    f->map_as = uint64_t(caps_[as].obj);
    f->map_va = va;
    return 0;
}

int64_t FakeKernel::unmap(uint64_t frame) {
    ++calls;
    if (injected(abi::Sys::Unmap)) return e(Errno::Busy);
    Cap* f = cap(frame, ObjType::Frame);
    if (!f) return e(Errno::BadType);
    if (!f->mapped) return e(Errno::Inval);
    objects_[size_t(f->map_as)].pages.erase(f->map_va);
    f->mapped = false;
    return 0;
}

int64_t FakeKernel::protect(uint64_t frame, uint64_t rights) {
    ++calls;
    if (injected(abi::Sys::Protect)) return e(Errno::Busy);
    Cap* f = cap(frame, ObjType::Frame);
    if (!f) return e(Errno::BadType);
    if (!f->mapped) return e(Errno::Inval);
    if (rights & ~uint64_t(f->rights)) return e(Errno::Perm);
    return 0;
}

int64_t FakeKernel::map_table(uint64_t frame, uint64_t as, uint64_t va) {
    ++calls;
    Cap* f = cap(frame, ObjType::Frame);
    if (!f) return e(Errno::BadType);
    Object* a = object(as, ObjType::AddressSpace);
    if (!a) return e(Errno::BadType);
    if (f->order != 0 || va >= abi::kMaxVa) return e(Errno::Inval);
    if (f->mapped || f->donated || f->split || f->children ||
        (f->parent >= 0 && !caps_[size_t(f->parent)].split))
        return e(Errno::Busy);
    TableFrame t{caps_[as].obj, 1, va >> 30};
    if (a->l1.count(va >> 30)) {
        if (a->l0.count(va >> 21)) return e(Errno::Exist);
        t = TableFrame{caps_[as].obj, 0, va >> 21};
        a->l0.insert(va >> 21);
    } else {
        a->l1.insert(va >> 30);
    }
    f->donated = true;
    tables_[frame] = t;
    return t.level;
}

int64_t FakeKernel::unmap_table(uint64_t frame) {
    ++calls;
    auto it = tables_.find(frame);
    if (it == tables_.end()) return e(Errno::Inval);
    Object& a = objects_[size_t(it->second.as)];
    if (it->second.level == 0) {
        auto lo = a.pages.lower_bound(it->second.key << 21);
        if (lo != a.pages.end() && lo->first >> 21 == it->second.key) return e(Errno::Busy);
        a.l0.erase(it->second.key);
    } else {
        auto lo = a.l0.lower_bound(it->second.key << 9);
        if (lo != a.l0.end() && *lo >> 9 == it->second.key) return e(Errno::Busy);
        a.l1.erase(it->second.key);
    }
    caps_[frame].donated = false;
    std::memset(page(caps_[frame].pa), 0, kPage);
    tables_.erase(it);
    return 0;
}

int64_t FakeKernel::batch_frame_ok(uint64_t slot) {
    if (!caps_.get(slot)) return e(Errno::Range);
    Cap* f = cap(slot, ObjType::Null);
    if (!f) return e(Errno::BadSlot);
    if (f->type != ObjType::Frame) return e(Errno::BadType);
    if ((f->rights & (abi::kRightRead | abi::kRightWrite)) != (abi::kRightRead | abi::kRightWrite))
        return e(Errno::Perm);
    if (f->donated || f->split || f->children) return e(Errno::Busy);
    if (f->mapped && f->map_as != uint64_t(caps_[abi::kSlotSelfAs].obj)) return e(Errno::Busy);
    return 0;
}

int64_t FakeKernel::batch_entry(const abi::BatchEntry& b, uint64_t* second) {
    using abi::Sys;
    const uint64_t* a = b.args;
    switch (static_cast<Sys>(b.number)) {
    case Sys::CapInfo:
        return cap_info(a[0], second);
    case Sys::CapCopy:
        return cap_copy(a[0], a[1], a[2], a[3], a[4]);
    case Sys::CapDelete:
        return cap_delete(a[0]);
    case Sys::CapRevoke:
        return cap_revoke(a[0]);
    case Sys::FrameSplit:
        return frame_split(a[0], a[1], a[2]);
    case Sys::Retype:
        return retype(a[0], ObjType(a[1]), a[2]);
    case Sys::CapAttach:
        return cap_attach(a[0], a[1], a[2]);
    case Sys::CapDetach:
        return cap_detach(a[0], a[1]);
    case Sys::FrameMerge:
        return frame_merge(a[0], a[1]);
    case Sys::CapMove:
        return cap_move(a[0], a[1]);
    case Sys::Map: {
        int level = 0;
        int64_t r = map(a[0], a[1], a[2], a[3], &level);
        *second = uint64_t(level);
        return r;
    }
    case Sys::Unmap:
        return unmap(a[0]);
    case Sys::Protect:
        return protect(a[0], a[1]);
    case Sys::MapTable:
        return map_table(a[0], a[1], a[2]);
    case Sys::UnmapTable:
        return unmap_table(a[0]);
    case Sys::ThreadConfigure:
        return thread_configure(a[0], a[1], a[2], a[3]);
    case Sys::ThreadSetStack:
        return thread_set_stack(a[0], a[1]);
    case Sys::ThreadWriteRegs:
        return thread_write_regs(a[0], a[1], a[2], a[3], a[4]);
    case Sys::ThreadStart:
        return thread_start(a[0]);
    case Sys::ThreadCopyRegs:
        return thread_copy_regs(a[0], a[1]);
    default:
        return e(Errno::NoSys);
    }
}

int64_t FakeKernel::batch(uint64_t frame, uint64_t count, uint64_t* second) {
    uint64_t calls_before = calls;
    ++batches;
    calls = calls_before + 1;
    if (int64_t r = batch_frame_ok(frame); r < 0) return r;
    if (count > abi::kBatchMax) return e(Errno::Inval);
    uint64_t pa = caps_[frame].pa;
    auto* entries = reinterpret_cast<abi::BatchEntry*>(page(pa));
    uint64_t done = 0, last = 0;
    for (uint64_t i = 0; i < count; ++i) {
        abi::BatchEntry one;
        std::memcpy(&one, &entries[i], sizeof one);
        last = 0;
        int64_t r = batch_entry(one, &last);
        calls = calls_before + 1;
        // Its own frame deleted or donated: nothing more is written.
        if (batch_frame_ok(frame) < 0 || caps_[frame].pa != pa) {
            done += r >= 0;
            break;
        }
        entries[i].result = r;
        if (r < 0) break;
        ++done;
    }
    if (second) *second = last;
    return int64_t(done);
}

int64_t FakeKernel::thread_configure(uint64_t thread, uint64_t as, uint64_t table,
                                     uint64_t fault_ep) {
    ++calls;
    Object* t = object(thread, ObjType::Thread);
    if (!t) return e(Errno::BadType);
    if (!object(as, ObjType::AddressSpace) || !object(table, ObjType::CapTable) ||
        !cap(fault_ep, ObjType::Endpoint))
        return e(Errno::BadType);
    if (t->running) return e(Errno::Busy);
    t->as = caps_[as].obj;
    t->configured = true;
    return 0;
}

int64_t FakeKernel::thread_set_stack(uint64_t thread, uint64_t frame) {
    ++calls;
    Object* t = object(thread, ObjType::Thread);
    Cap* f = cap(frame, ObjType::Frame);
    if (!t || !f) return e(Errno::BadType);
    if (t->has_stack || f->mapped || f->donated || f->split || f->order) return e(Errno::Busy);
    f->donated = true;
    t->kstack_slot = frame;
    t->has_stack = true;
    return 0;
}

int64_t FakeKernel::thread_write_regs(uint64_t thread, uint64_t pc, uint64_t sp, uint64_t a0,
                                      uint64_t a1) {
    ++calls;
    Object* t = object(thread, ObjType::Thread);
    if (!t) return e(Errno::BadType);
    if (t->running) return e(Errno::Busy);
    t->regs[0] = pc, t->regs[1] = sp, t->regs[2] = a0, t->regs[3] = a1;
    return 0;
}

int64_t FakeKernel::thread_start(uint64_t thread) {
    ++calls;
    Object* t = object(thread, ObjType::Thread);
    if (!t) return e(Errno::BadType);
    if (!t->configured || !t->has_stack) return e(Errno::Inval);
    t->running = true;
    return 0;
}

int64_t FakeKernel::thread_suspend(uint64_t thread) {
    ++calls;
    Object* t = object(thread, ObjType::Thread);
    if (!t) return e(Errno::BadType);
    t->running = false;
    return 0;
}

int64_t FakeKernel::thread_reply(uint64_t thread, const Msg& m) {
    ++calls;
    if (!object(thread, ObjType::Thread)) return e(Errno::BadType);
    replies.emplace_back(thread, m);
    return 0;
}

int64_t FakeKernel::thread_copy_regs(uint64_t dst, uint64_t src) {
    ++calls;
    Object* d = object(dst, ObjType::Thread);
    Object* s = object(src, ObjType::Thread);
    if (!d || !s) return e(Errno::BadType);
    if (d->running) return e(Errno::Busy);
    std::memcpy(d->regs, s->regs, sizeof d->regs);
    return 0;
}

void* FakeKernel::view(uint64_t va) {
    if (va >= abi::kFrameMetaVa && va < abi::kFrameMetaVa + meta_.size())
        return meta_.data() + (va - abi::kFrameMetaVa);
    Object& self = objects_[size_t(caps_[abi::kSlotSelfAs].obj)];
    auto it = self.pages.find(va & ~(kPage - 1));
    if (it == self.pages.end()) return nullptr;
    return page(caps_[it->second].pa + (va & (kPage - 1)));
}

} // namespace fakek

// kernel.h, by the fake.
namespace capframe::mm::kernel {

using fakek::fake;

int64_t cap_info(uint64_t slot, uint64_t* pa) {
    return fake().cap_info(slot, pa);
}
int64_t cap_copy(uint64_t src, uint64_t dst_table, uint64_t dst, uint64_t rights, uint64_t badge) {
    return fake().cap_copy(src, dst_table, dst, rights, badge);
}
int64_t cap_delete(uint64_t slot) {
    return fake().cap_delete(slot);
}
int64_t cap_revoke(uint64_t slot) {
    return fake().cap_revoke(slot);
}
int64_t frame_split(uint64_t slot, uint64_t lo, uint64_t hi) {
    return fake().frame_split(slot, lo, hi);
}
int64_t retype(uint64_t frame, abi::ObjType type, uint64_t dst) {
    return fake().retype(frame, type, dst);
}
int64_t cap_attach(uint64_t table, uint64_t leaf, uint64_t index) {
    return fake().cap_attach(table, leaf, index);
}
int64_t frame_merge(uint64_t lo, uint64_t hi) {
    return fake().frame_merge(lo, hi);
}
int64_t cap_move(uint64_t src, uint64_t dst) {
    return fake().cap_move(src, dst);
}
int64_t cap_detach(uint64_t table, uint64_t index) {
    return fake().cap_detach(table, index);
}
int64_t map(uint64_t frame, uint64_t as, uint64_t va, uint64_t rights, int* need_level) {
    return fake().map(frame, as, va, rights, need_level);
}
int64_t unmap(uint64_t frame) {
    return fake().unmap(frame);
}
int64_t batch(uint64_t frame, uint64_t count, uint64_t* second) {
    return fake().batch(frame, count, second);
}
int64_t protect(uint64_t frame, uint64_t rights) {
    return fake().protect(frame, rights);
}
int64_t map_table(uint64_t frame, uint64_t as, uint64_t va) {
    return fake().map_table(frame, as, va);
}
int64_t unmap_table(uint64_t frame) {
    return fake().unmap_table(frame);
}
int64_t vmprint(uint64_t) {
    return 0;
}
int64_t thread_configure(uint64_t thread, uint64_t as, uint64_t table, uint64_t fault_ep) {
    return fake().thread_configure(thread, as, table, fault_ep);
}
int64_t thread_set_stack(uint64_t thread, uint64_t frame) {
    return fake().thread_set_stack(thread, frame);
}
int64_t thread_write_regs(uint64_t thread, uint64_t pc, uint64_t sp, uint64_t a0, uint64_t a1) {
    return fake().thread_write_regs(thread, pc, sp, a0, a1);
}
int64_t thread_start(uint64_t thread) {
    return fake().thread_start(thread);
}
int64_t thread_suspend(uint64_t thread) {
    return fake().thread_suspend(thread);
}
int64_t thread_reply(uint64_t thread, const Msg& m) {
    return fake().thread_reply(thread, m);
}
int64_t thread_copy_regs(uint64_t dst, uint64_t src, uint64_t, uint64_t) {
    return fake().thread_copy_regs(dst, src);
}
int64_t recv(uint64_t, Msg&) {
    return abi::error_return(abi::Errno::Inval);
}
int64_t reply_recv(uint64_t, Msg&) {
    return abi::error_return(abi::Errno::Inval);
}
void yield() {}
void shutdown(int status) {
    fake().shutdown_status = status;
}
void write(const char* s, size_t n) {
    fake().log.emplace_back(s, n);
}
void log(const char* fmt, ...) {
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fake().log.emplace_back(line);
}
const abi::BootInfo& boot_info() {
    return fake().info;
}
std::span<const uint8_t> boot_archive() {
    return {fake().archive.data(), fake().archive.size()};
}
void* view(uint64_t va) {
    return fake().view(va);
}

} // namespace capframe::mm::kernel
