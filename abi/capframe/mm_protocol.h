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
    Exit = 1,      // (status): the process ends; no reply
    Getpid = 2,    // () -> pid
    Meminfo = 3,   // () -> m1 total, m2 free, m3 in use; mm prints the table
    VmPrint = 4,   // (pid, 0 = mm): the kernel prints that process's page table
    MapPage = 5,   // (va, writable) -> 0: a fresh zeroed page at va in the caller
    UnmapPage = 6, // (va) -> 0: gives the page at va back
    RevokePage =
        7, // (va): revokes the frame behind va (tests: later access faults); EPERM if shared
    FreeFrames = 8, // () -> m1 free frames (cheap, no printing)

    Fork = 10,         // (sp) -> child pid in the parent, 0 in the child (sp: below)
    Exec = 11,         // (path, argv): no reply on success; an error leaves the caller as it was
    Wait = 12,         // (status ptr or 0, flags) -> pid of a reaped child (m1: its status); ECHILD
                       // if none. With kWaitStatusInAnswer mm only checks the pointer (EFAULT, the
                       // child stays) and writes nothing: the caller stores m1 there itself
    Kill = 13,         // (pid) -> 0: the process ends with status -1
    Sbrk = 14,         // (increment) -> the old break; ENOMEM beyond memory or the limit
    SetLimit = 15,     // (pid, frames) -> 0: a frame limit on pid and all it forks later
    ProcInfo = 16,     // (index) -> pid; m1 = parent | state << 32, m2 = frames, m3 = 8 name bytes
    Program = 17,      // (index) -> 0; m1..m3 = the name of the index-th program in the archive
    PrepareWrite = 18, // (va, len) -> 0: makes the caller's range writable now (COW, demand)
    FailAlloc = 19,    // (n) -> 0: tests only: the n-th frame allocation of our next request fails
    MemMap = 20,       // () -> m1 runs printed: mm prints who holds each frame ("memmap: ...")
};

// Wait's flags (m2).
inline constexpr uint64_t kWaitStatusInAnswer = 1;

// ProcInfo states
inline constexpr uint64_t kProcRunning = 1;
inline constexpr uint64_t kProcZombie = 2;

// The results of ProcInfo and Program, as both sides see them: mm encodes
// the reply's m1..m3 with encode(), libsys decodes them with decode_*();
// nothing else packs these words.
struct ProcInfoReply {
    uint32_t parent = 0;
    uint32_t state = 0;  // kProcRunning or kProcZombie
    uint64_t frames = 0; // the process's frames, all uses
    char name[8] = {};   // NUL-padded; all 8 bytes used by an 8-byte name
};
struct ProgramReply {
    char name[24] = {}; // NUL-padded; at most 23 bytes of the archive's name
};

// n bytes of s (up to a NUL) into a word, the first byte lowest, and back.
inline uint64_t pack_bytes(const char* s, unsigned n) {
    uint64_t w = 0;
    for (unsigned b = 0; b < n && b < 8 && s[b]; ++b)
        w |= uint64_t(static_cast<unsigned char>(s[b])) << (8 * b);
    return w;
}
inline void unpack_bytes(uint64_t w, char* out) { // 8 bytes
    for (unsigned b = 0; b < 8; ++b)
        out[b] = static_cast<char>((w >> (8 * b)) & 0xff);
}

inline void encode(const ProcInfoReply& r, uint64_t (&m)[3]) {
    m[0] = uint64_t{r.parent} | uint64_t{r.state} << 32;
    m[1] = r.frames;
    m[2] = pack_bytes(r.name, 8);
}
inline ProcInfoReply decode_proc_info(const uint64_t (&m)[3]) {
    ProcInfoReply r;
    r.parent = static_cast<uint32_t>(m[0] & 0xffffffff);
    r.state = static_cast<uint32_t>(m[0] >> 32);
    r.frames = m[1];
    unpack_bytes(m[2], r.name);
    return r;
}
inline void encode(const ProgramReply& r, uint64_t (&m)[3]) {
    for (unsigned w = 0; w < 3; ++w)
        m[w] = pack_bytes(r.name + 8 * w, 8);
    m[2] &= ~(uint64_t{0xff} << 56); // byte 23 stays the NUL
}
inline ProgramReply decode_program(const uint64_t (&m)[3]) {
    ProgramReply r;
    for (unsigned w = 0; w < 3; ++w)
        unpack_bytes(m[w], r.name + 8 * w);
    r.name[23] = 0;
    return r;
}

} // namespace capframe::mmp
