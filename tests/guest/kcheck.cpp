// kcheck: regression tests for kernel holes (docs/reliability.md). Output is
// TAP ("ok N - ...", "not ok N - ... # why"), "# " details, then one
// "kcheck: <figure>" line per figure.
//
//   kcheck gap [MS] [WRITERS]       WRITERS processes write 1 MiB buffers to
//                                   the console without pause while this one
//                                   calls uptime() for MS ms and records the
//                                   worst time between two returns: it must
//                                   stay below a tick plus one console chunk
//                                   (a console write holds the kernel lock
//                                   for a bounded time only)
//   kcheck fp                       floating-point registers are private:
//                                   not seen by a fresh exec'd process,
//                                   kept across preemption by another FP
//                                   user (run it on one hart), copied by
//                                   fork and independent afterwards
//   (kcheck fp-set and fp-get are its helpers)
//   kcheck kill [ROUNDS]            kill a CPU-bound child (user code, lock-free
//                                   calls or locked light calls) on another
//                                   hart, ROUNDS times: each kill is prompt
//                                   (mm's suspend waits for the thread to
//                                   leave its hart), no mm BUG, every frame
//                                   back
//
// Exit status 0 if every check passed.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capframe/sys.h"
#include "capframe/user.h"
#define TAP_WITH_COMMANDS
#include "tap.h"

namespace abi = capframe::abi;

namespace {

void result(bool ok, const char* name, const char* why = "") {
    tap_result(ok, name, why);
}

// ---- gap: console output must not stall the other processes ----------------

constexpr size_t kBig = size_t{1} << 20;
char g_big[kBig];

[[noreturn]] void console_writer() {
    for (;;)
        write(1, g_big, static_cast<int>(kBig));
}

int cmd_gap(long ms, long writers) {
    const uint64_t tb = timebase();
    const uint64_t tick = tb / 100;
    // Lines of blanks: harmless in the log, and long lines keep it short.
    // Filled before the writers are forked, so they take no page faults.
    for (size_t i = 0; i < kBig; ++i)
        g_big[i] = (i % 256 == 255) ? '\n' : ' ';
    auto us = [&](uint64_t t) { return static_cast<unsigned long>(t * 1000000 / tb); };

    // What one console chunk costs here, alone: the worst of a few.
    char line[abi::kWriteChunk];
    memset(line, ' ', sizeof line);
    line[sizeof line - 1] = '\n';
    uint64_t chunk = 0;
    for (int i = 0; i < 8; ++i) {
        uint64_t t0 = rdtime();
        int64_t r = sys::write_some(1, line, sizeof line);
        uint64_t t = rdtime() - t0;
        if (r != static_cast<int64_t>(sizeof line)) {
            result(false, "a console write of one chunk prints it all", "short");
            return 1;
        }
        if (t > chunk) chunk = t;
    }
    // One call prints at most a chunk, and the libsys write still prints all.
    int64_t r = sys::write_some(1, g_big, sizeof g_big);
    printf("\n");
    result(r == static_cast<int64_t>(abi::kWriteChunk), "one console call prints one chunk");
    bool all = write(1, line, sizeof line) == static_cast<int>(sizeof line) &&
               sys::write(1, g_big, 3 * abi::kWriteChunk + 7) ==
                   static_cast<int64_t>(3 * abi::kWriteChunk + 7);
    printf("\n");
    result(all, "write() still writes every byte");

    int pids[8];
    for (long i = 0; i < writers; ++i) {
        pids[i] = fork();
        if (pids[i] == 0) console_writer();
        if (pids[i] < 0) {
            result(false, "fork a writer");
            return 1;
        }
    }
    sys::sleep(5); // the writers are writing
    uint64_t start = rdtime(), last = start, worst = 0, samples = 0;
    while (last - start < static_cast<uint64_t>(ms) * tb / 1000) {
        sys::uptime();
        uint64_t now = rdtime();
        if (now - last > worst) worst = now - last;
        last = now, ++samples;
    }
    for (long i = 0; i < writers; ++i) {
        kill(pids[i]);
        int status = 0;
        wait_for(pids[i], &status);
    }
    // Preempted by the timer, a process waits for the others' time slices
    // (one tick each on one hart) and for the chunk in progress; allow the
    // scheduler's own work one more chunk's worth.
    uint64_t harts_shared = static_cast<uint64_t>(writers);
    uint64_t bound = harts_shared * tick + 2 * chunk + tick / 10;
    printf("\nkcheck: console gap: worst %lu us over %lu uptime() calls with %ld writer(s) "
           "(tick %lu us, one chunk %lu us, bound %lu us)\n",
           us(worst), static_cast<unsigned long>(samples), writers, us(tick), us(chunk), us(bound));
    char why[96];
    snprintf(why, sizeof why, "worst gap %lu us, bound %lu us", us(worst), us(bound));
    result(worst < bound, "uptime() is never held up by console writes for long", why);
    return 0;
}

// ---- fp: floating-point state belongs to one thread -----------------------

// User code is soft-float (lp64, rv64imac): nothing but these touches the FP
// registers, so f5, f6 and fcsr keep what was put there unless the kernel
// lets another process's values through.
void fp_put(uint64_t v) {
    asm volatile(".option push\n.option arch, +d\n"
                 "fmv.d.x f5, %0\nfmv.d.x f6, %1\n"
                 ".option pop" ::"r"(v),
                 "r"(~v));
}
void fp_put_fcsr(uint64_t v) {
    asm volatile(".option push\n.option arch, +d\nfscsr %0\n.option pop" ::"r"(v));
}
struct FpRegs {
    uint64_t f5, f6, fcsr;
};
FpRegs fp_read() {
    FpRegs r;
    asm volatile(".option push\n.option arch, +d\n"
                 "fmv.x.d %0, f5\nfmv.x.d %1, f6\nfrcsr %2\n"
                 ".option pop"
                 : "=r"(r.f5), "=r"(r.f6), "=r"(r.fcsr));
    return r;
}

constexpr uint64_t kFpSecret = 0x5ec7e75ec7e70001;

int run_program(const char* arg) {
    int pid = fork();
    if (pid == 0) {
        char prog[] = "kcheck";
        char a[16];
        strncpy(a, arg, sizeof a - 1);
        a[sizeof a - 1] = 0;
        char* argv[] = {prog, a, nullptr};
        exec(prog, argv);
        exit(98);
    }
    int status = -1;
    if (pid < 0 || wait_for(pid, &status) != pid) return -1;
    return status;
}

// A child that puts its own pattern in f5/f6 and checks it for `ticks`
// ticks while another does the same (on one hart they preempt each other).
[[noreturn]] void fp_spinner(uint64_t pattern, int ticks) {
    fp_put(pattern);
    uint64_t bad = 0, rounds = 0;
    for (int end = uptime() + ticks; uptime() < end; ++rounds) {
        for (int i = 0; i < 1000; ++i) {
            FpRegs r = fp_read();
            if (r.f5 != pattern || r.f6 != ~pattern) {
                ++bad;
                fp_put(pattern);
            }
        }
    }
    if (bad) printf("# fp spinner %lx: %lu bad reads in %lu rounds\n", pattern, bad, rounds);
    exit(bad ? 1 : 0);
}

int cmd_fp() {
    // A process that exits with secrets in its FP registers and fcsr; the
    // next program must start with them all zero.
    int set = run_program("fp-set");
    int get = run_program("fp-get");
    result(set == 0 && get == 0, "a fresh program sees zeroed FP registers, not the last one's",
           get == 1 ? "it saw the previous program's values" : "helper failed");

    // Two processes using f5/f6 at once for 30 ticks.
    int pids[2];
    for (int i = 0; i < 2; ++i) {
        pids[i] = fork();
        if (pids[i] == 0) fp_spinner(0x1111111111111111ull * static_cast<uint64_t>(i + 3), 30);
    }
    // Reap both in whichever order they end (wait_for would drop the other
    // one's status if it ended first).
    bool kept = pids[0] > 0 && pids[1] > 0;
    for (int left = (pids[0] > 0) + (pids[1] > 0); left > 0; --left) {
        int status = -1;
        int w = wait(&status);
        if (w < 0) {
            printf("# fp: wait failed with %d spinner(s) left\n", left);
            kept = false;
            break;
        }
        if (w != pids[0] && w != pids[1]) {
            ++left; // not a spinner (none expected): keep waiting for them
            continue;
        }
        if (status != 0) {
            printf("# fp: spinner pid %d exited with status %d\n", w, status);
            kept = false;
        }
    }
    result(kept, "FP registers survive preemption by another FP user");

    // fork: the child starts with the parent's values, then each its own.
    fp_put(0xa0a0a0a0a0a0a0a0ull);
    fp_put_fcsr(0x21);
    int pid = fork();
    if (pid == 0) {
        FpRegs r = fp_read();
        bool same =
            r.f5 == 0xa0a0a0a0a0a0a0a0ull && r.f6 == ~0xa0a0a0a0a0a0a0a0ull && r.fcsr == 0x21;
        fp_put(0xb0b0b0b0b0b0b0b0ull);
        sleep(3);
        r = fp_read();
        bool own = r.f5 == 0xb0b0b0b0b0b0b0b0ull;
        if (!same || !own)
            printf("# fork child: f5 %lx fcsr %lx at the start, f5 %lx later\n",
                   static_cast<unsigned long>(r.f5), static_cast<unsigned long>(r.fcsr),
                   static_cast<unsigned long>(fp_read().f5));
        exit(same && own ? 0 : 1);
    }
    fp_put(0xc0c0c0c0c0c0c0c0ull);
    fp_put_fcsr(0x42);
    int status = -1;
    bool waited = pid > 0 && wait_for(pid, &status) == pid;
    FpRegs r = fp_read();
    result(waited && status == 0,
           "a forked child starts with its parent's FP registers, then its own");
    result(r.f5 == 0xc0c0c0c0c0c0c0c0ull && r.fcsr == 0x42,
           "the parent keeps its own after the fork");
    fp_put(0);
    fp_put_fcsr(0);
    return 0;
}

int cmd_fp_set() {
    fp_put(kFpSecret);
    fp_put_fcsr(0x3f);
    return 0;
}

int cmd_fp_get() {
    FpRegs r = fp_read();
    if (r.f5 || r.f6 || r.fcsr) {
        printf("# fp-get: f5 %lx f6 %lx fcsr %lx\n", static_cast<unsigned long>(r.f5),
               static_cast<unsigned long>(r.f6), static_cast<unsigned long>(r.fcsr));
        return 1;
    }
    return 0;
}

// ---- kill: a thread running on another hart is stopped promptly ----------

int cmd_kill(long rounds) {
    const uint64_t tb = timebase();
    auto us = [&](uint64_t t) { return static_cast<unsigned long>(t * 1000000 / tb); };
    long before = freeframes();
    // Test kernels count operations that found a suspended thread still on
    // its hart (mm's delete after its suspend): the suspend must leave none.
    const auto kRefusals = static_cast<uint64_t>(abi::Sys::DebugOnHartRefusals);
    int64_t refusals0 = sys::syscall(kRefusals);
    uint64_t worst = 0, total = 0;
    long failed = 0, slow = 0;
    for (long i = 0; i < rounds; ++i) {
        int pid = fork();
        if (pid == 0) {
            // In turn: user code only, lock-free system calls (the light
            // path without the lock), light calls that take the lock. The
            // kill must find the child wherever it is.
            for (uint64_t n = 0;; ++n) {
                asm volatile("" ::"r"(n));
                if (i % 3 == 1) (void)sys::uptime();
                if (i % 3 == 2) (void)sys::cap_info(0);
            }
        }
        if (pid < 0) {
            ++failed;
            continue;
        }
        // Mostly let it reach a hart of its own first; sometimes not.
        if (i % 4 != 3) sleep(1);
        uint64_t t0 = rdtime();
        int k = kill(pid);
        uint64_t t = rdtime() - t0;
        int status = 0;
        if (k != 0 || wait_for(pid, &status) != pid || status != -1) ++failed;
        total += t;
        if (t > worst) worst = t;
        if (t > tb / 100) ++slow; // longer than a tick
    }
    long after = frames_settle(before, 100);
    printf("kcheck: kill: %ld rounds, kill() took %lu us on average, worst %lu us, %ld longer "
           "than a tick\n",
           rounds, us(total / static_cast<uint64_t>(rounds)), us(worst), slow);
    result(failed == 0, "every spinning child is killed and reaped with status -1");
    char why[64];
    snprintf(why, sizeof why, "%ld frames before, %ld after", before, after);
    result(after == before, "every frame came back after the kills", why);
    if (refusals0 == abi::error_return(abi::Errno::NoSys)) {
        printf("# not a test kernel: suspend completion not counted\n");
    } else {
        int64_t refused = sys::syscall(kRefusals) - refusals0;
        printf("kcheck: kill: %ld operations found the suspended thread still on its hart\n",
               static_cast<long>(refused));
        snprintf(why, sizeof why, "%ld refusals", static_cast<long>(refused));
        result(refused == 0, "suspend returns only once the thread has left its hart", why);
    }
    return 0;
}

const tap_command kCommands[] = {
    {"gap",
     [](int argc, char** argv) {
         long ms = tap_number(argc, argv, 1, 1000), writers = tap_number(argc, argv, 2, 1);
         return ms < 0 || writers < 0 || writers > 8 ? TAP_USAGE : cmd_gap(ms, writers);
     },
     TAP_SUITE},
    {"kill",
     [](int argc, char** argv) {
         long rounds = tap_number(argc, argv, 1, 200);
         return rounds < 0 ? TAP_USAGE : cmd_kill(rounds);
     },
     TAP_SUITE},
    {"fp", [](int, char**) { return cmd_fp(); }, TAP_SUITE},
    {"fp-set", [](int, char**) { return cmd_fp_set(); }, TAP_PLAIN},
    {"fp-get", [](int, char**) { return cmd_fp_get(); }, TAP_PLAIN},
};

} // namespace

int main(int argc, char** argv) {
    return tap_main("kcheck", "kcheck gap [MS] [WRITERS] | fp | kill [ROUNDS]", kCommands,
                    sizeof kCommands / sizeof kCommands[0], argc, argv);
}
