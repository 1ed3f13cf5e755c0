// What the mm host tests share (mm_test.cpp, mm_space_test.cpp,
// mm_batch_test.cpp): the harness (tests/host/mm/mm_harness.h), init's
// addresses, and the steps most tests begin or end with.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "mm/mm_harness.h"

namespace mmt {

using namespace mmh;
namespace cabi = ::capframe::abi;

inline constexpr uint64_t kData = 0x12000; // init's data page (fake make_program)
inline constexpr uint64_t kHeap = 0x15000; // init's heap starts here

inline int64_t E(cabi::Errno e) {
    return cabi::error_return(e);
}

inline bool logged(const std::string& what) {
    for (auto& l : fakek::fake().log)
        if (l.find(what) != std::string::npos) return true;
    return false;
}

// init exits: the system shuts down, every frame and object came back.
inline void end_and_expect_everything_back() {
    auto a = request(1, mmp::Request::Exit, 0);
    EXPECT_FALSE(a.replied);
    EXPECT_EQ(fakek::fake().shutdown_status, 0);
    EXPECT_TRUE(logged("every frame came back"));
    EXPECT_EQ(free_frames(), free_at_start());
    EXPECT_EQ(check_books(), "");
    // mm's table, address space, thread, Control, and its endpoint.
    EXPECT_EQ(fakek::fake().live_objects(), 5u);
    EXPECT_EQ(mm::g_slots.used(), slots_at_start()) << "capability slots leaked";
}

// A string in pid's heap (one new page), returned as its address.
inline uint64_t put_string(int pid, const std::string& s) {
    auto a = request(pid, mmp::Request::Sbrk, 4096);
    uint64_t va = static_cast<uint64_t>(a.r());
    for (size_t i = 0; i <= s.size(); i += 8) {
        uint64_t w = 0;
        for (size_t b = 0; b < 8 && i + b < s.size(); ++b)
            w |= uint64_t(uint8_t(s[i + b])) << (8 * b);
        EXPECT_TRUE(poke(pid, va + i, w));
    }
    return va;
}

// Grows pid's heap (init's, starting at kHeap) by `pages` pages and writes
// each one: the first word of page i holds i + 1 (never 0, the value of a
// page nobody wrote). ASSERT_TRUE(touch_heap(...)).
inline ::testing::AssertionResult touch_heap(int pid, uint64_t pages) {
    int64_t old = request(pid, mmp::Request::Sbrk, pages * 4096).r();
    if (old != int64_t(kHeap))
        return ::testing::AssertionFailure() << "sbrk of " << pages << " pages returned " << old;
    for (uint64_t i = 0; i < pages; ++i)
        if (!poke(pid, kHeap + i * 4096, i + 1))
            return ::testing::AssertionFailure() << "poke of heap page " << i << " failed";
    return ::testing::AssertionSuccess();
}

// mm booted with 4096 free frames and init's heap grown by `pages` written
// pages (touch_heap): where the fork, copy-on-write and batch tests begin.
// ASSERT_TRUE(boot_with_heap(...)).
inline ::testing::AssertionResult boot_with_heap(uint64_t pages) {
    if (!boot(4096)) return ::testing::AssertionFailure() << "mm did not boot";
    return touch_heap(1, pages);
}

} // namespace mmt
