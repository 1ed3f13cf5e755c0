/* The top of every user address space, in one place for C, C++ and assembly
 * (docs/memory-layout.md). abi.h derives its kMaxVa, kTrampolineVa,
 * kTrapframeVa, kUserStackTop, kUserStackMax and kStackGuardVa from these;
 * lib/sv39.h takes them from abi.h; the kernel's trampoline.S and the C test
 * suites include this header. Plain integer literals without suffixes, so
 * the assembler reads them too (in C the hexadecimal ones are long). */
#ifndef CAPFRAME_LAYOUT_H
#define CAPFRAME_LAYOUT_H

#define CAPFRAME_PAGE_SIZE 4096
/* Sv39 user half used from 0: 2^38, so no address needs sign extension. */
#define CAPFRAME_MAX_VA 0x4000000000
/* The last page: the trampoline (R-X, not U), then the trap frame (RW, not
 * U), then the first byte above the user stack. */
#define CAPFRAME_TRAMPOLINE_VA (CAPFRAME_MAX_VA - CAPFRAME_PAGE_SIZE)
#define CAPFRAME_TRAPFRAME_VA (CAPFRAME_TRAMPOLINE_VA - CAPFRAME_PAGE_SIZE)
#define CAPFRAME_USER_STACK_TOP (CAPFRAME_TRAPFRAME_VA - CAPFRAME_PAGE_SIZE)
/* The stack grows on demand down to this size; the page below is a guard
 * that is never mapped. */
#define CAPFRAME_USER_STACK_MAX 0x100000
#define CAPFRAME_STACK_GUARD_VA                                                                    \
    (CAPFRAME_USER_STACK_TOP - CAPFRAME_USER_STACK_MAX - CAPFRAME_PAGE_SIZE)
/* exec: argv entries, and the bytes of the argv strings with their NULs. */
#define CAPFRAME_MAX_ARGS 64
#define CAPFRAME_MAX_ARG_BYTES 2048

#endif
