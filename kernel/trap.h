#pragma once

#include <cstdint>

#include "arch/riscv64/csr.h"

namespace capframe {

// Per-hart trap entry set-up: stvec = kernelvec, sscratch = the hart's trap
// stack (kernelvec runs on it, so even a kernel stack overflow is reported).
void trap_init_hart(uint32_t hart_index);
void timer_init(uint64_t timebase_hz); // boot hart: records the rate, starts its timer
void timer_start_this_hart();
// The clock's part of a tick: count it, re-arm the timer, run the watchdog
// (the timer interrupt, and a hart waiting for the kernel lock with a tick
// pending: kernel_lock_wait).
void on_timer();
// Take back a pending IPI (sip.SSIP: the same bit as sie.SSIE).
inline void clear_ipi() {
    arch::write_sip(arch::read_sip() & ~arch::kSieSsie);
}
extern uint64_t g_ticks;
inline uint64_t timer_ticks() {
    return __atomic_load_n(&g_ticks, __ATOMIC_RELAXED);
}
uint64_t timer_timebase();

struct Thread;
// The trapframe's constants (trampoline.S): kernel satp, stack, entry points
// and the light mask when a thread is started; the hart's index and trap
// stack when it is put on a hart.
void trapframe_init(Thread* t);
void trapframe_on_hart(Thread* t, uint32_t index);

// Returns to user mode in the current thread; never returns.
[[noreturn]] void return_to_user();
// The same for t, which the caller has just made this hart's current
// thread (interrupts off, the kernel lock held; the lock goes on the way).
[[noreturn]] void enter_user(Thread* t);

} // namespace capframe
