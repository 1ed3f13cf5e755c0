#include "hart.h"

#include <atomic>

#include "arch/riscv64/csr.h"
#include "arch/riscv64/sbi.h"
#include "bootargs.h"
#include "console.h"
#include "hartmask.h"
#include "thread.h"
#include "trap.h"
#include "vm.h"

extern "C" char secondary_entry[], _start[];

namespace capframe {

Hart g_harts[kMaxHartsOnline];
constinit KernelLock g_kernel_lock;
std::atomic<uint64_t> g_code_gen{1};
std::atomic<uint32_t> g_idle_harts{0};
std::atomic<uint32_t> g_lock_sleepers{0};
std::atomic<uint64_t> g_kernel_table_gen{0};

namespace {

std::atomic<uint32_t> g_online{1};
std::atomic<uint32_t> g_idle[kMaxHartsOnline]; // waiting in the scheduler with nothing to run

// One SBI call per window of 64 hart ids (hart_mask_base), so any id works.
template <class Call>
void for_each_window(const HartMasks<kMaxHartsOnline>& m, Call call) {
    for (size_t i = 0; i < m.count; ++i)
        call(m.window[i].mask, m.window[i].base);
}

// Watchdog state: the time of each hart's last timer tick (0: none yet),
// whether it was reported silent, and when the current lock owner took the
// lock.
std::atomic<uint64_t> g_last_tick[kMaxHartsOnline];
std::atomic<uint32_t> g_silent[kMaxHartsOnline]; // 1: reported silent
// 1 while a hart spins for the kernel lock: the lock watchdog speaks for it
// (with its CPU-time check), not the silent-hart one, which would report a
// waiter whose lock owner's host thread is descheduled on a busy host.
std::atomic<uint32_t> g_waiting[kMaxHartsOnline];

uint64_t millis(uint64_t ticks) {
    uint64_t hz = timer_timebase();
    return hz ? ticks * 1000 / hz : 0;
}

uint64_t watchdog_limit() {
    return kWatchdogMillis * timer_timebase() / 1000;
}

// Which thread a hart runs (best effort: read without the lock).
uint32_t thread_on(uint32_t index) {
    Thread* t = __atomic_load_n(&g_harts[index].current, __ATOMIC_RELAXED);
    return t ? t->id : 0;
}

// How many turns of the lock's wait loop a hart makes in half the
// watchdog's limit when the host gives it a whole CPU (watchdog_calibrate).
// On QEMU a hart is a host thread: on a busy host the lock owner's thread can
// sit descheduled while the wall clock runs, so a wait is reported only when
// the waiter has itself spun that many turns as well: it has had that much
// CPU, and the owner (another thread the host shares out fairly) has had its
// turns too. On hardware the two measures agree.
uint64_t g_spins_per_limit = 0; // 0: not calibrated (report on time alone)
uint64_t g_turns_per_ms = 0;

// A hart spinning for the lock, now and then: has one acquisition held it
// for the whole limit? (Timed here, not at every acquisition: rdtime traps
// to the firmware on the JH7110.)
void watchdog_lock_wait(uint64_t& start, uint64_t& gen_seen, uint64_t& spins_at_start,
                        uint64_t spins) {
    uint64_t now = arch::read_time(), gen = g_kernel_lock.gen;
    if (start == 0 || gen != gen_seen) {
        start = now, gen_seen = gen, spins_at_start = spins;
        return;
    }
    if (timer_timebase() == 0 || now - start < watchdog_limit()) return;
    if (spins - spins_at_start < g_spins_per_limit) return; // this hart had less CPU than that
    if (g_kernel_lock.reported.exchange(gen) == gen) return;
    int32_t owner = kernel_lock_owner();
    // Printed without the lock: the owner may never let it go.
    kprintf("watchdog: hart %u has waited %lu ms for the kernel lock; hart %u holds it with "
            "interrupts off (thread %u)\n",
            g_harts[hart_index()].hart_id, millis(now - start),
            owner >= 0 ? g_harts[owner].hart_id : ~0u,
            owner >= 0 ? thread_on(static_cast<uint32_t>(owner)) : 0);
}

// Turns of the wait loop before a waiter sleeps in wfi (about 20k
// instructions). A hold is usually shorter: the waiter takes the lock
// spinning, as before.
inline constexpr uint64_t kTurnsBeforeSleep = 4096;

// A waiter that has spun kTurnsBeforeSleep turns sleeps in wfi until the
// holder's kernel_unlock_note sends it an IPI, or the next timer tick
// (interrupts stay off: wfi returns on an interrupt pending in sie, and
// nothing is taken). Under QEMU's -icount the harts share one host thread
// round-robin, and a hart that spins keeps it for its whole time slice
// (up to 100 ms of guest time) while the holder cannot run: the SMP runs
// under -icount crawled (issue 15). wfi hands the thread over at once. On
// hardware it saves power and memory traffic during a long hold.
// Returns the turns the wait counts as (the watchdog wants the waiter's
// CPU: asleep, it has not been starved, so the time asleep counts as if it
// had spun).
uint64_t sleep_for_lock(uint32_t me) {
    // Not before this hart takes IPIs and ticks (timer_start_this_hart):
    // nothing would wake it.
    if ((arch::read_sie() & arch::kSieSsie) == 0) return 0;
    // A tick came while this hart waited (interrupts are off, so it is not
    // taken): the clock's part of it now (count, re-arm, watchdog), or STIP
    // would stay pending and every wfi below return at once for the rest
    // of the wait. Preemption and timed sleepers wait for the next tick.
    if (arch::read_sip() & arch::kSieStie) on_timer();
    uint32_t bit = 1u << me;
    g_lock_sleepers.fetch_or(bit); // seq_cst: before the look at the lock
    uint64_t t0 = arch::read_time();
    // Held still: the holder lets it go after its look at g_lock_sleepers
    // (kernel_unlock_note), so it will send the IPI. A holder that looked
    // just before our fetch_or above does not: the tick wakes us then.
    if (g_kernel_lock.word.load() != 0) arch::wfi();
    g_lock_sleepers.fetch_and(~bit);
    // The IPI that woke us (or any other: kick_hart's for a thread this hart
    // runs) is consumed here. Whoever kicks re-checks under the lock
    // (user_trap, user_syscall_light), and an idle hart is not in this wait.
    clear_ipi();
    uint64_t hz = timer_timebase();
    return hz ? (arch::read_time() - t0) * g_turns_per_ms * 1000 / hz : 0;
}

} // namespace

void wake_lock_sleepers(uint32_t mask) {
    // One IPI per sleep: the first to take a sleeper's bit wakes it.
    mask = g_lock_sleepers.fetch_and(~mask, std::memory_order_relaxed) & mask;
    for (uint32_t i = 0; i < kMaxHartsOnline; ++i)
        if (mask & (1u << i)) kick_hart(i);
}

// The lock was taken: spin until it is free (test-and-test-and-set), sleep
// after a while (sleep_for_lock), and every 64k turns let the watchdog look
// at how long its owner has held it.
void kernel_lock_wait() {
    uint64_t start = 0, gen_seen = 0, spins_at_start = 0;
    uint32_t me = hart_index();
    g_waiting[me].store(1, std::memory_order_relaxed);
    for (uint64_t spins = 0, turns = 0;;) {
        uint32_t expected = 0;
        if (g_kernel_lock.word.load(std::memory_order_relaxed) == 0 &&
            g_kernel_lock.word.compare_exchange_strong(expected, me + 1, std::memory_order_acquire,
                                                       std::memory_order_relaxed)) {
            g_waiting[me].store(0, std::memory_order_relaxed);
            return;
        }
        if ((++spins & 0xffff) == 0) watchdog_lock_wait(start, gen_seen, spins_at_start, spins);
        if (++turns == kTurnsBeforeSleep) {
            turns = 0;
            spins += sleep_for_lock(me);
            watchdog_lock_wait(start, gen_seen, spins_at_start, spins); // spins jumped
        }
    }
}

void kernel_unlock_report() {
    kprintf("watchdog: hart %u lets the kernel lock go\n", this_hart().hart_id);
}

bool kernel_lock_held_here() {
    return kernel_lock_owner() == static_cast<int32_t>(hart_index());
}

void watchdog_calibrate() {
    uint64_t window = timer_timebase() / 500; // 2 ms
    if (window == 0) return;
    // kernel_lock_wait's loop, word for word, on a lock that stays held,
    // looking at the clock where kernel_lock looks at the watchdog; twice:
    // the faster run is the one the host interrupted less.
    std::atomic<uint32_t> held{1};
    uint64_t best = 0;
    for (int run = 0; run < 2; ++run) {
        uint64_t spins = 0, start = arch::read_time(), now = start;
        for (;;) {
            uint32_t expected = 0;
            if (held.load(std::memory_order_relaxed) == 0 &&
                held.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                             std::memory_order_relaxed))
                break; // never: it stays held
            if ((++spins & 0xffff) == 0 && (now = arch::read_time()) - start >= window) break;
        }
        uint64_t per_ms = spins * timer_timebase() / 1000 / (now - start);
        if (per_ms > best) best = per_ms;
    }
    // Half the limit's worth: the waiter has had at least half as much CPU
    // as a waiter alone on its CPU would have in the whole limit.
    g_turns_per_ms = best;
    g_spins_per_limit = best * kWatchdogMillis / 2;
    kprintf("kernel: the lock's wait loop makes %lu turns per ms (watchdog calibration)\n", best);
}

uint64_t lock_wait_turns_per_ms() {
    return g_turns_per_ms;
}

void watchdog_tick() {
    uint32_t me = hart_index();
    uint64_t now = arch::read_time();
    g_last_tick[me].store(now, std::memory_order_relaxed);
    if (g_silent[me].exchange(0))
        kprintf("watchdog: hart %u takes timer ticks again\n", g_harts[me].hart_id);
    for (uint32_t i = 0; i < kMaxHartsOnline; ++i) {
        uint64_t last = g_last_tick[i].load(std::memory_order_relaxed);
        // (last may be later than now: that hart ticked since we read the time)
        if (i == me || last == 0 || last >= now || now - last < watchdog_limit()) continue;
        if (g_waiting[i].load(std::memory_order_relaxed)) continue; // the lock watchdog's case
        // In the scheduler with nothing to run and the lock not its own, a
        // hart waits in wfi with interrupts on: a missing tick means the
        // host did not run its QEMU thread (two suites on 2 cores), not a
        // stuck hart.
        if (thread_on(i) == 0 && kernel_lock_owner() != static_cast<int32_t>(i)) continue;
        if (g_silent[i].exchange(1)) continue; // reported already
        // Printed without the lock: the silent hart may hold it.
        int32_t owner = kernel_lock_owner();
        kprintf("watchdog: hart %u has taken no timer tick for %lu ms: stuck with interrupts off "
                "(thread %u; kernel lock %s)\n",
                g_harts[i].hart_id, millis(now - last), thread_on(i),
                owner == static_cast<int32_t>(i) ? "held by it"
                : owner >= 0                     ? "held by another hart"
                                                 : "free");
    }
}

void harts_init_boot(uint32_t boot_hart_id) {
    g_harts[0].hart_id = boot_hart_id;
    g_harts[0].online = true;
}

void harts_start_others(const MachineInfo& m) {
    uint32_t next = 1;
    for (int i = 0; i < m.hart_count; ++i) {
        const HartInfo& h = m.harts[i];
        if (h.hart_id == g_harts[0].hart_id) continue;
        if (!h.usable()) continue; // no MMU / disabled: never started
        if (next == kMaxHartsOnline) {
            kprintf("harts: hart %u not started: at most %u harts online\n", h.hart_id,
                    kMaxHartsOnline);
            continue;
        }
        uint32_t index = next;
        g_harts[index].hart_id = h.hart_id;
        uint64_t entry = reinterpret_cast<uint64_t>(secondary_entry);
#ifdef CAPFRAME_TEST_KERNEL
        // Test kernels, bootarg stray-hart=1: the first hart goes to the
        // boot entry, as firmware sometimes sends it (tests/qemu: stray-hart).
        char arg[4];
        if (index == 1 && find_bootarg(m.bootargs, "stray-hart", arg, sizeof arg))
            entry = reinterpret_cast<uint64_t>(_start);
#endif
        sbi::Ret r = sbi::call(sbi::kExtHsm, 0, h.hart_id, entry, index);
        if (r.error) {
            kprintf("harts: hart %u failed to start (SBI error %ld); going on without it\n",
                    h.hart_id, r.error);
            continue;
        }
        ++next;
        // Wait (up to ten seconds: emulated harts on a loaded host are slow)
        // for it to come up, so the log stays in order and the count is right.
        // The wait sleeps from tick to tick (wfi, the timer runs) instead of
        // spinning: QEMU under -icount runs all harts on one host thread
        // and did not switch to the new hart while this one spun.
        for (int attempt = 0; attempt < 2; ++attempt) {
            uint64_t deadline = arch::read_time() + 10 * timer_timebase();
            while (!__atomic_load_n(&g_harts[index].online, __ATOMIC_ACQUIRE) &&
                   arch::read_time() < deadline) {
                arch::write_sstatus(arch::read_sstatus() | arch::kSstatusSie);
                arch::wfi();
                arch::interrupts_off();
            }
            if (__atomic_load_n(&g_harts[index].online, __ATOMIC_ACQUIRE)) break;
            // A hart the firmware sent to the boot entry instead stopped
            // itself there (boot/entry.S): start it once more.
            sbi::Ret st = sbi::call(sbi::kExtHsm, 2, h.hart_id); // hart_get_status
            if (attempt > 0 || st.error || st.value != 1 /* STOPPED */) break;
            kprintf("harts: hart %u arrived at the boot entry and stopped; starting it again\n",
                    h.hart_id);
            sbi::call(sbi::kExtHsm, 0, h.hart_id, reinterpret_cast<uint64_t>(secondary_entry),
                      index);
        }
        if (!__atomic_load_n(&g_harts[index].online, __ATOMIC_ACQUIRE)) {
            kernel_lock();
            kprintf("harts: hart %u started but has not checked in yet\n", h.hart_id);
            kernel_unlock();
        }
    }
    kernel_lock(); // a late hart may be printing
    kprintf("harts: %u online\n", g_online.load());
    kernel_unlock();
}

// A secondary hart, from boot/entry.S: MMU off, its own boot stack.
extern "C" [[noreturn]] void secondary_main(uint64_t hart_id, uint64_t index) {
    trap_init_hart(static_cast<uint32_t>(index));
    arch::sfence_vma_all();
    arch::write_satp(kernel_satp());
    arch::sfence_vma_all();
    arch::fence_i();
    kernel_lock();
    g_harts[index].code_gen_seen = g_code_gen.load();
    kprintf("hart %lu: online (index %lu)\n", hart_id, index);
    g_online.fetch_add(1);
    __atomic_store_n(&g_harts[index].online, true, __ATOMIC_RELEASE);
    kernel_unlock();
    timer_start_this_hart();
    scheduler();
}

void tlb_shootdown(uint64_t root) {
    // This hart runs on the kernel's table, and the trampoline flushes
    // everything on every switch to and from user mode: no fence here.
    // (Each full flush cost QEMU a software-TLB refill: three per page of
    // a fork.)
    if (g_online.load(std::memory_order_relaxed) == 1)
        return; // no other hart (one coming online flushes on its way to user mode)
    // Only a hart running user code in that address space can hold its
    // entries: the trampoline flushes everything on every kernel entry and
    // exit. user_root is set under the kernel lock before a hart leaves for
    // user mode and cleared by user_trap before it waits for the lock; a
    // hart waiting for the lock (user_trap or the light path; asleep in wfi
    // perhaps) has flushed on its way in and is no target either. (Under
    // QEMU's -icount a fence to a hart asleep in wfi was not answered while
    // this hart waited for it in the firmware.)
    HartMasks<kMaxHartsOnline> targets;
    for (uint32_t i = 0; i < kMaxHartsOnline; ++i)
        if (g_harts[i].online && i != hart_index() && g_harts[i].user_root == root &&
            !g_waiting[i].load(std::memory_order_relaxed))
            (void)targets.add(g_harts[i].hart_id); // one window per hart at most: fits
    for_each_window(targets, [](uint64_t mask, uint64_t base) {
        sbi::call(sbi::kExtRfence, 1, mask, base, 0, ~uint64_t{0}); // remote_sfence_vma
    });
}

void kick_hart(uint32_t index) {
    HartMasks<1> target;
    (void)target.add(g_harts[index].hart_id);
    sbi::call(sbi::kExtIpi, 0, target.window[0].mask, target.window[0].base); // send_ipi
}

void wake_idle_hart_scan() {
    uint32_t me = hart_index();
    for (uint32_t i = 0; i < kMaxHartsOnline; ++i) {
        if (i == me || !g_harts[i].online) continue;
        // The first to clear the flag sends the IPI (one per idle period).
        if (g_idle[i].exchange(0, std::memory_order_acq_rel)) {
            kick_hart(i);
            return;
        }
    }
}

void set_idle(bool idle) {
    if (idle) g_idle_harts.fetch_add(1, std::memory_order_relaxed);
    g_idle[hart_index()].store(idle ? 1 : 0, std::memory_order_release);
    if (!idle) g_idle_harts.fetch_sub(1, std::memory_order_relaxed);
}

void note_code_mapped() {
    g_code_gen.fetch_add(1);
}

uint32_t probe_asid_bits() {
    // Write all-ones to satp.ASID with paging on and the same root, read back
    // which bits stick (privileged spec 4.1.11; writing an ASID with MODE
    // Bare would be UNSPECIFIED), restore, flush.
    uint64_t old = arch::read_satp();
    arch::write_satp(old | (uint64_t{0xffff} << 44));
    uint64_t asid = (arch::read_satp() >> 44) & 0xffff;
    arch::write_satp(old);
    arch::sfence_vma_all();
    uint32_t bits = 0;
    while (asid & 1)
        ++bits, asid >>= 1;
    return bits;
}

} // namespace capframe
