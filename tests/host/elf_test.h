// The helpers of the check_elf host tests (elf_test.cpp, elf_corpus_test.cpp):
// a synthetic static RISC-V executable built in memory, its fields, and the
// invariants elf.h promises about a successful result.
#pragma once

#include "elf.h"

#include <gtest/gtest.h>

#include "elf_writer.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace elf_test {

using namespace capframe;
using namespace capframe::mm;

constexpr uint64_t kLowest = 0x10000;
constexpr uint64_t kTop = 0x3fffffd000; // the user stack's guard page and up are not user's
constexpr uint64_t kTrapframe = 0x3fffffe000;

using namespace elf_writer; // Ph, put, build, PT_*, R/W/X

// Like user/user.ld's output: text, rodata, data+bss, plus the ignored kinds.
inline std::vector<Ph> good_phs() {
    return {
        {PT_RISCV_ATTRIBUTES, R, 0x3040, 0, 0x20, 0, 1},
        {PT_LOAD, R | X, 0x1000, 0x10000, 0x100, 0x100, 0x1000},
        {PT_LOAD, R, 0x2000, 0x11000, 0x80, 0x80, 0x1000},
        {PT_LOAD, R | W, 0x3000, 0x12000, 0x40, 0x2000, 0x1000},
        {PT_GNU_STACK, R | W, 0, 0, 0, 0, 0x10},
        {PT_NOTE, R, 0x3040, 0, 0x20, 0x20, 4},
    };
}
constexpr size_t kGoodSize = 0x3060;
constexpr uint64_t kGoodEntry = 0x10000;
inline Bytes good() {
    return build(kGoodEntry, good_phs(), kGoodSize);
}

// Offsets of the i-th program header's fields in a build() file.
inline size_t ph_at(size_t i) {
    return 64 + i * 56;
}
constexpr size_t kType = 0, kFlags = 4, kOffset = 8, kVaddr = 16, kFilesz = 32, kMemsz = 40,
                 kAlign = 48;

inline Result<void> check(const Bytes& b, ElfImage& img, uint64_t lo = kLowest,
                          uint64_t top = kTop) {
    return check_elf(std::span<const uint8_t>(b.data(), b.size()), lo, top, img);
}
inline Error refusal(const Bytes& b, uint64_t lo = kLowest, uint64_t top = kTop) {
    ElfImage img;
    Result<void> r = check(b, img, lo, top);
    EXPECT_FALSE(r.ok());
    return r.ok() ? Error{} : r.error();
}
inline bool accepted(const Bytes& b, uint64_t lo = kLowest, uint64_t top = kTop) {
    ElfImage img;
    Result<void> r = check(b, img, lo, top);
    if (!r.ok()) ADD_FAILURE() << "refused: " << int(r.error());
    return r.ok();
}
inline Bytes with_load(std::vector<Ph> extra, uint64_t entry = kGoodEntry) {
    std::vector<Ph> phs = good_phs();
    phs.insert(phs.end(), extra.begin(), extra.end());
    return build(entry, phs, kGoodSize);
}

inline uint64_t page_down(uint64_t a) {
    return a & ~uint64_t{0xfff};
}
inline uint64_t page_up(uint64_t a) {
    return (a + 0xfff) & ~uint64_t{0xfff};
}

// Everything elf.h promises about a successful result, checked independently.
inline void expect_invariants(const ElfImage& img, size_t file_size, uint64_t lo, uint64_t top) {
    ASSERT_GE(img.segment_count, 1);
    ASSERT_LE(img.segment_count, kMaxElfSegments);
    bool entry_ok = false;
    for (int i = 0; i < img.segment_count; ++i) {
        const ElfSegment& s = img.segments[i];
        EXPECT_GT(s.memsz, 0u); // empty PT_LOADs are skipped, never returned
        EXPECT_LE(s.filesz, s.memsz);
        EXPECT_LE(s.offset, file_size);
        EXPECT_LE(s.filesz, file_size - std::min<uint64_t>(s.offset, file_size));
        EXPECT_GE(s.vaddr, lo);
        EXPECT_LT(s.vaddr, top);
        EXPECT_LE(s.memsz, top - s.vaddr);
        EXPECT_LE(page_up(s.vaddr + s.memsz), top);
        EXPECT_EQ(s.flags & ~7u, 0u);
        EXPECT_FALSE((s.flags & W) && (s.flags & X));
        if (i > 0) {
            EXPECT_LT(img.segments[i - 1].vaddr, s.vaddr);
        }
        for (int j = 0; j < i; ++j) {
            const ElfSegment& o = img.segments[j];
            bool disjoint = page_up(o.vaddr + o.memsz) <= page_down(s.vaddr) ||
                            page_up(s.vaddr + s.memsz) <= page_down(o.vaddr);
            EXPECT_TRUE(disjoint) << i << " and " << j << " share a page";
        }
        if ((s.flags & X) && img.entry >= s.vaddr && img.entry - s.vaddr < s.memsz) entry_ok = true;
    }
    EXPECT_TRUE(entry_ok);
    EXPECT_EQ(img.entry % 2, 0u);
}

inline Bytes read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

} // namespace elf_test
