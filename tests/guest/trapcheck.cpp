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

    uint64_t start = sys::uptime();
    uint64_t now = start;
    for (uint64_t spin = 0; spin < 2000000000ull && now == start; ++spin)
        now = sys::uptime();
    check(now > start, "timer ticks advance while the program runs");

    (void)tap_done("trapcheck");
    return tap_failures();
}
