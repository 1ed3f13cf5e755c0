// libsys: what every Capframe user program links (target only: inline
// assembly). The raw system call, the kernel's named calls (capabilities,
// IPC, console: declared in capframe/syscalls.h, which also compiles on the
// host), the memory-server requests, printf.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "capframe/abi.h"
#include "capframe/ecall.h"
#include "capframe/mm_protocol.h"
#include "capframe/msg.h"
#include "capframe/syscalls.h"

namespace sys {

// Raw system call: number in a7, arguments in a0..a5, result in a0.
inline int64_t syscall(uint64_t n, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0,
                       uint64_t a3 = 0, uint64_t a4 = 0, uint64_t a5 = 0) {
    capframe::abi::EcallRegs r{a0, a1, a2, a3, a4, a5};
    return capframe::abi::ecall(n, r);
}

inline int64_t syscall(capframe::abi::Sys n, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0,
                       uint64_t a3 = 0, uint64_t a4 = 0) {
    return syscall(static_cast<uint64_t>(n), a0, a1, a2, a3, a4);
}

// Raw system call that also returns a1..a5 (IPC, CapInfo, Map's level).
int64_t syscall_msg(capframe::abi::Sys n, uint64_t a0, Msg& m);

// Memory-server requests (the xv6-style API grows here).
[[noreturn]] void exit(int status);
int getpid();
int64_t mm_request(capframe::mmp::Request r, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0,
                   Msg* out = nullptr);

int printf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

} // namespace sys
