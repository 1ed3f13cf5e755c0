# stvec while in S-mode. Capframe runs its kernel with interrupts off, so a
# trap taken here is a kernel bug (or, later, an interrupt while idle). It
# switches to the hart's trap stack (its top is kept in sscratch while in the
# kernel) so that even a kernel-stack overflow into a guard page is reported
# instead of faulting again.
#include "trapframe.h"

    .section .text
    .globl kernelvec
    .balign 4
kernelvec:
    csrrw sp, sscratch, sp          # sp = trap stack top, sscratch = old sp
    addi sp, sp, -KF_SIZE
    sd ra, KF_REG(1)(sp)
    sd gp, KF_REG(3)(sp)
    sd tp, KF_REG(4)(sp)
    sd t0, KF_REG(5)(sp)
    sd t1, KF_REG(6)(sp)
    sd t2, KF_REG(7)(sp)
    sd s0, KF_REG(8)(sp)
    sd s1, KF_REG(9)(sp)
    sd a0, KF_REG(10)(sp)
    sd a1, KF_REG(11)(sp)
    sd a2, KF_REG(12)(sp)
    sd a3, KF_REG(13)(sp)
    sd a4, KF_REG(14)(sp)
    sd a5, KF_REG(15)(sp)
    sd a6, KF_REG(16)(sp)
    sd a7, KF_REG(17)(sp)
    sd s2, KF_REG(18)(sp)
    sd s3, KF_REG(19)(sp)
    sd s4, KF_REG(20)(sp)
    sd s5, KF_REG(21)(sp)
    sd s6, KF_REG(22)(sp)
    sd s7, KF_REG(23)(sp)
    sd s8, KF_REG(24)(sp)
    sd s9, KF_REG(25)(sp)
    sd s10, KF_REG(26)(sp)
    sd s11, KF_REG(27)(sp)
    sd t3, KF_REG(28)(sp)
    sd t4, KF_REG(29)(sp)
    sd t5, KF_REG(30)(sp)
    sd t6, KF_REG(31)(sp)
    csrr t0, sscratch
    sd t0, KF_REG(2)(sp)
    csrr t0, sepc
    sd t0, KF_REG(0)(sp)

    mv a0, sp
    call kernel_trap

    ld t0, KF_REG(0)(sp)
    csrw sepc, t0
    ld ra, KF_REG(1)(sp)
    ld gp, KF_REG(3)(sp)
    ld tp, KF_REG(4)(sp)
    ld t0, KF_REG(5)(sp)
    ld t1, KF_REG(6)(sp)
    ld t2, KF_REG(7)(sp)
    ld s0, KF_REG(8)(sp)
    ld s1, KF_REG(9)(sp)
    ld a0, KF_REG(10)(sp)
    ld a1, KF_REG(11)(sp)
    ld a2, KF_REG(12)(sp)
    ld a3, KF_REG(13)(sp)
    ld a4, KF_REG(14)(sp)
    ld a5, KF_REG(15)(sp)
    ld a6, KF_REG(16)(sp)
    ld a7, KF_REG(17)(sp)
    ld s2, KF_REG(18)(sp)
    ld s3, KF_REG(19)(sp)
    ld s4, KF_REG(20)(sp)
    ld s5, KF_REG(21)(sp)
    ld s6, KF_REG(22)(sp)
    ld s7, KF_REG(23)(sp)
    ld s8, KF_REG(24)(sp)
    ld s9, KF_REG(25)(sp)
    ld s10, KF_REG(26)(sp)
    ld s11, KF_REG(27)(sp)
    ld t3, KF_REG(28)(sp)
    ld t4, KF_REG(29)(sp)
    ld t5, KF_REG(30)(sp)
    ld t6, KF_REG(31)(sp)
    addi sp, sp, KF_SIZE            # back at the trap stack top
    csrrw sp, sscratch, sp          # sp = old sp, sscratch = trap stack top
    sret
