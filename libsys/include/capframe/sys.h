// libsys: what every Capframe user program links. The kernel's system calls
// (capabilities, IPC, console: capframe/syscalls.h, host-compilable), the
// raw `ecall` (capframe/ecall.h, target only), the memory-server requests,
// printf.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "capframe/abi.h"
#include "capframe/ecall.h"
#include "capframe/mm_protocol.h"
#include "capframe/msg.h"
#include "capframe/syscalls.h"

namespace sys {

// Memory-server requests (the xv6-style API grows here).
[[noreturn]] void exit(int status);
int getpid();
int64_t mm_request(capframe::mmp::Request r, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0,
                   Msg* out = nullptr);

int printf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

} // namespace sys
