#include "proc.h"

#include "errors.h"
#include "frames.h"
#include "kernel.h"
#include "mappings.h"
#include "slots.h"

namespace capframe::mm {

ProcTable g_pt;

Proc* proc_by_pid(int pid) {
    for (int i = 0; i < kMaxProcs; ++i) {
        Proc& p = g_pt.procs[i];
        if ((p.state == State::Running || p.state == State::Zombie) && p.pid == pid) return &p;
    }
    return nullptr;
}

Proc* new_proc(State s) {
    for (int i = 0; i < kMaxProcs; ++i)
        if (g_pt.procs[i].state == State::Free && !g_pt.procs[i].stuck) {
            Proc* p = &g_pt.procs[i];
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

Result<uint32_t> make_object(Proc* p, abi::ObjType type, uint8_t order, Block& block) {
    block = TRY(alloc_frames(p, Use::KernelObject, order));
    auto slot = g_slots.alloc();
    if (!slot.ok() || kernel::retype(block.slot, type, slot.value()) < 0) {
        if (slot.ok()) g_slots.free(slot.value());
        free_frames(p, Use::KernelObject, block);
        block = Block{};
        return Error::NoMemory;
    }
    return slot.value();
}

bool delete_object(Proc* p, uint32_t& obj, Block& block, Use use) {
    if (!obj) return true;
    int64_t r = kernel::cap_delete(obj);
    for (int spins = 0; r == err(Errno::Busy) && spins < 1000; ++spins) {
        // A thread still running on another hart stops at its next kernel
        // entry (at the latest the next tick).
        kernel::yield();
        r = kernel::cap_delete(obj);
    }
    if (r < 0) {
        // The kernel still holds the object: its slot and frames stay taken
        // (charged to p, which then cannot be reused) rather than be handed
        // out while the kernel uses them.
        kernel::log("mm: BUG: cannot delete object slot %u (%ld); its frames stay out\n", obj, r);
        return false;
    }
    g_slots.free(obj);
    obj = 0;
    free_frames(p, use, block);
    block = Block{};
    return true;
}

Result<void> make_process_objects(Proc* p) {
    p->table_obj = TRY(make_object(p, abi::ObjType::CapTable, 0, p->table_block));
    p->as_obj = TRY(make_object(p, abi::ObjType::AddressSpace, 2, p->as_block));
    p->thread_obj = TRY(make_object(p, abi::ObjType::Thread, 0, p->thread_block));
    p->kstack_block = TRY(alloc_frames(p, Use::KernelStack, 0));
    if (kernel::thread_set_stack(p->thread_obj, p->kstack_block.slot) < 0) {
        free_frames(p, Use::KernelStack, p->kstack_block);
        p->kstack_block = Block{};
        return Error::Busy;
    }
    p->badged_ep = TRY(g_slots.alloc());
    if (kernel::cap_copy(g_pt.endpoint, 0, p->badged_ep, abi::kRightWrite, uint64_t(p->pid)) < 0 ||
        kernel::cap_copy(p->badged_ep, p->table_obj, abi::kSlotMmEndpoint, abi::kRightWrite, 0) <
            0) {
        (void)kernel::cap_delete(p->badged_ep);
        g_slots.free(p->badged_ep);
        p->badged_ep = 0;
        return Error::InvalidArgument;
    }
    return {};
}

Result<void> configure_thread(Proc* p, uint32_t as) {
    uint32_t fault_ep = TRY(g_slots.alloc());
    bool ok = kernel::cap_copy(g_pt.endpoint, 0, fault_ep, abi::kRightWrite,
                               kFaultBit | uint64_t(p->pid)) == 0 &&
              kernel::thread_configure(p->thread_obj, as, p->table_obj, fault_ep) == 0;
    (void)kernel::cap_delete(fault_ep);
    g_slots.free(fault_ep);
    return ok ? Result<void>{} : Error::InvalidArgument;
}

void drop_tables(Proc* p) {
    // Leaf level first: a table can only go once it is empty.
    for (int pass = 0; pass < 3 && p->tables; ++pass)
        for (uint32_t* link = &p->tables; *link;) {
            uint32_t idx = *link - 1;
            FrameInfo& f = frame_info(idx);
            if (kernel::unmap_table(f.block_slot) == 0) {
                *link = f.rmap;
                --p->table_count;
                free_frames(p, Use::PageTable, Block{f.block_slot, frame_pa(idx), 0});
                f = FrameInfo{};
            } else {
                link = &f.rmap;
            }
        }
    if (p->table_count) kernel::log("mm: BUG: %d page tables still busy\n", p->table_count);
}

void drop_image(Proc* p) {
    while (p->maps) {
        uint32_t list[abi::kBatchMax];
        uint64_t n = 0;
        for (uint32_t i = p->maps; i && n < abi::kBatchMax; i = mapping(i).pnext)
            list[n++] = i;
        remove_mappings(list, n, true);
    }
    unreserve(p, p->reserved);
    unreserve_tables(p, p->table_reserved);
    unreserve_cow(p, p->cow_reserved); // fork's units not yet given to a page
}

namespace {
void stop_thread(Proc* p) {
    if (p->thread_obj) (void)kernel::thread_suspend(p->thread_obj);
    if (!delete_object(p, p->thread_obj, p->thread_block, Use::KernelObject)) return;
    if (p->kstack_block.slot) {
        free_frames(p, Use::KernelStack, p->kstack_block); // released with the thread
        p->kstack_block = Block{};
    }
}
} // namespace

void teardown(Proc* p) {
    stop_thread(p);
    drop_image(p);
    drop_tables(p);
    (void)delete_object(p, p->as_obj, p->as_block, Use::KernelObject);
    if (p->badged_ep) { // removes the copy in the process's table too
        (void)kernel::cap_revoke(p->badged_ep);
        (void)kernel::cap_delete(p->badged_ep);
        g_slots.free(p->badged_ep);
        p->badged_ep = 0;
    }
    (void)delete_object(p, p->table_obj, p->table_block, Use::KernelObject);
    if (p->thread_obj || p->as_obj || p->table_obj) {
        // Objects the kernel would not give back stay charged to p; p's
        // slot is never reused (its state says why).
        kernel::log("mm: pid %d: kernel objects still held; slot %d retired\n", p->pid, slot_of(p));
        p->stuck = true;
        return;
    }
    // Everything was uncharged as it went back; what is left is a bug.
    if (uint64_t left = release_charges(p))
        kernel::log("mm: BUG: pid %d still charged %lu frames\n", p->pid, left);
    group_put(p->group);
    p->group = -1;
}

} // namespace capframe::mm
