// Harts: per-hart state (indexed by a dense index kept in tp, never by hart
// id: the VisionFive 2's application harts are 1..4), the big kernel lock,
// starting the other harts, and cross-hart TLB and I-cache maintenance.
#pragma once

#include <cstdint>

#include "lib/machine.h"
#include "object.h"

namespace capframe {

inline constexpr uint32_t kMaxHartsOnline = 8;

struct Hart {
    uint32_t hart_id;
    bool online;
    Thread* current;
    Context scheduler_ctx;
    uint64_t code_gen_seen; // see note_code_mapped()
    uint64_t user_root;     // root table loaded for user mode, 0 while in the kernel
    uint32_t fp_owner;      // id of the thread whose FP state the registers hold (0: none)
};

Hart& this_hart();
uint32_t hart_index(); // from tp

// The kernel runs under one lock: taken on every entry from user mode and
// by the scheduler, released on the way back to user mode and when idle.
// Interrupts are off whenever it is held (the kernel never enables them
// except while idle without it).
void kernel_lock();
void kernel_unlock();
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
void wake_idle_hart();
void set_idle(bool idle); // this hart, from the scheduler

// After a mapping was removed or narrowed in the table at `root`: flush this
// hart's TLB and, via SBI RFENCE, that of every other hart running user code
// in it (no ASIDs: everything). Kernel-table changes pass kAllAddressSpaces.
inline constexpr uint64_t kAllAddressSpaces = ~uint64_t{0};
void tlb_shootdown(uint64_t root);
// Code became executable somewhere: every hart runs fence.i before it next
// enters user mode (the U74 I-cache does not see stores).
void note_code_mapped();
void sync_icache_before_user();

// The ASID width satp accepts (0 on the JH7110; Capframe uses ASID 0 and
// full flushes either way).
uint32_t probe_asid_bits();

} // namespace capframe
