// Harts: per-hart state (indexed by a dense index kept in tp, never by hart
// id: the VisionFive 2's application harts are 1..4), the big kernel lock,
// starting the other harts, and cross-hart TLB and I-cache maintenance.
#pragma once

#include <atomic>
#include <cstdint>

#include "arch/riscv64/csr.h"
#include "machine.h"
#include "object.h"

namespace capframe {

inline constexpr uint32_t kMaxHartsOnline = 8;

// 256 bytes each (aligned), so that this_hart() is a shift and an add.
struct alignas(256) Hart {
    uint32_t hart_id;
    bool online;
    Thread* current;
    Context scheduler_ctx;
    uint64_t code_gen_seen;   // see note_code_mapped()
    uint64_t user_root;       // root table loaded for user mode, 0 while in the kernel
    uint32_t fp_owner;        // id of the thread whose FP state the registers hold (0: none)
    uint64_t trap_stack_top;  // kernelvec's stack (sscratch while in the kernel)
    uint64_t kernel_gen_seen; // g_kernel_table_gen at this hart's last flush
};

// Per-hart state and the lock word are reached inline: every kernel entry
// uses them several times (issue 14: out-of-line helpers cost ~100
// instructions per system call).
extern Hart g_harts[kMaxHartsOnline];

inline uint64_t tp_value() {
    uint64_t tp;
    asm volatile("mv %0, tp" : "=r"(tp));
    // (Told to the compiler, so that the index needs no zero-extension.)
    if (tp >= kMaxHartsOnline) __builtin_unreachable();
    return tp;
}
inline uint32_t hart_index() { // from tp
    return static_cast<uint32_t>(tp_value());
}
inline Hart& this_hart() {
    return g_harts[tp_value()]; // tp holds the index, below kMaxHartsOnline
}

// The kernel runs under one lock: taken on every entry from user mode and
// by the scheduler, released on the way back to user mode and when idle.
// Interrupts are off whenever it is held (the kernel never enables them
// except while idle without it). The uncontended acquire and the release
// are inline; waiting and the watchdog's report are out of line. The lock
// word holds the owner's hart index + 1 (0: free), so taking it names the
// owner in the same atomic operation.
struct KernelLock {
    std::atomic<uint32_t> word{0};
    uint32_t pad = 0;
    volatile uint64_t gen = 0;         // acquisitions so far (an episode's name); holder writes
    std::atomic<uint64_t> reported{0}; // the acquisition reported as held too long
    // The longest hold (LockStats): instructions retired on the holder's
    // hart between taking and letting go (under QEMU without -icount,
    // instret follows the host clock instead). Holder writes. A hold let go
    // on another hart than took it (none is: each hart's scheduler takes
    // and lets go its own) would compare two harts' counters: not counted.
    uint64_t taken_at = 0;
    uint64_t taken_on = 0; // hart index
    uint64_t longest = 0;
};
extern KernelLock g_kernel_lock;
void kernel_lock_wait();     // spins (with the watchdog) until the lock is ours
void kernel_unlock_report(); // the watchdog had reported this acquisition

[[gnu::always_inline]] inline void kernel_lock() {
    uint32_t expected = 0;
    if (!g_kernel_lock.word.compare_exchange_strong(
            expected, hart_index() + 1, std::memory_order_acquire, std::memory_order_relaxed))
        [[unlikely]]
        kernel_lock_wait();
    g_kernel_lock.gen = g_kernel_lock.gen + 1; // a plain store: only the holder writes it
    g_kernel_lock.taken_at = arch::read_instret();
    g_kernel_lock.taken_on = hart_index();
}
// The watchdog's note before the lock goes (kernel_unlock, and the
// return to user mode, which lets it go in assembly: trap.cpp).
extern std::atomic<uint32_t> g_lock_sleepers; // harts (bit per index) asleep in kernel_lock_wait
void wake_lock_sleepers(uint32_t mask);
[[gnu::always_inline]] inline void kernel_unlock_note() {
    uint64_t held = arch::read_instret() - g_kernel_lock.taken_at;
    if (held > g_kernel_lock.longest && g_kernel_lock.taken_on == hart_index()) [[unlikely]]
        g_kernel_lock.longest = held;
    // A hart asleep for the lock gets an IPI now; it spins again when it
    // wakes, and by then the release has let the lock go. (No fence between
    // this load and the release: a waiter that sets its bit in between is
    // not woken by this release but by the next one or its next tick.)
    if (uint32_t s = g_lock_sleepers.load(std::memory_order_relaxed)) [[unlikely]]
        wake_lock_sleepers(s);
    if (g_kernel_lock.reported.load(std::memory_order_relaxed) == g_kernel_lock.gen) [[unlikely]]
        kernel_unlock_report();
}
inline void kernel_unlock() {
    kernel_unlock_note();
    g_kernel_lock.word.store(0, std::memory_order_release);
}
// The index of the hart that holds the lock, -1 if it is free.
inline int32_t kernel_lock_owner() {
    return static_cast<int32_t>(g_kernel_lock.word.load(std::memory_order_relaxed)) - 1;
}
bool kernel_lock_held_here(); // assertions: block(), make_ready()

// Watchdog. The kernel runs with interrupts off, so a hart that stays in it
// (looping, holding the kernel lock, or waiting for it) takes no timer
// ticks. Every tick a hart notes the time and looks at the others; a hart
// that waits for the lock looks at how long its owner has held it. Either
// finding is reported once per episode (`watchdog: ...`) with the hart, the
// lock owner and the thread it ran, and again when the hart recovers. It
// does not stop the system: the report is the diagnosis (tests forbid it).
// A lock wait counts only when the waiter has also spun the limit's worth of
// its own loop (watchdog_calibrate): under QEMU on a busy host, the owner's
// host thread may be descheduled while the wall clock runs, and that is not
// a long hold.
inline constexpr uint64_t kWatchdogMillis = 4000;
void watchdog_calibrate();         // boot hart, before the others start
uint64_t lock_wait_turns_per_ms(); // what watchdog_calibrate measured (0: not yet)
void watchdog_tick();              // from the timer interrupt, on every hart

// Boot hart: records itself as index 0.
void harts_init_boot(uint32_t boot_hart_id);
// Starts every other hart the device tree shows as usable (okay, MMU, Sv39)
// through SBI HSM; reports and skips any that fail.
void harts_start_others(const MachineInfo& m);

// Inter-processor interrupts (SBI IPI: a supervisor software interrupt on
// the target). kick_hart makes the hart at `index` enter the kernel (from
// user mode) or leave wfi; wake_idle_hart wakes one hart that waits in the
// scheduler with nothing to run (called by a hart that returns to user mode
// while threads are ready).
void kick_hart(uint32_t index);
// (The count is checked inline: with no hart idle, as on one hart, a
// return to user mode with threads ready costs a load, not a scan.)
extern std::atomic<uint32_t> g_idle_harts; // harts between set_idle(true) and set_idle(false)
void wake_idle_hart_scan();
inline void wake_idle_hart() {
    if (g_idle_harts.load(std::memory_order_relaxed) != 0) wake_idle_hart_scan();
}
void set_idle(bool idle); // this hart, from the scheduler (idle: with the lock held)

// After a mapping was removed or narrowed in the table at `root`: flush, via
// SBI RFENCE, the TLB of every other hart running user code in it (no ASIDs:
// everything). This hart needs no fence for a user table (the trampoline
// flushes on every switch to and from user mode).
void tlb_shootdown(uint64_t root);
// Kernel-table changes (kernel stacks put in or taken out) are not shot
// down on other harts by IPI. Only a kernel stack's own thread touches its
// address, and a hart starts using a thread's stack in two ways: entering
// from user mode (the trampoline flushes the TLB on every entry) or
// switching to it in the scheduler, which flushes first if the kernel table
// changed since this hart's last flush (kernel_table_flush_if_changed). (A
// synchronous SBI remote fence waits for every target; under QEMU's -icount
// an idle target in wfi was not run while the caller waited in the
// firmware, and the system stopped: issue 15.)
extern std::atomic<uint64_t> g_kernel_table_gen;
// After a change to the kernel's own table (with the lock held).
inline void kernel_table_changed() {
    arch::sfence_vma_all();
    this_hart().kernel_gen_seen = g_kernel_table_gen.fetch_add(1, std::memory_order_relaxed) + 1;
}
// Before this hart switches to a thread's kernel stack (with the lock held).
inline void kernel_table_flush_if_changed(Hart& h) {
    uint64_t gen = g_kernel_table_gen.load(std::memory_order_relaxed);
    if (h.kernel_gen_seen != gen) [[unlikely]] {
        arch::sfence_vma_all();
        h.kernel_gen_seen = gen;
    }
}
// Code became executable somewhere: every hart runs fence.i before it next
// enters user mode (the U74 I-cache does not see stores).
void note_code_mapped();
extern std::atomic<uint64_t> g_code_gen;
[[gnu::always_inline]] inline void sync_icache_before_user(Hart& h) { // h: this hart
    // Acquire: the lock-free calls come here without the lock's ordering,
    // and must see a generation bumped before what the caller saw.
    uint64_t gen = g_code_gen.load(std::memory_order_acquire);
    if (h.code_gen_seen != gen) [[unlikely]] {
        asm volatile("fence.i" ::: "memory");
        h.code_gen_seen = gen;
    }
}

// The ASID width satp accepts (0 on the JH7110; Capframe uses ASID 0 and
// full flushes either way).
uint32_t probe_asid_bits();

} // namespace capframe
