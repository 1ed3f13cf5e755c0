// Layouts shared between the trap assembly and C++. Offsets are plain macros
// so the .S files can use them; static_asserts tie them to the structs.
#pragma once

// struct TrapFrame (one page per user thread, mapped at TRAPFRAME in the
// user table and reached through its physical address by the kernel).
#define TF_KERNEL_SATP 0
#define TF_KERNEL_SP 8
#define TF_KERNEL_TRAP 16
#define TF_EPC 24
#define TF_KERNEL_HARTID 32
#define TF_REGS 40 /* x0..x31, 8 bytes each; x0's slot is unused */
#define TF_REG(n) (TF_REGS + 8 * (n))
#define TF_KERNEL_LIGHT 296   /* user_syscall_light() */
#define TF_KERNEL_VEC 304     /* kernelvec: stvec while in the kernel */
#define TF_KERNEL_SCRATCH 312 /* this hart's trap-stack top: sscratch in the kernel */
#define TF_LIGHT_MASK 320     /* bit n: system call n takes the light path */
#define TF_USER_SATP 328      /* satp of the thread's address space */
#define TF_KERNEL_ECALL 336   /* user_ecall(): system calls by the full path */

// struct KernelFrame: what kernelvec saves on the hart's trap stack.
#define KF_REG(n) (8 * (n)) /* x0 slot holds the sepc */
#define KF_SIZE (8 * 32)

#ifndef __ASSEMBLER__
#include <cstddef>
#include <cstdint>

namespace capframe::arch {

// The kernel_* fields, light_mask and user_satp are constants the trap
// path reads: written when the thread is started or configured (satp, sp,
// entry points) or put on a hart (hartid, scratch), never on every return.
struct TrapFrame {
    uint64_t kernel_satp;    // kernel page table, loaded by uservec
    uint64_t kernel_sp;      // top of this thread's kernel stack
    uint64_t kernel_trap;    // address of user_trap() (interrupts and faults)
    uint64_t epc;            // saved user pc (full path only: the light path keeps it in sepc)
    uint64_t kernel_hartid;  // loaded into tp by uservec
    uint64_t regs[32];       // x1..x31 by number (regs[10] = a0, regs[17] = a7, ...)
    uint64_t kernel_light;   // address of user_syscall_light()
    uint64_t kernel_vec;     // address of kernelvec
    uint64_t kernel_scratch; // the hart's trap-stack top
    uint64_t light_mask;     // system calls below 64 that take the light path
    uint64_t user_satp;      // satp for this thread's address space
    uint64_t kernel_ecall;   // address of user_ecall() (system calls by the full path)
};
static_assert(offsetof(TrapFrame, kernel_satp) == TF_KERNEL_SATP);
static_assert(offsetof(TrapFrame, kernel_sp) == TF_KERNEL_SP);
static_assert(offsetof(TrapFrame, kernel_trap) == TF_KERNEL_TRAP);
static_assert(offsetof(TrapFrame, epc) == TF_EPC);
static_assert(offsetof(TrapFrame, kernel_hartid) == TF_KERNEL_HARTID);
static_assert(offsetof(TrapFrame, regs) == TF_REGS);
static_assert(offsetof(TrapFrame, kernel_light) == TF_KERNEL_LIGHT);
static_assert(offsetof(TrapFrame, kernel_vec) == TF_KERNEL_VEC);
static_assert(offsetof(TrapFrame, kernel_scratch) == TF_KERNEL_SCRATCH);
static_assert(offsetof(TrapFrame, light_mask) == TF_LIGHT_MASK);
static_assert(offsetof(TrapFrame, user_satp) == TF_USER_SATP);
static_assert(offsetof(TrapFrame, kernel_ecall) == TF_KERNEL_ECALL);
static_assert(sizeof(TrapFrame) <= 4096);

struct KernelFrame {
    uint64_t regs[32]; // regs[0] = sepc, regs[n] = xn
};
static_assert(sizeof(KernelFrame) == KF_SIZE);

enum Reg : int { ra = 1, sp = 2, gp = 3, tp = 4, a0 = 10, a1, a2, a3, a4, a5, a6, a7 };

} // namespace capframe::arch
#endif
