// Host tests for discover_machine(): the facts each fixture's .dts states and
// the fallbacks (UART notes, MMIO overflow). The errors and the fixed-seed
// mutation loop are in machine_broken_test.cpp; the helpers in machine_test.h.
#include "machine_test.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "machine.h"

using namespace capframe;
using namespace machine_test;

// ---- QEMU virt ----

static void expect_virt_common(const MachineInfo& m) {
    EXPECT_STREQ(m.model, "riscv-virtio,qemu");
    // clock-frequency = "\08@" = <0x384000>
    expect_uart(m, {UartKind::Ns16550, 0x10000000, 0x100, 0, 1, 3686400, 10, "serial@10000000"});
    expect_irq(m, {0xc000000, 0x600000, 0x60, 0x2000000, 0x10000, 10000000});
    EXPECT_STREQ(m.bootargs, "");
    for (int i = 0; i < m.hart_count; ++i) {
        const HartInfo& h = m.harts[i];
        EXPECT_EQ(h.hart_id, uint32_t(i));
        EXPECT_TRUE(h.enabled && h.has_mmu && h.sv39 && h.s_mode && h.usable()); // sv48
        EXPECT_EQ(h.plic_s_context, 2 * i + 1); // contexts: M = 2h, S = 2h + 1
    }
    // The devices the kernel drives come first, page-rounded; then
    // everything else in document order: root devices, then /soc.
    Ranges want = {
        {0x10000000, 0x1000},     {0xc000000, 0x600000},
        {0x2000000, 0x10000},                              // UART, PLIC, CLINT
        {0x10100000, 0x1000},                              // fw-cfg (0x18 bytes)
        {0x20000000, 0x2000000},  {0x22000000, 0x2000000}, // flash, two banks
        {0x101000, 0x1000},                                // rtc
        {0x100000, 0x1000},                                // test (syscon)
        {0x30000000, 0x10000000},                          // pci ECAM
        {0x10008000, 0x1000},     {0x10007000, 0x1000},
        {0x10006000, 0x1000},     {0x10005000, 0x1000},
        {0x10004000, 0x1000},     {0x10003000, 0x1000},
        {0x10002000, 0x1000},     {0x10001000, 0x1000}, // virtio-mmio, as listed
    };
    expect_mmio(m, want, {{0, "serial@10000000"}, {1, "plic@c000000"}, {2, "clint@2000000"}});
    EXPECT_EQ(m.mmio_dropped, 0);
}

TEST(Machine, Virt) {
    struct {
        const char* fixture;
        uint64_t ram;
        int harts;
    } cases[] = {{"virt-smp1", 128 << 20, 1}, {"virt-smp2", 256 << 20, 2}};
    for (const auto& c : cases) {
        SCOPED_TRACE(c.fixture);
        auto d = discover_ok(c.fixture);
        const MachineInfo& m = *d->m;
        EXPECT_EQ(memory_list(m), (Ranges{{0x80000000, c.ram}}));
        EXPECT_EQ(reserved_list(m), Ranges{});
        ASSERT_EQ(m.hart_count, c.harts);
        EXPECT_EQ(m.find_hart(uint32_t(c.harts)), nullptr);
        expect_virt_common(m);
    }
}

TEST(Machine, VirtAfterOpenSbi) {
    auto d = discover_ok("virt-opensbi");
    const MachineInfo& m = *d->m;
    EXPECT_EQ(memory_list(m), (Ranges{{0x80000000, 256 << 20}}));
    // /reserved-memory/mmode_resv0@80000000
    EXPECT_EQ(reserved_list(m), (Ranges{{0x80000000, 0x80000}}));
    // interrupts-extended = <4 0xffffffff 4 9 2 0xffffffff 2 9>: the disabled
    // M-mode pairs still count, so S contexts stay 1 and 3.
    ASSERT_EQ(m.hart_count, 2);
    expect_virt_common(m);
}

TEST(Machine, WorksAtAnyAlignment) {
    Bytes b = load("virt-opensbi");
    for (size_t mis : {1, 3, 6}) {
        auto d = discover(b, mis);
        ASSERT_TRUE(d->result.ok()) << d->why;
        expect_virt_common(*d->m);
    }
}

// ---- QEMU sifive_u: hart 0 is an E51 without MMU ----

TEST(Machine, SifiveU) {
    auto d = discover_ok("sifive_u-smp2");
    const MachineInfo& m = *d->m;
    EXPECT_STREQ(m.model, "SiFive HiFive Unleashed A00");
    EXPECT_EQ(memory_list(m), (Ranges{{0x80000000, 128 << 20}}));
    EXPECT_EQ(reserved_list(m), Ranges{});
    // clocks = <&prci ...>, no clock-frequency
    expect_uart(m, {UartKind::SifiveUart0, 0x10010000, 0x1000, 0, 1, 0, 4, "serial@10010000"});
    expect_irq(m, {0xc000000, 0x4000000, 0x35, 0x2000000, 0x10000, 1000000});
    ASSERT_EQ(m.hart_count, 2);
    // interrupts-extended = <&cpu0_intc 11 &cpu1_intc 11 &cpu1_intc 9>:
    // hart 0 has only an M context (0); hart 1: M = 1, S = 2, i.e. S = 2h.
    expect_monitor_hart0(m, true);
    expect_application_harts(m, 1);
    EXPECT_TRUE(same(m.mmio[0].range, range(0x10010000, 0x1000)));
    EXPECT_TRUE(same(m.mmio[1].range, range(0xc000000, 0x4000000)));
    EXPECT_TRUE(same(m.mmio[2].range, range(0x2000000, 0x10000)));
    EXPECT_TRUE(has_mmio(m, 0x10011000, 0x1000));  // the second UART
    EXPECT_TRUE(has_mmio(m, 0x10090000, 0x2000));  // ethernet, first reg
    EXPECT_TRUE(has_mmio(m, 0x100a0000, 0x1000));  // ethernet, second reg
    EXPECT_TRUE(has_mmio(m, 0x2010000, 0x1000));   // cache controller
    EXPECT_TRUE(has_mmio(m, 0x3000000, 0x100000)); // dma
    EXPECT_TRUE(has_mmio(m, 0x10000000, 0x1000));  // prci
    EXPECT_FALSE(has_mmio(m, 0x0, 0x1000));        // spi flash@0 / mmc@0 are not MMIO
    EXPECT_EQ(m.mmio_count, 15);
    check_mmio_invariants(m);
}

// ---- StarFive JH7110 (VisionFive 2), hand-written ----

TEST(Machine, VisionFive2) {
    auto d = discover_ok("jh7110-visionfive2");
    const MachineInfo& m = *d->m;
    EXPECT_STREQ(m.model, "StarFive VisionFive 2 v1.3B");
    EXPECT_EQ(memory_list(m), (Ranges{{0x40000000, 4ull << 30}}));
    // linux,cma has only a size
    EXPECT_EQ(reserved_list(m), (Ranges{{0x40000000, 0x80000}}));
    expect_uart(m, {UartKind::Ns16550, 0x10000000, 0x10000, 2, 4, 24000000, 32, "serial@10000000"});
    expect_irq(m, {0xc000000, 0x4000000, 136, 0x2000000, 0x10000, 4000000});
    EXPECT_STREQ(m.bootargs, "console=ttyS0,115200 earlycon rootwait");
    EXPECT_EQ(m.bootargs_len, std::strlen("console=ttyS0,115200 earlycon rootwait"));

    // The S7 monitor core is disabled in this tree; four U74s.
    ASSERT_EQ(m.hart_count, 5);
    expect_monitor_hart0(m, false);
    expect_application_harts(m, 4);

    Ranges want = {
        {0x10000000, 0x10000},   {0xc000000, 0x4000000},
        {0x2000000, 0x10000},    {0x2010000, 0x4000},       // cache controller
        {0x13020000, 0x10000},   {0x13040000, 0x10000},     // syscrg, pinctrl
        {0x16010000, 0x10000},   {0x16030000, 0x10000},     // mmc, ethernet
        {0x2b000000, 0x1000000}, {0x940000000, 0x10000000}, // pcie apb, cfg
    };                                                      // uart1 and i2c are disabled
    expect_mmio(m, want, {{1, "interrupt-controller@c000000"}, {2, "timer@2000000"}});
}

// ---- the corners: see the comments in edge-cases.dts ----

TEST(Machine, EdgeCases) {
    auto d = discover_ok("edge-cases");
    const MachineInfo& m = *d->m;
    EXPECT_STREQ(m.model, "");
    // Two reg entries + mem2; memory@c0000000 is disabled.
    EXPECT_EQ(memory_list(m),
              (Ranges{{0x80000000, 0x4000000}, {0x88000000, 0x4000000}, {0xa0000000, 0x100000}}));
    // Two /memreserve/, fw@80000000; off@ is disabled.
    EXPECT_EQ(reserved_list(m),
              (Ranges{{0x80000000, 0x10000}, {0x87ff0000, 0x10000}, {0x80000000, 0x20000}}));

    ASSERT_EQ(m.hart_count, 3); // not-a-cpu has no device_type
    EXPECT_EQ(m.harts[0].hart_id, 0u);
    EXPECT_TRUE(m.harts[0].enabled);
    EXPECT_FALSE(m.harts[0].has_mmu || m.harts[0].sv39); // "riscv,none"
    EXPECT_EQ(m.harts[0].plic_s_context, 1);
    EXPECT_EQ(m.harts[1].hart_id, 5u);
    EXPECT_TRUE(m.harts[1].usable());        // sv57 implies sv39
    EXPECT_EQ(m.harts[1].plic_s_context, 3); // via linux,phandle
    EXPECT_EQ(m.harts[2].hart_id, 7u);
    EXPECT_FALSE(m.harts[2].enabled); // status "fail"
    EXPECT_TRUE(m.harts[2].has_mmu && m.harts[2].sv39);
    EXPECT_EQ(m.harts[2].plic_s_context, -1); // no interrupt-controller child

    // stdout-path = "console", an alias, into a bus with ranges child 0 ->
    // parent 0x10000000; a 64-bit clock-frequency.
    expect_uart(m, {UartKind::Ns16550, 0x10002000, 0x20, 0, 1, 1843200, 4, "serial@2000"});
    // The timebase is 64-bit, from cpu@0.
    expect_irq(m, {0xc000000, 0x4000000, 31, 0x2000000, 0xc000, 0x2540be400});

    // dup@2010 folds into the UART page; inner's dev@50000 is translated
    // through both buses; outside@200000 is not covered by ranges; nobus has
    // no ranges; disabled@ and in-ram@ are skipped; overlap-a/b/c and bridge
    // merge into one region.
    Ranges want = {
        {0x10002000, 0x1000}, {0xc000000, 0x4000000}, {0x2000000, 0xc000},
        {0x10050000, 0x1000}, {0x3000000, 0x5000},
    };
    expect_mmio(m, want, {{0, "serial@2000"}, {3, "dev@50000"}, {4, "overlap-a@3000000"}});
}

TEST(Machine, MmioOverflowKeepsKernelDevicesFirst) {
    auto d = discover_ok("mmio-overflow");
    const MachineInfo& m = *d->m;
    EXPECT_EQ(m.mmio_count, kMaxMmio);
    EXPECT_EQ(m.mmio_dropped, 70 + 3 - kMaxMmio);
    EXPECT_STREQ(m.mmio[0].name, "serial@10000000");
    EXPECT_STREQ(m.mmio[1].name, "plic@c000000");
    EXPECT_STREQ(m.mmio[2].name, "clint@2000000");
    EXPECT_TRUE(same(m.mmio[3].range, range(0x20000000, 0x1000)));
    check_mmio_invariants(m);
    // Too long for bootargs[]: left empty (never cut short), the length told.
    EXPECT_EQ(m.bootargs_len, 113u + 2000u); // the fixture's text
    EXPECT_GE(m.bootargs_len, sizeof m.bootargs);
    EXPECT_STREQ(m.bootargs, "");
}

// ---- UART fallbacks: kind None with a note, never an error ----

struct UartFallback {
    const char* what;
    const char* fixture;
    void (*patch)(Bytes&);
    UartKind kind;
    const char* note; // "" when a UART was found
    const char* first_mmio;
    uint64_t uart_base, uart_size; // the UART's registers, mapped as a device in any case
};

TEST(Machine, UartFallbacks) {
    const UartFallback cases[] = {
        {"reg-io-width 2", "jh7110-visionfive2",
         [](Bytes& b) {
             const uint8_t two[4] = {0, 0, 0, 2};
             patch(b, value_offset(b, "/soc/serial@10000000", "reg-io-width"), two, 4);
         },
         UartKind::None, "serial@10000000: unsupported reg-io-width 2",
         "interrupt-controller@c000000", 0x10000000, 0x10000},
        {"no stdout-path, no UART", "virt-smp1",
         [](Bytes& b) {
             replace_cstr(b, strings_offset(b), "stdout-path", "stdout-patX"); // the name
             replace_cstr(b, value_offset(b, "/soc/serial@10000000", "compatible"), "ns16550a",
                          "xx16550a");
         },
         UartKind::None, "no UART node found", "plic@c000000", 0x10000000, 0x1000},
        {"no stdout-path: the first UART", "sifive_u-smp2",
         [](Bytes& b) { replace_cstr(b, strings_offset(b), "stdout-path", "stdout-patX"); },
         UartKind::SifiveUart0, "", "serial@10010000", 0x10010000, 0x1000},
        {"stdout-path to an unsupported node", "virt-smp1",
         [](Bytes& b) {
             replace_cstr(b, value_offset(b, "/soc/serial@10000000", "compatible"), "ns16550a",
                          "xx16550a");
         },
         UartKind::None, "serial@10000000: not a supported UART (compatible)", "plic@c000000",
         0x10000000, 0x1000},
        {"stdout-path not found", "jh7110-visionfive2",
         [](Bytes& b) {
             replace_cstr(b, value_offset(b, "/chosen", "stdout-path"), "serial0:115200n8",
                          "serial7:115200n8");
         },
         UartKind::None, "stdout-path \"serial7\" not found", "interrupt-controller@c000000",
         0x10000000, 0x10000},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.what);
        Bytes b = load(c.fixture);
        c.patch(b);
        auto d = discover(b);
        ASSERT_TRUE(d->result.ok()) << d->why;
        const MachineInfo& m = *d->m;
        EXPECT_EQ(m.uart.kind, c.kind);
        EXPECT_STREQ(m.uart.note, c.note);
        ASSERT_GE(m.mmio_count, 1);
        // The UART's region comes first only when a UART was found.
        EXPECT_STREQ(m.mmio[0].name, c.first_mmio);
        if (c.kind != UartKind::None) EXPECT_STREQ(m.uart.path, c.first_mmio);
        EXPECT_TRUE(has_mmio(m, c.uart_base, c.uart_size));
        check_mmio_invariants(m);
    }
}

// ---- QEMU microchip-icicle-kit (PolarFire SoC), project-written tree ----

TEST(Machine, IcicleKit) {
    auto d = discover_ok("icicle-kit");
    const MachineInfo& m = *d->m;
    EXPECT_STREQ(m.model, "Microchip PolarFire-SoC Icicle Kit (QEMU)");
    // The low cached GiB only, not its aliases; OpenSBI adds its reservation at boot.
    EXPECT_EQ(memory_list(m), (Ranges{{0x80000000, 1ull << 30}}));
    EXPECT_EQ(reserved_list(m), Ranges{});
    // The console is MMUART1 (stdout-path "serial1:115200n8" via the alias),
    // an 8250 with registers 4 bytes apart and 32-bit accesses.
    expect_uart(m, {UartKind::Ns16550, 0x20100000, 0x1000, 2, 4, 150000000, 91, "serial@20100000"});
    expect_irq(m, {0xc000000, 0x4000000, 184, 0x2000000, 0xc000, 1000000});
    EXPECT_STREQ(m.bootargs, "");

    // Hart 0 is the E51: okay in this tree (OpenSBI disables it in the tree
    // it passes on), but without an MMU it is never usable, and it has only
    // an M-mode PLIC context. PLIC contexts: 0 = E51 M, then M, S per U54.
    ASSERT_EQ(m.hart_count, 5);
    expect_monitor_hart0(m, true);
    expect_application_harts(m, 4);

    // The console, PLIC and CLINT first, then MMUART0 from the walk.
    Ranges want = {
        {0x20100000, 0x1000}, {0xc000000, 0x4000000}, {0x2000000, 0xc000}, {0x20000000, 0x1000}};
    expect_mmio(
        m, want,
        {{1, "interrupt-controller@c000000"}, {2, "clint@2000000"}, {3, "serial@20000000"}});
}
