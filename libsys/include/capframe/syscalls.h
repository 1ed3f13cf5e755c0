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
#include "capframe/calls.h"
#include "capframe/msg.h"

// The first n elements of the array p, as an argument list.
#define CAPFRAME_ARRAY_ARGS_1(p) p[0]
#define CAPFRAME_ARRAY_ARGS_2(p) CAPFRAME_ARRAY_ARGS_1(p), p[1]
#define CAPFRAME_ARRAY_ARGS_3(p) CAPFRAME_ARRAY_ARGS_2(p), p[2]
#define CAPFRAME_ARRAY_ARGS_4(p) CAPFRAME_ARRAY_ARGS_3(p), p[3]
#define CAPFRAME_ARRAY_ARGS_5(p) CAPFRAME_ARRAY_ARGS_4(p), p[4]

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
// The first `count` entries of the batch in `frame` (as batch()), then, if
// every one succeeded, reply_recv (reply false: recv). Errno::Stopped
// (nothing replied or received) if one failed: m.w[0] = the entries that
// succeeded.
int64_t batch_reply_recv(uint64_t ep, Msg& m, uint64_t frame, uint64_t count, bool reply = true);
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
#define CAPFRAME_ENTRY_CASE(function, number, n)                                                   \
    case Sys::number:                                                                              \
        return function(CAPFRAME_ARRAY_ARGS_##n(a));
        CAPFRAME_PASS_THROUGH_BATCHABLE(CAPFRAME_ENTRY_CASE)
#undef CAPFRAME_ENTRY_CASE
    case Sys::Retype:
        return retype(a[0], static_cast<capframe::abi::ObjType>(a[1]), a[2]);
    case Sys::ThreadReply: {
        Msg m;
        m.w[0] = a[1], m.w[1] = a[2], m.w[2] = a[3], m.w[3] = a[4];
        return thread_reply(a[0], m);
    }
    case Sys::Map: {
        int level = 0;
        int64_t r = map(a[0], a[1], a[2], a[3], &level);
        *second = static_cast<uint64_t>(level);
        return r;
    }
    default:
        return capframe::abi::error_return(capframe::abi::Errno::NoSys);
    }
}

} // namespace sys
