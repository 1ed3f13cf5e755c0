// What the kernel learns about the machine from the device tree. Filled by
// discover_machine() (machine.cpp) from a validated Fdt; pure logic.
#pragma once

#include <cstddef>
#include <cstdint>

#include "addr.h"
#include "fdt.h"
#include "result.h"

namespace capframe {

inline constexpr int kMaxMemoryRanges = 8;
inline constexpr int kMaxReserved = 16;
inline constexpr int kMaxHarts = 16;
inline constexpr int kMaxMmio = 64;
inline constexpr int kMaxNameLen = 48;
inline constexpr size_t kBootargsBytes = 2048; // /chosen/bootargs with its NUL

enum class UartKind : uint8_t {
    None,    // no usable UART: the kernel falls back to the SBI console
    Ns16550, // 8250 family: ns16550a, snps,dw-apb-uart, ... (reg-shift/reg-io-width)
    SifiveUart0,
};

struct UartInfo {
    UartKind kind = UartKind::None;
    PhysRange regs;
    uint32_t reg_shift = 0;      // register n is at base + (n << reg_shift)
    uint32_t reg_io_width = 1;   // bytes per access: 1 or 4 (anything else is rejected)
    uint32_t clock_hz = 0;       // 0 if the tree does not say
    uint32_t irq = 0;            // 0 if none
    char path[kMaxNameLen] = {}; // node name, e.g. "serial@10000000"
    // Why kind is None (e.g. "serial@10000000: unsupported reg-io-width 2");
    // "" when a UART was found.
    char note[96] = {};
};

struct HartInfo {
    uint32_t hart_id = 0; // the cpu node's reg
    bool enabled = false; // status absent or "okay"
    bool has_mmu = false; // mmu-type present and not "riscv,none"
    bool sv39 = false;    // mmu-type sv39, sv48 or sv57 (each implies Sv39)
    bool s_mode = false;  // can run S-mode: taken to be has_mmu (riscv,isa is not parsed)
    // PLIC context that delivers this hart's S-mode external interrupts, or -1.
    int32_t plic_s_context = -1;
    bool usable() const { return enabled && has_mmu && sv39; }
};

struct MmioRegion {
    PhysRange range;
    char name[kMaxNameLen] = {};
};

struct MachineInfo {
    char model[kMaxNameLen] = {};

    PhysRange memory[kMaxMemoryRanges];
    int memory_count = 0;

    // Memory-reservation block entries and /reserved-memory children with reg.
    PhysRange reserved[kMaxReserved];
    int reserved_count = 0;

    UartInfo uart;

    PhysRange plic; // size 0 if absent
    uint32_t plic_ndev = 0;
    PhysRange clint; // size 0 if absent

    uint64_t timebase_hz = 0;

    HartInfo harts[kMaxHarts];
    int hart_count = 0;

    // Every MMIO device found (a reg outside RAM, status okay), page-rounded,
    // overlaps merged; the kernel identity-maps each one RW. The UART, PLIC
    // and CLINT come first (in that order, those present), so they always fit.
    MmioRegion mmio[kMaxMmio];
    int mmio_count = 0;
    int mmio_dropped = 0; // regions that did not fit in mmio[] (not an error)

    // From /chosen: bootargs ("" if none, or if they do not fit: never cut
    // short), and their length in the tree (>= kBootargsBytes: too long).
    char bootargs[kBootargsBytes] = {};
    size_t bootargs_len = 0;

    const HartInfo* find_hart(uint32_t hart_id) const {
        for (int i = 0; i < hart_count; ++i)
            if (harts[i].hart_id == hart_id) return &harts[i];
        return nullptr;
    }
};

// Fills `out` from the tree. Errors: BadFormat for a tree that is valid FDT
// but unusable (no memory node, no /cpus, a memory/reserved/cpu/PLIC/CLINT
// reg whose cells do not add up, a missing or zero timebase), TooMany when
// memory[], reserved[] or harts[] overflows. Not errors: an unusable or
// missing UART (uart.kind = None, uart.note says why) and MMIO regions that
// do not fit (mmio_dropped). The caller reports an error with the message
// written to `why` (NUL-terminated; "" on success).
Result<void> discover_machine(const Fdt& fdt, MachineInfo& out, char* why, size_t why_len);

} // namespace capframe
