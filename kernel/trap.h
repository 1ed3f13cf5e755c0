#pragma once

#include <cstdint>

namespace capframe {

// Per-hart trap entry set-up: stvec = kernelvec, sscratch = the hart's trap
// stack (kernelvec runs on it, so even a kernel stack overflow is reported).
void trap_init_hart(uint32_t hart_index);
void timer_init(uint64_t timebase_hz); // boot hart: records the rate, starts its timer
void timer_start_this_hart();
uint64_t timer_ticks();
uint64_t timer_timebase();

// Returns to user mode in the current thread; never returns.
[[noreturn]] void return_to_user();

} // namespace capframe
