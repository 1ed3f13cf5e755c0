// In-QEMU test of the trap path and the system-call boundary. Prints TAP
// ("ok - ...", numbered by the test runner); the exit status is the number
// of failures.
#include "capframe/sys.h"
#define TAP_PRINTF sys::printf
#include "tap.h"

using capframe::abi::Errno;
using capframe::abi::error_return;
using capframe::abi::Sys;

namespace {

void check(bool ok, const char* what) {
    tap_check(ok, what);
}

// Callee-saved registers must survive a trip through the kernel.
bool registers_survive_syscall() {
    register uint64_t s2 asm("s2") = 0x1111222233334444;
    register uint64_t s11 asm("s11") = 0x5555666677778888;
    register uint64_t a0 asm("a0") = 0;
    register uint64_t a7 asm("a7") = static_cast<uint64_t>(Sys::Uptime);
    asm volatile("ecall" : "+r"(a0), "+r"(s2), "+r"(s11) : "r"(a7) : "memory");
    return s2 == 0x1111222233334444 && s11 == 0x5555666677778888;
}

// Every register but a0..a5 (results) keeps its value across a system
// call: the light path saves only what C code may clobber and leaves gp and
// s0-s11 live, the full path (IPC included) saves and restores all 31
// (docs/architecture.md, "Traps"). Sets ra, gp, tp, t0-t6, s0-s11 and a6 to
// known values, makes the call (a7 = number, a0 = argument, a1 = first
// message word) and counts the registers (a7 included) that changed.
struct RegCheck {
    uint64_t number, arg0, m0, changed;
    uint64_t saved[15];
};
[[gnu::noinline]] uint64_t registers_changed_by(uint64_t number, uint64_t arg0, uint64_t m0) {
    static RegCheck blk;
    blk.number = number, blk.arg0 = arg0, blk.m0 = m0, blk.changed = ~uint64_t{0};
    RegCheck* p = &blk;
    asm volatile(
        "addi sp, sp, -16\n"
        "sd %[blk], 0(sp)\n"
        "sd ra, 32(%[blk])\n"
        "sd gp, 40(%[blk])\n"
        "sd tp, 48(%[blk])\n"
        "sd s0, 56(%[blk])\n"
        "sd s1, 64(%[blk])\n"
        "sd s2, 72(%[blk])\n"
        "sd s3, 80(%[blk])\n"
        "sd s4, 88(%[blk])\n"
        "sd s5, 96(%[blk])\n"
        "sd s6, 104(%[blk])\n"
        "sd s7, 112(%[blk])\n"
        "sd s8, 120(%[blk])\n"
        "sd s9, 128(%[blk])\n"
        "sd s10, 136(%[blk])\n"
        "sd s11, 144(%[blk])\n"
        "ld a0, 8(%[blk])\n"   // argument
        "ld a1, 16(%[blk])\n"  // m0 (IPC)
        "ld a7, 0(%[blk])\n"   // number
        "li ra, 1515847936\n"
        "li gp, 1515847937\n"
        "li tp, 1515847938\n"
        "li t0, 1515847939\n"
        "li t1, 1515847940\n"
        "li t2, 1515847941\n"
        "li s0, 1515847942\n"
        "li s1, 1515847943\n"
        "li a6, 1515847944\n"
        "li s2, 1515847945\n"
        "li s3, 1515847946\n"
        "li s4, 1515847947\n"
        "li s5, 1515847948\n"
        "li s6, 1515847949\n"
        "li s7, 1515847950\n"
        "li s8, 1515847951\n"
        "li s9, 1515847952\n"
        "li s10, 1515847953\n"
        "li s11, 1515847954\n"
        "li t3, 1515847955\n"
        "li t4, 1515847956\n"
        "li t5, 1515847957\n"
        "li t6, 1515847958\n"
        "ecall\n"
        "li a0, 0\n"  // a0 counts the registers that changed
        "li a1, 1515847936\n beq ra, a1, 1f\n addi a0, a0, 1\n 1:\n"
        "li a1, 1515847937\n beq gp, a1, 1f\n addi a0, a0, 1\n 1:\n"
        "li a1, 1515847938\n beq tp, a1, 1f\n addi a0, a0, 1\n 1:\n"
        "li a1, 1515847939\n beq t0, a1, 1f\n addi a0, a0, 1\n 1:\n"
        "li a1, 1515847940\n beq t1, a1, 1f\n addi a0, a0, 1\n 1:\n"
        "li a1, 1515847941\n beq t2, a1, 1f\n addi a0, a0, 1\n 1:\n"
        "li a1, 1515847942\n beq s0, a1, 1f\n addi a0, a0, 1\n 1:\n"
        "li a1, 1515847943\n beq s1, a1, 1f\n addi a0, a0, 1\n 1:\n"
        "li a1, 1515847944\n beq a6, a1, 1f\n addi a0, a0, 1\n 1:\n"
        "li a1, 1515847945\n beq s2, a1, 1f\n addi a0, a0, 1\n 1:\n"
        "li a1, 1515847946\n beq s3, a1, 1f\n addi a0, a0, 1\n 1:\n"
        "li a1, 1515847947\n beq s4, a1, 1f\n addi a0, a0, 1\n 1:\n"
        "li a1, 1515847948\n beq s5, a1, 1f\n addi a0, a0, 1\n 1:\n"
        "li a1, 1515847949\n beq s6, a1, 1f\n addi a0, a0, 1\n 1:\n"
        "li a1, 1515847950\n beq s7, a1, 1f\n addi a0, a0, 1\n 1:\n"
        "li a1, 1515847951\n beq s8, a1, 1f\n addi a0, a0, 1\n 1:\n"
        "li a1, 1515847952\n beq s9, a1, 1f\n addi a0, a0, 1\n 1:\n"
        "li a1, 1515847953\n beq s10, a1, 1f\n addi a0, a0, 1\n 1:\n"
        "li a1, 1515847954\n beq s11, a1, 1f\n addi a0, a0, 1\n 1:\n"
        "li a1, 1515847955\n beq t3, a1, 1f\n addi a0, a0, 1\n 1:\n"
        "li a1, 1515847956\n beq t4, a1, 1f\n addi a0, a0, 1\n 1:\n"
        "li a1, 1515847957\n beq t5, a1, 1f\n addi a0, a0, 1\n 1:\n"
        "li a1, 1515847958\n beq t6, a1, 1f\n addi a0, a0, 1\n 1:\n"
        "ld a1, 0(sp)\n"
        "ld a2, 0(a1)\n beq a7, a2, 2f\n addi a0, a0, 1\n 2:\n"  // a7 kept too
        "ld ra, 32(a1)\n"
        "ld gp, 40(a1)\n"
        "ld tp, 48(a1)\n"
        "ld s0, 56(a1)\n"
        "ld s1, 64(a1)\n"
        "ld s2, 72(a1)\n"
        "ld s3, 80(a1)\n"
        "ld s4, 88(a1)\n"
        "ld s5, 96(a1)\n"
        "ld s6, 104(a1)\n"
        "ld s7, 112(a1)\n"
        "ld s8, 120(a1)\n"
        "ld s9, 128(a1)\n"
        "ld s10, 136(a1)\n"
        "ld s11, 144(a1)\n"
        "sd a0, 24(a1)\n"
        "addi sp, sp, 16\n"
        :
        : [blk] "r"(p)
        : "memory", "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "t0", "t1", "t2", "t3", "t4",
          "t5", "t6");
    return blk.changed;
}

} // namespace

int main() {
    static const char msg[] = "trapcheck: console write from user mode\n";
    check(sys::write(1, msg, sizeof msg - 1) == sizeof msg - 1, "write returns the byte count");
    check(sys::write(1, msg, 0) == 0, "write of zero bytes returns 0");
    check(sys::write(7, msg, 4) == error_return(Errno::Inval), "write to a bad fd returns -EINVAL");
    check(sys::syscall(999) == error_return(Errno::NoSys), "unknown syscall returns -ENOSYS");
    check(sys::syscall(~uint64_t{0}) == error_return(Errno::NoSys),
          "syscall number 2^64-1 returns -ENOSYS");
    check(sys::write(1, reinterpret_cast<const void*>(0x80200000), 16) ==
              error_return(Errno::Fault),
          "write from a kernel address returns -EFAULT");
    check(sys::write(1, reinterpret_cast<const void*>(0x1000), 16) == error_return(Errno::Fault),
          "write from an unmapped address returns -EFAULT");
    check(sys::write(1, reinterpret_cast<const void*>(capframe::abi::kTrampolineVa), 16) ==
              error_return(Errno::Fault),
          "write from the trampoline (not user-accessible) returns -EFAULT");
    check(sys::write(1, reinterpret_cast<const void*>(capframe::abi::kMaxVa - 8), 64) ==
              error_return(Errno::Fault),
          "write from a buffer running past MAXVA returns -EFAULT");
    check(sys::write(1, reinterpret_cast<const void*>(~uint64_t{0} - 4), 64) ==
              error_return(Errno::Fault),
          "write from a buffer wrapping past 2^64 returns -EFAULT");
    // The last page of the stack runs into the unmapped trapframe guard.
    check(sys::write(1, reinterpret_cast<const void*>(capframe::abi::kUserStackTop - 8), 64) ==
              error_return(Errno::Fault),
          "write from a buffer crossing into an unmapped page returns -EFAULT");
    check(sys::getpid() == 1, "getpid returns 1 for the first process");
    check(registers_survive_syscall(), "callee-saved registers survive a system call");
    check(registers_changed_by(static_cast<uint64_t>(Sys::Uptime), 0, 0) == 0,
          "every register but a0..a5 survives a lock-free light call (uptime)");
    check(registers_changed_by(static_cast<uint64_t>(Sys::Timebase), 0, 0) == 0,
          "every register but a0..a5 survives a lock-free light call (timebase)");
    check(registers_changed_by(static_cast<uint64_t>(Sys::Yield), 0, 0) == 0,
          "every register but a0..a5 survives a full system call (yield)");
    check(registers_changed_by(static_cast<uint64_t>(Sys::Call), capframe::abi::kSlotMmEndpoint,
                               static_cast<uint64_t>(capframe::mmp::Request::Getpid)) == 0,
          "every register but a0..a5 survives an IPC call to mm (a direct switch each way)");
    check(registers_changed_by(static_cast<uint64_t>(Sys::CapInfo), 0, 0) == 0,
          "every register but a0..a5 survives a light call that fails (CapInfo of slot 0)");

    uint64_t start = sys::uptime();
    uint64_t now = start;
    for (uint64_t spin = 0; spin < 2000000000ull && now == start; ++spin)
        now = sys::uptime();
    check(now > start, "timer ticks advance while the program runs");
    check(sys::syscall(Sys::Timebase) > 0 &&
              sys::syscall(Sys::Timebase) == sys::syscall(Sys::Timebase),
          "the timebase is a positive constant");

    (void)tap_done("trapcheck");
    return tap_failures();
}
