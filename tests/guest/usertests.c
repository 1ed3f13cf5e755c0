/* usertests: the process and memory test suite for the memory server (fork,
 * exec, wait, kill, sbrk, copy-on-write, demand paging, limits, faults).
 *
 * Every case runs in a child of its own: the case function's return value is
 * the child's exit status (0 = pass), and cases that must end in a fault
 * expect the child to be killed (status -1). After every case the runner
 * compares freeframes() with the count before it: a frame not given back is
 * a failure of that case ("frames lost: N").
 *
 * Output is TAP: "ok N - name" / "not ok N - name # reason" per case, lines
 * starting with "#" for details, the plan "1..N" last, then a summary line.
 *
 *   usertests            every case
 *   usertests -q         all but the slow ones
 *   usertests NAME...    only the named cases
 *   usertests -l         list the cases
 *
 * Exit status: 0 if every case passed, 1 otherwise (2: bad arguments). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capframe/layout.h"
#include "capframe/user.h"
#define TAP_WITH_PROCESSES
#include "tap.h"

/* The user address space: capframe/layout.h, the header abi.h derives from. */
#define PAGE ((unsigned long)CAPFRAME_PAGE_SIZE)
#define MAXVA ((unsigned long)CAPFRAME_MAX_VA)
#define TRAMPOLINE_VA ((unsigned long)CAPFRAME_TRAMPOLINE_VA)
#define TRAPFRAME_VA ((unsigned long)CAPFRAME_TRAPFRAME_VA)
#define USER_STACK_TOP ((unsigned long)CAPFRAME_USER_STACK_TOP)
#define USER_STACK_MAX ((unsigned long)CAPFRAME_USER_STACK_MAX)
#define STACK_GUARD_VA ((unsigned long)CAPFRAME_STACK_GUARD_VA)
#define MAX_ARGS CAPFRAME_MAX_ARGS
#define MAX_ARG_BYTES CAPFRAME_MAX_ARG_BYTES

#define KERNEL_VA 0x80200000UL       /* the kernel's first byte (physical = identity) */
#define HIGH_VA 0xffffffc000000000UL /* canonical Sv39 upper half */
#define TOP_VA 0xffffffffffffff00UL

#define MIB (1L << 20)
#define BAD ((char*)-1)
#define CALL_FAILED 42 /* status after the call under test (exec, fork, sbrk) returned -1 */

/* A diagnostic line, then fail the case. */
#define FAIL(...)                                                                                  \
    do {                                                                                           \
        printf("# ");                                                                              \
        printf(__VA_ARGS__);                                                                       \
        printf("\n");                                                                              \
        return 1;                                                                                  \
    } while (0)
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) FAIL(__VA_ARGS__);                                                            \
    } while (0)

static char* g_heap_start; /* the break when usertests started (nothing allocated yet) */
static int g_runner_pid;

/* libsys defines sbrk with picolibc's ptrdiff_t argument although
 * capframe/user.h declares xv6's int: this name for the same symbol reaches
 * the whole 64-bit increment. */
char* sbrk64(long n) __asm__("sbrk");

/* wait_for() and frames_settle() come from libsys: when usertests runs as
 * pid 1 orphans come to it, and init reaps others in its own time. */

static int align_break(void) {
    unsigned long b = (unsigned long)sbrk(0);
    if (b % PAGE == 0) return 0;
    return sbrk((int)(PAGE - b % PAGE)) == BAD ? -1 : 0;
}

/* Grows the heap step bytes at a time, touching every page, until sbrk
 * fails or max_bytes were added. Returns the bytes added. */
static long grow_until_fail(long step, long max_bytes) {
    long got = 0;
    while (got < max_bytes) {
        char* p = sbrk((int)step);
        if (p == BAD) break;
        for (long off = 0; off < step; off += PAGE)
            p[off] = (char)(off / PAGE + 1);
        got += step;
    }
    return got;
}

/* Makes the pages a child will write on the way (stack, stdio buffer) its
 * own now, so no copy-on-write fault needs a frame later (when memory is
 * exhausted, or to keep the frame counts of a case its own). */
static void own_pages(void) {
    fflush(stdout);
    prepare_write((void*)(USER_STACK_TOP - 8 * PAGE), 8 * PAGE);
}

/* ---- memory: malloc and sbrk ---- */

static int t_malloc_exhaust(void) {
    const long block = 64 * 1024;
    own_pages(); /* no copy-on-write fault of ours may need a frame when none are left */
    long cap = 2 * (freeframes() * (long)PAGE / block) + 64; /* more than all memory */
    void** head = 0;
    long n = 0;
    for (; n < cap; ++n) {
        char* b = malloc(block);
        if (!b) break;
        for (long off = 0; off < block; off += PAGE)
            b[off] = 1;
        *(void**)b = head;
        head = (void**)b;
    }
    while (head) { /* give it all back before printing anything */
        void** next = *head;
        free(head);
        head = next;
    }
    CHECK(n < cap, "malloc never failed (%ld blocks of 64 KiB)", n);
    CHECK(n >= 16, "malloc failed after only %ld blocks of 64 KiB", n);
    char* again = malloc(block);
    CHECK(again != 0, "malloc failed after freeing %ld blocks", n);
    memset(again, 0x5a, block);
    free(again);
    printf("# %ld blocks of 64 KiB before malloc failed\n", n);
    return 0;
}

static int t_sbrk_basic(void) {
    char* p = sbrk(PAGE);
    CHECK(p != BAD, "sbrk(4096) failed");
    CHECK(sbrk(0) == p + PAGE, "the break did not move by 4096");
    for (unsigned long i = 0; i < PAGE; ++i)
        CHECK(p[i] == 0, "new heap byte %lu is %d, not 0", i, p[i]);
    p[0] = 'a';
    p[PAGE - 1] = 'z';
    CHECK(p[0] == 'a' && p[PAGE - 1] == 'z', "heap did not keep what was written");
    char* q = sbrk(1);
    CHECK(q == p + PAGE, "sbrk(1) returned %p, not the old break", q);
    q[0] = 'q';
    CHECK(q[0] == 'q', "byte after sbrk(1)");
    return 0;
}

static int t_sbrk_large(void) {
    const long size = 8 * MIB;
    long f0 = freeframes();
    char* p = sbrk(size);
    CHECK(p != BAD, "sbrk(8 MiB) failed");
    for (long off = 0; off < size; off += PAGE)
        *(long*)(p + off) = off ^ 0x5a5a;
    for (long off = 0; off < size; off += PAGE)
        CHECK(*(long*)(p + off) == (off ^ 0x5a5a), "page at +%ld lost its contents", off);
    long used = f0 - freeframes();
    CHECK(used >= size / (long)PAGE, "8 MiB touched but only %ld frames used", used);
    return 0;
}

static int t_sbrk_negative(void) {
    CHECK(align_break() == 0, "sbrk to a page boundary failed");
    char* p = sbrk(4 * PAGE);
    CHECK(p != BAD, "sbrk(4 pages) failed");
    memset(p, 0xab, 4 * PAGE);
    long f1 = freeframes();
    char* old = sbrk(-4 * (int)PAGE);
    CHECK(old == p + 4 * PAGE, "sbrk(-4 pages) returned %p, not the old break %p", old,
          p + 4 * PAGE);
    CHECK(sbrk(0) == p, "the break is %p after shrinking, not %p", sbrk(0), p);
    long given = freeframes() - f1;
    CHECK(given >= 4, "shrinking by 4 touched pages gave back %ld frames", given);
    char* q = sbrk(4 * PAGE);
    CHECK(q == p, "growing again returned %p, not %p", q, p);
    for (unsigned long i = 0; i < 4 * PAGE; ++i)
        CHECK(q[i] == 0, "byte %lu reads %d after shrink and regrow, not 0", i, q[i]);
    /* a shrink that ends inside a page keeps that page */
    memset(q, 0xcd, 2 * PAGE);
    CHECK(sbrk(-(int)PAGE - 1) != BAD, "sbrk(-(4096 + 1)) failed");
    CHECK((unsigned char)q[0] == 0xcd && (unsigned char)q[PAGE - 2] == 0xcd,
          "a partly freed page lost its contents");
    return 0;
}

/* More than mm has free must fail and change nothing, whatever the RAM:
 * the size comes from freeframes(), so the case means the same on 256 MiB
 * and on 4 GiB (where a fixed sbrk(0x7fffffff) may simply succeed). */
static int t_sbrk_huge(void) {
    CHECK(align_break() == 0, "sbrk to a page boundary failed");
    char* b0 = sbrk(0);
    long f0 = freeframes();
    CHECK(f0 > 0, "freeframes() returned %ld", f0);
    long over[] = {(f0 + 1) * (long)PAGE, 2 * f0 * (long)PAGE, 0x7fffffffL};
    for (unsigned i = 0; i < sizeof over / sizeof over[0]; ++i) {
        if (over[i] <= f0 * (long)PAGE) continue; /* 0x7fffffff fits on a big machine */
        CHECK(sbrk64(over[i]) == BAD, "sbrk(%ld) succeeded with %ld frames free", over[i], f0);
        CHECK(sbrk(0) == b0, "a failed sbrk(%ld) moved the break from %p to %p", over[i], b0,
              sbrk(0));
        long f = freeframes();
        CHECK(f == f0, "a failed sbrk(%ld) changed the free frames from %ld to %ld", over[i], f0,
              f);
    }
    CHECK(sbrk(-0x7fffffff) == BAD, "sbrk(-0x7fffffff) succeeded");
    CHECK(sbrk(INT_MIN) == BAD, "sbrk(INT_MIN) succeeded");
    CHECK(sbrk(0) == b0, "a failed sbrk moved the break from %p to %p", b0, sbrk(0));
    char* p = sbrk(PAGE);
    CHECK(p == b0, "sbrk(4096) after the failures returned %p", p);
    p[0] = 1;
    p[PAGE - 1] = 2;
    CHECK(p[0] == 1 && p[PAGE - 1] == 2, "heap not usable after the failures");
    return 0;
}

static int t_sbrk_wrap(void) {
    char* b0 = sbrk(0);
    unsigned long b = (unsigned long)b0;
    struct {
        long n;
        const char* what;
    } bad[] = {
        {-(long)(b - (unsigned long)g_heap_start) - 1, "one byte below the heap start"},
        {-(long)b - (long)PAGE, "below address 0 (wraps to the top)"},
        {LONG_MIN, "LONG_MIN"},
        {LONG_MAX, "LONG_MAX"},
        {(long)(0UL - b), "up to 2^64 (wraps to 0)"},
        {(long)(STACK_GUARD_VA + 2 * PAGE - b), "into the stack"},
        {(long)(USER_STACK_TOP - b), "over the stack"},
        {(long)(MAXVA - b), "to MAXVA"},
        {(long)(HIGH_VA - b), "into the upper half"},
    };
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        char* r = sbrk64(bad[i].n);
        CHECK(r == BAD, "sbrk(%ld), %s, returned %p", bad[i].n, bad[i].what, r);
        CHECK(sbrk(0) == b0, "sbrk(%ld), %s, moved the break to %p", bad[i].n, bad[i].what,
              sbrk(0));
    }
    char* p = sbrk(PAGE);
    CHECK(p == b0, "sbrk(4096) afterwards returned %p", p);
    p[0] = 7;
    CHECK(sbrk(-2 * (int)PAGE - (int)(b - (unsigned long)g_heap_start)) == BAD,
          "shrinking below the heap start succeeded");
    CHECK(p[0] == 7, "heap changed by a failed shrink");
    return 0;
}

static int t_oom_children(void) {
    enum { kids = 8 };
    long cap = (freeframes() * (long)PAGE) * 2 + 16 * MIB; /* more than memory */
    int pids[kids];
    for (int i = 0; i < kids; ++i) {
        pids[i] = fork();
        CHECK(pids[i] >= 0, "fork %d failed", i);
        if (pids[i] == 0) {
            own_pages();
            sleep(5); /* until the parent has forked them all and waits */
            exit(grow_until_fail(MIB, cap) < cap ? 0 : 2);
        }
    }
    int bad = 0;
    for (int i = 0; i < kids; ++i) {
        int st = 0;
        int w = wait(&st);
        CHECK(w > 0, "wait failed with %d of %d children reaped", i, kids);
        if (st != 0) {
            printf("# child pid %d: status %d%s\n", w, st,
                   st == 2    ? " (sbrk never failed)"
                   : st == -1 ? " (killed)"
                              : "");
            ++bad;
        }
    }
    CHECK(bad == 0, "%d of %d children did not end normally", bad, kids);
    char* p = sbrk(MIB);
    CHECK(p != BAD, "sbrk(1 MiB) failed after the children ended");
    memset(p, 1, MIB);
    char* m = malloc(MIB);
    CHECK(m != 0, "malloc(1 MiB) failed after the children ended");
    memset(m, 2, MIB);
    return 0;
}

/* ---- injected allocation failures: mm_fail_alloc(n) for n = 1..40 ---- */

#define FAILALLOC_MAX 40

static int t_failalloc_exec(void) {
    own_pages(); /* our own first copy-on-write breaks are not losses */
    long base = freeframes();
    int ran = 0, failed = 0;
    for (int n = 1; n <= FAILALLOC_MAX; ++n) {
        int pid = fork();
        CHECK(pid >= 0, "fork failed at n=%d", n);
        if (pid == 0) {
            char* argv[] = {"true", "failalloc", "with", "arguments", 0};
            own_pages();
            mm_fail_alloc(n);
            exec("true", argv);
            mm_fail_alloc(0);
            exit(CALL_FAILED);
        }
        int st;
        CHECK(wait_for(pid, &st) == pid, "wait failed at n=%d", n);
        mm_fail_alloc(0);
        if (st == 0)
            ++ran;
        else if (st == CALL_FAILED)
            ++failed;
        else if (st == -1)
            FAIL("n=%d: killed (mm_fail_alloc fails only the next request)", n);
        else
            FAIL("n=%d: child status %d", n, st);
        long now = frames_settle(base, 50);
        CHECK(now == base, "n=%d: frames lost: %ld", n, base - now);
    }
    printf("# exec under injected failures: %d ran, %d returned -1\n", ran, failed);
    CHECK(failed >= 1, "exec never noticed an injected allocation failure");
    return 0;
}

static int t_failalloc_fork(void) {
    own_pages();
    long base = freeframes();
    int forked = 0, failed = 0;
    for (int n = 1; n <= FAILALLOC_MAX; ++n) {
        /* a helper arms the failure and forks */
        int helper = fork();
        CHECK(helper >= 0, "fork of the helper failed at n=%d", n);
        if (helper == 0) {
            own_pages();
            mm_fail_alloc(n);
            int pid = fork();
            if (pid == 0) exit(7);
            mm_fail_alloc(0);
            if (pid < 0) exit(CALL_FAILED);
            int st;
            if (wait_for(pid, &st) != pid) exit(3);
            exit(st == 7 ? 0 : 4);
        }
        int st;
        CHECK(wait_for(helper, &st) == helper, "wait failed at n=%d", n);
        mm_fail_alloc(0);
        if (st == 0)
            ++forked;
        else if (st == CALL_FAILED)
            ++failed;
        else
            FAIL("n=%d: helper status %d", n, st);
        long now = frames_settle(base, 50);
        CHECK(now == base, "n=%d: frames lost: %ld", n, base - now);
    }
    printf("# fork under injected failures: %d forked, %d returned -1\n", forked, failed);
    CHECK(failed >= 1, "fork never returned -1 under an injected allocation failure");
    CHECK(forked >= 1, "fork never succeeded with the failure %d allocations away", FAILALLOC_MAX);
    return 0;
}

static int t_failalloc_sbrk(void) {
    own_pages();
    long base = freeframes();
    int grown = 0, failed = 0;
    for (int n = 1; n <= FAILALLOC_MAX; ++n) {
        int pid = fork();
        CHECK(pid >= 0, "fork failed at n=%d", n);
        if (pid == 0) {
            own_pages();
            mm_fail_alloc(n);
            char* p = sbrk(MIB);
            if (p == BAD) {
                mm_fail_alloc(0);
                exit(CALL_FAILED);
            }
            for (long off = 0; off < MIB; off += PAGE)
                p[off] = 1;
            mm_fail_alloc(0);
            for (long off = 0; off < MIB; off += PAGE)
                if (p[off] != 1) exit(5);
            exit(0);
        }
        int st;
        CHECK(wait_for(pid, &st) == pid, "wait failed at n=%d", n);
        mm_fail_alloc(0);
        if (st == 0)
            ++grown;
        else if (st == CALL_FAILED)
            ++failed;
        else if (st == -1)
            FAIL("n=%d: killed (mm_fail_alloc fails only the next request)", n);
        else
            FAIL("n=%d: child status %d", n, st);
        long now = frames_settle(base, 50);
        CHECK(now == base, "n=%d: frames lost: %ld", n, base - now);
    }
    printf("# sbrk(1 MiB) + touch under injected failures: %d grew, %d returned -1\n", grown,
           failed);
    CHECK(failed >= 1, "sbrk never returned -1 under an injected allocation failure");
    return 0;
}

/* ---- processes ---- */

#define FORK_MAX 16384
static int g_kids[FORK_MAX];

static int t_fork_exhaust(void) {
    int n = 0;
    for (; n < FORK_MAX; ++n) {
        int pid = fork();
        if (pid < 0) break;
        if (pid == 0) {
            sleep(10000);
            exit(0);
        }
        g_kids[n] = pid;
    }
    int refused = 0;
    for (int i = 0; i < n; ++i)
        if (kill(g_kids[i]) != 0) ++refused;
    int reaped = 0, not_killed = 0, st;
    while (wait(&st) >= 0) {
        ++reaped;
        if (st != -1) ++not_killed;
    }
    CHECK(n < FORK_MAX, "fork never failed (%d children)", n);
    CHECK(n >= 1, "not even one fork succeeded");
    CHECK(refused == 0, "kill failed for %d of %d children", refused, n);
    CHECK(reaped == n, "reaped %d of %d children", reaped, n);
    CHECK(not_killed == 0, "%d children ended with a status other than -1", not_killed);
    printf("# %d children before fork failed\n", n);
    return 0;
}

/* depth levels of 3 children each; returns 0 if every fork and child was fine */
static int fork_tree(int depth) {
    int n = 0, bad = 0;
    for (int i = 0; i < 3; ++i) {
        int pid = fork();
        if (pid < 0) {
            bad = 1;
            break;
        }
        if (pid == 0) exit(depth > 1 ? fork_tree(depth - 1) : 0);
        ++n;
    }
    for (int i = 0; i < n; ++i) {
        int st;
        if (wait(&st) < 0 || st != 0) bad = 1;
    }
    return bad;
}

static int t_fork_tree(void) {
    for (int round = 0; round < 10; ++round)
        CHECK(fork_tree(3) == 0, "round %d: a fork or a child failed", round);
    return 0;
}

static int t_reparent(void) {
    for (int i = 0; i < 50; ++i) {
        int pid = fork();
        CHECK(pid >= 0, "fork failed in round %d", i);
        if (pid == 0) {
            int g = fork();
            if (g < 0) exit(1);
            if (g == 0) {
                if (i % 2) sleep(1); /* odd rounds: outlive the parent for a while */
                exit(0);
            }
            exit(0); /* without waiting: the grandchild goes to init */
        }
        int st;
        CHECK(wait_for(pid, &st) == pid, "wait failed in round %d", i);
        CHECK(st == 0, "round %d: child status %d", i, st);
    }
    int st;
    CHECK(wait(&st) == -1, "wait returned a grandchild: they belong to init");
    return 0;
}

static int t_exec_loop(void) {
    for (int i = 0; i < 200; ++i) {
        int pid = fork();
        CHECK(pid >= 0, "fork failed in round %d", i);
        if (pid == 0) {
            char* argv[] = {"true", 0};
            exec("true", argv);
            exit(CALL_FAILED);
        }
        int st;
        CHECK(wait_for(pid, &st) == pid, "wait failed in round %d", i);
        CHECK(st == 0, "round %d: status %d", i, st);
    }
    return 0;
}

static int t_kill_sleeper(void) {
    int pid = fork();
    CHECK(pid >= 0, "fork failed");
    if (pid == 0) {
        sleep(1000);
        exit(0);
    }
    sleep(2);
    CHECK(kill(pid) == 0, "kill(%d) failed", pid);
    int st;
    CHECK(wait_for(pid, &st) == pid, "wait failed");
    CHECK(st == -1, "a killed child has status %d, not -1", st);
    CHECK(kill(pid) == -1, "kill of a reaped pid succeeded");
    return 0;
}

static int t_kill_spinner(void) {
    int pid = fork();
    CHECK(pid >= 0, "fork failed");
    if (pid == 0) {
        volatile unsigned long spin = 0;
        for (;;)
            ++spin;
    }
    sleep(2);
    CHECK(kill(pid) == 0, "kill(%d) failed", pid);
    int st;
    CHECK(wait_for(pid, &st) == pid, "wait failed");
    CHECK(st == -1, "a killed child has status %d, not -1", st);
    return 0;
}

static int t_kill_bad(void) {
    CHECK(kill(1) == -1, "kill(1) was not refused");
    CHECK(kill(-1) == -1, "kill(-1) succeeded");
    CHECK(kill(1 << 30) == -1, "kill of a pid that never existed succeeded");
    return 0;
}

static int t_wait_none(void) {
    int st = 12345;
    CHECK(wait(&st) == -1, "wait with no children did not return -1");
    CHECK(wait(0) == -1, "wait(0) with no children did not return -1");
    return 0;
}

static int t_exit_status(void) {
    static const int codes[] = {0, 1, 2, 127, 255, 1000};
    for (unsigned i = 0; i < sizeof codes / sizeof codes[0]; ++i) {
        int pid = fork();
        CHECK(pid >= 0, "fork failed");
        if (pid == 0) exit(codes[i]);
        int st;
        CHECK(wait_for(pid, &st) == pid, "wait failed");
        CHECK(st == codes[i], "exit(%d) arrived as status %d", codes[i], st);
    }
    int pid = fork();
    CHECK(pid >= 0, "fork failed");
    if (pid == 0) exit(9);
    int w = wait(0); /* no status wanted */
    CHECK(w == pid, "wait(0) returned %d, not %d", w, pid);
    return 0;
}

static int t_getpid(void) {
    int me = getpid();
    CHECK(me > 0, "getpid returned %d", me);
    CHECK(getpid() == me, "getpid changed between calls");
    CHECK(me != g_runner_pid, "child has its parent's pid %d", me);
    int pid = fork();
    CHECK(pid >= 0, "fork failed");
    if (pid == 0) exit(getpid() % 100 + 1);
    CHECK(pid != me, "fork returned the parent's own pid");
    int st;
    CHECK(wait_for(pid, &st) == pid, "wait failed");
    CHECK(st == pid % 100 + 1, "child's getpid disagrees with fork's %d (status %d)", pid, st);
    return 0;
}

static int t_uptime(void) {
    int t0 = uptime();
    CHECK(sleep(2) == 0, "sleep(2) failed");
    int t1 = uptime();
    CHECK(t1 - t0 >= 2, "uptime went from %d to %d across sleep(2)", t0, t1);
    CHECK(t1 - t0 < 500, "sleep(2) took %d ticks", t1 - t0);
    CHECK(sleep(-1) == -1, "sleep(-1) succeeded");
    return 0;
}

static int t_getproc(void) {
    struct procinfo pi;
    int me = getpid(), found = 0, n = 0;
    for (int i = 0; getproc(i, &pi) == 0 && n < 100000; ++i, ++n) {
        if (pi.pid != me) continue;
        ++found;
        CHECK(pi.parent == g_runner_pid, "getproc: parent %d, not %d", pi.parent, g_runner_pid);
        CHECK(pi.state == 1, "getproc: state %d, not running (1)", pi.state);
        CHECK(pi.frames > 0, "getproc: %ld frames", pi.frames);
        CHECK(strncmp(pi.name, "usertest", 8) == 0, "getproc: name '%s'", pi.name);
    }
    CHECK(found == 1, "own pid listed %d times", found);
    CHECK(n >= 2, "only %d processes listed", n);
    CHECK(getproc(-1, &pi) == -1, "getproc(-1) succeeded");
    return 0;
}

static int t_programs(void) {
    static const char* const want[] = {"init", "sh", "echo", "true", "usertests"};
    int seen[sizeof want / sizeof want[0]] = {0};
    char name[64];
    int n = 0;
    for (; program_name(n, name, sizeof name) == 0 && n < 100000; ++n)
        for (unsigned k = 0; k < sizeof want / sizeof want[0]; ++k)
            if (strcmp(name, want[k]) == 0) ++seen[k];
    for (unsigned k = 0; k < sizeof want / sizeof want[0]; ++k)
        CHECK(seen[k] == 1, "'%s' is listed %d times", want[k], seen[k]);
    CHECK(program_name(-1, name, sizeof name) == -1, "program_name(-1) succeeded");
    CHECK(program_name(n, name, sizeof name) == -1, "program_name past the end succeeded");
    return 0;
}

static int t_freeframes(void) {
    CHECK(align_break() == 0, "sbrk to a page boundary failed");
    long f0 = freeframes();
    CHECK(f0 > 0, "freeframes() returned %ld", f0);
    char* p = sbrk(16 * PAGE);
    CHECK(p != BAD, "sbrk(16 pages) failed");
    memset(p, 3, 16 * PAGE);
    long f1 = freeframes();
    CHECK(f0 - f1 >= 16, "16 touched pages took %ld frames", f0 - f1);
    CHECK(sbrk(-16 * (int)PAGE) == p + 16 * PAGE, "shrinking failed");
    long f2 = freeframes();
    CHECK(f2 - f1 >= 16, "freeing 16 pages gave back %ld frames", f2 - f1);
    return 0;
}

/* ---- copy-on-write ---- */

static int g_cow_global = 1234;

static char pattern(unsigned long i, int which) {
    return (char)(i * (unsigned long)(2 * which + 5) + (unsigned long)which);
}
static void fill(char* p, int which) {
    for (unsigned long i = 0; i < 8 * PAGE; ++i)
        p[i] = pattern(i, which);
}
static int holds(const char* p, int which) {
    for (unsigned long i = 0; i < 8 * PAGE; ++i)
        if (p[i] != pattern(i, which)) return 0;
    return 1;
}

static int t_cow(void) {
    CHECK(align_break() == 0, "sbrk to a page boundary failed");
    char* buf = sbrk(8 * PAGE);
    CHECK(buf != BAD, "sbrk(8 pages) failed");
    fill(buf, 1);
    int local = 77;

    /* the child writes: the parent must not see it */
    int pid = fork();
    CHECK(pid >= 0, "fork failed");
    if (pid == 0) {
        if (!holds(buf, 1)) exit(2);
        fill(buf, 2);
        if (!holds(buf, 2)) exit(3);
        g_cow_global = 5678;
        local = 88;
        exit(g_cow_global == 5678 && local == 88 ? 0 : 4);
    }
    int st;
    CHECK(wait_for(pid, &st) == pid, "wait failed");
    CHECK(st == 0, "child: status %d (2: did not see the parent's data, 3: own writes lost)", st);
    CHECK(holds(buf, 1), "the parent's heap changed when the child wrote");
    CHECK(g_cow_global == 1234, "the parent's global changed to %d", g_cow_global);
    CHECK(local == 77, "the parent's stack changed");

    /* the parent writes while the child is alive: the child must not see it */
    pid = fork();
    CHECK(pid >= 0, "fork failed");
    if (pid == 0) {
        sleep(3);
        exit(holds(buf, 1) ? 0 : 5);
    }
    fill(buf, 3);
    CHECK(wait_for(pid, &st) == pid, "wait failed");
    CHECK(st == 0, "the child saw the parent's later writes (status %d)", st);
    CHECK(holds(buf, 3), "the parent's own writes were lost");
    return 0;
}

static int t_cow_grandchild(void) {
    CHECK(align_break() == 0, "sbrk to a page boundary failed");
    char* buf = sbrk(8 * PAGE);
    CHECK(buf != BAD, "sbrk(8 pages) failed");
    fill(buf, 1);
    int pid = fork();
    CHECK(pid >= 0, "fork failed");
    if (pid == 0) {
        int g = fork();
        if (g < 0) exit(10);
        if (g == 0) {
            if (!holds(buf, 1)) exit(2);
            fill(buf, 4);
            exit(holds(buf, 4) ? 0 : 3);
        }
        int st;
        if (wait_for(g, &st) != g) exit(11);
        if (st != 0) exit(st);
        if (!holds(buf, 1)) exit(12); /* the grandchild's writes leaked up */
        fill(buf, 2);
        exit(holds(buf, 2) ? 0 : 13);
    }
    int st;
    CHECK(wait_for(pid, &st) == pid, "wait failed");
    CHECK(st == 0, "child/grandchild: status %d", st);
    CHECK(holds(buf, 1), "the top process's heap changed");
    return 0;
}

/* ---- faults: each must kill the process (status -1) ---- */

static int poke_read(unsigned long va) {
    volatile char* p = (volatile char*)va;
    char c = *p;
    printf("# read 0x%lx gave %d and the process lives\n", va, c);
    return 1;
}

static int poke_write(unsigned long va) {
    volatile char* p = (volatile char*)va;
    *p = 1;
    printf("# write to 0x%lx and the process lives\n", va);
    return 1;
}

/* clang-format off */
static int t_kernel_read(void) { return poke_read(KERNEL_VA); }
static int t_kernel_write(void) { return poke_write(KERNEL_VA); }
static int t_trampoline_read(void) { return poke_read(TRAMPOLINE_VA); }
static int t_trampoline_write(void) { return poke_write(TRAMPOLINE_VA); }
static int t_trapframe_read(void) { return poke_read(TRAPFRAME_VA); }
static int t_trapframe_write(void) { return poke_write(TRAPFRAME_VA); }
static int t_maxva_read(void) { return poke_read(MAXVA); }
static int t_maxva_write(void) { return poke_write(MAXVA); }
static int t_high_read(void) { return poke_read(HIGH_VA); }
static int t_high_write(void) { return poke_write(HIGH_VA); }
static int t_top_read(void) { return poke_read(TOP_VA); }
static int t_top_write(void) { return poke_write(TOP_VA); }
static int t_null_read(void) { return poke_read(0); }
static int t_guard_read(void) { return poke_read(STACK_GUARD_VA); }
/* clang-format on */

/* the whole stack first (legal), then one byte below it */
static int t_guard_write(void) {
    *(volatile char*)(STACK_GUARD_VA + PAGE) = 1;
    return poke_write(STACK_GUARD_VA + PAGE - 1);
}

static int t_text_write(void) {
    return poke_write((unsigned long)&t_text_write);
}

static int t_rodata_write(void) {
    static const char text[] = "read-only";
    return poke_write((unsigned long)text);
}

/* "ret" (jalr x0, 0(ra)) where no code may run */
static int run_code_at(unsigned int* code) {
    code[0] = 0x00008067;
    asm volatile("fence.i" ::: "memory");
    ((void (*)(void))(uintptr_t)code)();
    printf("# code ran at %p\n", (void*)code);
    return 1;
}

static int t_heap_exec(void) {
    unsigned int* code = malloc(64);
    if (!code) FAIL("malloc failed");
    return run_code_at(code);
}

static int t_stack_exec(void) {
    unsigned int code[4];
    return run_code_at(code);
}

/* The stack grows on demand down to the page above the guard, zero-filled.
 * Pages well below where the stack pointer is are written directly. */
static int t_stack_grow(void) {
    volatile char here = 0;
    unsigned long below = ((unsigned long)&here & ~(PAGE - 1)) - 4 * PAGE;
    unsigned long bottom = STACK_GUARD_VA + PAGE;
    unsigned long never_used = USER_STACK_TOP - 128 * 1024; /* below: no call went this deep */
    for (unsigned long va = below; va >= bottom; va -= PAGE) {
        volatile char* p = (volatile char*)va;
        CHECK(va >= never_used || (p[0] == 0 && p[PAGE - 1] == 0),
              "new stack page 0x%lx is not zero", va);
        p[0] = (char)(va >> 12);
        p[PAGE - 1] = (char)(va >> 13);
    }
    for (unsigned long va = below; va >= bottom; va -= PAGE) {
        volatile char* p = (volatile char*)va;
        CHECK(p[0] == (char)(va >> 12) && p[PAGE - 1] == (char)(va >> 13),
              "stack page 0x%lx lost its contents", va);
    }
    (void)here;
    return 0;
}

/* ---- system calls with bad arguments ---- */

static int t_wild_syscalls(void) {
    char* argv[] = {"echo", "#", "wild", 0};
    char* wild_argv[] = {"echo", (char*)KERNEL_VA, 0};
    CHECK(write(1, (void*)KERNEL_VA, 10) == -1, "write from the kernel");
    CHECK(write(1, (void*)MAXVA, 5) == -1, "write from MAXVA");
    CHECK(write(1, (void*)(MAXVA - 2), 5) == -1, "write across MAXVA");
    CHECK(write(1, (void*)HIGH_VA, 5) == -1, "write from the upper half");
    CHECK(write(1, (void*)TRAMPOLINE_VA, 5) == -1, "write from the trampoline");
    CHECK(write(1, (void*)0, 5) == -1, "write from address 0");
    CHECK(read(0, (void*)KERNEL_VA, 1) == -1, "read into the kernel");
    CHECK(read(0, (void*)TRAPFRAME_VA, 1) == -1, "read into the trapframe");
    CHECK(read(0, (void*)(uintptr_t)&t_wild_syscalls, 1) == -1, "read into the text segment");
    CHECK(exec((char*)KERNEL_VA, argv) == -1, "exec of a kernel-address path");
    CHECK(exec((char*)(MAXVA - 1), argv) == -1, "exec of a path at MAXVA - 1");
    CHECK(exec("echo", (char**)HIGH_VA) == -1, "exec with argv in the upper half");
    CHECK(exec("echo", (char**)KERNEL_VA) == -1, "exec with argv in the kernel");
    CHECK(exec("echo", wild_argv) == -1, "exec with an argument in the kernel");
    CHECK(exec("echo", (char**)(MAXVA - 8)) == -1, "exec with argv running past MAXVA");

    /* wait with a bad status pointer: -1, and the child stays to be reaped */
    int pid = fork();
    CHECK(pid >= 0, "fork failed");
    if (pid == 0) exit(7);
    int w = wait((int*)KERNEL_VA);
    CHECK(w == -1, "wait(kernel address) returned %d", w);
    int st = 0;
    w = wait(&st);
    CHECK(w == pid && st == 7, "after the failed wait, wait gave pid %d status %d", w, st);
    return 0;
}

static int t_exec_args(void) {
    static char* argv[MAX_ARGS + 2];
    char* before = sbrk(0);
    argv[0] = "echo";
    for (int i = 1; i <= MAX_ARGS; ++i)
        argv[i] = "x";
    argv[MAX_ARGS + 1] = 0;
    CHECK(exec("echo", argv) == -1, "exec with %d arguments", MAX_ARGS + 1);
    CHECK(sbrk(0) == before, "a failed exec moved the break");

    char* big = malloc(3001);
    CHECK(big != 0, "malloc failed");
    memset(big, 'y', 3000);
    big[3000] = 0;
    char* one[] = {"echo", big, 0};
    CHECK(exec("echo", one) == -1, "exec with a 3000-byte argument");
    /* "echo" NUL "#" NUL big NUL: 2049 bytes, one over */
    big[MAX_ARG_BYTES - 5 - 2 - 1 + 1] = 0;
    char* over[] = {"echo", "#", big, 0};
    CHECK(exec("echo", over) == -1, "exec with %d bytes of arguments", MAX_ARG_BYTES + 1);

    /* exactly the limits: must work ("true" NUL "#" NUL big NUL is 2048) */
    big[MAX_ARG_BYTES - 5 - 2 - 1] = 0;
    char* exact[] = {"true", "#", big, 0};
    char* most[MAX_ARGS + 1];
    most[0] = "true";
    most[1] = "#";
    for (int i = 2; i < MAX_ARGS; ++i)
        most[i] = "x";
    most[MAX_ARGS] = 0;
    char** ok[] = {exact, most};
    for (int k = 0; k < 2; ++k) {
        int pid = fork();
        CHECK(pid >= 0, "fork failed");
        if (pid == 0) {
            exec("true", ok[k]);
            exit(CALL_FAILED);
        }
        int st;
        CHECK(wait_for(pid, &st) == pid, "wait failed");
        CHECK(st == 0, "exec with %s: status %d",
              k == 0 ? "exactly 2048 bytes of arguments" : "the most arguments", st);
    }
    free(big);
    return 0;
}

static int t_exec_bad(void) {
    char name[64];
    int n = 0, wrong = 0;
    for (int i = 0; program_name(i, name, sizeof name) == 0; ++i) {
        if (strncmp(name, "bad-", 4) != 0) continue;
        ++n;
        int pid = fork();
        CHECK(pid >= 0, "fork failed");
        if (pid == 0) {
            char* argv[] = {name, 0};
            exec(name, argv);
            exit(CALL_FAILED);
        }
        int st;
        CHECK(wait_for(pid, &st) == pid, "wait failed");
        if (st != CALL_FAILED) {
            printf("# exec(\"%s\") did not return -1 (status %d)\n", name, st);
            ++wrong;
        }
    }
    CHECK(wrong == 0, "%d of %d malformed executables were not refused", wrong, n);
    CHECK(n >= 10, "only %d bad-* files in the archive", n);
    printf("# %d malformed executables refused\n", n);
    return 0;
}

static int t_exec_missing(void) {
    static char longname[300];
    memset(longname, 'e', sizeof longname - 1);
    const char* names[] = {"nosuchprogram", "", "ech", "echoo", "echo ", longname};
    char* before = sbrk(0);
    g_cow_global = 4321;
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; ++i) {
        char* argv[] = {(char*)names[i], 0};
        CHECK(exec(names[i], argv) == -1, "exec(\"%.20s\") did not return -1", names[i]);
    }
    CHECK(sbrk(0) == before, "a failed exec moved the break");
    CHECK(g_cow_global == 4321, "a failed exec changed the data segment");
    return 0;
}

/* ---- limits ---- */

#define LIMIT_FRAMES 2048L

static int t_limit(void) {
    own_pages();
    CHECK(setlimit(0, LIMIT_FRAMES) == 0, "setlimit(0, %ld) failed", LIMIT_FRAMES);
    CHECK(align_break() == 0, "sbrk to a page boundary failed");
    long step = 16 * (long)PAGE;
    long got = grow_until_fail(step, 4 * LIMIT_FRAMES * (long)PAGE) / (long)PAGE;
    CHECK(sbrk(-(int)(got * (long)PAGE)) != BAD, "shrinking back failed");
    CHECK(got <= LIMIT_FRAMES, "grew by %ld pages under a limit of %ld frames", got, LIMIT_FRAMES);
    CHECK(got >= LIMIT_FRAMES / 2, "grew by only %ld pages under a limit of %ld", got,
          LIMIT_FRAMES);

    /* hold a quarter; a child of ours shares the limit (its fork holds a
       frame for each copy-on-write copy, another quarter, in the tree too) */
    long held = LIMIT_FRAMES / 4;
    char* h = sbrk((int)(held * (long)PAGE));
    CHECK(h != BAD, "sbrk(%ld pages) failed under the limit", held);
    for (long i = 0; i < held; ++i)
        h[i * (long)PAGE] = 1;
    int pid = fork();
    CHECK(pid >= 0, "fork failed under the limit");
    if (pid == 0) {
        own_pages();
        sleep(2); /* let the parent settle in wait() before the tree runs out */
        long g = grow_until_fail(step, 4 * LIMIT_FRAMES * (long)PAGE) / (long)PAGE;
        sbrk(-(int)(g * (long)PAGE));
        exit(g + held <= LIMIT_FRAMES ? 0 : 1);
    }
    int st;
    CHECK(wait_for(pid, &st) == pid, "wait failed");
    CHECK(st == 0, "the child grew past the tree's limit (status %d)", st);
    printf("# alone: %ld pages; a child beside %ld held pages: within the limit\n", got, held);
    return 0;
}

static int t_limit_fork(void) {
    struct procinfo pi;
    int me = getpid();
    long mine = -1;
    own_pages(); /* no copy-on-write fault of ours may need a frame once limited */
    for (int i = 0; getproc(i, &pi) == 0; ++i)
        if (pi.pid == me) mine = pi.frames;
    CHECK(mine > 0, "own entry not found by getproc");
    CHECK(setlimit(me, mine + 2) == 0, "setlimit(%d, %ld) failed", me, mine + 2);
    CHECK(sbrk(64 * (int)PAGE) == BAD, "sbrk(64 pages) succeeded 2 frames below the limit");
    int pid = fork();
    if (pid == 0) exit(0);
    if (pid > 0) {
        int st;
        wait_for(pid, &st);
        FAIL("fork succeeded with 2 frames left under the limit");
    }
    return 0;
}

/* ---- the runner ---- */

struct test {
    const char* name;
    int (*fn)(void);
    int killed;  /* 1: the child must end killed (status -1) */
    int slow;    /* left out by -q */
    int orphans; /* leaves orphans to init: wait for the frames to come back */
};

static const struct test tests[] = {
    {"malloc-exhaust", t_malloc_exhaust, 0, 1, 0},
    {"sbrk-basic", t_sbrk_basic, 0, 0, 0},
    {"sbrk-large", t_sbrk_large, 0, 0, 0},
    {"sbrk-negative", t_sbrk_negative, 0, 0, 0},
    {"sbrk-huge", t_sbrk_huge, 0, 0, 0},
    {"sbrk-wrap", t_sbrk_wrap, 0, 0, 0},
    {"freeframes", t_freeframes, 0, 0, 0},
    {"oom-children", t_oom_children, 0, 1, 0},
    {"failalloc-exec", t_failalloc_exec, 0, 0, 1},
    {"failalloc-fork", t_failalloc_fork, 0, 0, 1},
    {"failalloc-sbrk", t_failalloc_sbrk, 0, 0, 0},
    {"fork-exhaust", t_fork_exhaust, 0, 1, 0},
    {"fork-tree", t_fork_tree, 0, 1, 0},
    {"reparent", t_reparent, 0, 0, 1},
    {"exec-loop", t_exec_loop, 0, 1, 0},
    {"kill-sleeper", t_kill_sleeper, 0, 0, 0},
    {"kill-spinner", t_kill_spinner, 0, 0, 0},
    {"kill-bad", t_kill_bad, 0, 0, 0},
    {"wait-none", t_wait_none, 0, 0, 0},
    {"exit-status", t_exit_status, 0, 0, 0},
    {"getpid", t_getpid, 0, 0, 0},
    {"uptime", t_uptime, 0, 0, 0},
    {"getproc", t_getproc, 0, 0, 0},
    {"programs", t_programs, 0, 0, 0},
    {"cow", t_cow, 0, 0, 0},
    {"cow-grandchild", t_cow_grandchild, 0, 0, 0},
    {"kernel-read", t_kernel_read, 1, 0, 0},
    {"kernel-write", t_kernel_write, 1, 0, 0},
    {"trampoline-read", t_trampoline_read, 1, 0, 0},
    {"trampoline-write", t_trampoline_write, 1, 0, 0},
    {"trapframe-read", t_trapframe_read, 1, 0, 0},
    {"trapframe-write", t_trapframe_write, 1, 0, 0},
    {"maxva-read", t_maxva_read, 1, 0, 0},
    {"maxva-write", t_maxva_write, 1, 0, 0},
    {"high-read", t_high_read, 1, 0, 0},
    {"high-write", t_high_write, 1, 0, 0},
    {"top-read", t_top_read, 1, 0, 0},
    {"top-write", t_top_write, 1, 0, 0},
    {"null-read", t_null_read, 1, 0, 0},
    {"guard-read", t_guard_read, 1, 0, 0},
    {"guard-write", t_guard_write, 1, 0, 0},
    {"stack-grow", t_stack_grow, 0, 0, 0},
    {"text-write", t_text_write, 1, 0, 0},
    {"rodata-write", t_rodata_write, 1, 0, 0},
    {"heap-exec", t_heap_exec, 1, 0, 0},
    {"stack-exec", t_stack_exec, 1, 0, 0},
    {"wild-syscalls", t_wild_syscalls, 0, 0, 0},
    {"exec-args", t_exec_args, 0, 0, 0},
    {"exec-bad", t_exec_bad, 0, 0, 0},
    {"exec-missing", t_exec_missing, 0, 0, 0},
    {"limit", t_limit, 0, 0, 0},
    {"limit-fork", t_limit_fork, 0, 0, 0},
};
#define NTESTS ((int)(sizeof tests / sizeof tests[0]))

static void run_test(const struct test* t) {
    tap_case(t->name, t->fn, t->killed ? TAP_KILLED : TAP_EXIT_0, t->orphans ? 50 : 0);
}

/* Grows our own stack once, so that its growth is not counted as a frame a
 * case lost. */
static void warm_stack(void) {
    volatile char pad[16 * 1024];
    for (unsigned i = 0; i < sizeof pad; i += 512)
        pad[i] = 0;
}

int main(int argc, char** argv) {
    g_heap_start = sbrk(0);
    g_runner_pid = getpid();
    warm_stack();

    int quick = 0, named = 0;
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "-q") == 0) {
            quick = 1;
        } else if (strcmp(argv[i], "-l") == 0) {
            for (int k = 0; k < NTESTS; ++k)
                printf("%s%s%s\n", tests[k].name, tests[k].slow ? " (slow)" : "",
                       tests[k].killed ? " (must be killed)" : "");
            return 0;
        } else if (argv[i][0] == '-') {
            printf("usage: usertests [-q] [-l] [NAME...]\n");
            return 2;
        } else {
            int found = 0;
            for (int k = 0; k < NTESTS; ++k)
                found |= strcmp(argv[i], tests[k].name) == 0;
            if (!found) {
                printf("usertests: no case named %s (usertests -l lists them)\n", argv[i]);
                return 2;
            }
            named = 1;
        }
    }

    printf("# usertests: pid %d, %ld free frames\n", g_runner_pid, freeframes());
    for (int k = 0; k < NTESTS; ++k) {
        const struct test* t = &tests[k];
        if (named) {
            int want = 0;
            for (int i = 1; i < argc; ++i)
                want |= strcmp(argv[i], t->name) == 0;
            if (!want) continue;
        } else if (quick && t->slow) {
            continue;
        }
        run_test(t);
    }
    return tap_done("usertests");
}
