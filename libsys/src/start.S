# Program entry: the kernel starts a program at _start with sp at the top of
# its stack. main(argc, argv) runs and its return value becomes the exit
# status. (argv arrives with exec in the memory server; until then argc = 0.)
    .section .text.start, "ax"
    .globl _start
_start:
    li a0, 0
    li a1, 0
    call main
    call _exit_from_main
1:  j 1b
