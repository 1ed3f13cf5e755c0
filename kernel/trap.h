#pragma once

#include <atomic>
#include <cstdint>

#include "arch/riscv64/csr.h"
#include "hart.h"
#include "thread.h"

extern "C" void fp_save(uint64_t* area);
extern "C" void fp_load(const uint64_t* area);
extern "C" [[noreturn]] void unlock_and_enter(uint64_t satp, void (*userret)(uint64_t),
                                              std::atomic<uint32_t>* lock);

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

// What every entry by the full path does first (uservec has saved all 31
// registers and switched to the thread's kernel stack and the kernel
// table; h: this hart, t: its thread): take the lock, save the user pc
// (advanced by epc_advance: 4 past an ecall), and
// save the user's FP registers if user code changed them (FS Dirty; the
// kernel runs with FS Off). Returns the FS the trap found. The two entries
// are user_trap (interrupts and faults, trap.cpp) and user_ecall (system
// calls, thread.cpp, where the IPC fast path inlines into it).
[[gnu::always_inline]] inline uint64_t enter_kernel(Hart& h, Thread* t, uint64_t epc_advance) {
    h.user_root = 0; // back in the kernel (uservec flushed the TLB): no shootdown target
    kernel_lock();
    t->tf.epc = arch::read_sepc() + epc_advance;
    uint64_t fs = arch::read_sstatus() & arch::kSstatusFs;
    if (fs == arch::kFsDirty) [[unlikely]]
        fp_save(t->fp);
    asm volatile("csrc sstatus, %0" ::"r"(arch::kSstatusFs) : "memory");
    return fs;
}

extern uint64_t g_userret_va; // userret at the trampoline's address (set once at boot)

// enter_user's body, inlined into the IPC fast path (h: this hart). sret
// goes to U-mode with interrupts on; the thread's FP registers are loaded
// unless this hart still holds them; the lock is let go only at the jump
// to the trampoline (unlock_and_enter).
[[noreturn, gnu::always_inline]] inline void enter_user_on(Hart& h, Thread* t) {
    uint64_t s = arch::read_sstatus();
    s &= ~(arch::kSstatusSpp | arch::kSstatusFs); // sret to U-mode
    s |= arch::kSstatusSpie;                      // with interrupts enabled there
    if (t->fp_on) [[unlikely]] {
        // Its FP registers, unless this hart's still hold them (Clean: the
        // next entry saves them only if user code changes them).
        auto me = static_cast<int32_t>(hart_index());
        if (h.fp_owner != t->id || t->fp_hart != me) {
            arch::write_sstatus(s | arch::kFsInitial);
            fp_load(t->fp);
            h.fp_owner = t->id;
            t->fp_hart = me;
        }
        s |= arch::kFsClean;
    }
    arch::write_sstatus(s);
    arch::write_sepc(t->tf.epc);

    sync_icache_before_user(h);
    // userret sets stvec = uservec itself (at the trampoline's address).
    auto* enter = reinterpret_cast<void (*)(uint64_t)>(g_userret_va);
    uint64_t satp = t->tf.user_satp;
    h.user_root = t->as->root; // shootdowns for it must reach this hart now
    // This hart goes back to user mode and leaves ready threads behind: an
    // idle hart takes them now rather than at its next tick. (A hart that
    // blocks runs the next one itself: no IPI then.)
    if (threads_waiting()) wake_idle_hart();
    kernel_unlock_note();
    unlock_and_enter(satp, enter, &g_kernel_lock.word);
}

} // namespace capframe
