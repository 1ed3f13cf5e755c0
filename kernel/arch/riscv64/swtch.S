# swtch(Context* from, Context* to): saves the callee-saved registers of the
# running kernel thread in *from and continues the one saved in *to.
    .section .text
    .globl swtch
    .balign 4
swtch:
    sd ra, 0(a0)
    sd sp, 8(a0)
    sd s0, 16(a0)
    sd s1, 24(a0)
    sd s2, 32(a0)
    sd s3, 40(a0)
    sd s4, 48(a0)
    sd s5, 56(a0)
    sd s6, 64(a0)
    sd s7, 72(a0)
    sd s8, 80(a0)
    sd s9, 88(a0)
    sd s10, 96(a0)
    sd s11, 104(a0)
    ld ra, 0(a1)
    ld sp, 8(a1)
    ld s0, 16(a1)
    ld s1, 24(a1)
    ld s2, 32(a1)
    ld s3, 40(a1)
    ld s4, 48(a1)
    ld s5, 56(a1)
    ld s6, 64(a1)
    ld s7, 72(a1)
    ld s8, 80(a1)
    ld s9, 88(a1)
    ld s10, 96(a1)
    ld s11, 104(a1)
    ret

# unlock_and_enter(satp, userret, &lock word): lets the kernel lock go and
# jumps to userret (at the trampoline's address) with a0 = satp, touching no
# memory in between: after the IPC fast path this hart still runs on the
# kernel stack of the thread that blocked, which another hart may start as
# soon as the lock is free (kernel/trap.cpp, enter_user).
    .globl unlock_and_enter
    .balign 4
unlock_and_enter:
    fence rw, w
    sw zero, 0(a2)
    jr a1
