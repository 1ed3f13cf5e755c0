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
 * Exit status: 0 if every case passed, 1 otherwise (2: bad arguments).
 *
 * This file: the shared helpers, the table of cases and the runner. The
 * cases are in usertests_memory.c, usertests_proc.c and usertests_vm.c. */
#include "usertests.h"
#define TAP_WITH_PROCESSES
#include "tap.h"

char* g_heap_start; /* the break when usertests started (nothing allocated yet) */
int g_runner_pid;

/* wait_for() and frames_settle() come from libsys: when usertests runs as
 * pid 1 orphans come to it, and init reaps others in its own time. */

int align_break(void) {
    unsigned long b = (unsigned long)sbrk(0);
    if (b % PAGE == 0) return 0;
    return sbrk((int)(PAGE - b % PAGE)) == BAD ? -1 : 0;
}

long grow_until_fail(long step, long max_bytes) {
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

void own_pages(void) {
    fflush(stdout);
    prepare_write((void*)(USER_STACK_TOP - 8 * PAGE), 8 * PAGE);
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
