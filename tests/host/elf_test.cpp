// check_elf (servers/mm/elf.cpp): a synthetic static RISC-V executable built
// in memory (elf_test.h) and every rule accepted / refused. The mkbadelf.py
// corpus, the mutation loop and the files from a cross build are in
// elf_corpus_test.cpp.
#include "elf_test.h"

#include <gtest/gtest.h>

#include <vector>

using namespace capframe;
using namespace capframe::mm;
using namespace elf_test;

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
