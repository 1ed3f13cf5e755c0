// The helpers of discover_machine()'s host tests (machine_test.cpp,
// machine_broken_test.cpp): fixtures discovered from exactly-sized heap
// buffers, range comparisons, the MMIO invariants, and blob patching.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fixture.h"
#include "machine.h"

namespace machine_test {

using namespace capframe;

using fixture::Bytes;
using fixture::load;

// Opens and discovers; the blob is copied to an exactly-sized buffer at
// `misalign` bytes past the allocation so ASan sees any stray read.
struct Discovered {
    std::unique_ptr<uint8_t[]> mem;
    std::unique_ptr<MachineInfo> m = std::make_unique<MachineInfo>();
    Result<void> result = Error::NotFound;
    std::string why;
};

inline std::unique_ptr<Discovered> discover(const Bytes& b, size_t misalign = 0) {
    auto d = std::make_unique<Discovered>();
    d->mem.reset(new uint8_t[b.size() + misalign]);
    std::memcpy(d->mem.get() + misalign, b.data(), b.size());
    char why[160] = "?";
    auto f = Fdt::open(d->mem.get() + misalign, b.size(), why, sizeof why);
    EXPECT_TRUE(f.ok()) << why;
    if (!f.ok()) return d;
    std::memset(why, 'X', sizeof why);
    d->result = discover_machine(f.value(), *d->m, why, sizeof why);
    d->why = why;
    return d;
}

inline std::unique_ptr<Discovered> discover_ok(const char* fixture) {
    auto d = discover(load(fixture));
    EXPECT_TRUE(d->result.ok()) << fixture << ": " << d->why;
    EXPECT_EQ(d->why, "") << fixture;
    return d;
}

inline PhysRange range(uint64_t base, uint64_t size) {
    return PhysRange{PhysAddr(base), size};
}

inline ::testing::AssertionResult same(PhysRange got, PhysRange want) {
    if (got.base == want.base && got.size == want.size) return ::testing::AssertionSuccess();
    char buf[96];
    std::snprintf(buf, sizeof buf, "got [%#llx +%#llx), want [%#llx +%#llx)",
                  (unsigned long long)got.base.value(), (unsigned long long)got.size,
                  (unsigned long long)want.base.value(), (unsigned long long)want.size);
    return ::testing::AssertionFailure() << buf;
}

// (base, size) pairs, to compare a whole list in one EXPECT_EQ.
using Ranges = std::vector<std::pair<uint64_t, uint64_t>>;

inline Ranges range_list(const PhysRange* r, int n) {
    Ranges v;
    for (int i = 0; i < n; ++i)
        v.push_back({r[i].base.value(), r[i].size});
    return v;
}

inline Ranges mmio_list(const MachineInfo& m) {
    Ranges v;
    for (int i = 0; i < m.mmio_count; ++i)
        v.push_back({m.mmio[i].range.base.value(), m.mmio[i].range.size});
    return v;
}

inline Ranges memory_list(const MachineInfo& m) {
    return range_list(m.memory, m.memory_count);
}

inline Ranges reserved_list(const MachineInfo& m) {
    return range_list(m.reserved, m.reserved_count);
}

inline bool has_mmio(const MachineInfo& m, uint64_t base, uint64_t size) {
    for (int i = 0; i < m.mmio_count; ++i)
        if (m.mmio[i].range.base.value() == base && m.mmio[i].range.size == size) return true;
    return false;
}

// A console UART as a fixture's tree describes it; expect_uart checks every
// field, the note included (empty: a UART was found).
struct UartWant {
    UartKind kind;
    uint64_t base, size;
    uint32_t reg_shift, reg_io_width, clock_hz, irq;
    const char* path;
};

inline void expect_uart(const MachineInfo& m, const UartWant& w) {
    EXPECT_EQ(m.uart.kind, w.kind);
    EXPECT_TRUE(same(m.uart.regs, range(w.base, w.size)));
    EXPECT_EQ(m.uart.reg_shift, w.reg_shift);
    EXPECT_EQ(m.uart.reg_io_width, w.reg_io_width);
    EXPECT_EQ(m.uart.clock_hz, w.clock_hz);
    EXPECT_EQ(m.uart.irq, w.irq);
    EXPECT_STREQ(m.uart.path, w.path);
    EXPECT_STREQ(m.uart.note, "");
}

// The interrupt controllers and the timer.
struct IrqWant {
    uint64_t plic_base, plic_size;
    uint32_t plic_ndev;
    uint64_t clint_base, clint_size;
    uint64_t timebase_hz;
};

inline void expect_irq(const MachineInfo& m, const IrqWant& w) {
    EXPECT_TRUE(same(m.plic, range(w.plic_base, w.plic_size)));
    EXPECT_EQ(m.plic_ndev, w.plic_ndev);
    EXPECT_TRUE(same(m.clint, range(w.clint_base, w.clint_size)));
    EXPECT_EQ(m.timebase_hz, w.timebase_hz);
}

// SiFive-style SoCs: hart 0 is a monitor core without MMU (only an M-mode
// PLIC context, so no S context); harts 1..last are application cores, each
// with an M and an S context after the monitor's: S = 2h.
inline void expect_monitor_hart0(const MachineInfo& m, bool enabled) {
    ASSERT_GE(m.hart_count, 1);
    const HartInfo& h = m.harts[0];
    EXPECT_EQ(h.hart_id, 0u);
    EXPECT_EQ(h.enabled, enabled);
    EXPECT_FALSE(h.has_mmu || h.sv39 || h.s_mode || h.usable());
    EXPECT_EQ(h.plic_s_context, -1);
}

inline void expect_application_harts(const MachineInfo& m, uint32_t last) {
    for (uint32_t id = 1; id <= last; ++id) {
        const HartInfo* h = m.find_hart(id);
        ASSERT_NE(h, nullptr) << id;
        EXPECT_TRUE(h->enabled && h->has_mmu && h->sv39 && h->s_mode && h->usable()) << id;
        EXPECT_EQ(h->plic_s_context, int32_t(2 * id)) << id;
    }
    EXPECT_EQ(m.find_hart(last + 1), nullptr);
}

// MMIO invariants every result must keep: page-rounded, disjoint, not in RAM.
inline void check_mmio_invariants(const MachineInfo& m) {
    for (int i = 0; i < m.mmio_count; ++i) {
        const PhysRange& r = m.mmio[i].range;
        EXPECT_TRUE(r.base.is_page_aligned() && r.size && r.size % kPageSize == 0) << i;
        for (int j = i + 1; j < m.mmio_count; ++j)
            EXPECT_FALSE(r.overlaps(m.mmio[j].range));
        for (int k = 0; k < m.memory_count; ++k)
            EXPECT_FALSE(r.overlaps(m.memory[k]));
    }
}

// The whole MMIO list, the names of some entries (index, name), and the
// invariants.
inline void expect_mmio(const MachineInfo& m, const Ranges& want,
                        std::initializer_list<std::pair<int, const char*>> names) {
    EXPECT_EQ(mmio_list(m), want);
    for (const auto& [i, name] : names) {
        ASSERT_LT(i, m.mmio_count) << name;
        EXPECT_STREQ(m.mmio[i].name, name) << i;
    }
    check_mmio_invariants(m);
}

// Offset of a property's value in the blob, for patching a copy in place.
inline size_t value_offset(const Bytes& b, const char* path, const char* prop) {
    char why[160];
    auto f = Fdt::open(b.data(), b.size(), why, sizeof why);
    EXPECT_TRUE(f.ok()) << why;
    auto v = f.value().property(f.value().find_node(path), prop);
    EXPECT_TRUE(v.ok()) << path << " " << prop;
    return v.ok() ? static_cast<size_t>(v.value().data() - b.data()) : 0;
}

inline void patch(Bytes& b, size_t off, const void* src, size_t n) {
    std::memcpy(b.data() + off, src, n);
}

// Overwrites the first occurrence of `from` (with its NUL) after `start`.
inline void replace_cstr(Bytes& b, size_t start, const char* from, const char* to) {
    size_t n = std::strlen(from) + 1;
    ASSERT_EQ(n, std::strlen(to) + 1);
    for (size_t i = start; i + n <= b.size(); ++i)
        if (std::memcmp(b.data() + i, from, n) == 0) {
            std::memcpy(b.data() + i, to, n);
            return;
        }
    FAIL() << "no \"" << from << "\" in the blob";
}

inline size_t strings_offset(const Bytes& b) {
    return size_t{b[12]} << 24 | size_t{b[13]} << 16 | size_t{b[14]} << 8 | b[15];
}

} // namespace machine_test
