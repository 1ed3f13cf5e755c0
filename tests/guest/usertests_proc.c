/* usertests: the process cases: fork, exec, wait, kill, exit status, the process
 * table, and copy-on-write.
 * The runner and the table of cases: usertests.c. */
#include "usertests.h"

/* ---- processes ---- */

#define FORK_MAX 16384
static int g_kids[FORK_MAX];

int t_fork_exhaust(void) {
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

int t_fork_tree(void) {
    for (int round = 0; round < 10; ++round)
        CHECK(fork_tree(3) == 0, "round %d: a fork or a child failed", round);
    return 0;
}

int t_reparent(void) {
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

int t_exec_loop(void) {
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

int t_kill_sleeper(void) {
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

int t_kill_spinner(void) {
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

int t_kill_bad(void) {
    CHECK(kill(1) == -1, "kill(1) was not refused");
    CHECK(kill(-1) == -1, "kill(-1) succeeded");
    CHECK(kill(1 << 30) == -1, "kill of a pid that never existed succeeded");
    return 0;
}

int t_wait_none(void) {
    int st = 12345;
    CHECK(wait(&st) == -1, "wait with no children did not return -1");
    CHECK(wait(0) == -1, "wait(0) with no children did not return -1");
    return 0;
}

int t_exit_status(void) {
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

int t_getpid(void) {
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

int t_uptime(void) {
    int t0 = uptime();
    CHECK(sleep(2) == 0, "sleep(2) failed");
    int t1 = uptime();
    CHECK(t1 - t0 >= 2, "uptime went from %d to %d across sleep(2)", t0, t1);
    CHECK(t1 - t0 < 500, "sleep(2) took %d ticks", t1 - t0);
    CHECK(sleep(-1) == -1, "sleep(-1) succeeded");
    return 0;
}

int t_getproc(void) {
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

int t_programs(void) {
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

int t_freeframes(void) {
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

int g_cow_global = 1234; /* usertests.h */

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

int t_cow(void) {
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

int t_cow_grandchild(void) {
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
