/* usertests: the address-space cases: accesses that must kill the process, system
 * calls with bad arguments, and frame limits.
 * The runner and the table of cases: usertests.c. */
#include "usertests.h"

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
int t_kernel_read(void) { return poke_read(KERNEL_VA); }
int t_kernel_write(void) { return poke_write(KERNEL_VA); }
int t_trampoline_read(void) { return poke_read(TRAMPOLINE_VA); }
int t_trampoline_write(void) { return poke_write(TRAMPOLINE_VA); }
int t_trapframe_read(void) { return poke_read(TRAPFRAME_VA); }
int t_trapframe_write(void) { return poke_write(TRAPFRAME_VA); }
int t_maxva_read(void) { return poke_read(MAXVA); }
int t_maxva_write(void) { return poke_write(MAXVA); }
int t_high_read(void) { return poke_read(HIGH_VA); }
int t_high_write(void) { return poke_write(HIGH_VA); }
int t_top_read(void) { return poke_read(TOP_VA); }
int t_top_write(void) { return poke_write(TOP_VA); }
int t_null_read(void) { return poke_read(0); }
int t_guard_read(void) { return poke_read(STACK_GUARD_VA); }
/* clang-format on */

/* the whole stack first (legal), then one byte below it */
int t_guard_write(void) {
    *(volatile char*)(STACK_GUARD_VA + PAGE) = 1;
    return poke_write(STACK_GUARD_VA + PAGE - 1);
}

int t_text_write(void) {
    return poke_write((unsigned long)&t_text_write);
}

int t_rodata_write(void) {
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

int t_heap_exec(void) {
    unsigned int* code = malloc(64);
    if (!code) FAIL("malloc failed");
    return run_code_at(code);
}

int t_stack_exec(void) {
    unsigned int code[4];
    return run_code_at(code);
}

/* The stack grows on demand down to the page above the guard, zero-filled.
 * Pages well below where the stack pointer is are written directly. */
int t_stack_grow(void) {
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

int t_wild_syscalls(void) {
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

int t_exec_args(void) {
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

int t_exec_bad(void) {
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

int t_exec_missing(void) {
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

int t_limit(void) {
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

int t_limit_fork(void) {
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
