// stress: the hardening runs that are not the syscall fuzzer (tests/guest/fuzz.cpp)
// or the isolation suite (tests/guest/isolation.cpp). Output is TAP ("ok N - ...",
// "not ok N - ... # why"), "# " details, then one "stress: <figure>: <n>"
// line per figure.
//
//   stress failalloc [ROUNDS]     walk an injected allocation failure (mm's
//                                 FailAlloc) through fork, exec with
//                                 arguments and a large sbrk: n = 1, 2, ...
//                                 until the call succeeds; every failing n
//                                 must return -1, leave the caller as it
//                                 was and give every frame back
//   stress exhaust [ROUNDS]       rounds of a fork bomb, an sbrk bomb and
//                                 exec until out of memory; after each the
//                                 system must answer (fork+exec of true) and
//                                 every frame must be back
//   stress smp [SECONDS] [WORKERS]  workers fork, exec, fault, map and unmap
//                                 at once (on every hart); no leak
//   stress hold-lock MS           test kernels: stay in the kernel with the
//                                 lock held (the watchdog must report it)
//   (stress hold MIB and stress exec-target ARGS... are its own helpers)
//
// Exit status 0 if every check passed.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capframe/sys.h"
#include "capframe/user.h"
#define TAP_WITH_COMMANDS
#include "tap.h"

using capframe::abi::Sys;
using capframe::mmp::Request;
namespace abi = capframe::abi;

namespace {

constexpr uint64_t kPage = 4096;
constexpr long kMiB = 1 << 20;
char* const kNoMemory = reinterpret_cast<char*>(-1);

// libsys defines sbrk with a ptrdiff_t argument; user.h declares xv6's int.
extern "C" char* sbrk64(long n) __asm__("sbrk");

void result(bool ok, const char* name, const char* why = "") {
    tap_result(ok, name, why);
}

// Data, bss and stack pages made our own now (no copy-on-write left from a
// fork), so a later store needs no frame: before arming an injected failure
// and before exhausting memory.
void own_pages() {
    fflush(stdout);
    uint64_t top = reinterpret_cast<uint64_t>(sbrk(0));
    for (uint64_t va = (top - 1) & ~(kPage - 1); prepare_write(reinterpret_cast<void*>(va), 1) == 0;
         va -= kPage) {
    }
    prepare_write(reinterpret_cast<void*>(abi::kUserStackTop - 16 * kPage), 16 * kPage);
}

// The system still answers: a process runs a program. Returns the ticks it
// took, or -1.
int responsive() {
    int t0 = uptime();
    int pid = spawn("true");
    int st = -2;
    if (pid < 0 || wait_for(pid, &st) != pid || st != 0) return -1;
    return uptime() - t0;
}

// ---- failalloc: an injected failure walked through a call ---------------

constexpr int kCleanFailure = 10; // the call returned -1 and the state checks passed
constexpr int kBadState = 11;     // the call returned -1 but something changed
constexpr int kWalkMax = 400;

// Run in a child: arms the failure for the n-th allocation of its next
// request, makes the call; returns (exits with) 0 when the call succeeded,
// kCleanFailure / kBadState when it returned -1.
using Op = int (*)(int n);

int op_fork(int n) {
    mm_fail_alloc(n);
    int pid = fork();
    if (pid == 0) exit(0);
    if (pid > 0) {
        int st;
        return wait_for(pid, &st) == pid && (st == 0 || st == -1) ? 0 : kBadState;
    }
    // No child was made: none to wait for, none in the process table.
    int st;
    if (wait(&st) != -1) return kBadState;
    int me = getpid();
    procinfo pi;
    for (int i = 0; getproc(i, &pi) == 0; ++i)
        if (pi.parent == me) return kBadState;
    return kCleanFailure;
}

char g_arg_long[600];
constexpr uint64_t kCanary = 0x5eed5eed5eed5eedull;
uint64_t g_canary[32];

int op_exec(int n) {
    char name[] = "stress", target[] = "exec-target", one[] = "one", two[] = "two words";
    memset(g_arg_long, 'a', sizeof g_arg_long - 1);
    char* argv[] = {name, target, one, two, g_arg_long, nullptr};
    for (auto& c : g_canary)
        c = kCanary;
    volatile uint64_t on_stack = kCanary;
    int me = getpid();
    mm_fail_alloc(n);
    exec("stress", argv);
    bool same = getpid() == me && on_stack == kCanary && !strcmp(argv[2], "one") &&
                !strcmp(argv[3], "two words") && strlen(g_arg_long) == sizeof g_arg_long - 1;
    for (auto c : g_canary)
        same = same && c == kCanary;
    return same ? kCleanFailure : kBadState;
}

// exec's target (argv[0] "exec-target"): the arguments arrived whole.
int exec_target(int argc, char** argv) {
    if (argc != 4 || strcmp(argv[1], "one") || strcmp(argv[2], "two words") ||
        strlen(argv[3]) != sizeof g_arg_long - 1)
        return 3;
    return 0;
}

int op_sbrk(int n) {
    constexpr long kSize = 16 * kMiB;
    char* old = sbrk(0);
    mm_fail_alloc(n);
    char* p = sbrk64(kSize);
    if (p == kNoMemory) {
        if (sbrk(0) != old) return kBadState;
        char* q = sbrk(static_cast<int>(kPage)); // it works again
        if (q != old) return kBadState;
        q[0] = 1;
        return kCleanFailure;
    }
    for (long off = 0; off < kSize; off += static_cast<long>(kPage))
        p[off] = static_cast<char>(off >> 12);
    for (long off = 0; off < kSize; off += static_cast<long>(kPage))
        if (p[off] != static_cast<char>(off >> 12)) return kBadState;
    return 0;
}

// Walks n = 1, 2, ... until op succeeds. Returns the failures survived, or
// -1 on a failed check.
int walk(const char* what, Op op, long base) {
    for (int n = 1; n <= kWalkMax; ++n) {
        int pid = fork();
        if (pid < 0) {
            printf("# failalloc %s: fork of the walker failed at n=%d\n", what, n);
            return -1;
        }
        if (pid == 0) {
            own_pages();
            int r = op(n);
            exit(r);
        }
        int st = -2;
        int w = wait_for(pid, &st);
        long now = frames_settle(base, 100);
        if (w != pid || (st != 0 && st != kCleanFailure)) {
            printf("# failalloc %s: n=%d: status %d%s\n", what, n, st,
                   st == kBadState ? " (the call failed but changed the caller)"
                   : st == -1      ? " (killed instead of an error)"
                                   : "");
            return -1;
        }
        if (now != base) {
            printf("# failalloc %s: n=%d: frames lost: %ld\n", what, n, base - now);
            return -1;
        }
        if (st == 0) {
            printf("# failalloc %s: needs %d allocations; a failure at each returned -1 "
                   "cleanly\n",
                   what, n - 1);
            return n - 1;
        }
    }
    printf("# failalloc %s: still failing at n=%d\n", what, kWalkMax);
    return -1;
}

int cmd_failalloc(int rounds) {
    own_pages();
    long base = freeframes();
    long survived = 0;
    static const struct {
        const char* name;
        Op op;
    } ops[] = {{"fork", op_fork}, {"exec with arguments", op_exec}, {"sbrk 16 MiB", op_sbrk}};
    for (int round = 0; round < rounds; ++round)
        for (const auto& o : ops) {
            int n = walk(o.name, o.op, base);
            char name[80];
            snprintf(name, sizeof name, "failalloc %s (round %d)", o.name, round + 1);
            result(n >= 1, name, n < 0 ? "see above" : "no injected failure reached it");
            if (n > 0) survived += n;
        }
    printf("stress: injected faults survived: %ld\n", survived);
    return 0;
}

// ---- exhaustion ------------------------------------------------------------

constexpr int kMaxKids = 128;

// Ends every child: kills those still running, reaps all. Counts, by exit
// status, those that had ended by themselves. Returns the children killed.
struct Ended {
    int count, exec_failed, no_memory, other;
};
int end_children(Ended& e) {
    e = {};
    int me = getpid(), kills = 0;
    procinfo pi;
    for (int pass = 0; pass < 2; ++pass) // (a process that ends shifts the listing)
        for (int i = 0; getproc(i, &pi) == 0; ++i)
            if (pi.parent == me && pi.state == 1 && kill(pi.pid) == 0) ++kills;
    int st, minus_one = 0;
    while (wait(&st) >= 0) {
        ++e.count;
        if (st == 42)
            ++e.exec_failed;
        else if (st == 6)
            ++e.no_memory; // its sbrk returned -1
        else if (st == -1)
            ++minus_one; // killed: by us, or by mm when a fault found no memory
        else
            ++e.other;
    }
    e.no_memory += minus_one > kills ? minus_one - kills : 0;
    return kills;
}

// Fork bomb: children that each take some memory and wait, until fork
// fails. Returns the number made, or -1.
int fork_bomb(long chunk) {
    int n = 0;
    for (; n < kMaxKids; ++n) {
        int pid = fork();
        if (pid < 0) break;
        if (pid == 0) {
            char* p = sbrk64(chunk);
            if (p != kNoMemory)
                for (long off = 0; off < chunk; off += static_cast<long>(kPage))
                    p[off] = 1;
            for (;;)
                sleep(1000);
        }
    }
    Ended e;
    int killed = end_children(e);
    if (n == kMaxKids || e.count != n || e.other) return -1; // fork never failed, or lost one
    return killed + e.no_memory == n ? n : -1;
}

// sbrk bomb: a child grows its heap a MiB at a time until sbrk fails, then
// mallocs until NULL; it must see -1 and NULL, not die.
int sbrk_bomb() {
    int pid = fork();
    if (pid == 0) {
        own_pages();
        long got = 0;
        for (;;) {
            char* p = sbrk64(kMiB);
            if (p == kNoMemory) break;
            for (long off = 0; off < kMiB; off += static_cast<long>(kPage))
                p[off] = 1;
            got += kMiB;
        }
        int nulls = 0;
        for (int i = 0; i < 64 && nulls == 0; ++i)
            if (!malloc(64 * 1024)) ++nulls;
        exit(got > 0 && nulls ? 0 : 5);
    }
    int st = -2;
    return pid > 0 && wait_for(pid, &st) == pid && st == 0 ? 0 : -1;
}

// exec until out of memory: programs that each hold up to `mib` MiB,
// started until fork fails or three have ended by themselves (exec returned
// -1: status 42; the holder got no memory: 6; a fault found none: killed).
int exec_until_oom(long mib) {
    int started = 0, fork_failed = 0, early = 0;
    for (; started < kMaxKids && early < 3; ++started) {
        int pid = fork();
        if (pid < 0) {
            fork_failed = 1;
            break;
        }
        if (pid == 0) {
            char name[] = "stress", hold[] = "hold", amount[16];
            snprintf(amount, sizeof amount, "%ld", mib);
            char* argv[] = {name, hold, amount, nullptr};
            exec("stress", argv);
            exit(42);
        }
        // Until it holds its memory (its frames stop growing) or has ended.
        long frames = 0, last = -1;
        int state = 1, still = 0;
        for (int t = 0; t < 500 && state == 1 && still < 3; ++t) {
            sleep(1);
            state = proc_state(pid, &frames);
            still = frames == last && frames > 64 ? still + 1 : 0;
            last = frames;
        }
        if (state != 1) ++early;
    }
    Ended e;
    int killed = end_children(e);
    printf("# exec until out of memory: %d holders of %ld MiB started, %d held until killed; "
           "%d exec(s) returned -1, %d found no memory, %d fork(s) returned -1\n",
           started, mib, killed, e.exec_failed, e.no_memory, fork_failed);
    bool out_of_memory = e.exec_failed + e.no_memory + fork_failed > 0;
    return started < kMaxKids && e.count == started && e.other == 0 && out_of_memory ? started : -1;
}

// A holder: takes up to mib MiB, 64 KiB at a time (the last one takes what
// is left), and waits to be killed; status 6 if it got nothing.
int cmd_hold(long mib) {
    constexpr long kStep = 64 * 1024;
    long got = 0;
    for (; got < mib * kMiB; got += kStep) {
        char* p = sbrk64(kStep);
        if (p == kNoMemory) break;
        for (long off = 0; off < kStep; off += static_cast<long>(kPage))
            p[off] = 1;
    }
    if (got == 0) exit(6);
    for (;;)
        sleep(1000);
}

// The longest kernel-lock hold since the workload's reset_lock_hold(), in
// instructions retired (guest instructions under -icount; QEMU's host-clock
// count otherwise): a figure, not a check (issue 15 asks for it).
void reset_lock_hold() {
    (void)sys::lock_stats(true);
}
void print_lock_hold(const char* what) {
    uint64_t taken = 0;
    int64_t longest = sys::lock_stats(false, &taken);
    printf("stress: longest kernel-lock hold over the %s: %ld instructions retired (%lu "
           "acquisitions)\n",
           what, static_cast<long>(longest), static_cast<unsigned long>(taken));
}

int cmd_exhaust(int rounds) {
    own_pages();
    reset_lock_hold();
    long base = freeframes();
    int worst = 0, done = 0;
    for (int round = 1; round <= rounds; ++round) {
        char name[64], why[96];
        why[0] = 0;
        long free_now = freeframes();
        int bombed = fork_bomb(free_now / 40 * static_cast<long>(kPage));
        printf("# round %d: fork bomb: %d children before fork returned -1 (tick %d)\n", round,
               bombed, uptime());
        if (bombed < 0) snprintf(why, sizeof why, "fork bomb");
        if (!why[0] && sbrk_bomb() < 0) snprintf(why, sizeof why, "sbrk bomb");
        printf("# round %d: sbrk bomb done (tick %d)\n", round, uptime());
        long mib = free_now / 256 / 24 + 1; // ~24 holders fill memory
        if (!why[0] && exec_until_oom(mib) < 0) snprintf(why, sizeof why, "exec until OOM");
        printf("# round %d: exec until out of memory done (tick %d)\n", round, uptime());
        long now = frames_settle(base, 200);
        printf("# round %d: %ld frames free, %ld at start\n", round, now, base);
        int ticks = responsive();
        if (!why[0] && now != base) snprintf(why, sizeof why, "frames lost: %ld", base - now);
        if (!why[0] && ticks < 0) snprintf(why, sizeof why, "fork+exec of true failed after it");
        if (ticks > worst) worst = ticks;
        snprintf(name, sizeof name, "exhaustion round %d (fork bomb of %d, sbrk bomb, exec)", round,
                 bombed);
        result(!why[0], name, why);
        if (!why[0]) ++done;
    }
    printf("# slowest fork+exec of true right after a round: %d ticks\n", worst);
    print_lock_hold("exhaustion rounds");
    printf("stress: exhaustion rounds: %d\n", done);
    return 0;
}

// ---- SMP soak --------------------------------------------------------------

// One worker: until the deadline, a random mix of fork+exec, fork with
// copy-on-write writes, a child killed by a fault, heap growth and shrink,
// and pages mapped and unmapped through mm. Returns operations done, or -1.
long soak_worker(int deadline, uint64_t seed) {
    uint64_t x = seed | 1;
    auto rnd = [&x]() {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        return x;
    };
    static char cow[8 * 4096];
    long ops = 0;
    const uint64_t map_va = 0x40000000 + (seed % 64) * 0x100000;
    while (uptime() < deadline) {
        int st;
        uint64_t pick = rnd() % 16;
        switch (pick < 4 ? 0 : pick < 8 ? 1 : pick < 9 ? 2 : pick < 13 ? 3 : 4) {
        case 0: { // fork + exec
            int pid = spawn("true");
            if (pid < 0) break; // memory or slots short: another worker has them
            if (wait_for(pid, &st) != pid || st != 0) return -1;
            break;
        }
        case 1: { // fork, both sides write (copy-on-write)
            int pid = fork();
            if (pid == 0) {
                for (size_t i = 0; i < sizeof cow; i += kPage)
                    cow[i] = 2;
                exit(cow[0] == 2 ? 0 : 1);
            }
            if (pid < 0) break;
            for (size_t i = 0; i < sizeof cow; i += kPage)
                cow[i] = 1;
            if (wait_for(pid, &st) != pid || st != 0 || cow[0] != 1) return -1;
            break;
        }
        case 2: { // a child that faults: mm kills it
            int pid = fork();
            if (pid == 0) {
                *reinterpret_cast<volatile char*>(abi::kTrampolineVa) = 1;
                exit(1);
            }
            if (pid < 0) break;
            if (wait_for(pid, &st) != pid || st != -1) return -1;
            break;
        }
        case 3: { // the heap grows, is touched, shrinks (unmaps)
            long n = static_cast<long>(1 + rnd() % 64) * static_cast<long>(kPage);
            char* p = sbrk64(n);
            if (p == kNoMemory) break;
            for (long off = 0; off < n; off += static_cast<long>(kPage))
                p[off] = 1;
            if (sbrk64(-n) == kNoMemory) return -1;
            break;
        }
        default: { // map and unmap pages through mm
            int n = 1 + static_cast<int>(rnd() % 8);
            int mapped = 0;
            for (; mapped < n; ++mapped)
                if (sys::mm_request(Request::MapPage, map_va + mapped * kPage, 1) != 0) break;
            for (int i = 0; i < mapped; ++i)
                reinterpret_cast<volatile char*>(map_va + i * kPage)[0] = 1;
            for (int i = 0; i < mapped; ++i)
                if (sys::mm_request(Request::UnmapPage, map_va + i * kPage) != 0) return -1;
            break;
        }
        }
        ++ops;
    }
    return ops;
}

int cmd_smp(int seconds, int workers) {
    own_pages();
    reset_lock_hold();
    long base = freeframes();
    int deadline = uptime() + seconds * 100;
    int pids[16];
    for (int w = 0; w < workers; ++w) {
        pids[w] = fork();
        if (pids[w] == 0) {
            long ops = soak_worker(deadline, 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(w + 1));
            if (ops < 0) exit(1);
            printf("# smp soak worker %d: %ld operations\n", w, ops);
            exit(0);
        }
    }
    int bad = 0, ended = 0, st, pid;
    for (int w = 0; w < workers; ++w)
        bad += pids[w] < 0;
    while ((pid = wait(&st)) >= 0)
        for (int w = 0; w < workers; ++w)
            if (pids[w] == pid) ++ended, bad += st != 0;
    bad += workers - ended;
    long now = frames_settle(base, 200);
    char why[64];
    snprintf(why, sizeof why, "%d worker(s) failed, frames lost: %ld", bad, base - now);
    char name[64];
    snprintf(name, sizeof name, "smp soak: %d workers for %d s", workers, seconds);
    result(bad == 0 && now == base, name, why);
    print_lock_hold("smp soak");
    printf("stress: smp soak seconds: %d\n", seconds);
    return 0;
}

int cmd_hold_lock(long ms) {
    printf("stress: holding the kernel lock for %ld ms\n", ms);
    int64_t r = sys::syscall(Sys::DebugHoldLock, static_cast<uint64_t>(ms));
    if (r == -static_cast<int64_t>(abi::Errno::NoSys)) {
        printf("stress: this kernel has no DebugHoldLock (test kernels only)\n");
        return 1;
    }
    printf("stress: back from the kernel (%ld)\n", static_cast<long>(r));
    return r == 0 ? 0 : 1;
}

// Each row: its words checked, then the command (tap_main).
const tap_command kCommands[] = {
    {"failalloc",
     [](int argc, char** argv) {
         long rounds = tap_number(argc, argv, 1, 1);
         return rounds < 0 || argc > 2 ? TAP_USAGE : cmd_failalloc(static_cast<int>(rounds));
     },
     TAP_SUITE},
    {"exhaust",
     [](int argc, char** argv) {
         long rounds = tap_number(argc, argv, 1, 1);
         return rounds < 0 || argc > 2 ? TAP_USAGE : cmd_exhaust(static_cast<int>(rounds));
     },
     TAP_SUITE},
    {"smp",
     [](int argc, char** argv) {
         long seconds = tap_number(argc, argv, 1, 10), workers = tap_number(argc, argv, 2, 4);
         if (seconds < 0 || workers < 0 || argc > 3) return static_cast<int>(TAP_USAGE);
         return cmd_smp(static_cast<int>(seconds), static_cast<int>(workers > 16 ? 16 : workers));
     },
     TAP_SUITE},
    {"hold-lock",
     [](int argc, char** argv) {
         long ms = tap_number(argc, argv, 1, 1);
         return ms < 0 || argc > 2 ? TAP_USAGE : cmd_hold_lock(ms);
     },
     TAP_PLAIN},
    {"hold", [](int argc, char** argv) { return cmd_hold(tap_number(argc, argv, 1, 1)); },
     TAP_PLAIN},
    {"exec-target", exec_target, TAP_PLAIN},
};

} // namespace

int main(int argc, char** argv) {
    return tap_main("stress",
                    "stress failalloc [ROUNDS] | exhaust [ROUNDS] | smp [SECONDS] [WORKERS] |\n"
                    "       hold-lock MS",
                    kCommands, sizeof kCommands / sizeof kCommands[0], argc, argv);
}
