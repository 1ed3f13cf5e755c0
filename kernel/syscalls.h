#pragma once

#include <cstdint>

#include "object.h"

namespace capframe {

// Decodes and performs the system call in t's trapframe (a7 = number,
// a0..a5 = arguments) and leaves the results there. Never panics on
// anything user space passes.
void do_syscall(Thread& t);

} // namespace capframe
