// The memory server's protocol: requests are IPC calls on the task's mm
// endpoint (slot abi::kSlotMmEndpoint), m0 = request, m1..m3 = arguments.
// The reply's m0 is >= 0 or a negated abi::Errno; m1..m3 carry results.
// docs/memory-server.md describes each request.
#pragma once

#include <cstdint>

namespace capframe::mmp {

enum class Request : uint64_t {
    Exit = 1,       // (status): the task is torn down; no reply
    Getpid = 2,     // () -> pid
    Meminfo = 3,    // () -> m1 total, m2 free, m3 in use; mm prints the table
    VmPrint = 4,    // (pid): the kernel prints that task's page table
    MapPage = 5,    // (va, writable) -> 0: a fresh zeroed page at va in the caller
    UnmapPage = 6,  // (va) -> 0: gives the page at va back
    RevokePage = 7, // (va): revokes the frame capability behind va (tests: later access faults)
    FreeFrames = 8, // () -> m1 free frames (cheap, no printing)
};

} // namespace capframe::mmp
