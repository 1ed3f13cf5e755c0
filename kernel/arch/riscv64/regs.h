// Assembly helpers shared by the trap and context code (trampoline.S,
// kernelvec.S, fpu.S): saving and restoring register groups by number, and
// the satp switch. Assembly only.
#pragma once

#ifndef __ASSEMBLER__
#error "regs.h is for the .S files"
#endif

// Integer register groups by number: x1 ra, x2 sp, x3 gp, x4 tp, x5-x7
// t0-t2, x8-x9 s0-s1, x10-x17 a0-a7, x18-x27 s2-s11, x28-x31 t3-t6. Each
// leaves out the register that holds the frame's address: a0 (x10) in the
// trampoline, sp (x2) in kernelvec.

// What C code may clobber: ra, sp, tp, t0-t6, a1-a7.
#define XREGS_CALLER 1, 2, 4, 5, 6, 7, 11, 12, 13, 14, 15, 16, 17, 28, 29, 30, 31
// What the C ABI preserves, and gp: gp, s0-s11.
#define XREGS_CALLEE 3, 8, 9, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27
// Both, in register order.
#define XREGS_ALL_BUT_A0                                                                           \
    1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, \
        28, 29, 30, 31
// kernelvec's frame: all but sp.
#define XREGS_ALL_BUT_SP                                                                           \
    1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26,    \
        27, 28, 29, 30, 31

/* clang-format off */

// xregs OP, BASE, SLOT0, N...: OP (sd or ld) each register xN to or from its
// slot at SLOT0 + 8 * N bytes from BASE; SLOT0 is the offset of x0's slot
// (TF_REG(0), KF_REG(0)).
    .macro xregs op, base, slot0, nums:vararg
    .irp n, \nums
    \op x\n, (\slot0 + 8 * \n)(\base)
    .endr
    .endm

// fregs OP, BASE: OP (fsd or fld) f0..f31 to or from BASE + 8 * n.
    .macro fregs op, base
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    \op f\n, (8 * \n)(\base)
    .endr
    .endm

// switch_satp REG: satp = REG. No ASIDs are assumed (the JH7110 has none):
// the first fence orders earlier accesses through the old table before the
// switch, the second flushes everything after it.
    .macro switch_satp reg
    sfence.vma zero, zero
    csrw satp, \reg
    sfence.vma zero, zero
    .endm

    /* clang-format on */
