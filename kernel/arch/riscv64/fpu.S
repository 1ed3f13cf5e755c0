# Saving and restoring a user thread's floating-point registers. The kernel
# is built without F/D and runs with sstatus.FS = Off; only these two
# routines touch the FP registers, with FS switched on by their caller.
# The area: f0..f31, then fcsr (33 doublewords).
#include "regs.h"

    .option push
    .option arch, +d
    .section .text
    .globl fp_save
    .balign 4
fp_save:
    fregs fsd, a0
    frcsr t0
    sd t0, 256(a0)
    ret

    .globl fp_load
    .balign 4
fp_load:
    fregs fld, a0
    ld t0, 256(a0)
    fscsr t0
    ret
    .option pop
