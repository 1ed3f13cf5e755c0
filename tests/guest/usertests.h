/* usertests: what the case files share (usertests.c has the runner and the
 * table; usertests_memory.c, usertests_proc.c, usertests_vm.c the cases).
 * A case is int t_NAME(void): 0 = pass; FAIL/CHECK print a "#" line and
 * return 1. */
#pragma once

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capframe/layout.h"
#include "capframe/user.h"

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

extern char* g_heap_start; /* the break when usertests started (nothing allocated yet) */
extern int g_runner_pid;
/* An initialised global (the data segment), 1234 in the runner: cow checks
 * that a child's write is its own, exec-missing that a failed exec keeps it. */
extern int g_cow_global;

/* libsys defines sbrk with picolibc's ptrdiff_t argument although
 * capframe/user.h declares xv6's int: this name for the same symbol reaches
 * the whole 64-bit increment. */
char* sbrk64(long n) __asm__("sbrk");

/* Moves the break up to a page boundary; 0, or -1 if sbrk failed. */
int align_break(void);
/* Grows the heap step bytes at a time, touching every page, until sbrk
 * fails or max_bytes were added. Returns the bytes added. */
long grow_until_fail(long step, long max_bytes);
/* Makes the pages a child will write on the way (stack, stdio buffer) its
 * own now, so no copy-on-write fault needs a frame later. */
void own_pages(void);

/* usertests_memory.c */
int t_malloc_exhaust(void);
int t_sbrk_basic(void);
int t_sbrk_large(void);
int t_sbrk_negative(void);
int t_sbrk_huge(void);
int t_sbrk_wrap(void);
int t_oom_children(void);
int t_failalloc_exec(void);
int t_failalloc_fork(void);
int t_failalloc_sbrk(void);

/* usertests_proc.c */
int t_fork_exhaust(void);
int t_fork_tree(void);
int t_reparent(void);
int t_exec_loop(void);
int t_kill_sleeper(void);
int t_kill_spinner(void);
int t_kill_bad(void);
int t_wait_none(void);
int t_exit_status(void);
int t_getpid(void);
int t_uptime(void);
int t_getproc(void);
int t_programs(void);
int t_freeframes(void);
int t_cow(void);
int t_cow_grandchild(void);

/* usertests_vm.c */
int t_kernel_read(void);
int t_kernel_write(void);
int t_trampoline_read(void);
int t_trampoline_write(void);
int t_trapframe_read(void);
int t_trapframe_write(void);
int t_maxva_read(void);
int t_maxva_write(void);
int t_high_read(void);
int t_high_write(void);
int t_top_read(void);
int t_top_write(void);
int t_null_read(void);
int t_guard_read(void);
int t_guard_write(void);
int t_text_write(void);
int t_rodata_write(void);
int t_heap_exec(void);
int t_stack_exec(void);
int t_stack_grow(void);
int t_wild_syscalls(void);
int t_exec_args(void);
int t_exec_bad(void);
int t_exec_missing(void);
int t_limit(void);
int t_limit_fork(void);
