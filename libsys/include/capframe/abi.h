// The system-call ABI shared by the kernel and libsys. Plain C++20, no
// dependencies: both sides include this one header.
//
// Calling convention (docs/architecture.md): `ecall` from U-mode with the
// syscall number in a7 and up to six arguments in a0..a5. The result comes
// back in a0: >= 0 on success, a negated abi::Errno on failure.
#pragma once

#include <cstddef>
#include <cstdint>

namespace capframe::abi {

enum class Sys : uint64_t {
    Write = 1,  // write(fd, buf, len) -> bytes written; fd 1 and 2 are the console
    Exit = 2,   // exit(status) -> does not return
    Getpid = 3, // getpid() -> pid
    Uptime = 4, // uptime() -> timer ticks since boot
    Yield = 5,  // yield() -> 0; gives up the rest of the time slice
};

// Error numbers, returned negated. Values follow the familiar POSIX numbers.
enum class Errno : int64_t {
    Perm = 1,
    NoEnt = 2,
    NoMem = 12,
    Fault = 14,
    Inval = 22,
    NoSys = 38,
};

constexpr int64_t error_return(Errno e) {
    return -static_cast<int64_t>(e);
}

// Console writes are copied through a bounce buffer of this size per round
// trip into the kernel; longer writes are split by the kernel transparently.
inline constexpr size_t kWriteChunk = 256;
// One write call moves at most this many bytes (larger requests return a
// short count, like a pipe).
inline constexpr size_t kWriteMax = 1 << 20;

// The user address space that every program sees (docs/memory-layout.md).
inline constexpr uint64_t kMaxVa = uint64_t{1} << 38;
inline constexpr uint64_t kTrampolineVa = kMaxVa - 4096;
inline constexpr uint64_t kTrapframeVa = kTrampolineVa - 4096;
inline constexpr uint64_t kUserTextBase = 0x10000;             // first byte of a program image
inline constexpr uint64_t kUserStackTop = kTrapframeVa - 4096; // one unmapped page above
inline constexpr uint64_t kUserStackPages = 4;                 // guard page below them, unmapped

static_assert(sizeof(Sys) == 8 && sizeof(Errno) == 8, "ABI enums are register sized");
static_assert(kUserStackTop % 4096 == 0 && kUserTextBase % 4096 == 0);

} // namespace capframe::abi
