#include "proc.h"

#include "batch.h"
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

namespace {
// The books of an object the kernel has deleted: its slot and frames go back.
void forget_object(Proc* p, uint32_t& obj, Block& block, Use use) {
    g_slots.free(obj);
    obj = 0;
    free_frames(p, use, block);
    block = Block{};
}
} // namespace

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
    forget_object(p, obj, block, use);
    return true;
}

Result<void> make_process_objects(Proc* p) {
    // The frames and slots first, then every kernel call in one batch.
    Block table{}, as{}, thread{}, kstack{};
    uint32_t slots[4] = {};
    auto undo = [&](Error e) -> Error {
        for (uint32_t s : slots)
            if (s) g_slots.free(s);
        if (table.slot) free_frames(p, Use::KernelObject, table);
        if (as.slot) free_frames(p, Use::KernelObject, as);
        if (thread.slot) free_frames(p, Use::KernelObject, thread);
        if (kstack.slot) free_frames(p, Use::KernelStack, kstack);
        return e;
    };
    auto got = alloc_frames(p, Use::KernelObject, 0);
    if (!got.ok()) return undo(got.error());
    table = got.value();
    if (!(got = alloc_frames(p, Use::KernelObject, 2)).ok()) return undo(got.error());
    as = got.value();
    if (!(got = alloc_frames(p, Use::KernelObject, 0)).ok()) return undo(got.error());
    thread = got.value();
    if (!(got = alloc_frames(p, Use::KernelStack, 0)).ok()) return undo(got.error());
    kstack = got.value();
    for (uint32_t& s : slots) {
        auto slot = g_slots.alloc();
        if (!slot.ok()) return undo(Error::NoMemory);
        s = slot.value();
    }
    flush_deferred_merges(6); // (none: the batch is ours)
    g_batch.add(abi::Sys::Retype, table.slot, uint64_t(abi::ObjType::CapTable), slots[0]);
    g_batch.add(abi::Sys::Retype, as.slot, uint64_t(abi::ObjType::AddressSpace), slots[1]);
    g_batch.add(abi::Sys::Retype, thread.slot, uint64_t(abi::ObjType::Thread), slots[2]);
    g_batch.add(abi::Sys::ThreadSetStack, slots[2], kstack.slot);
    g_batch.add(abi::Sys::CapCopy, g_pt.endpoint, 0, slots[3], abi::kRightWrite, uint64_t(p->pid));
    g_batch.add(abi::Sys::CapCopy, slots[3], slots[0], abi::kSlotMmEndpoint, abi::kRightWrite, 0);
    uint64_t done = g_batch.run().done;
    // What was made is p's (teardown takes it apart); the rest goes back.
    if (done >= 1) p->table_obj = slots[0], p->table_block = table, slots[0] = 0, table = {};
    if (done >= 2) p->as_obj = slots[1], p->as_block = as, slots[1] = 0, as = {};
    if (done >= 3) p->thread_obj = slots[2], p->thread_block = thread, slots[2] = 0, thread = {};
    if (done >= 4) p->kstack_block = kstack, kstack = {};
    if (done == 5) (void)kernel::cap_delete(slots[3]); // the copy in p's table failed
    if (done == 6) p->badged_ep = slots[3], slots[3] = 0;
    if (done == 6) return {};
    return undo(done < 3 ? Error::NoMemory : done == 3 ? Error::Busy : Error::InvalidArgument);
}

Result<void> configure_thread(Proc* p, uint32_t as, const ThreadSetup& then, bool ride) {
    uint32_t fault_ep = TRY(g_slots.alloc());
    const uint64_t riding =
        3 + (then.copy_regs_from != 0) + (then.write_regs ? 1 : 0) + (then.start ? 1 : 0);
    if (ride && g_batch.can_ride(riding)) {
        g_batch.ride(abi::Sys::CapCopy, g_pt.endpoint, 0, fault_ep, abi::kRightWrite,
                     kFaultBit | uint64_t(p->pid));
        g_batch.ride(abi::Sys::ThreadConfigure, p->thread_obj, as, p->table_obj, fault_ep);
        g_batch.ride(abi::Sys::CapDelete, fault_ep, 0, 0, 0, 0, fault_ep); // the slot once it ran
        if (then.copy_regs_from)
            g_batch.ride(abi::Sys::ThreadCopyRegs, p->thread_obj, then.copy_regs_from);
        if (then.write_regs)
            g_batch.ride(abi::Sys::ThreadWriteRegs, p->thread_obj, then.pc, then.sp, then.a0,
                         then.a1);
        if (then.start) g_batch.ride(abi::Sys::ThreadStart, p->thread_obj);
        return {};
    }
    flush_deferred_merges(6); // (none: the batch is ours)
    g_batch.add(abi::Sys::CapCopy, g_pt.endpoint, 0, fault_ep, abi::kRightWrite,
                kFaultBit | uint64_t(p->pid));
    g_batch.add(abi::Sys::ThreadConfigure, p->thread_obj, as, p->table_obj, fault_ep);
    g_batch.add(abi::Sys::CapDelete, fault_ep);
    uint64_t calls = 3;
    if (then.copy_regs_from) {
        g_batch.add(abi::Sys::ThreadCopyRegs, p->thread_obj, then.copy_regs_from, 0, 0);
        ++calls;
    }
    if (then.write_regs) {
        g_batch.add(abi::Sys::ThreadWriteRegs, p->thread_obj, then.pc, then.sp, then.a0, then.a1);
        ++calls;
    }
    if (then.start) {
        g_batch.add(abi::Sys::ThreadStart, p->thread_obj);
        ++calls;
    }
    uint64_t done = g_batch.run().done;
    if (done == 1 || done == 2) (void)kernel::cap_delete(fault_ep); // the copy stayed
    g_slots.free(fault_ep);
    return done == calls ? Result<void>{} : Error::InvalidArgument;
}

void drop_tables(Proc* p) {
    p->table_hint = 0;
    // Leaf level first: a table can only go once it is empty. The list is
    // newest first, so a leaf table mostly comes before the table above it;
    // one the kernel refuses (Busy) stays for the next pass.
    for (int pass = 0; pass < 3 && p->tables; ++pass)
        for (uint32_t* link = &p->tables; *link;) {
            flush_deferred_merges(8); // the batch is this loop's (merges may ride in front)
            uint32_t list[abi::kBatchMax];
            uint64_t n = 0;
            const uint64_t room = g_batch.room();
            for (uint32_t t = *link; t && n < room; t = frame_info(t - 1).rmap) {
                list[n++] = t;
                g_batch.add(abi::Sys::UnmapTable, frame_info(t - 1).block_slot);
            }
            uint64_t done = g_batch.run().done;
            for (uint64_t j = 0; j < done; ++j) {
                uint32_t idx = list[j] - 1;
                FrameInfo& f = frame_info(idx);
                *link = f.rmap;
                --p->table_count;
                free_frames(p, Use::PageTable, Block{f.block_slot, frame_pa(idx), 0});
                f = FrameInfo{};
            }
            if (done < n) link = &frame_info(list[done] - 1).rmap; // refused: later
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

void drop_at_once(Proc* p, unsigned what) {
    p->table_hint = 0;
    const bool thread = (what & kDropThread) && p->thread_obj;
    const bool as = (what & kDropAs) && p->as_obj;
    const bool rest = (what & kDropRest) && p->badged_ep && p->table_obj;
    uint64_t maps = 0;
    for (uint32_t i = p->maps; i; i = mapping(i).pnext)
        maps += !is_lazy(mapping(i));
    const uint64_t tables = p->table_count > 0 ? static_cast<uint64_t>(p->table_count) : 0;
    const uint64_t calls = thread + maps + tables + as + (rest ? 3 : 0);
    if (calls == 0) return;
    flush_deferred_merges(calls);                              // (they ride in front)
    if (g_batch.size() != 0 || g_batch.room() < calls) return; // the steps one by one
    if (thread) g_batch.add(abi::Sys::CapDelete, p->thread_obj);
    for (uint32_t i = p->maps; i; i = mapping(i).pnext) {
        const Mapping& m = mapping(i);
        if (is_lazy(m)) continue;
        g_batch.add(m.slot == frame_info(m.frame).block_slot ? abi::Sys::Unmap
                                                             : abi::Sys::CapDelete,
                    m.slot);
    }
    // Newest first: a leaf table before the table above it (drop_tables).
    for (uint32_t t = p->tables; t; t = frame_info(t - 1).rmap)
        g_batch.add(abi::Sys::UnmapTable, frame_info(t - 1).block_slot);
    if (as) g_batch.add(abi::Sys::CapDelete, p->as_obj);
    if (rest) {
        g_batch.add(abi::Sys::CapRevoke, p->badged_ep); // the copy in p's table too
        g_batch.add(abi::Sys::CapDelete, p->badged_ep);
        g_batch.add(abi::Sys::CapDelete, p->table_obj);
    }
    const uint64_t done = g_batch.run().done;
    // The books for the calls that ran, in their order; the first that did
    // not is where the steps one by one take over.
    uint64_t k = 0;
    auto ran = [&] { return k < done ? (++k, true) : false; };
    if (thread) {
        if (!ran()) return;
        forget_object(p, p->thread_obj, p->thread_block, Use::KernelObject);
        if (p->kstack_block.slot) free_frames(p, Use::KernelStack, p->kstack_block); // with it
        p->kstack_block = Block{};
    }
    for (uint32_t i = p->maps; i;) {
        const uint32_t next = mapping(i).pnext;
        if (!is_lazy(mapping(i)) && !ran()) return;
        remove_mapping(i, true, true); // (fork's units: drop_image gives them back)
        i = next;
    }
    while (p->tables) {
        if (!ran()) return;
        const uint32_t idx = p->tables - 1;
        FrameInfo& f = frame_info(idx);
        p->tables = f.rmap;
        --p->table_count;
        free_frames(p, Use::PageTable, Block{f.block_slot, frame_pa(idx), 0});
        f = FrameInfo{};
    }
    if (as) {
        if (!ran()) return;
        forget_object(p, p->as_obj, p->as_block, Use::KernelObject);
    }
    if (rest) {
        if (!ran() || !ran()) return; // (the revoke alone: done again below)
        g_slots.free(p->badged_ep);
        p->badged_ep = 0;
        if (!ran()) return;
        forget_object(p, p->table_obj, p->table_block, Use::KernelObject);
    }
}

namespace {
void stop_thread(Proc* p) {
    if (!delete_object(p, p->thread_obj, p->thread_block, Use::KernelObject)) return;
    if (p->kstack_block.slot) {
        free_frames(p, Use::KernelStack, p->kstack_block); // released with the thread
        p->kstack_block = Block{};
    }
}
} // namespace

namespace {
void teardown_objects(Proc* p) {
    // A process ending by its own request (exit, kill of itself) waits in
    // that call to mm, on no hart: its thread goes without a suspend (the
    // delete takes it out of the call). Any other may be running.
    if (p->thread_obj && p->pid != g_book.serving_pid) (void)kernel::thread_suspend(p->thread_obj);
    // Everything in one kernel call when it fits; whatever did not go (a
    // refusal, more than a batch holds) goes step by step below.
    drop_at_once(p, kDropThread | kDropAs | kDropRest);
    stop_thread(p);
    drop_image(p);
    drop_tables(p);
    if (p->as_obj && p->badged_ep && p->table_obj) {
        // The rest in one batch when all goes well; whatever the kernel
        // refuses is done again below, one call at a time.
        flush_deferred_merges(4); // the batch is ours
        g_batch.add(abi::Sys::CapDelete, p->as_obj);
        g_batch.add(abi::Sys::CapRevoke, p->badged_ep);
        g_batch.add(abi::Sys::CapDelete, p->badged_ep);
        g_batch.add(abi::Sys::CapDelete, p->table_obj);
        uint64_t done = g_batch.run().done;
        if (done >= 1) forget_object(p, p->as_obj, p->as_block, Use::KernelObject);
        if (done >= 3) g_slots.free(p->badged_ep), p->badged_ep = 0;
        if (done >= 4) forget_object(p, p->table_obj, p->table_block, Use::KernelObject);
    }
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
} // namespace

void teardown(Proc* p) {
    // Every frame that goes back merges in the kernel in batches.
    begin_deferred_merges();
    teardown_objects(p);
    end_deferred_merges();
}

} // namespace capframe::mm
