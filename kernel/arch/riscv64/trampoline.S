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
# * full: everything else. All 31 registers are saved; system calls go to
#   user_ecall() (IPC, calls that may block), interrupts and faults to
#   user_trap(). Neither returns here: the way back is userret, called by
#   enter_user().
#include "capframe/layout.h"
#include "regs.h"
#include "trapframe.h"

#define TRAPFRAME CAPFRAME_TRAPFRAME_VA

# to_user N...: back to user mode with a0 = the user satp: stvec = uservec,
# the user table, sscratch = TRAPFRAME for uservec, registers xN and a0
# loaded from the trapframe, sret. The light path restores only what it
# saved; userret everything.
    .macro to_user nums:vararg
    lla t0, uservec
    csrw stvec, t0
    switch_satp a0
    li a0, TRAPFRAME
    csrw sscratch, a0
    xregs ld, a0, TF_REG(0), \nums
    ld a0, TF_REG(10)(a0)
    sret
    .endm

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
    xregs sd, a0, TF_REG(0), XREGS_CALLER
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
    beqz t2, ecall
    ld t2, TF_LIGHT_MASK(a0)
    srl t2, t2, a7
    andi t2, t2, 1
    beqz t2, ecall

    ld t0, TF_KERNEL_LIGHT(a0)
    switch_satp t1
    jalr t0                         # user_syscall_light(): a0 = user satp

    # Back from the light path, on the kernel table: restore what it saved.
    to_user XREGS_CALLER

# The full path: every other ecall to user_ecall(), any other trap
# (interrupt, fault) to user_trap().
ecall:
    ld t0, TF_KERNEL_ECALL(a0)
    j save_all
full:
    ld t0, TF_KERNEL_TRAP(a0)
save_all:
    xregs sd, a0, TF_REG(0), XREGS_CALLEE
    switch_satp t1
    jr t0

# userret(a0 = user satp): switch to the user table, restore all 31
# registers, sret. stvec = uservec from here on.
    .globl userret
    .balign 4
userret:
    to_user XREGS_ALL_BUT_A0

    .balign 4096
    .globl trampoline_end
trampoline_end:
