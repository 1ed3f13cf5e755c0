#include "accounting.h"

#include <gtest/gtest.h>

#include <string>

using namespace capframe;
using namespace capframe::mm;

namespace {

std::string report(const Snapshot& s, const Accounting& a) {
    std::string out;
    Sink sink{
        [](void* ctx, const char* p, size_t n) { static_cast<std::string*>(ctx)->append(p, n); },
        &out};
    write_meminfo(sink, s, a);
    return out;
}

} // namespace

TEST(Accounting, ChargeAndUncharge) {
    Accounting a;
    ASSERT_TRUE(a.charge(1, Use::User, 10).ok());
    ASSERT_TRUE(a.charge(1, Use::PageTable, 3).ok());
    ASSERT_TRUE(a.charge(2, Use::User, 5).ok());
    ASSERT_TRUE(a.charge(kMmTask, Use::KernelObject, 4).ok());
    EXPECT_EQ(a.frames(1, Use::User), 10u);
    EXPECT_EQ(a.frames(1, Use::Shared), 0u);
    EXPECT_EQ(a.task_total(1), 13u);
    EXPECT_EQ(a.task_total(kMmTask), 4u);
    EXPECT_EQ(a.total(Use::User), 15u);
    EXPECT_EQ(a.in_use(), 22u);

    ASSERT_TRUE(a.uncharge(1, Use::User, 10).ok());
    EXPECT_EQ(a.frames(1, Use::User), 0u);
    EXPECT_EQ(a.total(Use::User), 5u);
    EXPECT_EQ(a.in_use(), 12u);
}

TEST(Accounting, RefusesNegativeOverflowAndUnknownIds) {
    Accounting a;
    ASSERT_TRUE(a.charge(3, Use::KernelStack, 2).ok());
    EXPECT_EQ(a.uncharge(3, Use::KernelStack, 3).error(), Error::InvalidArgument);
    EXPECT_EQ(a.uncharge(4, Use::KernelStack, 1).error(), Error::InvalidArgument); // other task
    EXPECT_EQ(a.uncharge(3, Use::User, 1).error(), Error::InvalidArgument);        // other use
    EXPECT_EQ(a.charge(kMmTask + 1, Use::User, 1).error(), Error::InvalidArgument);
    EXPECT_EQ(a.charge(3, static_cast<Use>(kUseCount), 1).error(), Error::InvalidArgument);
    EXPECT_EQ(a.charge(5, Use::KernelStack, ~uint64_t{0}).error(), Error::InvalidArgument);
    EXPECT_EQ(a.frames(3, Use::KernelStack), 2u); // nothing changed
    EXPECT_EQ(a.frames(kMmTask + 1, Use::User), 0u);
    EXPECT_EQ(a.total(static_cast<Use>(kUseCount)), 0u);
    EXPECT_EQ(a.in_use(), 2u);
}

TEST(Accounting, ReleaseTaskReturnsAndZeroes) {
    Accounting a;
    ASSERT_TRUE(a.charge(7, Use::User, 8).ok());
    ASSERT_TRUE(a.charge(7, Use::Shared, 2).ok());
    ASSERT_TRUE(a.charge(8, Use::User, 1).ok());
    const Usage u = a.release_task(7);
    EXPECT_EQ(u[Use::User], 8u);
    EXPECT_EQ(u[Use::Shared], 2u);
    EXPECT_EQ(u.total(), 10u);
    EXPECT_EQ(a.task_total(7), 0u);
    EXPECT_EQ(a.total(Use::User), 1u);
    EXPECT_EQ(a.in_use(), 1u);
    EXPECT_EQ(a.release_task(7).total(), 0u);
    EXPECT_EQ(a.release_task(kMmTask + 5).total(), 0u);
}

TEST(Accounting, SnapshotAddsUpOrShowsTheDifference) {
    Accounting a;
    ASSERT_TRUE(a.charge(1, Use::User, 30).ok());
    ASSERT_TRUE(a.charge(kMmTask, Use::PageTable, 2).ok());
    Snapshot s = a.snapshot(100, 68);
    EXPECT_EQ(s.in_use(), 32u);
    EXPECT_EQ(s.used[Use::User], 30u);
    EXPECT_TRUE(s.adds_up());
    EXPECT_EQ(s.unaccounted(), 0);
    EXPECT_FALSE(a.snapshot(100, 60).adds_up());
    EXPECT_EQ(a.snapshot(100, 60).unaccounted(), 8);  // leaked
    EXPECT_EQ(a.snapshot(100, 70).unaccounted(), -2); // counted twice
}

TEST(Accounting, MeminfoReport) {
    Accounting a;
    ASSERT_TRUE(a.charge(kMmTask, Use::PageTable, 6).ok());
    ASSERT_TRUE(a.charge(kMmTask, Use::KernelObject, 12).ok());
    ASSERT_TRUE(a.charge(1, Use::User, 120).ok());
    ASSERT_TRUE(a.charge(1, Use::PageTable, 10).ok());
    ASSERT_TRUE(a.charge(1, Use::KernelStack, 2).ok());
    ASSERT_TRUE(a.charge(1, Use::KernelObject, 4).ok());
    ASSERT_TRUE(a.charge(1, Use::Shared, 8).ok());
    ASSERT_TRUE(a.charge(12, Use::User, 30).ok());
    ASSERT_TRUE(a.charge(12, Use::KernelStack, 1).ok());
    ASSERT_TRUE(a.charge(5, Use::User, 1).ok());
    ASSERT_TRUE(a.uncharge(5, Use::User, 1).ok()); // task 5 holds nothing: no row

    EXPECT_EQ(report(a.snapshot(4096, 3903), a),
              "frames: 4096 total (16384 KiB), 3903 free, 193 in use\n"
              "task      user  ptable  kstack    kobj  shared   total\n"
              "mm           0       6       0      12       0      18\n"
              "1          120      10       2       4       8     144\n"
              "12          30       0       1       0       0      31\n"
              "all        150      16       3      16       8     193\n"
              "frames add up: 3903 free + 193 in use = 4096 total\n");

    const std::string leak = report(a.snapshot(4096, 3900), a);
    EXPECT_EQ(leak.substr(leak.rfind("MISMATCH")),
              "MISMATCH: 3900 free + 193 in use = 4093, not 4096 total (3 unaccounted)\n");
    const std::string twice = report(a.snapshot(4096, 3910), a);
    EXPECT_EQ(twice.substr(twice.rfind("MISMATCH")),
              "MISMATCH: 3910 free + 193 in use = 4103, not 4096 total (7 counted twice)\n");
}
