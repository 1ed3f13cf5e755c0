/* bigmem: large memory in one and in several processes (issue 15), for
 * `--mem 8G` and other big machines; every case runs in a child of its
 * own and the free frames must come back (tap.h).
 *
 * Touching a page costs a fault and an IPC to mm, so on QEMU a case touches
 * one page in every kSample (and the first and last) of what it got: the
 * promise (sbrk) covers every page, the touches check that promised pages
 * are really there wherever they are. */
#include <stdio.h>
#include <stdlib.h>

#include "capframe/user.h"

#define TAP_WITH_PROCESSES
#include "tap.h"

#define PAGE 4096L
#define MIB (1L << 20)
#define BAD ((char*)-1)
#define STEP (256 * MIB) /* sbrk takes an int */

static const long kSample = 512; /* pages per touched page */

/* Grows the heap by `pages` in steps; the start, or BAD (the break then is
 * where the last successful step left it). */
static char* grow(long pages) {
    char* start = sbrk(0);
    for (long left = pages * PAGE; left > 0;) {
        long n = left > STEP ? STEP : left;
        if (sbrk((int)n) == BAD) return BAD;
        left -= n;
    }
    return start;
}

/* Writes a pattern into a sample of the pages and reads it back. */
static int touch(char* base, long pages, long tag) {
    for (long i = 0; i < pages; i += kSample)
        *(long*)(base + i * PAGE) = tag + i;
    *(long*)(base + (pages - 1) * PAGE) = tag - 1;
    for (long i = 0; i < pages; i += kSample)
        if (*(long*)(base + i * PAGE) != tag + i && i != pages - 1) return 0;
    return *(long*)(base + (pages - 1) * PAGE) == tag - 1;
}

static long g_free; /* free frames when the suite started */

/* One process promises 97% of the frames free at the start, touches a
 * sample of them and the last one; more than what is left must fail. */
static int t_one_takes_97(void) {
    long start = freeframes(), want = start * 97 / 100;
    char* p = grow(want);
    if (p == BAD) {
        printf("# sbrk of %ld pages (97%% of %ld) failed\n", want, start);
        return 1;
    }
    if (!touch(p, want, 1000)) return 2;
    long left = freeframes();
    printf("# one process: %ld of %ld free pages promised (97%%), %ld frames left\n", want, start,
           left);
    if (grow(left + 64) != BAD) return 3; /* more than is free was promised */
    return 0;
}

/* Four processes a fifth each at the same time. */
static int t_four_fifths(void) {
    int pids[4];
    for (int i = 0; i < 4; ++i) {
        pids[i] = fork();
        if (pids[i] < 0) return 10 + i;
        if (pids[i] == 0) {
            long want = g_free / 5;
            char* p = grow(want);
            if (p == BAD) {
                printf("# child %d: sbrk of %ld pages failed, %ld frames free\n", i, want,
                       freeframes());
                exit(1);
            }
            if (!touch(p, want, 7000 * (i + 1))) {
                printf("# child %d: its pages did not read back\n", i);
                exit(2);
            }
            sleep(50); /* while the others hold theirs */
            exit(touch(p, want, 9000 * (i + 1)) ? 0 : 3);
        }
    }
    int bad = 0; /* (wait, not wait_for: the four end together) */
    for (int i = 0; i < 4; ++i) {
        int st = -1, pid = wait(&st);
        if (pid < 0 || st != 0) {
            printf("# wait: pid %d status %d\n", pid, st);
            ++bad;
        }
    }
    return bad;
}

/* A large process forks; both sides write the shared pages. */
static int t_fork_large(void) {
    long pages = g_free / 4;
    char* p = grow(pages);
    if (p == BAD || !touch(p, pages, 100)) return 1;
    int pid = fork();
    if (pid < 0) return 2;
    if (pid == 0) exit(touch(p, pages, 200) ? 0 : 1);
    if (!touch(p, pages, 300)) return 3;
    int st = -1;
    if (wait_for(pid, &st) != pid || st != 0) return 4;
    return touch(p, pages, 300) ? 0 : 5; /* (re-written: our own copy) */
}

/* Promises until sbrk fails: a clean -1 at this size, no kill. */
static int t_exhaust(void) {
    long got = 0;
    while (sbrk((int)STEP) != BAD)
        got += STEP / PAGE;
    while (sbrk((int)MIB) != BAD)
        got += MIB / PAGE;
    printf("# exhaustion: %ld pages promised of %ld free, then sbrk returned -1\n", got, g_free);
    char* top = sbrk(0) - PAGE;
    *(long*)top = 1; /* the last promised page is there */
    return got > g_free * 9 / 10 ? 0 : 1;
}

int main(void) {
    g_free = freeframes();
    printf("# bigmem: %ld frames free (%ld MiB)\n", g_free, g_free * PAGE / MIB);
    (void)lock_stats(1, 0); /* the longest hold over these cases */
    tap_case("one-process-97", t_one_takes_97, TAP_EXIT_0, 200);
    tap_case("four-fifths", t_four_fifths, TAP_EXIT_0, 200);
    tap_case("fork-large", t_fork_large, TAP_EXIT_0, 200);
    tap_case("exhaust", t_exhaust, TAP_EXIT_0, 200);
    long now = frames_settle(g_free, 200);
    tap_result(now == g_free, "every frame back", "frames lost");
    uint64_t taken = 0;
    long longest = lock_stats(0, &taken);
    printf("# bigmem: longest kernel-lock hold %ld instructions retired over %lu acquisitions "
           "(exact only under -icount)\n",
           longest, (unsigned long)taken);
    return tap_done("bigmem");
}
