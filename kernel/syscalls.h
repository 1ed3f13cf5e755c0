// System calls: one table from number to decoder (kernel/syscall.cpp), and
// one file of decoders per kind of object: capabilities (syscall_cap.cpp,
// also linked by the host fuzzer tests/fuzz/captable_fuzz.cpp), address
// spaces (syscall_vm.cpp), threads (syscall_thread.cpp), IPC
// (syscall_ipc.cpp), batches of them (syscall_batch.cpp); the console, time, debug and control
// calls stay in syscall.cpp. Each decoder checks every capability and argument first (an error
// returns before any change; seL4's decode/perform split), then performs, and returns a value or an
// Error that do_syscall turns into a negated errno.
#pragma once

#include <cstdint>

#include "object.h"
#include "result.h"
#include "trap.h"

namespace capframe {

// Decodes and performs the system call in t's trapframe (a7 = number,
// a0..a5 = arguments) and leaves the results there. Never panics on
// anything user space passes; an unknown number is ENOSYS.
void do_syscall(Thread& t);
void do_syscall(Thread& t, uint64_t n); // as number n, whatever a7 holds

// The caller's a0..a5 in its trapframe (not a copy): a handler that
// writes the caller's registers (a second result in a1, a message) reads
// the arguments it needs first.
using SyscallArgs = const uint64_t (&)[6];
using SyscallHandler = Result<int64_t> (*)(Thread& t, SyscallArgs a);

// From the system-call table (syscall.cpp): the calls that may take the light
// trap path, one bit per number; the decoder of a call a batch may hold (or
// null), and whether it changes only the capability its first argument names.
uint64_t syscall_light_mask();
// The light calls that need no lock (numbers < 64; read by the light path),
// and their result, from the number alone (syscall.cpp checks that the two
// agree).
extern const uint64_t g_syscall_lock_free_mask;
inline uint64_t lock_free_call(uint64_t n) {
    return n == static_cast<uint64_t>(abi::Sys::Uptime) ? timer_ticks() : timer_timebase();
}
struct BatchCall {
    SyscallHandler handler = nullptr;
    bool only_first = false;
};
extern const BatchCall* const g_batch_calls; // by number (syscall.cpp)
extern const uint64_t g_batch_calls_count;
inline BatchCall batch_call(uint64_t number) {
    return number < g_batch_calls_count ? g_batch_calls[number] : BatchCall{};
}

// An Error as the negated errno user space gets (syscall.cpp).
int64_t syscall_errno(Error e);

// Capabilities (syscall_cap.cpp).
Result<int64_t> sys_cap_info(Thread& t, SyscallArgs a);
Result<int64_t> sys_cap_copy(Thread& t, SyscallArgs a);
Result<int64_t> sys_cap_delete(Thread& t, SyscallArgs a);
Result<int64_t> sys_cap_revoke(Thread& t, SyscallArgs a);
Result<int64_t> sys_frame_split(Thread& t, SyscallArgs a);
Result<int64_t> sys_retype(Thread& t, SyscallArgs a);
Result<int64_t> sys_cap_attach(Thread& t, SyscallArgs a);
Result<int64_t> sys_frame_merge(Thread& t, SyscallArgs a);
Result<int64_t> sys_cap_detach(Thread& t, SyscallArgs a);
Result<int64_t> sys_cap_move(Thread& t, SyscallArgs a);

// Address spaces (syscall_vm.cpp).
Result<int64_t> sys_map(Thread& t, SyscallArgs a);
Result<int64_t> sys_unmap(Thread& t, SyscallArgs a);
Result<int64_t> sys_protect(Thread& t, SyscallArgs a);
Result<int64_t> sys_protect_range(Thread& t, SyscallArgs a);
Result<int64_t> sys_frame_zero(Thread& t, SyscallArgs a);
Result<int64_t> sys_map_table(Thread& t, SyscallArgs a);
Result<int64_t> sys_unmap_table(Thread& t, SyscallArgs a);
Result<int64_t> sys_vmprint(Thread& t, SyscallArgs a);

// Threads (syscall_thread.cpp).
Result<int64_t> sys_thread_configure(Thread& t, SyscallArgs a);
Result<int64_t> sys_thread_set_stack(Thread& t, SyscallArgs a);
Result<int64_t> sys_thread_write_regs(Thread& t, SyscallArgs a);
Result<int64_t> sys_thread_start(Thread& t, SyscallArgs a);
Result<int64_t> sys_thread_suspend(Thread& t, SyscallArgs a);
Result<int64_t> sys_thread_reply(Thread& t, SyscallArgs a);
Result<int64_t> sys_thread_copy_regs(Thread& t, SyscallArgs a);

// IPC (syscall_ipc.cpp).
Result<int64_t> sys_call(Thread& t, SyscallArgs a);
Result<int64_t> sys_recv(Thread& t, SyscallArgs a);
Result<int64_t> sys_reply(Thread& t, SyscallArgs a);
Result<int64_t> sys_reply_recv(Thread& t, SyscallArgs a);

// Batches (syscall_batch.cpp): a list of the calls above in one entry.
Result<int64_t> sys_batch(Thread& t, SyscallArgs a);
// The batch in t's frame `slot`, its first `count` entries: how many
// succeeded (syscall_batch.cpp).
Result<int64_t> run_batch(Thread& t, uint64_t slot, uint64_t count);
// BatchReplyRecv's batch (a5 = frame | count << 32): true if every entry
// succeeded (a1..a4 still hold the reply); otherwise a0/a1 hold the result
// and the call is over (user_ecall, thread.cpp).
bool batch_before_reply(Thread& t);

} // namespace capframe
