# Start-up for programs built with picolibc: mm starts a program at _start
# with a0 = argc, a1 = argv (on the stack, xv6's layout) and sp below them.
# tp points at the (zeroed) thread-local block that holds picolibc's errno.
# main's return value goes to exit(), which flushes stdio.
    .section .text.start, "ax"
    .globl _start
_start:
    la tp, capframe_tls
    call main
    call exit
1:  j 1b

    .section .bss
    .balign 64
capframe_tls:
    .zero 64
