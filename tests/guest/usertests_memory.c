/* usertests: the memory cases: malloc, sbrk, running out of memory, and injected
 * allocation failures (exec, fork, sbrk).
 * The runner and the table of cases: usertests.c. */
#include "usertests.h"

/* ---- memory: malloc and sbrk ---- */

int t_malloc_exhaust(void) {
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

int t_sbrk_basic(void) {
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

int t_sbrk_large(void) {
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

int t_sbrk_negative(void) {
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
int t_sbrk_huge(void) {
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

int t_sbrk_wrap(void) {
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

int t_oom_children(void) {
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

/* For n = 1..FAILALLOC_MAX: a child makes its pages its own, arms
 * mm_fail_alloc(n) (the n-th frame allocation of its next mm request fails)
 * and exits with call(); the status must be 0 (counted in *ok) or
 * CALL_FAILED (the call returned -1: counted in *failed), and every frame
 * must come back. Returns the case's status (0, or 1 after a "#" line). */
static int failalloc_each(int (*call)(void), int* ok, int* failed) {
    own_pages(); /* our own first copy-on-write breaks are not losses */
    long base = freeframes();
    *ok = *failed = 0;
    for (int n = 1; n <= FAILALLOC_MAX; ++n) {
        int pid = fork();
        CHECK(pid >= 0, "fork failed at n=%d", n);
        if (pid == 0) {
            own_pages();
            mm_fail_alloc(n);
            exit(call());
        }
        int st;
        CHECK(wait_for(pid, &st) == pid, "wait failed at n=%d", n);
        mm_fail_alloc(0);
        if (st == 0)
            ++*ok;
        else if (st == CALL_FAILED)
            ++*failed;
        else if (st == -1)
            FAIL("n=%d: killed (mm_fail_alloc fails only the next request)", n);
        else
            FAIL("n=%d: child status %d", n, st);
        long now = frames_settle(base, 50);
        CHECK(now == base, "n=%d: frames lost: %ld", n, base - now);
    }
    return 0;
}

/* exec of "true": returns only if it failed. */
static int exec_true(void) {
    char* argv[] = {"true", "failalloc", "with", "arguments", 0};
    exec("true", argv);
    mm_fail_alloc(0);
    return CALL_FAILED;
}

int t_failalloc_exec(void) {
    int ran, failed;
    if (failalloc_each(exec_true, &ran, &failed)) return 1;
    printf("# exec under injected failures: %d ran, %d returned -1\n", ran, failed);
    CHECK(failed >= 1, "exec never noticed an injected allocation failure");
    return 0;
}

/* A fork whose child exits with 7 at once. */
static int fork_one(void) {
    int pid = fork();
    if (pid == 0) exit(7);
    mm_fail_alloc(0);
    if (pid < 0) return CALL_FAILED;
    int st;
    if (wait_for(pid, &st) != pid) return 3;
    return st == 7 ? 0 : 4;
}

int t_failalloc_fork(void) {
    int forked, failed;
    if (failalloc_each(fork_one, &forked, &failed)) return 1;
    printf("# fork under injected failures: %d forked, %d returned -1\n", forked, failed);
    CHECK(failed >= 1, "fork never returned -1 under an injected allocation failure");
    CHECK(forked >= 1, "fork never succeeded with the failure %d allocations away", FAILALLOC_MAX);
    return 0;
}

/* sbrk(1 MiB), then every page written and read back. */
static int sbrk_and_touch(void) {
    char* p = sbrk(MIB);
    if (p == BAD) {
        mm_fail_alloc(0);
        return CALL_FAILED;
    }
    for (long off = 0; off < MIB; off += PAGE)
        p[off] = 1;
    mm_fail_alloc(0);
    for (long off = 0; off < MIB; off += PAGE)
        if (p[off] != 1) return 5;
    return 0;
}

int t_failalloc_sbrk(void) {
    int grown, failed;
    if (failalloc_each(sbrk_and_touch, &grown, &failed)) return 1;
    printf("# sbrk(1 MiB) + touch under injected failures: %d grew, %d returned -1\n", grown,
           failed);
    CHECK(failed >= 1, "sbrk never returned -1 under an injected allocation failure");
    return 0;
}
