// Console UART drivers over an abstract register accessor (Io), so the
// register addressing is host-tested and the kernel plugs in real MMIO.
//
// 8250/16550 family: register n lives at base + (n << reg-shift) and is
// accessed reg-io-width bytes wide (1 on QEMU virt's ns16550a; 4 on the
// VisionFive 2's DesignWare APB UART, whose LSR is therefore at +0x14).
// SiFive UART0 (sifive_u): 32-bit txdata/rxdata with a full/empty flag in bit 31.
#pragma once

#include <concepts>
#include <cstdint>

namespace capframe {

// Io: uint32_t read(uint64_t addr, uint32_t width); void write(uint64_t addr, uint32_t width,
// uint32_t v)
template <class Io>
concept RegisterIo = requires(Io io, uint64_t a, uint32_t w, uint32_t v) {
    { io.read(a, w) } -> std::same_as<uint32_t>;
    io.write(a, w, v);
};

// Spins this many times for the transmitter before dropping a character, so
// a dead UART cannot hang the kernel silently.
inline constexpr uint32_t kUartSpinLimit = 1u << 20;

template <RegisterIo Io>
class Uart8250 {
  public:
    enum Reg : uint32_t { kThr = 0, kRbr = 0, kIer = 1, kLcr = 3, kLsr = 5 };
    static constexpr uint32_t kLsrDataReady = 0x01, kLsrThrEmpty = 0x20;

    constexpr Uart8250(Io io, uint64_t base, uint32_t reg_shift, uint32_t io_width)
        : io_(io), base_(base), shift_(reg_shift), width_(io_width) {}

    uint64_t reg_address(uint32_t reg) const { return base_ + (uint64_t{reg} << shift_); }
    // Firmware has set the line up (115200 8N1); we only mask its interrupts.
    // LCR is left alone: the DW UART ignores LCR writes while busy.
    void init() { io_.write(reg_address(kIer), width_, 0); }
    bool putc(char c) {
        for (uint32_t i = 0; i < kUartSpinLimit; ++i) {
            if (io_.read(reg_address(kLsr), width_) & kLsrThrEmpty) {
                io_.write(reg_address(kThr), width_, static_cast<uint8_t>(c));
                return true;
            }
        }
        return false;
    }
    int getc() {
        if (!(io_.read(reg_address(kLsr), width_) & kLsrDataReady)) return -1;
        return static_cast<int>(io_.read(reg_address(kRbr), width_) & 0xff);
    }

  private:
    Io io_;
    uint64_t base_;
    uint32_t shift_, width_;
};

template <RegisterIo Io>
class SifiveUart {
  public:
    static constexpr uint64_t kTxData = 0x00, kRxData = 0x04, kTxCtrl = 0x08, kIe = 0x10;
    static constexpr uint32_t kFlag = 1u << 31; // txdata: full; rxdata: empty

    constexpr SifiveUart(Io io, uint64_t base) : io_(io), base_(base) {}
    void init() {
        io_.write(base_ + kIe, 4, 0);
        io_.write(base_ + kTxCtrl, 4, io_.read(base_ + kTxCtrl, 4) | 1); // txen
    }
    bool putc(char c) {
        for (uint32_t i = 0; i < kUartSpinLimit; ++i) {
            if (!(io_.read(base_ + kTxData, 4) & kFlag)) {
                io_.write(base_ + kTxData, 4, static_cast<uint8_t>(c));
                return true;
            }
        }
        return false;
    }
    int getc() {
        uint32_t v = io_.read(base_ + kRxData, 4);
        return (v & kFlag) ? -1 : static_cast<int>(v & 0xff);
    }

  private:
    Io io_;
    uint64_t base_;
};

} // namespace capframe
