// The environment call, the one way down a privilege level: user space into
// the Capframe kernel (a system call: number in a7, arguments a0..a5, results
// back in a0..a5; abi.h) and the kernel into the SBI firmware (extension in
// a7, function in a6, arguments a0..a5, (error, value) back in a0, a1;
// kernel/arch/riscv64/sbi.h). One register binding for both: libsys's
// sys::syscall/syscall_msg and the kernel's sbi::call. Target only (inline
// assembly); C++.
//
// ecall(a7, [a6,] r) puts r.a0..a5 in a0..a5, returns what comes back in a0
// (the kernel's result or negative error; the SBI's error) and leaves what
// comes back in a1..a5 in r.a1..a5 (IPC words, CapInfo, Map's level; the
// SBI's value in a1). r.a0 stays the argument: writing it back too costs
// libsys an instruction in mm_request (GCC's register allocation).
// A system call may change any of a0..a5 and does not read a6; the SBI
// preserves a2..a7.
#pragma once

#include <stdint.h>

namespace capframe::abi {

// a0..a5 as they go in; after the call a1..a5 as they came back.
struct EcallRegs {
    uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0;
};

namespace detail {

template <bool kSbi>
[[gnu::always_inline]] inline int64_t ecall(uint64_t a7, uint64_t a6, EcallRegs& r) {
    register uint64_t r0 asm("a0") = r.a0;
    register uint64_t r1 asm("a1") = r.a1;
    register uint64_t r2 asm("a2") = r.a2;
    register uint64_t r3 asm("a3") = r.a3;
    register uint64_t r4 asm("a4") = r.a4;
    register uint64_t r5 asm("a5") = r.a5;
    register uint64_t r7 asm("a7") = a7;
    if constexpr (kSbi) {
        register uint64_t r6 asm("a6") = a6;
        asm volatile("ecall"
                     : "+r"(r0), "+r"(r1)
                     : "r"(r2), "r"(r3), "r"(r4), "r"(r5), "r"(r6), "r"(r7)
                     : "memory");
    } else {
        asm volatile("ecall"
                     : "+r"(r0), "+r"(r1), "+r"(r2), "+r"(r3), "+r"(r4), "+r"(r5)
                     : "r"(r7)
                     : "memory");
    }
    r.a1 = r1, r.a2 = r2, r.a3 = r3, r.a4 = r4, r.a5 = r5;
    return static_cast<int64_t>(r0);
}

} // namespace detail

// A Capframe system call: a7 = the number (abi::Sys); a6 is not read.
[[gnu::always_inline]] inline int64_t ecall(uint64_t a7, EcallRegs& r) {
    return detail::ecall<false>(a7, 0, r);
}

// An SBI call: a7 = the extension, a6 = the function.
[[gnu::always_inline]] inline int64_t ecall(uint64_t a7, uint64_t a6, EcallRegs& r) {
    return detail::ecall<true>(a7, a6, r);
}

} // namespace capframe::abi
