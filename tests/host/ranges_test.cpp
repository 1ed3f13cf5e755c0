#include "ranges.h"

#include <gtest/gtest.h>

using namespace capframe;

namespace {
PhysRange R(uint64_t b, uint64_t s) {
    return PhysRange{PhysAddr(b), s};
}
} // namespace

TEST(RangeSet, AddMergesTouchingAndOverlapping) {
    RangeSet s;
    ASSERT_TRUE(s.add(R(0x1000, 0x1000)).ok());
    ASSERT_TRUE(s.add(R(0x3000, 0x1000)).ok());
    EXPECT_EQ(s.count(), 2);
    ASSERT_TRUE(s.add(R(0x2000, 0x1000)).ok()); // bridges the gap
    ASSERT_EQ(s.count(), 1);
    EXPECT_EQ(s[0].base.value(), 0x1000u);
    EXPECT_EQ(s[0].size, 0x3000u);
    ASSERT_TRUE(s.add(R(0x0, 0x10000)).ok()); // swallows everything
    ASSERT_EQ(s.count(), 1);
    EXPECT_EQ(s.total_bytes(), 0x10000u);
    EXPECT_EQ(s.add(R(~uint64_t{0} - 10, 100)).error(), Error::OutOfRange);
}

TEST(RangeSet, SubtractSplitsAndTrims) {
    RangeSet s;
    ASSERT_TRUE(s.add(R(0x80000000, 0x8000000)).ok());    // 128 MiB of RAM
    ASSERT_TRUE(s.subtract(R(0x80000000, 0x80000)).ok()); // OpenSBI
    ASSERT_TRUE(s.subtract(R(0x80200000, 0x30000)).ok()); // kernel
    ASSERT_EQ(s.count(), 2);
    EXPECT_EQ(s[0].base.value(), 0x80080000u);
    EXPECT_EQ(s[0].end(), 0x80200000u);
    EXPECT_EQ(s[1].base.value(), 0x80230000u);
    EXPECT_EQ(s[1].end(), 0x88000000u);
    ASSERT_TRUE(s.subtract(R(0x70000000, 0x30000000)).ok()); // covers all
    EXPECT_EQ(s.count(), 0);
}

TEST(RangeSet, SubtractReportsAFullTableAndChangesNothing) {
    RangeSet s;
    for (int i = 0; i < RangeSet::kCapacity; ++i)
        ASSERT_TRUE(s.add(R(uint64_t(i) * 0x10000, 0x8000)).ok());
    EXPECT_EQ(s.add(R(0x1000000, 0x1000)).error(), Error::TooMany);
    EXPECT_EQ(s.subtract(R(0x2000, 0x1000)).error(), Error::TooMany); // would split
    EXPECT_EQ(s.count(), RangeSet::kCapacity);
    EXPECT_EQ(s.total_bytes(), uint64_t(RangeSet::kCapacity) * 0x8000);
}

TEST(RangeSet, TrimToPagesDropsSlivers) {
    RangeSet s;
    ASSERT_TRUE(s.add(R(0x1800, 0x2000)).ok()); // [0x1800, 0x3800) -> [0x2000, 0x3000)
    ASSERT_TRUE(s.add(R(0x10010, 0x100)).ok()); // less than a page: gone
    s.trim_to_pages();
    ASSERT_EQ(s.count(), 1);
    EXPECT_EQ(s[0].base.value(), 0x2000u);
    EXPECT_EQ(s[0].size, 0x1000u);
}

TEST(RangeSet, TakeHonoursAlignmentAndRunsOut) {
    RangeSet s;
    ASSERT_TRUE(s.add(R(0x1000, 0x3000)).ok());
    auto a = s.take(0x1000, 0x2000);
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a.value().value(), 0x2000u);
    EXPECT_EQ(s.total_bytes(), 0x2000u);
    EXPECT_TRUE(s.take(0x1000, 0x1000).ok());
    EXPECT_TRUE(s.take(0x1000, 0x1000).ok());
    EXPECT_EQ(s.take(0x1000, 0x1000).error(), Error::NoMemory);
    EXPECT_EQ(s.take(0, 0x1000).error(), Error::InvalidArgument);
    EXPECT_EQ(s.take(0x1000, 3).error(), Error::InvalidArgument);
}

// Found by the ranges fuzzer: with the table full, take() gave TooMany as
// soon as the lowest fitting range would have had to split, even when a later
// range could give the run from its start.
TEST(RangeSet, TakeWithAFullTableSkipsRangesItWouldSplit) {
    RangeSet s;
    // 32 ranges of 5 pages; the lowest 31 start one page past a 4-page
    // boundary, the last one starts on one.
    for (uint64_t i = 0; i < RangeSet::kCapacity - 1; ++i)
        ASSERT_TRUE(s.add(R(0x100000 * (i + 1) + 0x1000, 0x5000)).ok());
    ASSERT_TRUE(s.add(R(0x4000000, 0x5000)).ok());
    ASSERT_EQ(s.count(), RangeSet::kCapacity);
    auto a = s.take(0x1000, 0x4000); // from the middle of every range but the last
    ASSERT_TRUE(a.ok()) << error_name(a.error());
    EXPECT_EQ(a.value().value(), 0x4000000u);
    EXPECT_EQ(s.count(), RangeSet::kCapacity);
    EXPECT_EQ(s[RangeSet::kCapacity - 1].base.value(), 0x4001000u);
    // Now every candidate needs a split: NoMemory, and nothing changes.
    ASSERT_TRUE(s.subtract(R(0x4001000, 0x4000)).ok());
    ASSERT_TRUE(s.add(R(0x5001000, 0x5000)).ok());
    const uint64_t before = s.total_bytes();
    EXPECT_EQ(s.take(0x1000, 0x4000).error(), Error::NoMemory);
    EXPECT_EQ(s.total_bytes(), before);
    // With room in the table the same request splits the lowest range.
    ASSERT_TRUE(s.subtract(R(0x5001000, 0x5000)).ok());
    a = s.take(0x1000, 0x4000);
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a.value().value(), 0x104000u);
    EXPECT_EQ(s.count(), RangeSet::kCapacity);
}

TEST(RangeSet, ContainsAndOverlaps) {
    RangeSet s;
    ASSERT_TRUE(s.add(R(0x80000000, 0x1000000)).ok());
    EXPECT_TRUE(s.contains(R(0x80200000, 0x30000)));
    EXPECT_FALSE(s.contains(R(0x80ff0000, 0x20000))); // runs past the end
    EXPECT_FALSE(s.contains(R(0x7ffff000, 0x2000)));  // starts before
    EXPECT_TRUE(s.overlaps(R(0x7ffff000, 0x2000)));
    EXPECT_FALSE(s.overlaps(R(0x81000000, 0x1000)));
}
