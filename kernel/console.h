// The kernel console: the UART the device tree names, or the SBI console
// until one is found (and for good if there is none).
#pragma once

#include <cstddef>

#include "format.h"
#include "machine.h"

namespace capframe {

void console_use_uart(const UartInfo& uart); // switches from the SBI console
const char* console_name();
void console_write(const char* s, size_t n);
int console_getc(); // a received byte, or -1 when none waits (never blocks)
Sink console_sink();

void kprintf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

[[noreturn]] void panic(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// Shuts the machine down through SBI SRST (failure = non-zero exit status).
[[noreturn]] void shutdown(bool failure);

} // namespace capframe
