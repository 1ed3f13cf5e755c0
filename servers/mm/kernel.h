// What mm asks of the kernel: the one seam between the memory server's logic
// and the system. Every module of mm reaches the kernel only through the
// kernel:: names this header gives: libsys's kernel calls (capframe/
// syscalls.h, which compiles on the host) and the few of mm's own below.
// On the target libsys makes the calls and kernel_sys.cpp the rest; on the
// host tests/host/mm/fake_kernel*.cpp define both with a model of the
// kernel's capability rules, so that the frame records, the mapping index,
// reservations, copy-on-write and fork/exec/exit bookkeeping run on the host
// (GoogleTest, libFuzzer). Besides kernel_sys.cpp only selftest.cpp (target
// only) includes capframe/sys.h and calls sys:: by that name.
//
// Results are the kernel's: >= 0 on success, a negated abi::Errno on failure.
// Slot numbers index mm's own capability table unless a call says otherwise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "capframe/abi.h"
#include "capframe/syscalls.h"

namespace capframe::mm::kernel {

// The kernel calls themselves are libsys's, declared once in
// capframe/syscalls.h (sys::cap_info, sys::map, sys::batch, sys::thread_*,
// sys::recv, sys::reply_recv, sys::yield, ...): kernel::map is sys::map. On
// the target they are system calls; on the host tests/host/mm/fake_kernel*.cpp
// define them. Below: only what is mm's own.
using namespace ::sys;

// The end: the system powers off with this status (the host fake records it
// and returns).
void shutdown(int status);

// The console.
void log(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void write(const char* s, size_t n);

// What the kernel gave mm at start: BootInfo, the boot archive, and mm's own
// memory at a virtual address (the frame-metadata region, the scratch
// windows onto frames it fills).
const abi::BootInfo& boot_info();
std::span<const uint8_t> boot_archive();
void* view(uint64_t va);

} // namespace capframe::mm::kernel
