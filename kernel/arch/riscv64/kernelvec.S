# stvec while in S-mode. Capframe runs its kernel with interrupts off, so a
# trap taken here is a kernel bug (or, later, an interrupt while idle). It
# switches to the hart's trap stack (its top is kept in sscratch while in the
# kernel) so that even a kernel-stack overflow into a guard page is reported
# instead of faulting again.
#include "regs.h"
#include "trapframe.h"

    .section .text
    .globl kernelvec
    .balign 4
kernelvec:
    csrrw sp, sscratch, sp          # sp = trap stack top, sscratch = old sp
    addi sp, sp, -KF_SIZE
    xregs sd, sp, KF_REG(0), XREGS_ALL_BUT_SP
    csrr t0, sscratch
    sd t0, KF_REG(2)(sp)
    csrr t0, sepc
    sd t0, KF_REG(0)(sp)

    mv a0, sp
    call kernel_trap

    ld t0, KF_REG(0)(sp)
    csrw sepc, t0
    xregs ld, sp, KF_REG(0), XREGS_ALL_BUT_SP
    addi sp, sp, KF_SIZE            # back at the trap stack top
    csrrw sp, sscratch, sp          # sp = old sp, sscratch = trap stack top
    sret
