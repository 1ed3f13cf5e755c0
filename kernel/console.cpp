#include "console.h"

#include <atomic>
#include <cstdint>

#include "arch/riscv64/csr.h"
#include "arch/riscv64/sbi.h"
#include "uart.h"

namespace capframe {
namespace {

struct Mmio {
    uint32_t read(uint64_t addr, uint32_t width) {
        if (width == 4) return *reinterpret_cast<volatile uint32_t*>(addr);
        return *reinterpret_cast<volatile uint8_t*>(addr);
    }
    void write(uint64_t addr, uint32_t width, uint32_t v) {
        if (width == 4)
            *reinterpret_cast<volatile uint32_t*>(addr) = v;
        else
            *reinterpret_cast<volatile uint8_t*>(addr) = static_cast<uint8_t>(v);
    }
};

// constinit: nothing runs constructors of globals in this kernel.
constinit UartKind g_kind = UartKind::None;
constinit Uart8250<Mmio> g_ns{Mmio{}, 0, 0, 1};
constinit SifiveUart<Mmio> g_sifive{Mmio{}, 0};

Uart8250<Mmio>& ns() {
    return g_ns;
}
SifiveUart<Mmio>& sifive() {
    return g_sifive;
}

void putc_raw(char c) {
    switch (g_kind) {
    case UartKind::Ns16550:
        ns().putc(c);
        break;
    case UartKind::SifiveUart0:
        sifive().putc(c);
        break;
    case UartKind::None:
        sbi::console_putchar(c);
        break;
    }
}

void write_raw(const char* s, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        if (s[i] == '\n') putc_raw('\r');
        putc_raw(s[i]);
    }
}

// One message at a time on the UART: a kprintf (some are printed without
// the kernel lock: the watchdog, a panic) or one console write call is never
// cut into by another hart's. The wait is bounded, so a hart that dies
// holding it (a panic inside the UART code) cannot silence the others.
std::atomic<uint32_t> g_console_lock{0};

struct ConsoleGuard {
    bool held;
    ConsoleGuard() {
        uint32_t spins = 0;
        while (g_console_lock.exchange(1, std::memory_order_acquire))
            while (g_console_lock.load(std::memory_order_relaxed))
                if (++spins == (1u << 24)) {
                    held = false;
                    return;
                }
        held = true;
    }
    ~ConsoleGuard() {
        if (held) g_console_lock.store(0, std::memory_order_release);
    }
    ConsoleGuard(const ConsoleGuard&) = delete;
    ConsoleGuard& operator=(const ConsoleGuard&) = delete;
};

void sink_write(void*, const char* s, size_t n) {
    console_write(s, n);
}

void sink_write_raw(void*, const char* s, size_t n) {
    write_raw(s, n);
}

} // namespace

void console_use_uart(const UartInfo& uart) {
    switch (uart.kind) {
    case UartKind::Ns16550:
        g_ns = Uart8250<Mmio>(Mmio{}, uart.regs.base.value(), uart.reg_shift, uart.reg_io_width);
        ns().init();
        break;
    case UartKind::SifiveUart0:
        g_sifive = SifiveUart<Mmio>(Mmio{}, uart.regs.base.value());
        sifive().init();
        break;
    case UartKind::None:
        break;
    }
    g_kind = uart.kind;
}

const char* console_name() {
    switch (g_kind) {
    case UartKind::Ns16550:
        return "8250 UART";
    case UartKind::SifiveUart0:
        return "SiFive UART";
    case UartKind::None:
        break;
    }
    return "SBI console";
}

void console_write(const char* s, size_t n) {
    ConsoleGuard g;
    write_raw(s, n);
}

int console_getc() {
    switch (g_kind) {
    case UartKind::Ns16550:
        return ns().getc();
    case UartKind::SifiveUart0:
        return sifive().getc();
    case UartKind::None:
        break;
    }
    return sbi::console_getchar();
}

Sink console_sink() {
    return Sink{sink_write, nullptr};
}

void kprintf(const char* fmt, ...) {
    ConsoleGuard g;
    va_list ap;
    va_start(ap, fmt);
    vformat(Sink{sink_write_raw, nullptr}, fmt, ap);
    va_end(ap);
}

void shutdown(bool failure) {
    arch::interrupts_off();
    sbi::system_reset(failure);
    kprintf("kernel: SBI system reset is not available; halted\n");
    for (;;)
        arch::wfi();
}

void panic(const char* fmt, ...) {
    arch::interrupts_off();
    {
        ConsoleGuard g;
        write_raw("\nPANIC: ", 8);
        va_list ap;
        va_start(ap, fmt);
        vformat(Sink{sink_write_raw, nullptr}, fmt, ap);
        va_end(ap);
        write_raw("\n", 1);
    }
    shutdown(true);
}

} // namespace capframe
