# The trampoline: one page of trap entry/exit code mapped R-X at the same
# virtual address (TRAMPOLINE = MAXVA - 4096) in the kernel table and in every
# user table, so it keeps running across the satp switch. It is position
# independent and touches memory only through the TRAPFRAME mapping.
#
# Two paths (docs/architecture.md, "Traps"):
# * light: an ecall whose number has its bit in the trapframe's light_mask
#   (system calls that never block, never switch threads and never read the
#   caller's saved registers). Only the registers C code may clobber are
#   saved (ra, sp, tp, t0-t6, a0-a7); gp and s0-s11 stay live in their
#   registers (the kernel never writes gp; the C ABI preserves s0-s11), and
#   user_syscall_light() returns here, with the user satp in a0.
# * full: everything else (interrupts, faults, IPC, calls that may block).
#   All 31 registers are saved, user_trap() never returns here, and the way
#   back is userret, called by return_to_user().
#include "capframe/layout.h"
#include "trapframe.h"

#define TRAPFRAME CAPFRAME_TRAPFRAME_VA

    .option norelax                 # exact sizes: the page layout must not shift at link time
    .section .trampoline, "ax"
    .balign 4096
    .globl trampoline_start
trampoline_start:

# stvec while in user mode. All user registers are live; sscratch holds
# TRAPFRAME (userret put it there).
    .globl uservec
    .balign 4
uservec:
    csrrw a0, sscratch, a0
    sd ra, TF_REG(1)(a0)
    sd sp, TF_REG(2)(a0)
    sd tp, TF_REG(4)(a0)
    sd t0, TF_REG(5)(a0)
    sd t1, TF_REG(6)(a0)
    sd t2, TF_REG(7)(a0)
    sd a1, TF_REG(11)(a0)
    sd a2, TF_REG(12)(a0)
    sd a3, TF_REG(13)(a0)
    sd a4, TF_REG(14)(a0)
    sd a5, TF_REG(15)(a0)
    sd a6, TF_REG(16)(a0)
    sd a7, TF_REG(17)(a0)
    sd t3, TF_REG(28)(a0)
    sd t4, TF_REG(29)(a0)
    sd t5, TF_REG(30)(a0)
    sd t6, TF_REG(31)(a0)
    csrr t0, sscratch
    sd t0, TF_REG(10)(a0)

    # The kernel's side: trap vector, trap stack (kernelvec), stack, hart.
    ld t0, TF_KERNEL_VEC(a0)
    csrw stvec, t0
    ld t0, TF_KERNEL_SCRATCH(a0)
    csrw sscratch, t0
    ld sp, TF_KERNEL_SP(a0)
    ld tp, TF_KERNEL_HARTID(a0)
    ld t1, TF_KERNEL_SATP(a0)

    # Light: an ecall (scause 8) with a7 < 64 and its bit in light_mask.
    csrr t2, scause
    addi t2, t2, -8
    bnez t2, full
    sltiu t2, a7, 64
    beqz t2, full
    ld t2, TF_LIGHT_MASK(a0)
    srl t2, t2, a7
    andi t2, t2, 1
    beqz t2, full

    ld t0, TF_KERNEL_LIGHT(a0)
    # Order earlier user-table accesses before the switch; no ASIDs are
    # assumed (the JH7110 has none), so flush everything after it.
    sfence.vma zero, zero
    csrw satp, t1
    sfence.vma zero, zero
    jalr t0                         # user_syscall_light(): a0 = user satp

    # Back from the light path, on the kernel table: restore what it saved.
    lla t0, uservec
    csrw stvec, t0
    sfence.vma zero, zero
    csrw satp, a0
    sfence.vma zero, zero
    li a0, TRAPFRAME
    csrw sscratch, a0               # for uservec
    ld ra, TF_REG(1)(a0)
    ld sp, TF_REG(2)(a0)
    ld tp, TF_REG(4)(a0)
    ld t0, TF_REG(5)(a0)
    ld t1, TF_REG(6)(a0)
    ld t2, TF_REG(7)(a0)
    ld a1, TF_REG(11)(a0)
    ld a2, TF_REG(12)(a0)
    ld a3, TF_REG(13)(a0)
    ld a4, TF_REG(14)(a0)
    ld a5, TF_REG(15)(a0)
    ld a6, TF_REG(16)(a0)
    ld a7, TF_REG(17)(a0)
    ld t3, TF_REG(28)(a0)
    ld t4, TF_REG(29)(a0)
    ld t5, TF_REG(30)(a0)
    ld t6, TF_REG(31)(a0)
    ld a0, TF_REG(10)(a0)
    sret

full:
    sd gp, TF_REG(3)(a0)
    sd s0, TF_REG(8)(a0)
    sd s1, TF_REG(9)(a0)
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
    ld t0, TF_KERNEL_TRAP(a0)
    sfence.vma zero, zero
    csrw satp, t1
    sfence.vma zero, zero
    jr t0

# userret(a0 = user satp): switch to the user table, restore all 31
# registers, sret. stvec = uservec from here on.
    .globl userret
    .balign 4
userret:
    lla t0, uservec
    csrw stvec, t0
    sfence.vma zero, zero
    csrw satp, a0
    sfence.vma zero, zero
    li a0, TRAPFRAME
    csrw sscratch, a0               # for uservec
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
