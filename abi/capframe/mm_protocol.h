// The memory server's protocol: requests are IPC calls on the task's mm
// endpoint (slot abi::kSlotMmEndpoint), m0 = request, m1..m3 = arguments.
// The reply's m0 is >= 0 or a negated abi::Errno; m1..m3 carry results.
// Pointers are user addresses in the caller; mm reads and writes them
// through the caller's page table and answers EFAULT for anything that is
// not the caller's memory. docs/memory-server.md and docs/processes.md
// describe each request.
#pragma once

#include <stdint.h>

namespace capframe::mmp {

enum class Request : uint64_t {
    Exit = 1,       // (status): the process ends; no reply
    Getpid = 2,     // () -> pid
    Meminfo = 3,    // () -> m1 total, m2 free, m3 in use; mm prints the table
    VmPrint = 4,    // (pid, 0 = mm): the kernel prints that process's page table
    MapPage = 5,    // (va, writable) -> 0: a fresh zeroed page at va in the caller
    UnmapPage = 6,  // (va) -> 0: gives the page at va back
    RevokePage = 7, // (va): revokes the frame behind va (tests: later access faults); EPERM if shared
    FreeFrames = 8, // () -> m1 free frames (cheap, no printing)

    Fork = 10,         // () -> child pid in the parent, 0 in the child
    Exec = 11,         // (path, argv): no reply on success; an error leaves the caller as it was
    Wait = 12,         // (status ptr or 0) -> pid of a reaped child; ECHILD if none
    Kill = 13,         // (pid) -> 0: the process ends with status -1
    Sbrk = 14,         // (increment) -> the old break; ENOMEM beyond memory or the limit
    SetLimit = 15,     // (pid, frames) -> 0: a frame limit on pid and all it forks later
    ProcInfo = 16,     // (index) -> pid; m1 = parent | state << 32, m2 = frames, m3 = 8 name bytes
    Program = 17,      // (index) -> 0; m1..m3 = the name of the index-th program in the archive
    PrepareWrite = 18, // (va, len) -> 0: makes the caller's range writable now (COW, demand)
    FailAlloc = 19,    // (n) -> 0: tests only: the n-th frame allocation of our next request fails
    MemMap = 20,       // () -> m1 runs printed: mm prints who holds each frame ("memmap: ...")
};

// ProcInfo states
inline constexpr uint64_t kProcRunning = 1;
inline constexpr uint64_t kProcZombie = 2;

} // namespace capframe::mmp
