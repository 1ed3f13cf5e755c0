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

TEST(RangeSet, ContainsAndOverlaps) {
    RangeSet s;
    ASSERT_TRUE(s.add(R(0x80000000, 0x1000000)).ok());
    EXPECT_TRUE(s.contains(R(0x80200000, 0x30000)));
    EXPECT_FALSE(s.contains(R(0x80ff0000, 0x20000))); // runs past the end
    EXPECT_FALSE(s.contains(R(0x7ffff000, 0x2000)));  // starts before
    EXPECT_TRUE(s.overlaps(R(0x7ffff000, 0x2000)));
    EXPECT_FALSE(s.overlaps(R(0x81000000, 0x1000)));
}
