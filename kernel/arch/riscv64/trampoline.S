# The trampoline: one page of trap entry/exit code mapped R-X at the same
# virtual address (TRAMPOLINE = MAXVA - 4096) in the kernel table and in every
# user table, so it keeps running across the satp switch. It is position
# independent and touches memory only through the TRAPFRAME mapping.
#include "trapframe.h"

#define TRAPFRAME (0x4000000000 - 2 * 4096)

    .option norelax                 # exact sizes: the page layout must not shift at link time
    .section .trampoline, "ax"
    .balign 4096
    .globl trampoline_start
trampoline_start:

# stvec while in user mode. All user registers are live; sscratch is free.
    .globl uservec
    .balign 4
uservec:
    csrw sscratch, a0
    li a0, TRAPFRAME
    sd ra, TF_REG(1)(a0)
    sd sp, TF_REG(2)(a0)
    sd gp, TF_REG(3)(a0)
    sd tp, TF_REG(4)(a0)
    sd t0, TF_REG(5)(a0)
    sd t1, TF_REG(6)(a0)
    sd t2, TF_REG(7)(a0)
    sd s0, TF_REG(8)(a0)
    sd s1, TF_REG(9)(a0)
    sd a1, TF_REG(11)(a0)
    sd a2, TF_REG(12)(a0)
    sd a3, TF_REG(13)(a0)
    sd a4, TF_REG(14)(a0)
    sd a5, TF_REG(15)(a0)
    sd a6, TF_REG(16)(a0)
    sd a7, TF_REG(17)(a0)
    sd s2, TF_REG(18)(a0)
    sd s3, TF_REG(19)(a0)
    sd s4, TF_REG(20)(a0)
    sd s5, TF_REG(21)(a0)
    sd s6, TF_REG(22)(a0)
    sd s7, TF_REG(23)(a0)
    sd s8, TF_REG(24)(a0)
    sd s9, TF_REG(25)(a0)
    sd s10, TF_REG(26)(a0)
    sd s11, TF_REG(27)(a0)
    sd t3, TF_REG(28)(a0)
    sd t4, TF_REG(29)(a0)
    sd t5, TF_REG(30)(a0)
    sd t6, TF_REG(31)(a0)
    csrr t0, sscratch
    sd t0, TF_REG(10)(a0)

    ld sp, TF_KERNEL_SP(a0)
    ld tp, TF_KERNEL_HARTID(a0)
    ld t0, TF_KERNEL_TRAP(a0)
    ld t1, TF_KERNEL_SATP(a0)
    # Order earlier user-table accesses before the switch; no ASIDs are
    # assumed (the JH7110 has none), so flush everything after it.
    sfence.vma zero, zero
    csrw satp, t1
    sfence.vma zero, zero
    jr t0

# userret(a0 = user satp): switch to the user table, restore, sret.
    .globl userret
    .balign 4
userret:
    sfence.vma zero, zero
    csrw satp, a0
    sfence.vma zero, zero
    li a0, TRAPFRAME
    ld ra, TF_REG(1)(a0)
    ld sp, TF_REG(2)(a0)
    ld gp, TF_REG(3)(a0)
    ld tp, TF_REG(4)(a0)
    ld t0, TF_REG(5)(a0)
    ld t1, TF_REG(6)(a0)
    ld t2, TF_REG(7)(a0)
    ld s0, TF_REG(8)(a0)
    ld s1, TF_REG(9)(a0)
    ld a1, TF_REG(11)(a0)
    ld a2, TF_REG(12)(a0)
    ld a3, TF_REG(13)(a0)
    ld a4, TF_REG(14)(a0)
    ld a5, TF_REG(15)(a0)
    ld a6, TF_REG(16)(a0)
    ld a7, TF_REG(17)(a0)
    ld s2, TF_REG(18)(a0)
    ld s3, TF_REG(19)(a0)
    ld s4, TF_REG(20)(a0)
    ld s5, TF_REG(21)(a0)
    ld s6, TF_REG(22)(a0)
    ld s7, TF_REG(23)(a0)
    ld s8, TF_REG(24)(a0)
    ld s9, TF_REG(25)(a0)
    ld s10, TF_REG(26)(a0)
    ld s11, TF_REG(27)(a0)
    ld t3, TF_REG(28)(a0)
    ld t4, TF_REG(29)(a0)
    ld t5, TF_REG(30)(a0)
    ld t6, TF_REG(31)(a0)
    ld a0, TF_REG(10)(a0)
    sret

    .balign 4096
    .globl trampoline_end
trampoline_end:
