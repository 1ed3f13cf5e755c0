// check_elf (servers/mm/elf.cpp), continued from elf_test.cpp: the
// tools/mkbadelf.py corpus reproduced, and a fixed-seed mutation loop whose
// successes must satisfy the invariants elf.h promises.
//
// Optional, with files from a cross build:
//   CAPFRAME_ELF_GOOD=path/to/user.elf      must be accepted
//   CAPFRAME_BADELF_DIR=dir (mkbadelf.py)   every file in dir/list.txt refused
#include "elf_test.h"

#include <gtest/gtest.h>

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
using namespace elf_test;

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
