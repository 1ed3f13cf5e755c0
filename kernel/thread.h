// Threads, the scheduler and synchronous IPC (one hart for now).
#pragma once

#include "hart.h"
#include "object.h"
#include "result.h"

namespace capframe {

inline Thread* current_thread() {
    return this_hart().current;
}
// Runs the scheduler loop on the boot stack; never returns.
[[noreturn]] void scheduler();
// The current thread gives up the hart (it stays Ready).
void yield();
void make_ready(Thread* t);
// Ready threads wait in the run queue (read with the lock held).
extern Thread* g_run_head;
inline bool threads_waiting() {
    return g_run_head != nullptr;
}

Result<void> thread_configure(Thread* t, AddressSpace* as, CapTableRef table, Endpoint* fault_ep,
                              uint64_t fault_badge);
Result<void> thread_start(Thread* t);
// Stops t. Returns once t is on no hart (docs/architecture.md, "Suspending
// a thread"): a thread running on another hart is sent an IPI and the caller
// waits until it has left; Busy if another caller waits for that already.
// Suspending the current thread blocks it.
Result<void> thread_suspend(Thread* t);
// Inactive and on no hart: its registers, trapframe and kernel stack may be
// changed, it may be started, rebound or destroyed.
bool thread_detached(const Thread* t);
// How many times an operation found a suspended thread still on a hart and
// answered EBUSY (test kernels report it: thread_suspend should leave none).
uint64_t thread_on_hart_refusals();

// IPC. A call, and a receive that finds no caller, block the current
// thread with nothing left for it to do in the kernel: they never return;
// the thread goes back to user mode when it runs again, with the result in
// its trapframe (a0 status, a1..a4 message, a5 badge). A receive that finds
// a caller returns with the message in the trapframe. `woken` (a thread
// ipc_reply_take answered, or null) runs next on this hart if the receive
// blocks (the IPC fast path), else it is made ready.
[[noreturn]] void ipc_call(Endpoint* ep, uint64_t badge, const uint64_t msg[4], bool fault);
void ipc_recv(Endpoint* ep, Thread* woken = nullptr);
Result<void> ipc_reply(const uint64_t msg[4]);
// The reply without making the caller ready: returns it (null if a fault
// reply left it stopped), for ipc_recv's `woken`.
Result<Thread*> ipc_reply_take(const uint64_t msg[4]);
// A deferred reply: answers `caller`'s pending call, which the current
// thread received earlier (NoCaller if it is not waiting for us).
Result<void> ipc_reply_to(Thread* caller, const uint64_t msg[4]);

// Sleeping on the timer; wake_sleepers runs with the lock held.
void thread_sleep(uint64_t ticks);
void wake_sleepers(uint64_t now);

} // namespace capframe
