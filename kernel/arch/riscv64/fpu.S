# Saving and restoring a user thread's floating-point registers. The kernel
# is built without F/D and runs with sstatus.FS = Off; only these two
# routines touch the FP registers, with FS switched on by their caller.
# The area: f0..f31, then fcsr (33 doublewords).
    .option push
    .option arch, +d
    .section .text
    .globl fp_save
    .balign 4
fp_save:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    fsd f\n, (8 * \n)(a0)
    .endr
    frcsr t0
    sd t0, 256(a0)
    ret

    .globl fp_load
    .balign 4
fp_load:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    fld f\n, (8 * \n)(a0)
    .endr
    ld t0, 256(a0)
    fscsr t0
    ret
    .option pop
