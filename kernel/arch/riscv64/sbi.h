// The Supervisor Binary Interface (RISC-V SBI spec v1.0/v2.0): the calls the
// kernel makes into OpenSBI. Arguments in a0..a5, function id in a6,
// extension id in a7; the firmware returns (error, value) in a0, a1.
#pragma once

#include <cstdint>

namespace capframe::sbi {

struct Ret {
    int64_t error; // 0 = success, negative SBI error code
    int64_t value;
};

inline constexpr uint64_t kExtBase = 0x10;
inline constexpr uint64_t kExtTime = 0x54494D45;   // "TIME"
inline constexpr uint64_t kExtHsm = 0x48534D;      // "HSM"
inline constexpr uint64_t kExtSrst = 0x53525354;   // "SRST"
inline constexpr uint64_t kExtRfence = 0x52464E43; // "RFNC"
inline constexpr uint64_t kExtIpi = 0x735049;      // "sPI"
inline constexpr uint64_t kLegacySetTimer = 0x00;
inline constexpr uint64_t kLegacyPutchar = 0x01;
inline constexpr uint64_t kLegacyGetchar = 0x02;

Ret call(uint64_t ext, uint64_t fid, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0,
         uint64_t a3 = 0);

bool probe(uint64_t ext);
int console_getchar();        // legacy extension 0x02: -1 when nothing waits
void console_putchar(char c); // legacy extension 0x01: the console of last resort
void set_timer(uint64_t stime_value);
// System reset extension: type 0 = shutdown, reason 0 = none, 1 = failure.
// Returns only if the firmware cannot do it.
void system_reset(bool failure);
uint64_t spec_version(); // major << 24 | minor
uint64_t impl_id();

} // namespace capframe::sbi
