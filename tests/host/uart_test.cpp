#include "uart.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

using namespace capframe;

namespace {
struct Access {
    bool write;
    uint64_t addr;
    uint32_t width;
    uint32_t value;
};
// A register file that records every access; reads return preset values.
struct FakeBus {
    std::map<uint64_t, uint32_t> regs;
    std::vector<Access> log;
};
struct FakeIo {
    FakeBus* bus;
    uint32_t read(uint64_t a, uint32_t w) {
        uint32_t v = bus->regs.count(a) ? bus->regs[a] : 0;
        bus->log.push_back({false, a, w, v});
        return v;
    }
    void write(uint64_t a, uint32_t w, uint32_t v) {
        bus->log.push_back({true, a, w, v});
        bus->regs[a] = v;
    }
};
} // namespace

TEST(Uart8250, QemuVirtByteRegisters) {
    FakeBus bus;
    Uart8250<FakeIo> u(FakeIo{&bus}, 0x10000000, 0, 1);
    EXPECT_EQ(u.reg_address(5), 0x10000005u); // LSR
    bus.regs[0x10000005] = 0x20;              // THR empty
    ASSERT_TRUE(u.putc('A'));
    ASSERT_EQ(bus.log.size(), 2u);
    EXPECT_EQ(bus.log[0].addr, 0x10000005u);
    EXPECT_EQ(bus.log[0].width, 1u);
    EXPECT_TRUE(bus.log[1].write);
    EXPECT_EQ(bus.log[1].addr, 0x10000000u);
    EXPECT_EQ(bus.log[1].value, uint32_t('A'));
}

TEST(Uart8250, VisionFive2DesignWareShift2Width4) {
    FakeBus bus;
    Uart8250<FakeIo> u(FakeIo{&bus}, 0x10000000, 2, 4);
    EXPECT_EQ(u.reg_address(5), 0x10000014u); // LSR at +0x14 on the JH7110
    u.init();
    ASSERT_EQ(bus.log.size(), 1u);
    EXPECT_EQ(bus.log[0].addr, 0x10000004u); // IER masked, 32-bit write
    EXPECT_EQ(bus.log[0].width, 4u);
    EXPECT_EQ(bus.log[0].value, 0u);
    bus.regs[0x10000014] = 0x21;  // THR empty, data ready
    bus.regs[0x10000000] = 0x141; // receive buffer: upper bits must be masked
    EXPECT_EQ(u.getc(), 0x41);
    ASSERT_TRUE(u.putc('z'));
    for (const Access& a : bus.log)
        EXPECT_EQ(a.width, 4u) << "every access 32 bits wide";
}

TEST(Uart8250, BusyTransmitterGivesUpInsteadOfHanging) {
    FakeBus bus; // LSR reads 0 forever
    Uart8250<FakeIo> u(FakeIo{&bus}, 0x10000000, 0, 1);
    EXPECT_FALSE(u.putc('x'));
    EXPECT_EQ(u.getc(), -1);
}

TEST(SifiveUart, TxFullFlagAndRxEmptyFlag) {
    FakeBus bus;
    SifiveUart<FakeIo> u(FakeIo{&bus}, 0x10010000);
    u.init();
    EXPECT_EQ(bus.regs[0x10010008] & 1, 1u); // txen
    ASSERT_TRUE(u.putc('k'));
    EXPECT_EQ(bus.regs[0x10010000], uint32_t('k'));
    bus.regs[0x10010004] = 0x80000000u; // rx empty
    EXPECT_EQ(u.getc(), -1);
    bus.regs[0x10010004] = 'q';
    EXPECT_EQ(u.getc(), 'q');
    bus.regs[0x10010000] = 0x80000000u; // tx full forever
    EXPECT_FALSE(u.putc('x'));
}
