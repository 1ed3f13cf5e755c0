// The helpers of the check_elf host tests (elf_test.cpp, elf_corpus_test.cpp):
// a synthetic static RISC-V executable built in memory, its fields, and the
// invariants elf.h promises about a successful result.
#pragma once

#include "elf.h"

#include <gtest/gtest.h>

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

constexpr uint32_t PT_LOAD = 1, PT_DYNAMIC = 2, PT_INTERP = 3, PT_NOTE = 4, PT_PHDR = 6;
constexpr uint32_t PT_GNU_STACK = 0x6474e551, PT_RISCV_ATTRIBUTES = 0x70000003;
constexpr uint32_t R = 4, W = 2, X = 1;

struct Ph {
    uint32_t type = PT_LOAD, flags = R;
    uint64_t offset = 0, vaddr = 0, filesz = 0, memsz = 0, align = 0x1000;
};

using Bytes = std::vector<uint8_t>;

inline void put(Bytes& b, size_t off, uint64_t v, int width) {
    for (int i = 0; i < width; ++i)
        b.at(off + size_t(i)) = uint8_t(v >> (8 * i));
}

// ELF header at 0, program headers at 64, file `size` bytes (data = pattern).
inline Bytes build(uint64_t entry, const std::vector<Ph>& phs, size_t size) {
    size_t need = 64 + phs.size() * 56;
    Bytes b(std::max(size, need));
    for (size_t i = need; i < b.size(); ++i)
        b[i] = uint8_t(i * 7 + 3);
    const uint8_t ident[16] = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0};
    std::memcpy(b.data(), ident, sizeof ident);
    put(b, 16, 2, 2);   // ET_EXEC
    put(b, 18, 243, 2); // EM_RISCV
    put(b, 20, 1, 4);   // EV_CURRENT
    put(b, 24, entry, 8);
    put(b, 32, 64, 8); // e_phoff
    put(b, 40, 0, 8);  // e_shoff
    put(b, 48, 5, 4);  // e_flags: RVC | double-float ABI, ignored
    put(b, 52, 64, 2);
    put(b, 54, 56, 2);
    put(b, 56, phs.size(), 2);
    for (size_t i = 0; i < phs.size(); ++i) {
        size_t o = 64 + i * 56;
        put(b, o, phs[i].type, 4);
        put(b, o + 4, phs[i].flags, 4);
        put(b, o + 8, phs[i].offset, 8);
        put(b, o + 16, phs[i].vaddr, 8);
        put(b, o + 24, phs[i].vaddr, 8); // p_paddr
        put(b, o + 32, phs[i].filesz, 8);
        put(b, o + 40, phs[i].memsz, 8);
        put(b, o + 48, phs[i].align, 8);
    }
    return b;
}

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
