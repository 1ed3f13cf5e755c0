// Host tests for the FDT reader: the real QEMU trees and hand-made fixtures.
// Blobs broken on purpose are in fdt_broken_test.cpp; the helpers (a tiny
// writer, exactly-sized heap buffers so AddressSanitizer catches any read
// past `available`) in fdt_test.h.
#include "fdt_test.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "fdt.h"

using namespace capframe;
using namespace fdt_test;

// ---- valid trees ----

TEST(Fdt, OpensEveryFixture) {
    for (const char* name : {"virt-smp1", "virt-smp2", "virt-opensbi", "sifive_u-smp2",
                             "jh7110-visionfive2", "edge-cases", "mmio-overflow"}) {
        Bytes b = load(name);
        auto o = try_open(b);
        ASSERT_TRUE(o.result.ok()) << name << ": " << o.why;
        EXPECT_EQ(o.why, "") << name;
        const Fdt& f = o.result.value();
        EXPECT_EQ(f.total_size(), b.size());
        EXPECT_EQ(f.version(), 17u);
        EXPECT_EQ(f.boot_cpuid(), 0u);
        EXPECT_EQ(name_of(f, f.root()), "");
    }
}

// find_node: a path (a unit address optional but exact when given), an
// alias (whole names only, optionally followed by a relative path), either
// length-limited. `name` is the node found, or nullptr for none.
TEST(Fdt, FindNode) {
    constexpr size_t kAll = ~size_t{0};
    struct {
        const char* fixture;
        const char* path;
        size_t len;
        const char* name;
    } cases[] = {
        {"virt-smp2", "/", kAll, ""},
        {"virt-smp2", "/cpus", kAll, "cpus"},
        {"virt-smp2", "/soc/serial@10000000", kAll, "serial@10000000"},
        {"virt-smp2", "/memory", kAll, "memory@80000000"}, // unit address optional
        {"virt-smp2", "/cpus/cpu@1/interrupt-controller", kAll, "interrupt-controller"},
        {"virt-smp2", "//soc//plic/", kAll, "plic@c000000"},
        {"virt-smp2", "/soc/serial@1", kAll, nullptr}, // a unit address must match exactly
        {"virt-smp2", "/soc/seria", kAll, nullptr},
        {"virt-smp2", "/nonexistent", kAll, nullptr},
        {"virt-smp2", "", kAll, nullptr},
        {"virt-smp2", nullptr, kAll, nullptr},
        {"virt-smp2", "/cpus/cpu@0", 5, "cpus"}, // only the first 5 characters count
        // Without a unit address: the first match.
        {"sifive_u-smp2", "/soc/serial", kAll, "serial@10010000"},
        {"sifive_u-smp2", "/soc/serial@10011000", kAll, "serial@10011000"},
        {"jh7110-visionfive2", "serial0", kAll, "serial@10000000"},
        {"jh7110-visionfive2", "serial1", kAll, "serial@10010000"},
        {"jh7110-visionfive2", "serial", kAll, nullptr}, // aliases match whole names only
        {"jh7110-visionfive2", "serial2", kAll, nullptr},
        {"jh7110-visionfive2", "serial0:115200n8", 7, "serial@10000000"},
        {"sifive_u-smp2", "ethernet0", kAll, "ethernet@10090000"},
        {"sifive_u-smp2", "ethernet0/ethernet-phy@0", kAll, "ethernet-phy@0"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(std::string(c.fixture) + " " + (c.path ? c.path : "(null)"));
        Bytes b = load(c.fixture);
        Fdt f = open_fixture(b);
        FdtNode n = c.len == kAll ? f.find_node(c.path) : f.find_node(c.path, c.len);
        if (c.name) {
            ASSERT_TRUE(n.valid());
            EXPECT_EQ(name_of(f, n), c.name);
        } else {
            EXPECT_FALSE(n.valid());
        }
    }
    Bytes b = load("virt-smp2");
    Fdt f = open_fixture(b);
    EXPECT_EQ(f.find_node("/"), f.root());
    Bytes v = load("jh7110-visionfive2");
    Fdt g = open_fixture(v);
    EXPECT_EQ(g.find_node("serial0"), g.find_node("/soc/serial@10000000"));
}

TEST(Fdt, Iteration) {
    Bytes b = load("virt-smp2");
    Fdt f = open_fixture(b);
    FdtNode cpus = f.find_node("/cpus");
    std::vector<std::string> names;
    for (FdtNode c = f.first_child(cpus); c.valid(); c = f.next_sibling(c)) {
        names.push_back(f.name(c));
        EXPECT_EQ(f.parent(c), cpus);
    }
    EXPECT_EQ(names, (std::vector<std::string>{"cpu@0", "cpu@1", "cpu-map"}));
    EXPECT_FALSE(f.parent(f.root()).valid());
    EXPECT_FALSE(f.next_sibling(f.root()).valid());
    EXPECT_FALSE(f.first_child(FdtNode{}).valid());
    EXPECT_FALSE(f.first_child(f.find_node("/soc/serial@10000000")).valid()); // a leaf

    // Every node, in document order; each one's path agrees with parent().
    int count = 0;
    for (FdtNode n = f.root(); n.valid(); n = f.next_node(n)) {
        ++count;
        FdtNode chain[kFdtMaxDepth];
        int d = f.path_nodes(n, chain);
        ASSERT_GE(d, 1);
        EXPECT_EQ(chain[d - 1], n);
        EXPECT_EQ(chain[0], f.root());
        if (d >= 2) {
            EXPECT_EQ(f.parent(n), chain[d - 2]);
        }
    }
    FdtNode none[kFdtMaxDepth];
    EXPECT_EQ(f.path_nodes(FdtNode{12345}, none), 0);
    EXPECT_EQ(count, 33); // virt-smp1 has 30; smp2 adds cpu@1, its interrupt-controller, core1
}

TEST(Fdt, Properties) {
    Bytes b = load("virt-opensbi");
    Fdt f = open_fixture(b);
    FdtNode root = f.root(), plic = f.find_node("/soc/plic@c000000");
    EXPECT_EQ(f.u32(root, "#address-cells").value(), 2u);
    EXPECT_EQ(f.u32(plic, "riscv,ndev").value(), 0x60u);
    EXPECT_EQ(f.u32(root, "model").error(), Error::BadFormat); // not one cell
    EXPECT_EQ(f.u32(root, "nope").error(), Error::NotFound);
    EXPECT_STREQ(f.string(root, "model").value(), "riscv-virtio,qemu");
    EXPECT_TRUE(f.string_equals(root, "model", "riscv-virtio,qemu"));
    EXPECT_FALSE(f.string_equals(root, "model", "riscv-virtio"));
    EXPECT_EQ(f.string(f.find_node("/fw-cfg@10100000"), "dma-coherent").error(),
              Error::BadFormat); // empty: no string
    EXPECT_TRUE(f.has_property(plic, "interrupt-controller"));
    EXPECT_EQ(f.property(plic, "interrupt-controller").value().size(), 0u);
    EXPECT_EQ(f.property(plic, "interrupts-extended").value().size(), 32u);
    EXPECT_EQ(f.u64(f.find_node("/cpus"), "timebase-frequency").value(), 10000000u);
    EXPECT_EQ(f.u64(f.find_node("/soc/serial@10000000"), "clock-frequency").value(), 0x384000u);

    EXPECT_TRUE(f.is_compatible(plic, "sifive,plic-1.0.0"));
    EXPECT_TRUE(f.is_compatible(plic, "riscv,plic0"));
    EXPECT_FALSE(f.is_compatible(plic, "riscv,plic"));   // prefix of an entry
    EXPECT_FALSE(f.is_compatible(plic, "plic-1.0.0"));   // suffix of an entry
    EXPECT_FALSE(f.is_compatible(plic, "riscv,plic0x")); // longer than an entry
    EXPECT_TRUE(f.stringlist_contains(f.find_node("/soc/test@100000"), "compatible", "syscon"));
    EXPECT_TRUE(f.is_okay(f.find_node("/cpus/cpu@0")));
    EXPECT_TRUE(f.is_okay(plic)); // no status

    EXPECT_EQ(f.phandle(plic), 5u);
    EXPECT_EQ(f.find_phandle(5), plic);
    EXPECT_EQ(name_of(f, f.find_phandle(4)), "interrupt-controller");
    EXPECT_FALSE(f.find_phandle(0).valid());
    EXPECT_FALSE(f.find_phandle(0xffffffff).valid());
    EXPECT_FALSE(f.find_phandle(99).valid());

    std::vector<std::string> props;
    for (size_t i = 0; f.property_at(plic, i).ok(); ++i)
        props.push_back(f.property_at(plic, i).value().name);
    EXPECT_EQ(props,
              (std::vector<std::string>{"phandle", "riscv,ndev", "reg", "interrupts-extended",
                                        "interrupt-controller", "compatible", "#address-cells",
                                        "#interrupt-cells"}));
    EXPECT_EQ(f.property_at(plic, 1).value().value.size(), 4u);
    EXPECT_EQ(f.property_at(FdtNode{}, 0).error(), Error::NotFound);

    int virtio = 0;
    for (FdtNode n = f.find_compatible("virtio,mmio"); n.valid();
         n = f.find_compatible("virtio,mmio", n))
        ++virtio;
    EXPECT_EQ(virtio, 8);
}

TEST(Fdt, StatusAndLinuxPhandle) {
    Bytes b = load("edge-cases");
    Fdt f = open_fixture(b);
    EXPECT_FALSE(f.is_okay(f.find_node("/memory@c0000000")));
    EXPECT_TRUE(f.is_okay(f.find_node("/mem2")));
    EXPECT_FALSE(f.is_okay(f.find_node("/cpus/cpu@7"))); // "fail"
    FdtNode intc = f.find_phandle(0x55);
    EXPECT_EQ(f.parent(intc), f.find_node("/cpus/cpu@5"));
    EXPECT_EQ(f.u64(f.find_node("/cpus/cpu@0"), "timebase-frequency").value(), 0x2540be400u);
}

TEST(Fdt, Reg) {
    Bytes b = load("virt-smp1");
    Fdt f = open_fixture(b);
    auto mem = f.reg(f.find_node("/memory"));
    ASSERT_TRUE(mem.ok());
    ASSERT_EQ(mem.value().count(), 1u);
    EXPECT_EQ(mem.value()[0].addr, 0x80000000u);
    EXPECT_EQ(mem.value()[0].size, 0x8000000u);
    auto flash = f.reg(f.find_node("/flash"));
    ASSERT_EQ(flash.value().count(), 2u);
    EXPECT_EQ(flash.value()[1].addr, 0x22000000u);
    EXPECT_EQ(flash.value()[1].size, 0x2000000u);
    auto cpu = f.reg(f.find_node("/cpus/cpu@0")); // #size-cells = 0
    ASSERT_EQ(cpu.value().count(), 1u);
    EXPECT_EQ(cpu.value()[0].addr, 0u);
    EXPECT_EQ(cpu.value()[0].size, 0u);
    EXPECT_EQ(f.reg(f.root()).error(), Error::NotFound);
    // Cells the reg does not fit, or cell counts this reader refuses.
    FdtNode serial = f.find_node("/soc/serial@10000000");
    EXPECT_EQ(f.reg(serial, FdtCells{3, 2}).error(), Error::BadFormat);
    EXPECT_EQ(f.reg(serial, FdtCells{0, 1}).error(), Error::BadFormat);
    EXPECT_EQ(f.reg(serial, FdtCells{2, 3}).error(), Error::BadFormat);
    EXPECT_EQ(f.reg(serial, FdtCells{1, 2}).error(), Error::BadFormat); // 16 % 12 != 0
    auto as_1_1 = f.reg(serial, FdtCells{1, 1});
    ASSERT_EQ(as_1_1.value().count(), 2u);
    EXPECT_EQ(as_1_1.value()[0].size, 0x10000000u);

    Bytes e = load("edge-cases"); // #address-cells = #size-cells = 1
    Fdt g = open_fixture(e);
    auto m = g.reg(g.find_node("/memory@80000000"));
    ASSERT_EQ(m.value().count(), 2u);
    EXPECT_EQ(m.value()[1].addr, 0x88000000u);
    EXPECT_EQ(m.value()[1].size, 0x4000000u);
    FdtCells c = g.cells(g.find_node("/cpus"));
    EXPECT_EQ(c.addr, 1u);
    EXPECT_EQ(c.size, 0u);
    FdtCells d = g.cells(g.find_node("/chosen")); // spec defaults
    EXPECT_EQ(d.addr, 2u);
    EXPECT_EQ(d.size, 1u);
}

TEST(Fdt, ReservationMap) {
    Bytes e = load("edge-cases");
    Fdt g = open_fixture(e);
    ASSERT_EQ(g.reservation_count(), 2u);
    EXPECT_EQ(g.reservation(0).addr, 0x80000000u);
    EXPECT_EQ(g.reservation(0).size, 0x10000u);
    EXPECT_EQ(g.reservation(1).addr, 0x87ff0000u);
    EXPECT_EQ(g.reservation(2).size, 0u); // out of range: empty
    Bytes v = load("virt-opensbi");
    EXPECT_EQ(open_fixture(v).reservation_count(), 0u);
}

TEST(Fdt, AnyAlignment) {
    Bytes b = load("virt-opensbi");
    for (size_t mis : {1, 2, 3, 5, 7}) {
        Buffer buf(b, mis);
        auto o = try_open(buf, buf.size);
        ASSERT_TRUE(o.result.ok()) << o.why;
        const Fdt& f = o.result.value();
        FdtNode mem = f.find_node("/memory");
        EXPECT_EQ(f.reg(mem).value()[0].size, 0x10000000u);
        EXPECT_EQ(f.u32(f.find_node("/soc/plic"), "riscv,ndev").value(), 0x60u);
    }
}

TEST(Fdt, HandWrittenTreeAndVersion16) {
    Bytes b = small_tree().build();
    auto o = try_open(b);
    ASSERT_TRUE(o.result.ok()) << o.why;
    EXPECT_EQ(name_of(o.result.value(), o.result.value().find_node("/child")), "child");
    // Version 16 has no size_dt_struct: the reader finds FDT_END itself.
    put32(b, kVersion, 16);
    put32(b, kSizeStruct, 0xdeadbeef);
    auto v16 = try_open(b);
    ASSERT_TRUE(v16.result.ok()) << v16.why;
    EXPECT_EQ(v16.result.value().u32(v16.result.value().root(), "a").value(), 1u);
}
