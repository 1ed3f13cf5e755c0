#include "trap.h"

#include "arch/riscv64/csr.h"
#include "arch/riscv64/sbi.h"
#include "arch/riscv64/trapframe.h"
#include "console.h"
#include "hart.h"
#include "syscalls.h"
#include "thread.h"
#include "vm.h"
#include "vmops.h"

extern "C" char kernelvec[], userret[], trampoline_start[];

namespace capframe {

uint64_t g_ticks = 0;
uint64_t g_userret_va = 0;

namespace {

constexpr uint32_t kMaxHartsHere = kMaxHartsOnline;
constexpr uint64_t kTrapStackSize = 4096;
alignas(16) uint8_t g_trap_stacks[kMaxHartsHere][kTrapStackSize];

bool g_have_fpu = false; // sstatus.FS is writable on the boot hart
uint64_t g_tick_interval = 0;
uint64_t g_timebase = 0;

void arm_timer() {
    sbi::set_timer(arch::read_time() + g_tick_interval);
}

void dump_frame(const arch::KernelFrame& f) {
    static const char* const names[32] = {"pc", "ra", "sp",  "gp",  "tp", "t0", "t1", "t2",
                                          "s0", "s1", "a0",  "a1",  "a2", "a3", "a4", "a5",
                                          "a6", "a7", "s2",  "s3",  "s4", "s5", "s6", "s7",
                                          "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6"};
    for (int i = 0; i < 32; ++i)
        kprintf("%4s %016lx%s", names[i], f.regs[i], (i % 4 == 3) ? "\n" : "  ");
}

} // namespace

void on_timer() {
    if (hart_index() == 0) __atomic_fetch_add(&g_ticks, 1, __ATOMIC_RELAXED); // one clock
    arm_timer();
    watchdog_tick();
}

void trap_init_hart(uint32_t hart_index_) {
    asm volatile("mv tp, %0" ::"r"(uint64_t{hart_index_}));
    uint64_t trap_stack_top =
        reinterpret_cast<uint64_t>(g_trap_stacks[hart_index_] + kTrapStackSize);
    g_harts[hart_index_].trap_stack_top = trap_stack_top;
    arch::write_stvec(reinterpret_cast<uint64_t>(kernelvec));
    arch::write_sscratch(trap_stack_top);
    // User code may read cycle, time and instret (benchmarks; rdtime traps
    // to the firmware on the JH7110, which is slow but correct).
    asm volatile("csrw scounteren, %0" ::"r"(uint64_t{7}));
    // The firmware leaves sstatus.FS on: the kernel runs with it Off (it is
    // built without F/D, so an FP instruction in it is a bug and traps).
    // FS reads as 0 whatever is written on a hart without an FPU.
    uint64_t s = arch::read_sstatus() & ~arch::kSstatusFs;
    arch::write_sstatus(s | arch::kFsInitial);
    bool fpu = (arch::read_sstatus() & arch::kSstatusFs) != 0;
    arch::write_sstatus(s);
    if (hart_index_ == 0) {
        g_have_fpu = fpu;
        g_userret_va = kTrampolineVa + (reinterpret_cast<uint64_t>(userret) -
                                        reinterpret_cast<uint64_t>(trampoline_start));
    }
}

void timer_init(uint64_t timebase_hz) {
    g_timebase = timebase_hz;
    g_tick_interval = timebase_hz / 100; // 100 Hz
    if (g_tick_interval == 0) g_tick_interval = 1;
    timer_start_this_hart();
}

void timer_start_this_hart() {
    // The timer, and IPIs (kick_hart: leave user mode or wfi now).
    arch::write_sie(arch::read_sie() | arch::kSieStie | arch::kSieSsie);
    arm_timer();
}

uint64_t timer_timebase() {
    return g_timebase;
}

// Traps taken in S-mode. Interrupts are off in the kernel, so everything
// that arrives here is a kernel bug: report it fully and stop.
extern "C" void kernel_trap(arch::KernelFrame* f) {
    uint64_t scause = arch::read_scause(), stval = arch::read_stval();
    if (scause == (arch::kCauseInterrupt | uint64_t(arch::Interrupt::SupervisorTimer))) {
        on_timer();
        return;
    }
    if (scause == (arch::kCauseInterrupt | uint64_t(arch::Interrupt::SupervisorSoftware))) {
        clear_ipi(); // an idle hart woken for a thread that became ready
        return;
    }
    uint64_t slot = 0;
    Thread* cur = current_thread();
    if (arch::is_page_fault(scause) && is_kstack_guard(stval, slot))
        kprintf("\nkernel stack overflow, thread %u (kernel stack slot %lu)\n", cur ? cur->id : 0,
                slot);
    kprintf("\nkernel trap on hart %u: scause 0x%lx (%s)\n  sepc 0x%016lx stval 0x%016lx "
            "sstatus 0x%lx\n",
            hart_index(), scause, arch::cause_name(scause), f->regs[0], stval,
            arch::read_sstatus());
    if (cur) kprintf("  current thread: %u\n", cur->id);
    dump_frame(*f);
    panic("unexpected trap in the kernel (%s at 0x%lx)", arch::cause_name(scause), f->regs[0]);
}

// The light path (trampoline.S): a system call that never blocks, never
// switches threads and never reads the caller's saved registers other than
// a0..a7. uservec saved only the registers C code may clobber and set up
// stvec, sscratch, sp and tp; s0-s11 and gp still hold the user's values
// (the C ABI preserves them), sstatus is as the trap left it (SPP = U,
// SPIE = 1; FS untouched: the kernel has no FP code and no other thread
// runs here before the return), and the user pc stays in sepc. Returns the
// satp to go back with; uservec restores the rest from the trapframe.
namespace {
[[gnu::noinline]] uint64_t syscall_locked(Hart& h, Thread* t) {
    kernel_lock();
    // Suspended by another hart while it ran here: the call is not done
    // (sepc still points at the ecall; a lock-free call, which changes
    // nothing, is done first), and the thread comes back into the kernel by
    // the full path as soon as it returns. That hart's IPI does it, unless
    // a wait for the lock consumed it (sleep_for_lock): raised again here.
    if (t->state != ThreadState::Inactive) [[likely]] {
        arch::write_sepc(arch::read_sepc() + 4);
        do_syscall(*t);
    } else {
        arch::write_sip(arch::read_sip() | arch::kSieSsie);
    }
    sync_icache_before_user(h);
    // A reply or a deletion may have made threads ready: an idle hart
    // takes them now rather than at its next tick (as in enter_user).
    if (threads_waiting()) wake_idle_hart();
    kernel_unlock();
    return t->tf.user_satp;
}
} // namespace

extern "C" uint64_t user_syscall_light() {
    Hart& h = this_hart();
    Thread* t = h.current;
    // A call that reads only the clock and boot-time constants (kLockFree
    // in syscall.cpp; a7 < 64, the trampoline checked) runs without the
    // lock. The thread cannot change under it: its trapframe is its own,
    // and user_satp changes only while it is off every hart. If another
    // hart suspended it meanwhile, the call completes first and the pending
    // IPI takes it out on the way back.
    uint64_t n = t->tf.regs[arch::a7];
    if ((g_syscall_lock_free_mask >> n) & 1) {
        arch::write_sepc(arch::read_sepc() + 4);
        t->tf.regs[arch::a0] = lock_free_call(n);
        sync_icache_before_user(h);
        return t->tf.user_satp;
    }
    return syscall_locked(h, t);
}

extern "C" [[noreturn]] void user_trap();
extern "C" [[noreturn]] void user_ecall();

void trapframe_init(Thread* t) {
    t->tf.kernel_satp = kernel_satp();
    t->tf.kernel_sp = kstack_top(t->kstack_slot);
    t->tf.kernel_trap = reinterpret_cast<uint64_t>(&user_trap);
    t->tf.kernel_ecall = reinterpret_cast<uint64_t>(&user_ecall);
    t->tf.kernel_light = reinterpret_cast<uint64_t>(&user_syscall_light);
    t->tf.kernel_vec = reinterpret_cast<uint64_t>(kernelvec);
    t->tf.light_mask = syscall_light_mask(); // kLight in syscall.cpp
}

void trapframe_on_hart(Thread* t, uint32_t index) {
    t->tf.kernel_hartid = index;
    t->tf.kernel_scratch = g_harts[index].trap_stack_top;
}

// Interrupts and faults from U-mode.
extern "C" [[noreturn]] void user_trap() {
    Hart& h = this_hart();
    Thread* t = h.current;
    uint64_t fs = enter_kernel(h, t, 0);
    uint64_t scause = arch::read_scause();

    if (t->state == ThreadState::Inactive) {
        // Suspended by another hart while it ran here (the IPI brought it
        // in): it leaves this hart at once, before it acts on anything.
        if (scause == (arch::kCauseInterrupt | uint64_t(arch::Interrupt::SupervisorSoftware)))
            clear_ipi();
        yield();
    }
    if (scause == (arch::kCauseInterrupt | uint64_t(arch::Interrupt::SupervisorTimer))) {
        on_timer();
        wake_sleepers(timer_ticks());
        yield();
    } else if (scause == (arch::kCauseInterrupt | uint64_t(arch::Interrupt::SupervisorSoftware))) {
        clear_ipi(); // kick_hart: nothing to do for a thread that is not suspended
    } else if (scause == static_cast<uint64_t>(arch::Exception::IllegalInstruction) &&
               fs == arch::kFsOff && g_have_fpu && !t->fp_on) {
        // Its first FP instruction: from now on it has an FPU, starting from
        // zeroed registers, and runs the instruction again (one that was not
        // an FP instruction traps again, as a fault).
        t->fp_on = true;
        for (uint64_t& r : t->fp)
            r = 0;
        t->fp_hart = -1;
    } else {
        // A user fault never brings the kernel down. With a fault endpoint
        // the handler (mm) gets a message on the thread's behalf and decides;
        // without one the thread is stopped here.
        uint64_t stval = arch::read_stval();
        if (t->fault_ep) {
            uint64_t msg[4] = {abi::kFaultLabel, scause, stval, t->tf.epc};
            ipc_call(t->fault_ep, t->fault_badge, msg, true);
        } else {
            kprintf("thread %u: %s at 0x%016lx, pc 0x%016lx, no fault handler: stopped\n", t->id,
                    arch::cause_name(scause), stval, t->tf.epc);
            (void)thread_suspend(t);
        }
    }
    // Suspended by another hart while it ran here: leave this hart.
    if (t->state == ThreadState::Inactive) yield();
    return_to_user();
}

void return_to_user() {
    arch::interrupts_off();
    enter_user(current_thread());
}

void enter_user(Thread* t) {
    enter_user_on(this_hart(), t);
}

} // namespace capframe
