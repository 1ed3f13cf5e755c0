#pragma once

#include <cstdint>

#include "arch/riscv64/trapframe.h"
#include "proc.h"

namespace capframe {

// Decodes and performs the system call in tf (a7 = number, a0..a5 args).
// Returns the value for a0: >= 0 or a negated abi::Errno. Never panics on
// anything a user program passes.
int64_t do_syscall(Process& p, arch::TrapFrame& tf);

} // namespace capframe
