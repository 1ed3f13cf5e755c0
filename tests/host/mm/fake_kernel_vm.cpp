// The fake kernel's address-space calls (map, unmap, protect, page tables),
// batches, and thread calls (fake_kernel.h).
#include "fake_kernel_impl.h"

#include "mm_sizing.h"
#include "slots.h"

#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace fakek {

// The kernel's bounds and its stepping (abi::kProtectRangeSteps): the fake
// keeps no page permissions, so what it checks is the calling convention.

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

} // namespace fakek

// The address-space, batch and thread calls themselves: libsys's (capframe/syscalls.h), by the
// fake.
namespace sys {

using namespace fakek;

int64_t map(uint64_t frame, uint64_t as, uint64_t va, uint64_t rights, int* need_level) {
    FakeKernel& fk = fake();
    ++fk.calls;
    if (fk.injected(abi::Sys::Map)) return e(Errno::Busy);
    Cap* f = fk.cap(frame, ObjType::Frame);
    if (!f) return e(Errno::BadType);
    Object* a = fk.object(as, ObjType::AddressSpace);
    if (!a) return e(Errno::BadType);
    if (va >= abi::kTrapframeVa) return e(Errno::Range);
    if (va % kPage || f->order != 0 || (rights & ~7u) || !(rights & abi::kRightRead) ||
        ((rights & abi::kRightWrite) && (rights & abi::kRightExec)))
        return e(Errno::Inval);
    if (!(f->rights & abi::kRightMap) || (rights & ~uint64_t(f->rights))) return e(Errno::Perm);
    if (f->mapped || f->donated || f->split) return e(Errno::Busy);
    if (!a->l1.count(va >> 30)) {
        if (need_level) *need_level = 1;
        ++fk.need_tables;
        return e(Errno::NeedTable);
    }
    if (!a->l0.count(va >> 21)) {
        if (need_level) *need_level = 0;
        ++fk.need_tables;
        return e(Errno::NeedTable);
    }
    if (a->pages.count(va)) return e(Errno::Exist);
    a->pages[va] = frame;
    f->mapped = true;
    f->map_as = uint64_t(fk.caps_[as].obj);
    f->map_va = va;
    return 0;
}

int64_t unmap(uint64_t frame) {
    FakeKernel& fk = fake();
    ++fk.calls;
    if (fk.injected(abi::Sys::Unmap)) return e(Errno::Busy);
    Cap* f = fk.cap(frame, ObjType::Frame);
    if (!f) return e(Errno::BadType);
    if (!f->mapped) return e(Errno::Inval);
    fk.objects_[size_t(f->map_as)].pages.erase(f->map_va);
    f->mapped = false;
    return 0;
}

int64_t protect(uint64_t frame, uint64_t rights) {
    FakeKernel& fk = fake();
    ++fk.calls;
    if (fk.injected(abi::Sys::Protect)) return e(Errno::Busy);
    Cap* f = fk.cap(frame, ObjType::Frame);
    if (!f) return e(Errno::BadType);
    if (!f->mapped) return e(Errno::Inval);
    if (rights & ~uint64_t(f->rights)) return e(Errno::Perm);
    return 0;
}

int64_t frame_zero(uint64_t frame) {
    FakeKernel& fk = fake();
    ++fk.calls;
    if (fk.injected(abi::Sys::FrameZero)) return e(Errno::Busy);
    Cap* f = fk.cap(frame, ObjType::Frame);
    if (!f) return e(Errno::BadType);
    if (!(f->rights & abi::kRightWrite)) return e(Errno::Perm);
    if (f->order > abi::kFrameZeroMaxOrder) return e(Errno::Inval);
    if (!fk.free_for_use(*f)) return e(Errno::Busy);
    for (uint64_t i = 0; i < (uint64_t{1} << f->order); ++i)
        std::memset(fk.page(f->pa + i * kPage), 0, kPage);
    return 0;
}

int64_t protect_range(uint64_t as, uint64_t va, uint64_t end) {
    FakeKernel& fk = fake();
    ++fk.calls;
    if (fk.injected(abi::Sys::ProtectRange)) return e(Errno::Busy);
    Object* a = fk.object(as, ObjType::AddressSpace);
    if (!a) return e(Errno::BadType);
    if (va % kPage || end % kPage || va > end) return e(Errno::Inval);
    if (end > abi::kTrapframeVa) return e(Errno::Range);
    uint64_t steps = 0;
    while (va < end && steps < abi::kProtectRangeSteps) {
        uint64_t table_end = (va | ((uint64_t{1} << 21) - 1)) + 1;
        steps += a->l0.count(va >> 21) ? 512 : 1;
        va = table_end;
    }
    return int64_t(va < end ? va : end);
}

int64_t map_table(uint64_t frame, uint64_t as, uint64_t va) {
    FakeKernel& fk = fake();
    ++fk.calls;
    Cap* f = fk.cap(frame, ObjType::Frame);
    if (!f) return e(Errno::BadType);
    Object* a = fk.object(as, ObjType::AddressSpace);
    if (!a) return e(Errno::BadType);
    if (f->order != 0 || va >= abi::kMaxVa) return e(Errno::Inval);
    if (!fk.free_for_use(*f)) return e(Errno::Busy);
    TableFrame t{fk.caps_[as].obj, 1, va >> 30};
    if (a->l1.count(va >> 30)) {
        if (a->l0.count(va >> 21)) return e(Errno::Exist);
        t = TableFrame{fk.caps_[as].obj, 0, va >> 21};
        a->l0.insert(va >> 21);
    } else {
        a->l1.insert(va >> 30);
    }
    f->donated = true;
    fk.tables_[frame] = t;
    return t.level;
}

int64_t unmap_table(uint64_t frame) {
    FakeKernel& fk = fake();
    ++fk.calls;
    if (fk.injected(abi::Sys::UnmapTable)) return e(Errno::Busy);
    auto it = fk.tables_.find(frame);
    if (it == fk.tables_.end()) return e(Errno::Inval);
    Object& a = fk.objects_[size_t(it->second.as)];
    if (it->second.level == 0) {
        auto lo = a.pages.lower_bound(it->second.key << 21);
        if (lo != a.pages.end() && lo->first >> 21 == it->second.key)
            return ++fk.busy_unmap_tables, e(Errno::Busy);
        a.l0.erase(it->second.key);
    } else {
        auto lo = a.l0.lower_bound(it->second.key << 9);
        if (lo != a.l0.end() && *lo >> 9 == it->second.key)
            return ++fk.busy_unmap_tables, e(Errno::Busy);
        a.l1.erase(it->second.key);
    }
    fk.caps_[frame].donated = false;
    std::memset(fk.page(fk.caps_[frame].pa), 0, kPage);
    fk.tables_.erase(it);
    return 0;
}

int64_t batch(uint64_t frame, uint64_t count, uint64_t* second) {
    FakeKernel& fk = fake();
    uint64_t calls_before = fk.calls;
    ++fk.batches;
    fk.calls = calls_before + 1;
    if (int64_t r = fk.batch_frame_ok(frame); r < 0) return r;
    if (count > abi::kBatchMax) return e(Errno::Inval);
    uint64_t pa = fk.caps_[frame].pa;
    auto* entries = reinterpret_cast<abi::BatchEntry*>(fk.page(pa));
    uint64_t done = 0, last = 0;
    for (uint64_t i = 0; i < count; ++i) {
        abi::BatchEntry one;
        std::memcpy(&one, &entries[i], sizeof one);
        last = 0;
        int64_t r = call_entry(one, &last);
        fk.calls = calls_before + 1;
        // Its own frame deleted or donated: nothing more is written.
        if (fk.batch_frame_ok(frame) < 0 || fk.caps_[frame].pa != pa) {
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

int64_t thread_configure(uint64_t thread, uint64_t as, uint64_t table, uint64_t fault_ep) {
    FakeKernel& fk = fake();
    ++fk.calls;
    Object* t = fk.object(thread, ObjType::Thread);
    if (!t) return e(Errno::BadType);
    if (!fk.object(as, ObjType::AddressSpace) || !fk.object(table, ObjType::CapTable) ||
        !fk.cap(fault_ep, ObjType::Endpoint))
        return e(Errno::BadType);
    if (t->running) return e(Errno::Busy);
    t->as = fk.caps_[as].obj;
    t->configured = true;
    return 0;
}

int64_t thread_set_stack(uint64_t thread, uint64_t frame) {
    FakeKernel& fk = fake();
    ++fk.calls;
    Object* t = fk.object(thread, ObjType::Thread);
    Cap* f = fk.cap(frame, ObjType::Frame);
    if (!t || !f) return e(Errno::BadType);
    if (t->has_stack || f->mapped || f->donated || f->split || f->order) return e(Errno::Busy);
    f->donated = true;
    t->kstack_slot = frame;
    t->has_stack = true;
    return 0;
}

int64_t thread_write_regs(uint64_t thread, uint64_t pc, uint64_t sp, uint64_t a0, uint64_t a1) {
    FakeKernel& fk = fake();
    ++fk.calls;
    Object* t = fk.object(thread, ObjType::Thread);
    if (!t) return e(Errno::BadType);
    if (t->running) return e(Errno::Busy);
    t->regs[0] = pc, t->regs[1] = sp, t->regs[2] = a0, t->regs[3] = a1;
    return 0;
}

int64_t thread_start(uint64_t thread) {
    FakeKernel& fk = fake();
    ++fk.calls;
    Object* t = fk.object(thread, ObjType::Thread);
    if (!t) return e(Errno::BadType);
    if (!t->configured || !t->has_stack) return e(Errno::Inval);
    t->running = true;
    return 0;
}

int64_t thread_suspend(uint64_t thread) {
    FakeKernel& fk = fake();
    ++fk.calls;
    Object* t = fk.object(thread, ObjType::Thread);
    if (!t) return e(Errno::BadType);
    t->running = false;
    ++fk.suspends;
    return 0;
}

int64_t thread_reply(uint64_t thread, const Msg& m) {
    FakeKernel& fk = fake();
    ++fk.calls;
    if (!fk.object(thread, ObjType::Thread)) return e(Errno::BadType);
    fk.replies.emplace_back(thread, m);
    return 0;
}

int64_t thread_copy_regs(uint64_t dst, uint64_t src, uint64_t, uint64_t) {
    FakeKernel& fk = fake();
    ++fk.calls;
    Object* d = fk.object(dst, ObjType::Thread);
    Object* s = fk.object(src, ObjType::Thread);
    if (!d || !s) return e(Errno::BadType);
    if (d->running) return e(Errno::Busy);
    std::memcpy(d->regs, s->regs, sizeof d->regs);
    return 0;
}

} // namespace sys
