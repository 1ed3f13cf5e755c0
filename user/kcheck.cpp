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
//
// Exit status 0 if every check passed.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capframe/sys.h"
#include "capframe/user.h"

namespace abi = capframe::abi;

namespace {

int g_tests, g_failed;

void result(bool ok, const char* name, const char* why = "") {
    ++g_tests;
    if (ok) {
        printf("ok %d - %s\n", g_tests, name);
    } else {
        ++g_failed;
        printf("not ok %d - %s # %s\n", g_tests, name, why);
    }
}

long number(const char* s, long fallback) {
    if (!s) return fallback;
    char* end = nullptr;
    long v = strtol(s, &end, 0);
    return *s && !*end && v > 0 ? v : -1;
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

int usage() {
    printf("usage: kcheck gap [MS] [WRITERS]\n");
    return 2;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) return usage();
    const char* cmd = argv[1];
    const char* a2 = argc > 2 ? argv[2] : nullptr;
    const char* a3 = argc > 3 ? argv[3] : nullptr;
    int r;
    if (!strcmp(cmd, "gap")) {
        long s = number(a2, 1000), w = number(a3, 1);
        if (s < 0 || w < 0 || w > 8) return usage();
        r = cmd_gap(s, w);
    } else {
        return usage();
    }
    if (r) return r;
    printf("1..%d\n", g_tests);
    printf("kcheck: %s: %d passed, %d failed\n", cmd, g_tests - g_failed, g_failed);
    return g_failed ? 1 : 0;
}
