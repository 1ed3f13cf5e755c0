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

// struct KernelFrame: what kernelvec saves on the hart's trap stack.
#define KF_REG(n) (8 * (n)) /* x0 slot holds the sepc */
#define KF_SIZE (8 * 32)

#ifndef __ASSEMBLER__
#include <cstddef>
#include <cstdint>

namespace capframe::arch {

struct TrapFrame {
    uint64_t kernel_satp;   // kernel page table, loaded by uservec
    uint64_t kernel_sp;     // top of this thread's kernel stack
    uint64_t kernel_trap;   // address of user_trap()
    uint64_t epc;           // saved user pc
    uint64_t kernel_hartid; // loaded into tp by uservec
    uint64_t regs[32];      // x1..x31 by number (regs[10] = a0, regs[17] = a7, ...)
};
static_assert(offsetof(TrapFrame, kernel_satp) == TF_KERNEL_SATP);
static_assert(offsetof(TrapFrame, kernel_sp) == TF_KERNEL_SP);
static_assert(offsetof(TrapFrame, kernel_trap) == TF_KERNEL_TRAP);
static_assert(offsetof(TrapFrame, epc) == TF_EPC);
static_assert(offsetof(TrapFrame, kernel_hartid) == TF_KERNEL_HARTID);
static_assert(offsetof(TrapFrame, regs) == TF_REGS);
static_assert(sizeof(TrapFrame) <= 4096);

struct KernelFrame {
    uint64_t regs[32]; // regs[0] = sepc, regs[n] = xn
};
static_assert(sizeof(KernelFrame) == KF_SIZE);

enum Reg : int { ra = 1, sp = 2, gp = 3, tp = 4, a0 = 10, a1, a2, a3, a4, a5, a6, a7 };

} // namespace capframe::arch
#endif
