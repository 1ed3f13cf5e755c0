// What the Sv39 mapper's and the page-table printers' host tests share
// (sv39_test.cpp, vmprint_test.cpp): a tree on simulated table pages, misuse
// of those pages reported as a test failure, and short names for sizes and
// addresses.
#pragma once

#include <gtest/gtest.h>

#include "sim_tables.h"
#include "sv39.h"

namespace capframe::test {

struct GtestReport {
    static void bad(const char* what, PhysAddr pa) {
        ADD_FAILURE() << what << ": " << std::hex << pa.value();
    }
};

using SimMem = SimTables<256, GtestReport>;

inline constexpr uint64_t K4 = kPageSize, M2 = kMegaPageSize, G1 = kGigaPageSize;

inline VirtAddr V(uint64_t v) {
    return VirtAddr(v);
}
inline PhysAddr P(uint64_t p) {
    return PhysAddr(p);
}

// A fresh tree: only its root page is allocated.
class SimTreeTest : public ::testing::Test {
  protected:
    void SetUp() override {
        Result<Sv39<SimMem>> r = Sv39<SimMem>::create(mem);
        ASSERT_TRUE(r.ok());
        pt = r.value();
        ASSERT_EQ(mem.live(), 1u);
    }

    SimMem mem;
    Sv39<SimMem> pt;
};

} // namespace capframe::test
