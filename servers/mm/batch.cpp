#include "batch.h"

#include "errors.h"
#include "frames.h"
#include "kernel.h"
#include "pages.h"

namespace capframe::mm {

Batch g_batch;

namespace {

using abi::Sys;

// One queued call the way a single system call makes it (no batch page yet).
int64_t one_call(const abi::BatchEntry& e, uint64_t* second) {
    const uint64_t* a = e.args;
    *second = 0;
    switch (static_cast<Sys>(e.number)) {
    case Sys::CapInfo:
        return kernel::cap_info(a[0], second);
    case Sys::CapCopy:
        return kernel::cap_copy(a[0], a[1], a[2], a[3], a[4]);
    case Sys::CapDelete:
        return kernel::cap_delete(a[0]);
    case Sys::CapRevoke:
        return kernel::cap_revoke(a[0]);
    case Sys::FrameSplit:
        return kernel::frame_split(a[0], a[1], a[2]);
    case Sys::Retype:
        return kernel::retype(a[0], static_cast<abi::ObjType>(a[1]), a[2]);
    case Sys::CapAttach:
        return kernel::cap_attach(a[0], a[1], a[2]);
    case Sys::CapDetach:
        return kernel::cap_detach(a[0], a[1]);
    case Sys::FrameMerge:
        return kernel::frame_merge(a[0], a[1]);
    case Sys::CapMove:
        return kernel::cap_move(a[0], a[1]);
    case Sys::Map: {
        int level = 0;
        int64_t r = kernel::map(a[0], a[1], a[2], a[3], &level);
        *second = static_cast<uint64_t>(level);
        return r;
    }
    case Sys::Unmap:
        return kernel::unmap(a[0]);
    case Sys::Protect:
        return kernel::protect(a[0], a[1]);
    case Sys::MapTable:
        return kernel::map_table(a[0], a[1], a[2]);
    case Sys::UnmapTable:
        return kernel::unmap_table(a[0]);
    case Sys::ThreadConfigure:
        return kernel::thread_configure(a[0], a[1], a[2], a[3]);
    case Sys::ThreadSetStack:
        return kernel::thread_set_stack(a[0], a[1]);
    case Sys::ThreadWriteRegs:
        return kernel::thread_write_regs(a[0], a[1], a[2], a[3], a[4]);
    case Sys::ThreadStart:
        return kernel::thread_start(a[0]);
    case Sys::ThreadCopyRegs:
        return kernel::thread_copy_regs(a[0], a[1], a[2], a[3]);
    default:
        return err(Errno::NoSys);
    }
}

} // namespace

void Batch::attach(uint32_t slot, abi::BatchEntry* page) {
    slot_ = slot, page_ = page, n_ = 0;
}

void Batch::detach() {
    slot_ = 0, page_ = nullptr, n_ = 0;
}

void Batch::add(Sys n, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4) {
    if (n_ == abi::kBatchMax) {
        kernel::log("mm: BUG: batch overfull\n");
        return;
    }
    abi::BatchEntry& e = queue()[n_++];
    e.number = static_cast<uint64_t>(n);
    e.args[0] = a0, e.args[1] = a1, e.args[2] = a2, e.args[3] = a3, e.args[4] = a4, e.args[5] = 0;
    e.result = 0;
}

// The first `count` queued entries: how many succeeded.
int64_t Batch::execute(uint64_t count, uint64_t* second) {
    *second = 0;
    if (page_) {
        ++kernel_calls;
        return kernel::batch(slot_, count, second);
    }
    for (uint64_t i = 0; i < count; ++i) {
        int64_t r = one_call(local_[i], second);
        local_[i].result = r;
        if (r < 0) return static_cast<int64_t>(i);
    }
    return static_cast<int64_t>(count);
}

BatchRun Batch::run(Proc* table_owner) {
    BatchRun out;
    abi::BatchEntry* q = queue();
    int tables = 0; // donated for the Map now at the front (at most two: levels 1 and 0)
    while (n_) {
        uint64_t second = 0;
        int64_t r = execute(n_, &second);
        if (r < 0) { // the batch itself was refused (a bug: the page is mm's)
            kernel::log("mm: BUG: batch refused (%ld)\n", r);
            out.result = r, out.error = error_of(r);
            break;
        }
        uint64_t done = static_cast<uint64_t>(r);
        out.done += done;
        if (done == n_) {
            n_ = 0;
            break;
        }
        const abi::BatchEntry& failed = q[done];
        out.result = failed.result;
        out.error = error_of(failed.result);
        if (done) tables = 0; // a new Map at the front
        if (failed.number != static_cast<uint64_t>(Sys::Map) ||
            failed.result != err(Errno::NeedTable) || tables == 2)
            break;
        // The table, then the rest again from that Map (it changed nothing).
        Proc* owner = table_owner ? table_owner : &mm_self();
        if (auto t = donate_table(owner, failed.args[1], failed.args[2]); !t.ok()) {
            out.error = t.error();
            break;
        }
        ++tables;
        n_ -= done;
        for (uint64_t i = 0; i < n_; ++i)
            q[i] = q[done + i];
        out.result = 0, out.error = Error{};
    }
    n_ = 0;
    return out;
}

bool batch_start() {
    auto b = alloc_frames(nullptr, Use::User, 0);
    if (!b.ok()) return false;
    if (!map_with_tables(&mm_self(), b.value().slot, abi::kSlotSelfAs, kBatchVa,
                         abi::kRightRead | abi::kRightWrite)
             .ok()) {
        free_frames(nullptr, Use::User, b.value());
        return false;
    }
    g_batch.attach(b.value().slot, static_cast<abi::BatchEntry*>(kernel::view(kBatchVa)));
    return true;
}

} // namespace capframe::mm
