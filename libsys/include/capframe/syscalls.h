// The kernel's system calls as libsys provides them (sys::cap_info,
// sys::map, ...): declarations only, no inline assembly, so that this
// header also compiles on the host. mm's modules call these through
// servers/mm/kernel.h; on the host, tests/host/mm/fake_kernel*.cpp define
// the ones mm uses with a model of the kernel. libsys/src/sys.cpp defines
// them on the target with `ecall` (capframe/sys.h, target only).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "capframe/abi.h"
#include "capframe/msg.h"

namespace sys {

using Msg = capframe::Msg; // capframe/msg.h

// Kernel calls (slot numbers index the caller's capability table).
int64_t cap_info(uint64_t slot, uint64_t* object = nullptr);
int64_t cap_copy(uint64_t src, uint64_t dst_table, uint64_t dst, uint64_t rights, uint64_t badge);
int64_t cap_delete(uint64_t slot);
int64_t cap_revoke(uint64_t slot);
int64_t frame_split(uint64_t slot, uint64_t lo, uint64_t hi);
int64_t retype(uint64_t frame, capframe::abi::ObjType type, uint64_t dst);
int64_t cap_attach(uint64_t space, uint64_t leaf, uint64_t index);
int64_t cap_detach(uint64_t space, uint64_t index);
int64_t frame_merge(uint64_t lo, uint64_t hi);
int64_t cap_move(uint64_t src, uint64_t dst);
int64_t map(uint64_t frame, uint64_t as, uint64_t va, uint64_t rights, int* need_level = nullptr);
int64_t unmap(uint64_t frame);
// Runs `count` abi::BatchEntry records from the first page of `frame`
// (Read+Write, mapped only in the caller's space if at all); returns how
// many succeeded; *second: the a1 value of the last entry run.
int64_t batch(uint64_t frame, uint64_t count, uint64_t* second = nullptr);
int64_t protect(uint64_t frame, uint64_t rights);
int64_t protect_range(uint64_t as, uint64_t va, uint64_t end); // -> where it stopped
int64_t frame_zero(uint64_t frame);
int64_t map_table(uint64_t frame, uint64_t as, uint64_t va);
int64_t unmap_table(uint64_t frame);
int64_t vmprint_cap(uint64_t slot);
int64_t thread_configure(uint64_t thread, uint64_t as, uint64_t table, uint64_t fault_ep);
int64_t thread_set_stack(uint64_t thread, uint64_t frame);
int64_t thread_write_regs(uint64_t thread, uint64_t pc, uint64_t sp, uint64_t a0, uint64_t a1);
int64_t thread_start(uint64_t thread);
int64_t thread_suspend(uint64_t thread);
int64_t thread_reply(uint64_t thread, const Msg& m); // the deferred reply to its call
int64_t thread_copy_regs(uint64_t dst, uint64_t src, uint64_t a0, uint64_t a1);
int64_t call(uint64_t ep, Msg& m);       // m: request in, reply out
int64_t recv(uint64_t ep, Msg& m);       // m: the message and badge
int64_t reply_recv(uint64_t ep, Msg& m); // m: reply in, next message out
int64_t reply(const Msg& m);
[[noreturn]] void shutdown(uint64_t control, int status);

// The whole buffer (the kernel prints a bounded chunk per call: this loops).
int64_t write(int fd, const void* buf, size_t len);
int64_t write_some(int fd, const void* buf, size_t len); // one call: at most kWriteChunk bytes
int64_t console_read(void* buf, size_t len); // what is waiting, 0 if nothing; never blocks
int64_t sleep(uint64_t ticks);
uint64_t uptime();
// The longest kernel-lock hold in instructions retired since boot or the
// last reset (reset: start again after reading); *acquisitions (if given):
// how often the lock was taken.
int64_t lock_stats(bool reset, uint64_t* acquisitions = nullptr);
void yield();

// One batch entry (abi::BatchEntry) made through the calls above, one call
// each: what a batch runs per entry, and what mm does before it has a batch
// page. The numbers a batch takes, arguments in order; *second: the a1
// value (CapInfo's object, Map's level); NoSys for any other number.
inline int64_t call_entry(const capframe::abi::BatchEntry& e, uint64_t* second) {
    const uint64_t* a = e.args;
    *second = 0;
    using capframe::abi::Sys;
    switch (static_cast<Sys>(e.number)) {
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
        return retype(a[0], static_cast<capframe::abi::ObjType>(a[1]), a[2]);
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
        *second = static_cast<uint64_t>(level);
        return r;
    }
    case Sys::Unmap:
        return unmap(a[0]);
    case Sys::Protect:
        return protect(a[0], a[1]);
    case Sys::ProtectRange:
        return protect_range(a[0], a[1], a[2]);
    case Sys::FrameZero:
        return frame_zero(a[0]);
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
        return thread_copy_regs(a[0], a[1], a[2], a[3]);
    default:
        return capframe::abi::error_return(capframe::abi::Errno::NoSys);
    }
}

} // namespace sys
