// The two StarFive boards, from their fixtures: what the kernel discovers,
// and where booti puts the kernel (RAM base + text_offset 0x200000) — which
// must be RAM that no reservation claims, or the kernel refuses to boot.
// The VisionFive 2 at 2, 4 and 8 GiB: how the kernel sizes mm for each
// (lib/mm_sizing.h), and how much of it mm's capability table can
// serve today.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "capframe/abi.h"
#include "fixture.h"
#include "machine.h"
#include "mm_sizing.h"
#include "ranges.h"

using namespace capframe;

namespace {

using fixture::load;

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

// booti's placement is accepted, at `base`; returns it.
PhysRange expect_placed_at(const MachineInfo& m, uint64_t base) {
    PhysRange at;
    EXPECT_TRUE(placement_ok(m, at));
    EXPECT_EQ(at.base.value(), base);
    return at;
}

// The free RAM as bootmem_init (kernel/vm.cpp) computes it: RAM minus the
// first 2 MiB (firmware), the reservations, the kernel image where booti
// puts it and the device tree at U-Boot's fdt_addr_r (0x46000000 on the
// board). The kernel's own page tables (about 10 frames) come out of it
// before mm is sized; that does not change the table order (clamped) and
// moves the window by at most those frames, so it is left out here.
constexpr uint64_t kBoardFdtAddr = 0x46000000;
constexpr uint64_t kDtbSize = 0x10000;

RangeSet free_ram_at_boot(const MachineInfo& m) {
    RangeSet ram;
    for (int i = 0; i < m.memory_count; ++i)
        EXPECT_TRUE(ram.add(m.memory[i]).ok());
    RangeSet free = ram;
    EXPECT_TRUE(free.subtract(PhysRange{ram[0].base, kMegaPageSize}).ok());
    for (int i = 0; i < m.reserved_count; ++i)
        EXPECT_TRUE(free.subtract(m.reserved[i]).ok());
    EXPECT_TRUE(
        free.subtract(PhysRange{PhysAddr(m.memory[0].base.value() + kTextOffset), kImageSize})
            .ok());
    EXPECT_TRUE(free.subtract(PhysRange{PhysAddr(kBoardFdtAddr), kDtbSize}).ok());
    free.trim_to_pages();
    return free;
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
    PhysRange at = expect_placed_at(m, 0x40200000); // booti's kernel_addr_r on the board
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
    expect_placed_at(m, 0x80200000);
}

TEST(Boards, PlacementRefusedWhenAReservationCoversIt) {
    Board b;
    discover("jh7110-visionfive2", b);
    MachineInfo m = b.m;
    m.reserved[0] = PhysRange{PhysAddr(0x40000000), 0x400000}; // firmware grew to 4 MiB
    PhysRange at;
    EXPECT_FALSE(placement_ok(m, at));
}

// ---- The VisionFive 2 at 2, 4 and 8 GiB ----

namespace {

constexpr uint64_t kGiB = uint64_t{1} << 30;

struct Vf2 {
    const char* fixture;
    uint64_t ram_bytes;
};
constexpr Vf2 kVf2[] = {
    {"jh7110-visionfive2-2g", 2 * kGiB},
    {"jh7110-visionfive2", 4 * kGiB},
    {"jh7110-visionfive2-8g", 8 * kGiB},
};

} // namespace

TEST(Boards, VisionFive2MemoryAt2And4And8GiB) {
    for (const Vf2& v : kVf2) {
        SCOPED_TRACE(v.fixture);
        Board b;
        discover(v.fixture, b);
        const MachineInfo& m = b.m;
        ASSERT_EQ(m.memory_count, 1) << "U-Boot writes one /memory range from the EEPROM";
        EXPECT_EQ(m.memory[0].base.value(), 0x40000000u);
        EXPECT_EQ(m.memory[0].size, v.ram_bytes);
        EXPECT_EQ(m.memory[0].end(), 0x40000000u + v.ram_bytes);
        EXPECT_EQ(usable_harts(m), 4);
        expect_placed_at(m, 0x40200000);
    }
}

TEST(Boards, VisionFive2At8GiBHasRamPast4GiB) {
    Board b;
    discover("jh7110-visionfive2-8g", b);
    EXPECT_EQ(b.m.memory[0].end(), 0x240000000u) << "a 64-bit size: RAM ends at 9 GiB";
    RangeSet free = free_ram_at_boot(b.m);
    ASSERT_GT(free.count(), 0);
    EXPECT_EQ(free[free.count() - 1].end(), 0x240000000u) << "the free RAM reaches the end";
}

// The sizing boot_mm.cpp does for each board: a directory for 4 slots per
// free frame (mm's space grows into it at run time, a slot per frame handed
// out), the books for it, and the metadata window over the free RAM (68
// bytes per frame). What mm takes at boot is the metadata plus the directory
// and the leaf books: under 1.6% of RAM on every board.
TEST(Boards, VisionFive2MmSizing) {
    for (const Vf2& v : kVf2) {
        SCOPED_TRACE(v.fixture);
        Board b;
        discover(v.fixture, b);
        RangeSet free = free_ram_at_boot(b.m);
        MmSizing s = mm_sizing(free);
        uint64_t ram_frames = v.ram_bytes / kPageSize;
        EXPECT_EQ(s.free_frames, free.total_bytes() / kPageSize);
        EXPECT_LT(s.free_frames, ram_frames);
        EXPECT_GT(s.free_frames, ram_frames - 2048) << "firmware, kernel and tree take < 8 MiB";
        EXPECT_EQ(s.dir_entries, mm_dir_entries(s.free_frames));
        EXPECT_GE(s.max_slots, 3 * s.free_frames) << "the directory never limits mm";
        EXPECT_EQ(s.window_base, 0x40200000u + kImageSize) << "the first free byte";
        EXPECT_EQ(s.window_base + s.window_frames * kPageSize, 0x40000000u + v.ram_bytes);
        EXPECT_GE(s.meta_bytes, s.window_frames * capframe::abi::kMetaBytesPerFrame);
        EXPECT_LT(s.meta_bytes,
                  s.window_frames * capframe::abi::kMetaBytesPerFrame + 2 * kPageSize);
        uint64_t books = (s.meta_bytes + s.dir_bytes + s.slot_book_bytes) / kPageSize;
        EXPECT_LT(100.0 * double(books) / double(ram_frames), 1.6);
        std::printf("[ sizing   ] VisionFive 2 %2lu GiB: %lu free frames; directory %lu leaves "
                    "(%lu frames) for up to %lu slots, leaf books %lu frames, metadata %lu "
                    "frames; together %.2f%% of RAM\n",
                    (unsigned long)(v.ram_bytes / kGiB), (unsigned long)s.free_frames,
                    (unsigned long)s.dir_entries, (unsigned long)(s.dir_bytes / kPageSize),
                    (unsigned long)s.max_slots, (unsigned long)(s.slot_book_bytes / kPageSize),
                    (unsigned long)(s.meta_bytes / kPageSize),
                    100.0 * double(books) / double(ram_frames));
    }
}

// Issue 15 (was: the table stopped at order 12 and served 455 MiB): the
// directory holds enough leaves for every free frame of each board, so the
// space can name every frame as a page of its own.
TEST(Boards, VisionFive2MmSpaceServesEveryFrame) {
    for (const Vf2& v : kVf2) {
        SCOPED_TRACE(v.fixture);
        Board b;
        discover(v.fixture, b);
        MmSizing s = mm_sizing(free_ram_at_boot(b.m));
        EXPECT_GE(s.max_slots, s.free_frames + s.free_frames / 61 + 512)
            << "a slot per frame, plus the leaves' own and spare";
    }
}

TEST(MmSizing, DirectoryGrowsWithFramesInWholePages) {
    EXPECT_EQ(mm_dir_entries(0), kMmDirMinEntries);
    EXPECT_EQ(mm_dir_entries(1), kMmDirMinEntries);
    for (uint64_t f = 1; f < (uint64_t{1} << 23); f = f * 3 + 7) {
        uint64_t d = mm_dir_entries(f);
        EXPECT_EQ(d % 512, 0u) << f;
        EXPECT_GE(d * 64, f * kMmDirSlotsPerFrame) << f;
        EXPECT_LT(d * 64, f * kMmDirSlotsPerFrame + 512 * 64 + kMmDirMinEntries * 64) << f;
    }
    EXPECT_EQ(mm_dir_entries(uint64_t{1} << 22), (uint64_t{1} << 24) / 64) << "16 GiB";
}

TEST(MmSizing, WindowAndMetadataFromTheFreeRanges) {
    RangeSet free;
    ASSERT_TRUE(free.add(PhysRange{PhysAddr(0x80400000), 0x100000}).ok());
    ASSERT_TRUE(free.add(PhysRange{PhysAddr(0x80800000), 0x7800000}).ok());
    MmSizing s = mm_sizing(free);
    EXPECT_EQ(s.free_frames, (0x100000u + 0x7800000u) / kPageSize);
    EXPECT_EQ(s.window_base, 0x80400000u);
    EXPECT_EQ(s.window_frames, (0x88000000u - 0x80400000u) / kPageSize) << "holes included";
    EXPECT_EQ(s.meta_bytes % kPageSize, 0u);
    EXPECT_GE(s.meta_bytes, s.window_frames * capframe::abi::kMetaBytesPerFrame);
    EXPECT_LT(s.meta_bytes, s.window_frames * capframe::abi::kMetaBytesPerFrame + 2 * kPageSize);
    EXPECT_EQ(s.meta_zeroed_bytes % kPageSize, 0u);
    EXPECT_GE(s.meta_zeroed_bytes, s.window_frames * capframe::abi::kMetaZeroedBytesPerFrame);
    EXPECT_LT(s.meta_zeroed_bytes, s.meta_bytes) << "the records are not zeroed";
    EXPECT_EQ(s.dir_bytes, s.dir_entries * 8);
    EXPECT_GE(s.slot_book_bytes, s.dir_entries * kMmLeafBookBytes);
    EXPECT_EQ(s.slot_book_bytes % kPageSize, 0u);
    RangeSet none;
    MmSizing z = mm_sizing(none);
    EXPECT_EQ(z.free_frames, 0u);
    EXPECT_EQ(z.window_frames, 0u);
    EXPECT_EQ(z.meta_bytes, 0u);
    EXPECT_EQ(z.dir_entries, kMmDirMinEntries);
}
