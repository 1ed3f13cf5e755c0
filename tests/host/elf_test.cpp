// check_elf (servers/mm/elf.cpp): a synthetic static RISC-V executable built
// in memory, every rule accepted / refused, the tools/mkbadelf.py corpus
// reproduced, and a fixed-seed mutation loop whose successes must satisfy
// the invariants elf.h promises.
//
// Optional, with files from a cross build:
//   CAPFRAME_ELF_GOOD=path/to/user.elf      must be accepted
//   CAPFRAME_BADELF_DIR=dir (mkbadelf.py)   every file in dir/list.txt refused
#include "elf.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

using namespace capframe;
using namespace capframe::mm;

namespace {

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

void put(Bytes& b, size_t off, uint64_t v, int width) {
    for (int i = 0; i < width; ++i)
        b.at(off + size_t(i)) = uint8_t(v >> (8 * i));
}

// ELF header at 0, program headers at 64, file `size` bytes (data = pattern).
Bytes build(uint64_t entry, const std::vector<Ph>& phs, size_t size) {
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
std::vector<Ph> good_phs() {
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
Bytes good() {
    return build(kGoodEntry, good_phs(), kGoodSize);
}

// Offsets of the i-th program header's fields in a build() file.
size_t ph_at(size_t i) {
    return 64 + i * 56;
}
constexpr size_t kType = 0, kFlags = 4, kOffset = 8, kVaddr = 16, kFilesz = 32, kMemsz = 40,
                 kAlign = 48;

Result<void> check(const Bytes& b, ElfImage& img, uint64_t lo = kLowest, uint64_t top = kTop) {
    return check_elf(std::span<const uint8_t>(b.data(), b.size()), lo, top, img);
}
Error refusal(const Bytes& b, uint64_t lo = kLowest, uint64_t top = kTop) {
    ElfImage img;
    Result<void> r = check(b, img, lo, top);
    EXPECT_FALSE(r.ok());
    return r.ok() ? Error{} : r.error();
}
bool accepted(const Bytes& b, uint64_t lo = kLowest, uint64_t top = kTop) {
    ElfImage img;
    Result<void> r = check(b, img, lo, top);
    if (!r.ok()) ADD_FAILURE() << "refused: " << int(r.error());
    return r.ok();
}
Bytes with_load(std::vector<Ph> extra, uint64_t entry = kGoodEntry) {
    std::vector<Ph> phs = good_phs();
    phs.insert(phs.end(), extra.begin(), extra.end());
    return build(entry, phs, kGoodSize);
}

uint64_t page_down(uint64_t a) {
    return a & ~uint64_t{0xfff};
}
uint64_t page_up(uint64_t a) {
    return (a + 0xfff) & ~uint64_t{0xfff};
}

// Everything elf.h promises about a successful result, checked independently.
void expect_invariants(const ElfImage& img, size_t file_size, uint64_t lo, uint64_t top) {
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

Bytes read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

} // namespace

// ---- the good file ----------------------------------------------------------

TEST(Elf, GoodFileGivesSortedLoadSegments) {
    Bytes b = good();
    ElfImage img;
    ASSERT_TRUE(check(b, img).ok());
    EXPECT_EQ(img.entry, kGoodEntry);
    ASSERT_EQ(img.segment_count, 3);
    EXPECT_EQ(img.segments[0].vaddr, 0x10000u);
    EXPECT_EQ(img.segments[0].memsz, 0x100u);
    EXPECT_EQ(img.segments[0].offset, 0x1000u);
    EXPECT_EQ(img.segments[0].filesz, 0x100u);
    EXPECT_EQ(img.segments[0].flags, R | X);
    EXPECT_EQ(img.segments[1].vaddr, 0x11000u);
    EXPECT_EQ(img.segments[1].flags, R);
    EXPECT_EQ(img.segments[2].vaddr, 0x12000u);
    EXPECT_EQ(img.segments[2].filesz, 0x40u);
    EXPECT_EQ(img.segments[2].memsz, 0x2000u);
    EXPECT_EQ(img.segments[2].flags, R | W);
    expect_invariants(img, b.size(), kLowest, kTop);
}

TEST(Elf, SegmentsOutOfOrderAreSorted) {
    std::vector<Ph> phs = good_phs();
    std::swap(phs[1], phs[3]);
    std::swap(phs[0], phs[2]);
    Bytes b = build(kGoodEntry, phs, kGoodSize);
    ElfImage img;
    ASSERT_TRUE(check(b, img).ok());
    ASSERT_EQ(img.segment_count, 3);
    EXPECT_EQ(img.segments[0].vaddr, 0x10000u);
    EXPECT_EQ(img.segments[1].vaddr, 0x11000u);
    EXPECT_EQ(img.segments[2].vaddr, 0x12000u);
    EXPECT_EQ(img.segments[0].flags, R | X);
}

TEST(Elf, UnalignedBufferIsReadWithByteLoads) {
    Bytes b = good();
    for (size_t shift = 1; shift < 8; ++shift) {
        Bytes shifted(shift + b.size());
        std::memcpy(shifted.data() + shift, b.data(), b.size());
        ElfImage img;
        ASSERT_TRUE(check_elf(std::span<const uint8_t>(shifted.data() + shift, b.size()), kLowest,
                              kTop, img)
                        .ok());
        EXPECT_EQ(img.segment_count, 3);
        EXPECT_EQ(img.segments[2].memsz, 0x2000u);
    }
}

TEST(Elf, OutIsUntouchedOnError) {
    Bytes b = good();
    b[18] = 62; // EM_X86_64
    ElfImage img;
    img.entry = 1234;
    img.segment_count = 7;
    EXPECT_FALSE(check(b, img).ok());
    EXPECT_EQ(img.entry, 1234u);
    EXPECT_EQ(img.segment_count, 7);
}

TEST(Elf, UserSpaceBoundsMustBePageAlignedAndOrdered) {
    Bytes b = good();
    EXPECT_EQ(refusal(b, kLowest + 1, kTop), Error::InvalidArgument);
    EXPECT_EQ(refusal(b, kLowest, kTop - 1), Error::InvalidArgument);
    EXPECT_EQ(refusal(b, kTop, kTop), Error::InvalidArgument);
    EXPECT_EQ(refusal(b, kTop, kLowest), Error::InvalidArgument);
    EXPECT_TRUE(accepted(b, 0, 0x14000)); // exactly the pages used
    EXPECT_EQ(refusal(b, 0, 0x13000), Error::OutOfRange);
    EXPECT_EQ(refusal(b, 0x11000, kTop), Error::OutOfRange);
}

// ---- the ELF header -----------------------------------------------------------

TEST(Elf, ShorterThanTheHeaderIsTruncated) {
    Bytes b = good();
    for (size_t n : {size_t{0}, size_t{1}, size_t{4}, size_t{63}}) {
        Bytes cut(b.begin(), b.begin() + long(n));
        EXPECT_EQ(refusal(cut), Error::Truncated) << n;
    }
}

TEST(Elf, IdentMustBeElf64LittleEndianCurrent) {
    for (size_t i = 0; i < 4; ++i) {
        Bytes b = good();
        b[i] ^= 0x20;
        EXPECT_EQ(refusal(b), Error::BadFormat) << i;
    }
    struct {
        size_t off;
        uint8_t v;
    } cases[] = {{4, 1}, {4, 0}, {4, 3}, {5, 2}, {5, 0}, {6, 0}, {6, 2}};
    for (auto c : cases) {
        Bytes b = good();
        b[c.off] = c.v;
        EXPECT_EQ(refusal(b), Error::BadFormat) << c.off << "=" << int(c.v);
    }
    Bytes b = good();
    b[7] = 3; // EI_OSABI (Linux): not checked
    EXPECT_TRUE(accepted(b));
}

TEST(Elf, HeaderFieldsMustMatch) {
    struct {
        size_t off;
        int width;
        uint64_t v;
    } cases[] = {
        {16, 2, 3},  // ET_DYN
        {16, 2, 1},  // ET_REL
        {16, 2, 4},  // ET_CORE
        {18, 2, 62}, // EM_X86_64
        {18, 2, 0},  // EM_NONE
        {18, 2, 0xf3 | 0x100},
        {20, 4, 0},  // e_version
        {20, 4, 2},  //
        {52, 2, 52}, // e_ehsize of ELF32
        {52, 2, 65}, //
        {54, 2, 32}, // e_phentsize of ELF32
        {54, 2, 57}, //
        {54, 2, 0},  //
        {56, 2, 0},  // e_phnum
    };
    for (auto c : cases) {
        Bytes b = good();
        put(b, c.off, c.v, c.width);
        EXPECT_EQ(refusal(b), Error::BadFormat) << c.off << "=" << c.v;
    }
}

TEST(Elf, ProgramHeadersMustLieInsideTheFile) {
    for (uint64_t phoff : {uint64_t{kGoodSize}, uint64_t{kGoodSize} - 56 * 6 + 1, ~uint64_t{0},
                           ~uint64_t{0} - 55, uint64_t{1} << 63}) {
        Bytes b = good();
        put(b, 32, phoff, 8);
        EXPECT_EQ(refusal(b), Error::Truncated) << phoff;
    }
    Bytes b = good();
    put(b, 56, 0xffff, 2); // PN_XNUM: extended numbering is not supported
    EXPECT_EQ(refusal(b), Error::Truncated);
    // Cut one byte short of the last program header.
    Bytes h = build(kGoodEntry, good_phs(), 64 + 6 * 56);
    Bytes cut(h.begin(), h.end() - 1);
    EXPECT_EQ(refusal(cut), Error::Truncated);
}

TEST(Elf, ProgramHeadersAnywhereInTheFile) {
    // Move the table to the end of the file, at an odd offset.
    Bytes b = good();
    Bytes table(b.begin() + 64, b.begin() + 64 + 6 * 56);
    b.push_back(0);
    size_t at = b.size();
    b.insert(b.end(), table.begin(), table.end());
    std::memset(b.data() + 64, 0, 6 * 56);
    put(b, 32, at, 8);
    EXPECT_TRUE(accepted(b));
}

// ---- program header types -------------------------------------------------------

TEST(Elf, InterpreterOrDynamicSectionIsNotStatic) {
    EXPECT_EQ(refusal(with_load({{PT_INTERP, R, 0x3040, 0x10800, 0x10, 0x10, 1}})),
              Error::BadFormat);
    EXPECT_EQ(refusal(with_load({{PT_DYNAMIC, R | W, 0x3000, 0x12000, 0x40, 0x40, 8}})),
              Error::BadFormat);
}

TEST(Elf, OtherTypesAreIgnored) {
    EXPECT_TRUE(accepted(with_load({{PT_PHDR, R, 64, 0x10040, 6 * 56, 6 * 56, 8},
                                    {0x6474e552 /* GNU_RELRO */, R, 0, 0, 1, 1, 1},
                                    {0x12345678, R | W | X, ~0ull, ~0ull, ~0ull, 0, 3},
                                    {0, 0, 0, 0, 0, 0, 0} /* PT_NULL */})));
}

TEST(Elf, AtLeastOneLoadSegment) {
    std::vector<Ph> phs = good_phs();
    for (Ph& p : phs)
        if (p.type == PT_LOAD) p.type = PT_NOTE;
    EXPECT_EQ(refusal(build(kGoodEntry, phs, kGoodSize)), Error::BadFormat);
}

TEST(Elf, AtMostEightLoadSegments) {
    std::vector<Ph> phs;
    for (uint64_t i = 0; i < 8; ++i)
        phs.push_back({PT_LOAD, i == 0 ? R | X : R, 0x1000 * (i + 1), 0x10000 + 0x1000 * i, 0x10,
                       0x10, 0x1000});
    phs.push_back({PT_GNU_STACK, R | W, 0, 0, 0, 0, 0x10});
    ElfImage img;
    Bytes eight = build(0x10000, phs, 0x9000);
    ASSERT_TRUE(check(eight, img).ok());
    EXPECT_EQ(img.segment_count, 8);
    expect_invariants(img, eight.size(), kLowest, kTop);
    phs.push_back({PT_LOAD, R, 0x9000, 0x20000, 0x10, 0x10, 0x1000});
    EXPECT_EQ(refusal(build(0x10000, phs, 0xa000)), Error::TooMany);
}

// ---- one PT_LOAD ----------------------------------------------------------------

Bytes patched(size_t ph, size_t field, uint64_t v) {
    Bytes b = good();
    put(b, ph_at(ph) + field, v, field == kFlags || field == kType ? 4 : 8);
    return b;
}
// Program header 1 is the text, 2 the rodata, 3 the data+bss.

TEST(Elf, EmptySegmentIsSkipped) {
    // What GNU ld writes for user.ld's data segment in a program without
    // data: vaddr 0, an offset not congruent with it, sizes 0.
    Bytes b = patched(3, kMemsz, 0);
    put(b, ph_at(3) + kFilesz, 0, 8);
    put(b, ph_at(3) + kVaddr, 0, 8);
    put(b, ph_at(3) + kOffset, 0xe8, 8);
    put(b, ph_at(3) + kFlags, R | W | X, 4);
    ElfImage img;
    ASSERT_TRUE(check(b, img).ok());
    EXPECT_EQ(img.segment_count, 2);
    EXPECT_EQ(img.segments[1].vaddr, 0x11000u);
    // Not counted against kMaxElfSegments either.
    std::vector<Ph> phs = good_phs();
    for (int i = 0; i < 20; ++i)
        phs.push_back({PT_LOAD, R, ~0ull, ~0ull, 0, 0, 3});
    ASSERT_TRUE(check(build(kGoodEntry, phs, kGoodSize + 20 * 56), img).ok());
    EXPECT_EQ(img.segment_count, 3);
    // File bytes but no memory: malformed.
    b = patched(2, kMemsz, 0);
    EXPECT_EQ(refusal(b), Error::BadFormat);
    // Only empty PT_LOADs: none to run.
    phs = good_phs();
    for (Ph& p : phs)
        if (p.type == PT_LOAD) p.memsz = p.filesz = 0;
    EXPECT_EQ(refusal(build(kGoodEntry, phs, kGoodSize)), Error::BadFormat);
}

TEST(Elf, FileSizeAtMostMemorySize) {
    EXPECT_EQ(refusal(patched(3, kFilesz, 0x2001)), Error::BadFormat);
    EXPECT_EQ(refusal(patched(3, kFilesz, ~0ull)), Error::BadFormat);
    EXPECT_TRUE(accepted(patched(3, kFilesz, 0))); // all bss
    Bytes b = patched(3, kFilesz, 0x60);           // up to the file's end
    EXPECT_TRUE(accepted(b));
}

TEST(Elf, SegmentBytesMustLieInsideTheFile) {
    EXPECT_EQ(refusal(patched(3, kFilesz, 0x61)), Error::Truncated);
    EXPECT_EQ(refusal(patched(2, kOffset, 0x4000)), Error::Truncated);
    Bytes b = patched(2, kOffset, ~0ull);
    put(b, ph_at(2) + kAlign, 0, 8);
    EXPECT_EQ(refusal(b), Error::Truncated);
    b = patched(3, kOffset, ~0ull - 0xfff); // congruent with the vaddr
    EXPECT_EQ(refusal(b), Error::Truncated);
    // Both huge, filesz == memsz: the offset sum would wrap.
    b = patched(3, kFilesz, uint64_t{1} << 63);
    put(b, ph_at(3) + kMemsz, uint64_t{1} << 63, 8);
    put(b, ph_at(3) + kOffset, uint64_t{1} << 63, 8);
    EXPECT_EQ(refusal(b), Error::Truncated);
    // A bss-only segment's offset still lies inside the file.
    b = patched(3, kFilesz, 0);
    put(b, ph_at(3) + kOffset, kGoodSize, 8); // at the end: fine (nothing read)
    put(b, ph_at(3) + kAlign, 0, 8);
    EXPECT_TRUE(accepted(b));
    put(b, ph_at(3) + kOffset, kGoodSize + 1, 8);
    EXPECT_EQ(refusal(b), Error::Truncated);
}

TEST(Elf, AlignmentIsZeroOrAPowerOfTwo) {
    for (uint64_t a : {3ull, 6ull, 0x1001ull, 0x3000ull, ~0ull})
        EXPECT_EQ(refusal(patched(2, kAlign, a)), Error::BadFormat) << a;
    for (uint64_t a : {0ull, 1ull, 2ull, 0x1000ull, 0x10000ull, 1ull << 63})
        EXPECT_TRUE(accepted(patched(2, kAlign, a))) << a;
}

TEST(Elf, PageAlignedSegmentsKeepVaddrAndOffsetCongruent) {
    EXPECT_EQ(refusal(patched(2, kOffset, 0x2008)), Error::BadFormat);
    Bytes b = patched(2, kOffset, 0x2008);
    put(b, ph_at(2) + kAlign, 0x10, 8); // below a page: no constraint
    EXPECT_TRUE(accepted(b));
    put(b, ph_at(2) + kAlign, 0, 8);
    EXPECT_TRUE(accepted(b));
    // Same page offset, different page: fine.
    EXPECT_TRUE(accepted(patched(2, kOffset, 0x1000)));
}

TEST(Elf, SegmentsLieInUserSpace) {
    EXPECT_EQ(refusal(patched(2, kVaddr, 0)), Error::OutOfRange);
    EXPECT_EQ(refusal(patched(2, kVaddr, 0xf000)), Error::OutOfRange);
    // Ends exactly at the top: fine; one byte more: not.
    Bytes b = patched(2, kVaddr, kTop - 0x1000);
    put(b, ph_at(2) + kMemsz, 0x1000, 8);
    EXPECT_TRUE(accepted(b));
    put(b, ph_at(2) + kMemsz, 0x1001, 8);
    EXPECT_EQ(refusal(b), Error::OutOfRange);
    // The trapframe, the trampoline, the kernel half.
    const uint64_t kernel_side[] = {kTop,
                                    kTrapframe,
                                    kTrapframe + 0x1000,
                                    uint64_t{1} << 38,
                                    0xffffffc000000000,
                                    0xffffffc080200000,
                                    ~uint64_t{0} - 0xfff};
    for (uint64_t va : kernel_side) {
        Bytes k = patched(2, kVaddr, va);
        EXPECT_EQ(refusal(k), Error::OutOfRange) << std::hex << va;
    }
}

TEST(Elf, EndWrappingAroundIsOutOfRange) {
    Bytes b = patched(3, kMemsz, ~0ull - 0x12000 + 2); // vaddr + memsz = 2^64 + 1
    EXPECT_EQ(refusal(b), Error::OutOfRange);
    b = patched(3, kMemsz, ~0ull);
    EXPECT_EQ(refusal(b), Error::OutOfRange);
    b = patched(3, kMemsz, 0 - uint64_t{0x12000}); // exactly 2^64
    EXPECT_EQ(refusal(b), Error::OutOfRange);
    // Large but not wrapping, still above the top.
    b = patched(3, kMemsz, kTop);
    EXPECT_EQ(refusal(b), Error::OutOfRange);
}

TEST(Elf, WritableAndExecutableIsRefused) {
    EXPECT_EQ(refusal(patched(1, kFlags, R | W | X)), Error::InvalidArgument);
    EXPECT_EQ(refusal(patched(3, kFlags, W | X)), Error::InvalidArgument);
    // Execute-only text and a write-only data segment are fine.
    Bytes b = patched(1, kFlags, X);
    put(b, ph_at(3) + kFlags, W, 4);
    ElfImage img;
    ASSERT_TRUE(check(b, img).ok());
    EXPECT_EQ(img.segments[0].flags, X);
    EXPECT_EQ(img.segments[2].flags, W);
}

TEST(Elf, OsAndProcessorFlagBitsAreDropped) {
    Bytes b = patched(1, kFlags, 0xf0f00000 | R | X);
    ElfImage img;
    ASSERT_TRUE(check(b, img).ok());
    EXPECT_EQ(img.segments[0].flags, R | X);
    EXPECT_EQ(refusal(patched(1, kFlags, 0xf0f00000 | W | X)), Error::InvalidArgument);
}

// ---- between segments -------------------------------------------------------------

TEST(Elf, SegmentsMustNotSharePages) {
    // rodata moved into the text's page (different bytes, same page).
    Bytes b = patched(2, kVaddr, 0x10800);
    put(b, ph_at(2) + kOffset, 0x2800, 8);
    EXPECT_EQ(refusal(b), Error::InvalidArgument);
    // rodata starting in the last page of data+bss.
    b = patched(2, kVaddr, 0x13ff0);
    put(b, ph_at(2) + kOffset, 0x1ff0, 8);
    EXPECT_EQ(refusal(b), Error::InvalidArgument);
    // The same vaddr twice.
    EXPECT_EQ(refusal(patched(2, kVaddr, 0x12000)), Error::InvalidArgument);
    // One segment over several others.
    b = with_load({{PT_LOAD, R, 0x3000, 0x20000, 0x10, 0x10, 0x1000}});
    EXPECT_TRUE(accepted(b));
    put(b, ph_at(2) + kMemsz, 0x20000, 8); // rodata now covers 0x11000..0x31000
    put(b, ph_at(2) + kFilesz, 0x10, 8);
    EXPECT_EQ(refusal(b), Error::InvalidArgument);
    // Back to back on page boundaries: fine; the text's memsz up to its page end: fine.
    EXPECT_TRUE(accepted(patched(1, kMemsz, 0x1000)));
    EXPECT_EQ(refusal(patched(1, kMemsz, 0x1001)), Error::InvalidArgument);
}

TEST(Elf, EntryInsideAnExecutableSegment) {
    auto entry = [](uint64_t e) {
        Bytes b = good();
        put(b, 24, e, 8);
        return b;
    };
    EXPECT_TRUE(accepted(entry(0x10002)));
    EXPECT_TRUE(accepted(entry(0x100fe))); // the last halfword
    EXPECT_EQ(refusal(entry(0x10001)), Error::InvalidArgument);
    EXPECT_EQ(refusal(entry(0x10100)), Error::InvalidArgument); // just past the end
    EXPECT_EQ(refusal(entry(0xfffe)), Error::InvalidArgument);
    EXPECT_EQ(refusal(entry(0x11000)), Error::InvalidArgument); // rodata
    EXPECT_EQ(refusal(entry(0x12000)), Error::InvalidArgument); // data
    EXPECT_EQ(refusal(entry(0x13000)), Error::InvalidArgument); // bss
    EXPECT_EQ(refusal(entry(0)), Error::InvalidArgument);
    EXPECT_EQ(refusal(entry(~0ull - 1)), Error::InvalidArgument);
    // The bss part of an executable segment counts (memsz, not filesz).
    Bytes b = patched(1, kMemsz, 0x800);
    put(b, 24, 0x10400, 8);
    EXPECT_TRUE(accepted(b));
}

// ---- the tools/mkbadelf.py corpus, made from the synthetic good file -------------

namespace {

struct BadCase {
    const char* name;
    Bytes file;
};

// Mirrors tools/mkbadelf.py case by case.
std::vector<BadCase> bad_corpus() {
    std::vector<BadCase> out;
    Bytes g = good();
    auto add = [&](const char* name, Bytes b) { out.push_back({name, std::move(b)}); };
    auto set_ph = [](Bytes b, size_t i, size_t f, uint64_t v, int w = 8) {
        put(b, ph_at(i) + f, v, w);
        return b;
    };
    add("truncated", Bytes(g.begin(), g.begin() + 64 + 56 * 2 + 20));
    add("truncated-segment", Bytes(g.begin(), g.begin() + 0x2000 + 0x40));
    add("huge-filesz", set_ph(g, 1, kFilesz, uint64_t{1} << 63));
    add("huge-memsz", set_ph(g, 1, kMemsz, uint64_t{1} << 63));
    {
        Bytes b = g;
        put(b, 32, 0xfffffffffffff000ull, 8);
        add("phoff-wild", b);
    }
    {
        Bytes b = g;
        put(b, 56, 0xffff, 2);
        add("phnum-huge", b);
    }
    add("overlap", set_ph(set_ph(g, 2, kVaddr, 0x10800), 2, kOffset, 0x2800));
    {
        Bytes b = g;
        put(b, 24, 0x400000, 8);
        add("entry-outside", b);
    }
    {
        Bytes b = g;
        put(b, 24, 0x12000, 8);
        add("entry-data", b);
    }
    add("kernel-address-trapframe", set_ph(g, 3, kVaddr, kTrapframe));
    add("kernel-address-high", set_ph(g, 3, kVaddr, 0xffffffc000000000ull));
    add("wx", set_ph(g, 3, kFlags, R | W | X, 4));
    {
        Bytes b = g;
        put(b, 18, 62, 2);
        add("wrong-machine", b);
    }
    {
        Bytes b = g;
        b[4] = 1;
        add("elf32", b);
    }
    {
        std::mt19937 rng(7);
        Bytes b(4096);
        for (uint8_t& c : b)
            c = uint8_t(rng());
        add("not-elf", b);
    }
    add("empty", Bytes{});
    add("wrap", set_ph(g, 3, kMemsz, 0 - uint64_t{0x11000}));
    return out;
}

} // namespace

TEST(Elf, BadCorpusIsRefused) {
    std::vector<BadCase> corpus = bad_corpus();
    EXPECT_EQ(corpus.size(), 17u);
    for (const BadCase& c : corpus) {
        ElfImage img;
        EXPECT_FALSE(check(c.file, img).ok()) << c.name;
    }
    // And each one for the reason intended.
    auto why = [&](const char* name) {
        for (const BadCase& c : corpus)
            if (std::strcmp(c.name, name) == 0) return refusal(c.file);
        ADD_FAILURE() << name;
        return Error{};
    };
    EXPECT_EQ(why("truncated"), Error::Truncated);
    EXPECT_EQ(why("truncated-segment"), Error::Truncated);
    EXPECT_EQ(why("huge-filesz"), Error::BadFormat);
    EXPECT_EQ(why("huge-memsz"), Error::OutOfRange);
    EXPECT_EQ(why("phoff-wild"), Error::Truncated);
    EXPECT_EQ(why("phnum-huge"), Error::Truncated);
    EXPECT_EQ(why("overlap"), Error::InvalidArgument);
    EXPECT_EQ(why("entry-outside"), Error::InvalidArgument);
    EXPECT_EQ(why("entry-data"), Error::InvalidArgument);
    EXPECT_EQ(why("kernel-address-trapframe"), Error::OutOfRange);
    EXPECT_EQ(why("kernel-address-high"), Error::OutOfRange);
    EXPECT_EQ(why("wx"), Error::InvalidArgument);
    EXPECT_EQ(why("wrong-machine"), Error::BadFormat);
    EXPECT_EQ(why("elf32"), Error::BadFormat);
    EXPECT_EQ(why("not-elf"), Error::BadFormat);
    EXPECT_EQ(why("empty"), Error::Truncated);
    EXPECT_EQ(why("wrap"), Error::OutOfRange);
}

// ---- mutation: never crash, and every success keeps the promises -----------------

TEST(Elf, MutationsNeverBreakTheInvariants) {
    const Bytes g = good();
    const size_t header_bytes = 64 + 6 * 56;
    const uint64_t interesting[] = {0,
                                    1,
                                    2,
                                    0xfff,
                                    0x1000,
                                    0x1001,
                                    0x10000,
                                    0x11000,
                                    0x12000,
                                    kGoodSize,
                                    kTop,
                                    kTop - 0x1000,
                                    kTrapframe,
                                    uint64_t{1} << 63,
                                    0xffffffc000000000ull,
                                    ~0ull,
                                    ~0ull - 0xfff};
    std::mt19937_64 rng(20240611);
    int ok = 0;
    for (int iter = 0; iter < 6000; ++iter) {
        Bytes b = g;
        int ops = 1 + int(rng() % 4);
        for (int k = 0; k < ops; ++k) {
            switch (rng() % 6) {
            case 0: // flip a bit in the headers
                b[rng() % std::min(header_bytes, b.size())] ^= uint8_t(1u << (rng() % 8));
                break;
            case 1: // a random byte anywhere
                if (!b.empty()) b[rng() % b.size()] = uint8_t(rng());
                break;
            case 2: { // an interesting value into an 8-byte field of a program header
                size_t ph = rng() % 6, f = 8 + 8 * (rng() % 6);
                if (ph_at(ph) + f + 8 <= b.size())
                    put(b, ph_at(ph) + f, interesting[rng() % std::size(interesting)], 8);
                break;
            }
            case 3: { // a type or flags value
                size_t ph = rng() % 6;
                uint32_t v[] = {PT_LOAD, PT_NOTE, PT_INTERP, PT_DYNAMIC, R, W, X, R | W | X};
                if (ph_at(ph) + 8 <= b.size()) put(b, ph_at(ph) + 4 * (rng() % 2), v[rng() % 8], 4);
                break;
            }
            case 4: // truncate
                b.resize(rng() % (b.size() + 1));
                break;
            case 5: // the entry or phoff / phnum
                if (b.size() >= 64) {
                    if (rng() % 2)
                        put(b, 24, interesting[rng() % std::size(interesting)] + rng() % 3, 8);
                    else
                        put(b, 56, rng() % 9, 2);
                }
                break;
            }
        }
        ElfImage img;
        img.segment_count = -1;
        Result<void> r = check(b, img);
        if (r.ok()) {
            ++ok;
            expect_invariants(img, b.size(), kLowest, kTop);
            if (HasFailure()) {
                ADD_FAILURE() << "iteration " << iter;
                return;
            }
        } else {
            EXPECT_EQ(img.segment_count, -1); // untouched
        }
    }
    // Some mutations (data bytes, ignored headers) must still pass.
    EXPECT_GT(ok, 100);
    EXPECT_LT(ok, 6000);
}

// ---- files from a cross build (skipped unless given) ---------------------------------

TEST(Elf, RealExecutableIsAccepted) {
    const char* path = std::getenv("CAPFRAME_ELF_GOOD");
    if (!path) GTEST_SKIP() << "set CAPFRAME_ELF_GOOD to a user ELF";
    Bytes b = read_file(path);
    ASSERT_FALSE(b.empty()) << path;
    ElfImage img;
    Result<void> r = check(b, img);
    ASSERT_TRUE(r.ok()) << int(r.error());
    expect_invariants(img, b.size(), kLowest, kTop);
}

TEST(Elf, MkbadelfCorpusIsRefused) {
    const char* dir = std::getenv("CAPFRAME_BADELF_DIR");
    if (!dir) GTEST_SKIP() << "set CAPFRAME_BADELF_DIR to tools/mkbadelf.py's output";
    std::ifstream list(std::string(dir) + "/list.txt");
    ASSERT_TRUE(list.good());
    std::string name;
    int n = 0;
    while (std::getline(list, name)) {
        if (name.empty()) continue;
        std::ifstream probe(std::string(dir) + "/" + name, std::ios::binary);
        ASSERT_TRUE(probe.good()) << name;
        Bytes b = read_file(std::string(dir) + "/" + name);
        ElfImage img;
        Result<void> r = check(b, img);
        EXPECT_FALSE(r.ok()) << name;
        if (!r.ok()) std::printf("%-32s %s\n", name.c_str(), error_name(r.error()));
        ++n;
    }
    EXPECT_GE(n, 17);
}
