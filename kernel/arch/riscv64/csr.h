// RISC-V supervisor CSRs and barriers (privileged spec chapter 4).
// Everything RISC-V-specific that the generic kernel needs lives in this
// directory; generic code includes these headers and never tests #ifdef.
#pragma once

#include <cstdint>

namespace capframe::arch {

#define CAPFRAME_CSR_ACCESSORS(name)                                                               \
    inline uint64_t read_##name() {                                                                \
        uint64_t v;                                                                                \
        asm volatile("csrr %0, " #name : "=r"(v));                                                 \
        return v;                                                                                  \
    }                                                                                              \
    inline void write_##name(uint64_t v) {                                                         \
        asm volatile("csrw " #name ", %0" ::"r"(v) : "memory");                                    \
    }

CAPFRAME_CSR_ACCESSORS(sstatus)
CAPFRAME_CSR_ACCESSORS(sie)
CAPFRAME_CSR_ACCESSORS(sip)
CAPFRAME_CSR_ACCESSORS(stvec)
CAPFRAME_CSR_ACCESSORS(sepc)
CAPFRAME_CSR_ACCESSORS(scause)
CAPFRAME_CSR_ACCESSORS(stval)
CAPFRAME_CSR_ACCESSORS(satp)
CAPFRAME_CSR_ACCESSORS(sscratch)
#undef CAPFRAME_CSR_ACCESSORS

inline uint64_t read_time() {
    uint64_t v;
    asm volatile("rdtime %0" : "=r"(v));
    return v;
}

inline uint64_t read_instret() {
    uint64_t v;
    asm volatile("rdinstret %0" : "=r"(v));
    return v;
}

// sstatus bits
inline constexpr uint64_t kSstatusSie = 1ull << 1;  // interrupts enabled in S-mode
inline constexpr uint64_t kSstatusSpie = 1ull << 5; // SIE before the trap
inline constexpr uint64_t kSstatusSpp = 1ull << 8;  // previous mode was S
inline constexpr uint64_t kSstatusSum = 1ull << 18; // S-mode may touch U pages
// sstatus.FS: the floating-point unit's state (Off: FP instructions trap).
inline constexpr uint64_t kSstatusFs = 3ull << 13;
inline constexpr uint64_t kFsOff = 0;
inline constexpr uint64_t kFsInitial = 1ull << 13;
inline constexpr uint64_t kFsClean = 2ull << 13;
inline constexpr uint64_t kFsDirty = 3ull << 13;
// sie bits
inline constexpr uint64_t kSieSsie = 1ull << 1;
inline constexpr uint64_t kSieStie = 1ull << 5;
inline constexpr uint64_t kSieSeie = 1ull << 9;

// satp for Sv39 (mode 8) with ASID 0 and the given root table PPN.
inline constexpr uint64_t kSatpModeSv39 = 8ull << 60;
constexpr uint64_t make_satp_sv39(uint64_t root_pa) {
    return kSatpModeSv39 | (root_pa >> 12);
}

inline void sfence_vma_all() {
    asm volatile("sfence.vma zero, zero" ::: "memory");
}
// Instruction fetch sees earlier stores on this hart (the U74 I-cache is not
// coherent with stores; QEMU hides this).
inline void fence_i() {
    asm volatile("fence.i" ::: "memory");
}
inline void wfi() {
    asm volatile("wfi");
}

inline void interrupts_off() {
    asm volatile("csrc sstatus, %0" ::"r"(kSstatusSie) : "memory");
}

// scause decoding (privileged spec table 4.2).
inline constexpr uint64_t kCauseInterrupt = 1ull << 63;
enum class Exception : uint64_t {
    InstructionMisaligned = 0,
    InstructionAccessFault = 1,
    IllegalInstruction = 2,
    Breakpoint = 3,
    LoadMisaligned = 4,
    LoadAccessFault = 5,
    StoreMisaligned = 6,
    StoreAccessFault = 7,
    EcallFromU = 8,
    EcallFromS = 9,
    InstructionPageFault = 12,
    LoadPageFault = 13,
    StorePageFault = 15,
};
enum class Interrupt : uint64_t {
    SupervisorSoftware = 1,
    SupervisorTimer = 5,
    SupervisorExternal = 9
};

const char* cause_name(uint64_t scause);
bool is_page_fault(uint64_t scause);

} // namespace capframe::arch
