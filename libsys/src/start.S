# Program entry for the freestanding C++ programs (libsys without picolibc):
# mm starts a program at _start with a0 = argc, a1 = argv and sp below them.
# main(argc, argv) runs and its return value becomes the exit status.
    .section .text.start, "ax"
    .globl _start
_start:
    call main
    call _exit_from_main
1:  j 1b
