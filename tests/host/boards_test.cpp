// The two StarFive boards, from their fixtures: what the kernel discovers,
// and where booti puts the kernel (RAM base + text_offset 0x200000) — which
// must be RAM that no reservation claims, or the kernel refuses to boot.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "machine.h"
#include "ranges.h"

using namespace capframe;

namespace {

std::vector<uint8_t> load(const char* name) {
    std::string path = std::string(FIXTURE_DIR) + "/" + name + ".dtb";
    std::vector<uint8_t> b;
    if (FILE* f = std::fopen(path.c_str(), "rb")) {
        uint8_t buf[4096];
        for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;)
            b.insert(b.end(), buf, buf + n);
        std::fclose(f);
    }
    EXPECT_FALSE(b.empty()) << path;
    return b;
}

struct Board {
    std::vector<uint8_t> blob;
    MachineInfo m;
};

void discover(const char* name, Board& b) {
    b.blob = load(name);
    char why[160] = {};
    auto f = Fdt::open(b.blob.data(), b.blob.size(), why, sizeof why);
    ASSERT_TRUE(f.ok()) << why;
    ASSERT_TRUE(discover_machine(f.value(), b.m, why, sizeof why).ok()) << why;
}

constexpr uint64_t kTextOffset = 0x200000; // boot/entry.S's Image header
constexpr uint64_t kImageSize = 0x400000;  // generous: today's kernel is ~0.3 MiB

// Where booti puts the Image, and whether the kernel would accept it there
// (the same checks bootmem_init makes: inside RAM, no reservation over it).
bool placement_ok(const MachineInfo& m, PhysRange& at) {
    at = PhysRange{PhysAddr(m.memory[0].base.value() + kTextOffset), kImageSize};
    RangeSet ram;
    for (int i = 0; i < m.memory_count; ++i)
        if (!ram.add(m.memory[i]).ok()) return false;
    if (!ram.contains(at)) return false;
    for (int i = 0; i < m.reserved_count; ++i)
        if (m.reserved[i].overlaps(at)) return false;
    return true;
}

int usable_harts(const MachineInfo& m) {
    int n = 0;
    for (int i = 0; i < m.hart_count; ++i)
        n += m.harts[i].usable();
    return n;
}

} // namespace

TEST(Boards, VisionFive2Jh7110) {
    Board b;
    discover("jh7110-visionfive2", b);
    const MachineInfo& m = b.m;
    EXPECT_EQ(m.uart.kind, UartKind::Ns16550);
    EXPECT_EQ(m.uart.regs.base.value(), 0x10000000u);
    EXPECT_EQ(m.uart.reg_shift, 2u);
    EXPECT_EQ(m.uart.reg_io_width, 4u);
    EXPECT_EQ(m.timebase_hz, 4000000u);
    EXPECT_EQ(m.memory[0].base.value(), 0x40000000u);
    EXPECT_EQ(usable_harts(m), 4);
    ASSERT_NE(m.find_hart(0), nullptr);
    EXPECT_FALSE(m.find_hart(0)->usable()) << "the S7 monitor core is never started";
    for (uint32_t h = 1; h <= 4; ++h)
        EXPECT_EQ(m.find_hart(h)->plic_s_context, int32_t(2 * h));
    PhysRange at;
    EXPECT_TRUE(placement_ok(m, at));
    EXPECT_EQ(at.base.value(), 0x40200000u) << "booti's kernel_addr_r on the board";
    EXPECT_FALSE(m.reserved[0].overlaps(at)) << "clear of OpenSBI at 0x40000000..0x4007ffff";
}

TEST(Boards, VisionFive1Jh7100) {
    Board b;
    discover("jh7100-visionfive1", b);
    const MachineInfo& m = b.m;
    EXPECT_STREQ(m.model, "StarFive VisionFive V1");
    EXPECT_EQ(m.uart.kind, UartKind::Ns16550);
    EXPECT_STREQ(m.uart.path, "serial@12440000");
    EXPECT_EQ(m.uart.regs.base.value(), 0x12440000u);
    EXPECT_EQ(m.uart.reg_shift, 2u);
    EXPECT_EQ(m.uart.reg_io_width, 4u);
    EXPECT_EQ(m.uart.irq, 73u);
    EXPECT_EQ(m.timebase_hz, 6250000u);
    ASSERT_EQ(m.memory_count, 1);
    EXPECT_EQ(m.memory[0].size, 8ull << 30);
    EXPECT_EQ(usable_harts(m), 2);
    EXPECT_EQ(m.find_hart(0)->plic_s_context, 1);
    EXPECT_EQ(m.find_hart(1)->plic_s_context, 3);
    EXPECT_EQ(m.plic.base.value(), 0xc000000u);
    EXPECT_EQ(m.clint.base.value(), 0x2000000u);
    PhysRange at;
    EXPECT_TRUE(placement_ok(m, at));
    EXPECT_EQ(at.base.value(), 0x80200000u);
}

TEST(Boards, PlacementRefusedWhenAReservationCoversIt) {
    Board b;
    discover("jh7110-visionfive2", b);
    MachineInfo m = b.m;
    m.reserved[0] = PhysRange{PhysAddr(0x40000000), 0x400000}; // firmware grew to 4 MiB
    PhysRange at;
    EXPECT_FALSE(placement_ok(m, at));
}
