// cpio_next / cpio_find (servers/mm/cpio.cpp): an archive written by GNU cpio,
// archives built in memory (every name and data padding), every malformation
// refused, and a fixed-seed mutation loop whose successes must satisfy the
// promises of cpio.h.
//
// Optional: CAPFRAME_CPIO=path/to/archive (e.g. from tools/mkcpio.py) must
// read to its trailer, and cpio_find must return every regular file in it.
#include "cpio.h"

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

namespace {

using Bytes = std::vector<uint8_t>;

// `find . | cpio -o -H newc --reproducible --owner=0:0` over: a directory
// bin, bin/hello (0755, "abcde"), empty (0644, no data), init (0755), a
// symlink lnk -> init. GNU cpio drops the "./", writes upper-case hex and
// pads the archive to 512-byte blocks with zeros.
// clang-format off
const char kGnuCpio[] =
    // .
    "070701" "00000000" "000041ED" "00000000" "00000000" "00000003" "00000000" "00000000"
    "00000000" "00000000" "00000000" "00000000" "00000002" "00000000"
    ".\0"
    // bin
    "070701" "00000001" "000041ED" "00000000" "00000000" "00000002" "00000000" "00000000"
    "00000000" "00000000" "00000000" "00000000" "00000004" "00000000"
    "bin\0" "\0" "\0"
    // bin/hello
    "070701" "00000002" "000081ED" "00000000" "00000000" "00000001" "00000000" "00000005"
    "00000000" "00000000" "00000000" "00000000" "0000000A" "00000000"
    "bin/hello\0"
    "abcde" "\0" "\0" "\0"
    // empty
    "070701" "00000003" "000081A4" "00000000" "00000000" "00000001" "00000000" "00000000"
    "00000000" "00000000" "00000000" "00000000" "00000006" "00000000"
    "empty\0"
    // init
    "070701" "00000004" "000081ED" "00000000" "00000000" "00000001" "00000000" "00000010"
    "00000000" "00000000" "00000000" "00000000" "00000005" "00000000"
    "init\0" "\0"
    "hello from init\n"
    // lnk
    "070701" "00000005" "0000A1FF" "00000000" "00000000" "00000001" "6B01D3A3" "00000004"
    "00000000" "00000000" "00000000" "00000000" "00000004" "00000000"
    "lnk\0" "\0" "\0"
    "init"
    // TRAILER!!!
    "070701" "00000000" "00000000" "00000000" "00000000" "00000001" "00000000" "00000000"
    "00000000" "00000000" "00000000" "00000000" "0000000B" "00000000"
    "TRAILER!!!\0" "\0" "\0" "\0"
    ;
// clang-format on

Bytes gnu_archive() {
    Bytes b(kGnuCpio, kGnuCpio + sizeof kGnuCpio - 1);
    EXPECT_EQ(b.size(), 848u);
    b.resize(1024, 0);
    return b;
}

// Writes newc entries; every field can be overridden to build bad archives.
struct Builder {
    Bytes b;
    uint32_t ino = 1;

    static void hex8(Bytes& out, uint32_t v) {
        char s[9];
        std::snprintf(s, sizeof s, "%08x", v);
        out.insert(out.end(), s, s + 8);
    }
    static void pad(Bytes& out) {
        while (out.size() % 4)
            out.push_back(0);
    }
    // namesize defaults to strlen(name) + 1 (the name is written with its NUL).
    Builder& add(const std::string& name, uint32_t mode, const std::string& data,
                 long namesize = -1) {
        const char magic[] = "070701";
        b.insert(b.end(), magic, magic + 6);
        uint32_t fields[13] = {ino++,
                               mode,
                               0,
                               0,
                               1,
                               0,
                               uint32_t(data.size()),
                               0,
                               0,
                               0,
                               0,
                               namesize < 0 ? uint32_t(name.size() + 1) : uint32_t(namesize),
                               0};
        for (uint32_t f : fields)
            hex8(b, f);
        b.insert(b.end(), name.begin(), name.end());
        b.push_back(0);
        pad(b);
        b.insert(b.end(), data.begin(), data.end());
        pad(b);
        return *this;
    }
    Builder& file(const std::string& name, const std::string& data) {
        return add(name, 0100755, data);
    }
    Builder& trailer() {
        add("TRAILER!!!", 0, "");
        return *this;
    }
};

std::span<const uint8_t> view(const Bytes& b) {
    return {b.data(), b.size()};
}
std::string str(std::span<const uint8_t> d) {
    return std::string(d.begin(), d.end());
}
std::string name_of(const CpioEntry& e) {
    return std::string(e.name, e.name_len);
}

Error next_error(const Bytes& b, size_t offset = 0) {
    size_t off = offset;
    CpioEntry e;
    Result<void> r = cpio_next(view(b), off, e);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(off, offset); // untouched on error
    return r.ok() ? Error{} : r.error();
}
Error find_error(const Bytes& b, const char* name) {
    CpioEntry e;
    Result<void> r = cpio_find(view(b), name, e);
    EXPECT_FALSE(r.ok()) << name;
    return r.ok() ? Error{} : r.error();
}
std::string found(const Bytes& b, const char* name) {
    CpioEntry e;
    Result<void> r = cpio_find(view(b), name, e);
    if (!r.ok()) {
        ADD_FAILURE() << name << ": " << int(r.error());
        return "<error>";
    }
    EXPECT_EQ(name_of(e), name);
    return str(e.data);
}

// Everything cpio.h promises about an entry cpio_next returned.
void expect_entry_ok(std::span<const uint8_t> a, size_t before, size_t after, const CpioEntry& e) {
    const auto* base = reinterpret_cast<const char*>(a.data());
    EXPECT_EQ(after % 4, 0u);
    EXPECT_GT(after, before);
    EXPECT_LE(after, a.size());
    EXPECT_GE(e.name, base + before + 110);
    EXPECT_LE(e.name + e.name_len + 1, base + after);
    EXPECT_EQ(e.name[e.name_len], '\0');
    EXPECT_EQ(std::memchr(e.name, 0, e.name_len), nullptr);
    if (!e.data.empty()) {
        EXPECT_GE(e.data.data(), a.data() + before);
        EXPECT_LE(e.data.data() + e.data.size(), a.data() + after);
    }
}

// Walks the archive with cpio_next, checking each entry (expect_entry_ok)
// and that a failure leaves the offset alone; on_entry(e, offset) sees each
// entry. Returns the error that ended the walk (NotFound: the trailer) and
// stops early, with InvalidArgument, after `max_steps` entries.
template <class F>
Error walk(std::span<const uint8_t> a, F on_entry, int max_steps = 1 << 30) {
    size_t off = 0;
    for (int steps = 0; steps < max_steps; ++steps) {
        CpioEntry e;
        size_t before = off;
        Result<void> r = cpio_next(a, off, e);
        if (!r.ok()) {
            EXPECT_EQ(off, before);
            return r.error();
        }
        expect_entry_ok(a, before, off, e);
        on_entry(e, before);
    }
    ADD_FAILURE() << "more than " << max_steps << " entries";
    return Error::InvalidArgument;
}

Bytes read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

} // namespace

// ---- a real archive ---------------------------------------------------------------

TEST(Cpio, GnuArchiveReadsInOrder) {
    Bytes a = gnu_archive();
    struct {
        const char* name;
        uint32_t mode;
        const char* data;
    } want[] = {{".", 040755, ""},
                {"bin", 040755, ""},
                {"bin/hello", 0100755, "abcde"},
                {"empty", 0100644, ""},
                {"init", 0100755, "hello from init\n"},
                {"lnk", 0120777, "init"}};
    size_t off = 0;
    for (const auto& w : want) {
        CpioEntry e;
        size_t before = off;
        ASSERT_TRUE(cpio_next(view(a), off, e).ok()) << w.name;
        expect_entry_ok(view(a), before, off, e);
        EXPECT_EQ(name_of(e), w.name);
        EXPECT_EQ(e.mode, w.mode) << w.name;
        EXPECT_EQ(str(e.data), w.data);
    }
    EXPECT_EQ(off, 0x2d4u);
    EXPECT_EQ(next_error(a, off), Error::NotFound);
}

TEST(Cpio, GnuArchiveFind) {
    Bytes a = gnu_archive();
    EXPECT_EQ(found(a, "init"), "hello from init\n");
    EXPECT_EQ(found(a, "bin/hello"), "abcde");
    EXPECT_EQ(found(a, "empty"), "");
    EXPECT_EQ(find_error(a, "bin"), Error::NotFound); // a directory
    EXPECT_EQ(find_error(a, "lnk"), Error::NotFound); // a symlink
    EXPECT_EQ(find_error(a, "."), Error::NotFound);   // the root directory
    EXPECT_EQ(find_error(a, "hello"), Error::NotFound);
    EXPECT_EQ(find_error(a, "init2"), Error::NotFound);
    EXPECT_EQ(find_error(a, "ini"), Error::NotFound);
    EXPECT_EQ(find_error(a, "/init"), Error::NotFound);
    EXPECT_EQ(find_error(a, "TRAILER!!!"), Error::NotFound);
}

TEST(Cpio, UnalignedBufferIsFine) {
    Bytes a = gnu_archive();
    for (size_t shift = 1; shift < 4; ++shift) {
        Bytes s(shift + a.size());
        std::memcpy(s.data() + shift, a.data(), a.size());
        CpioEntry e;
        ASSERT_TRUE(
            cpio_find(std::span<const uint8_t>(s.data() + shift, a.size()), "init", e).ok());
        EXPECT_EQ(str(e.data), "hello from init\n");
    }
}

// ---- archives built here ------------------------------------------------------------

TEST(Cpio, EveryNameAndDataPadding) {
    Builder bld;
    std::vector<std::pair<std::string, std::string>> files;
    for (int nl = 1; nl <= 8; ++nl)
        for (int dl = 0; dl <= 8; ++dl) {
            std::string name(size_t(nl), char('0' + nl));
            name[0] = char('a' + dl);
            std::string data(size_t(dl), char('A' + nl));
            files.push_back({name, data});
            bld.file(name, data);
        }
    bld.trailer();
    size_t off = 0;
    for (const auto& f : files) {
        CpioEntry e;
        size_t before = off;
        ASSERT_TRUE(cpio_next(view(bld.b), off, e).ok());
        expect_entry_ok(view(bld.b), before, off, e);
        EXPECT_EQ(name_of(e), f.first);
        EXPECT_EQ(str(e.data), f.second);
        EXPECT_EQ(e.mode, 0100755u);
    }
    EXPECT_EQ(next_error(bld.b, off), Error::NotFound);
    for (const auto& f : files)
        EXPECT_EQ(found(bld.b, f.first.c_str()), f.second);
}

TEST(Cpio, DotSlashPrefixIsIgnoredOnce) {
    Builder bld;
    bld.file("./init", "one").file("./bin/sh", "two").file("././x", "three").file(".hidden", "4");
    bld.file("./", "5").trailer();
    EXPECT_EQ(found(bld.b, "init"), "one");
    EXPECT_EQ(found(bld.b, "bin/sh"), "two");
    EXPECT_EQ(found(bld.b, "./x"), "three");
    EXPECT_EQ(find_error(bld.b, "x"), Error::NotFound);
    EXPECT_EQ(find_error(bld.b, "./init"), Error::NotFound);
    EXPECT_EQ(found(bld.b, ".hidden"), "4");
    // cpio_next returns names as stored.
    size_t off = 0;
    CpioEntry e;
    ASSERT_TRUE(cpio_next(view(bld.b), off, e).ok());
    EXPECT_EQ(name_of(e), "./init");
}

TEST(Cpio, FindWantsARegularFile) {
    Builder bld;
    bld.add("dev/console", 020600, "").add("fifo", 010644, "").add("dir", 040755, "");
    bld.add("sock", 0140755, "").add("blk", 060600, "").add("link", 0120777, "target");
    bld.add("plain", 0100000, "p").add("typeless", 0755, "t").trailer();
    for (const char* n : {"dev/console", "fifo", "dir", "sock", "blk", "link", "typeless"})
        EXPECT_EQ(find_error(bld.b, n), Error::NotFound) << n;
    EXPECT_EQ(found(bld.b, "plain"), "p");
}

TEST(Cpio, FindChecksTheName) {
    Builder bld;
    std::string n255(255, 'n'), n256(256, 'n');
    bld.file(n255, "long").file(n256, "longer").trailer();
    EXPECT_EQ(found(bld.b, n255.c_str()), "long");
    EXPECT_EQ(find_error(bld.b, n256.c_str()), Error::InvalidArgument);
    EXPECT_EQ(find_error(bld.b, ""), Error::InvalidArgument);
    EXPECT_EQ(find_error(bld.b, nullptr), Error::InvalidArgument);
    // The archive's own 256-char name is fine for cpio_next.
    size_t off = 0;
    CpioEntry e;
    ASSERT_TRUE(cpio_next(view(bld.b), off, e).ok());
    ASSERT_TRUE(cpio_next(view(bld.b), off, e).ok());
    EXPECT_EQ(e.name_len, 256u);
}

TEST(Cpio, DuplicateRegularFileIsAmbiguous) {
    Builder bld;
    bld.file("init", "a").file("x", "").file("./init", "b").trailer();
    EXPECT_EQ(find_error(bld.b, "init"), Error::BadFormat);
    EXPECT_EQ(found(bld.b, "x"), "");
    // A directory of the same name does not count.
    Builder ok;
    ok.add("init", 040755, "").file("init", "c").trailer();
    EXPECT_EQ(found(ok.b, "init"), "c");
}

TEST(Cpio, FindReadsToTheTrailer) {
    Builder bld;
    bld.file("init", "a").file("later", "b");
    Bytes no_trailer = bld.b;
    EXPECT_EQ(find_error(no_trailer, "init"), Error::Truncated);
    bld.b.push_back('x'); // junk where the trailer should be
    bld.b.resize(bld.b.size() + 200, 'x');
    EXPECT_EQ(find_error(bld.b, "init"), Error::BadFormat);
}

TEST(Cpio, FindLeavesOutAloneOnError) {
    Builder bld;
    bld.file("init", "a");
    CpioEntry e;
    e.name_len = 77;
    EXPECT_FALSE(cpio_find(view(bld.b), "init", e).ok());
    EXPECT_EQ(e.name_len, 77u);
    EXPECT_EQ(e.name, nullptr);
}

TEST(Cpio, UpperAndLowerCaseHex) {
    Builder bld;
    bld.file("a", std::string(0xab, 'z')).trailer();
    size_t off = 0;
    CpioEntry e;
    ASSERT_TRUE(cpio_next(view(bld.b), off, e).ok());
    EXPECT_EQ(e.data.size(), 0xabu);
    // Builder writes lower case; make the filesize upper case.
    Bytes up = bld.b;
    up[6 + 6 * 8 + 6] = 'A';
    up[6 + 6 * 8 + 7] = 'B';
    off = 0;
    ASSERT_TRUE(cpio_next(view(up), off, e).ok());
    EXPECT_EQ(e.data.size(), 0xabu);
}

// ---- malformed ------------------------------------------------------------------------

TEST(Cpio, EmptyOrCutHeaderIsTruncated) {
    EXPECT_EQ(next_error(Bytes{}), Error::Truncated);
    Builder bld;
    bld.file("init", "data").trailer();
    for (size_t n : {size_t{1}, size_t{6}, size_t{109}}) {
        Bytes cut(bld.b.begin(), bld.b.begin() + long(n));
        EXPECT_EQ(next_error(cut), Error::Truncated) << n;
    }
}

TEST(Cpio, OffsetMustBeAlignedAndInside) {
    Bytes a = gnu_archive();
    EXPECT_EQ(next_error(a, 2), Error::InvalidArgument);
    EXPECT_EQ(next_error(a, a.size() + 4), Error::InvalidArgument);
    EXPECT_EQ(next_error(a, ~size_t{3}), Error::InvalidArgument);
    EXPECT_EQ(next_error(a, a.size()), Error::Truncated); // ran out: no trailer
    EXPECT_EQ(next_error(a, 0x350), Error::BadFormat);    // the zero padding after it
}

TEST(Cpio, MagicMustBeNewc) {
    for (const char* m : {"070702", "070707", "070700", "170701", "07071", "\xc7\x71"}) {
        Builder bld;
        bld.file("init", "x").trailer();
        std::memcpy(bld.b.data(), m, std::strlen(m));
        EXPECT_EQ(next_error(bld.b), Error::BadFormat) << m;
    }
}

TEST(Cpio, EveryFieldIsEightHexDigits) {
    for (size_t field = 0; field < 13; ++field)
        for (char bad : {'g', 'G', ' ', '+', '-', 'x', '\0', '/', ':', '@', '`'})
            for (size_t pos : {size_t{0}, size_t{7}}) {
                Builder bld;
                bld.file("init", "x").trailer();
                bld.b[6 + field * 8 + pos] = uint8_t(bad);
                EXPECT_EQ(next_error(bld.b), Error::BadFormat) << field << " " << bad;
            }
}

TEST(Cpio, NameRules) {
    {
        Builder bld;
        bld.add("init", 0100755, "x", 0).trailer();
        EXPECT_EQ(next_error(bld.b), Error::BadFormat); // namesize 0
    }
    {
        Builder bld;
        bld.add("init", 0100755, "x", 4).trailer(); // NUL not at namesize-1
        EXPECT_EQ(next_error(bld.b), Error::BadFormat);
    }
    {
        Builder bld;
        bld.add("init", 0100755, "x", 6).trailer(); // a NUL before namesize-1
        EXPECT_EQ(next_error(bld.b), Error::BadFormat);
    }
    {
        Builder bld;
        bld.add(std::string("in\0t", 4), 0100755, "x").trailer();
        EXPECT_EQ(next_error(bld.b), Error::BadFormat);
    }
    {
        Builder bld;
        bld.add("", 0100755, "x").trailer(); // namesize 1: an empty name is allowed
        size_t off = 0;
        CpioEntry e;
        ASSERT_TRUE(cpio_next(view(bld.b), off, e).ok());
        EXPECT_EQ(e.name_len, 0u);
    }
    {
        Builder bld;
        bld.add("init", 0100755, "x", 0x7fffffff).trailer(); // past the end
        EXPECT_EQ(next_error(bld.b), Error::Truncated);
    }
    {
        Builder bld;
        bld.add("init", 0100755, "x", 0xffffffff).trailer();
        EXPECT_EQ(next_error(bld.b), Error::Truncated);
    }
}

TEST(Cpio, DataAndPaddingInsideTheArchive) {
    Builder bld;
    bld.file("init", "hello").trailer(); // name ends at 115 -> data at 116, next at 124
    Bytes a = bld.b;
    auto cut = [&](size_t n) { return Bytes(a.begin(), a.begin() + long(n)); };
    EXPECT_EQ(next_error(cut(114)), Error::Truncated); // in the name
    EXPECT_EQ(next_error(cut(115)), Error::Truncated); // in the name's padding
    EXPECT_EQ(next_error(cut(120)), Error::Truncated); // in the data
    EXPECT_EQ(next_error(cut(123)), Error::Truncated); // in the data's padding
    size_t off = 0;
    CpioEntry e;
    Bytes whole = cut(124);
    ASSERT_TRUE(cpio_next(view(whole), off, e).ok());
    EXPECT_EQ(off, 124u);
    EXPECT_EQ(next_error(whole, off), Error::Truncated); // the trailer is missing

    for (uint32_t size : {0x1000u, 0x7fffffffu, 0xffffffffu}) {
        Bytes big = a;
        char s[9];
        std::snprintf(s, sizeof s, "%08X", size);
        std::memcpy(&big[6 + 6 * 8], s, 8);
        EXPECT_EQ(next_error(big), Error::Truncated) << size;
    }
}

TEST(Cpio, TrailerMustBeComplete) {
    Builder bld;
    bld.trailer();
    EXPECT_EQ(next_error(bld.b), Error::NotFound);
    Bytes cut(bld.b.begin(), bld.b.end() - 1); // its padding
    EXPECT_EQ(next_error(cut), Error::Truncated);
    // Only the exact name ends the archive.
    Builder near;
    near.file("TRAILER!!", "").file("TRAILER!!!!", "").file("trailer!!!", "");
    near.file("./TRAILER!!!", "").file("TRAILER!!!/x", "").trailer();
    size_t off = 0;
    int n = 0;
    CpioEntry e;
    while (cpio_next(view(near.b), off, e).ok())
        ++n;
    EXPECT_EQ(n, 5);
    EXPECT_EQ(off, near.b.size() - 124);
    EXPECT_EQ(found(near.b, "TRAILER!!!"), ""); // the "./" one
    // Data after the trailer (the next archive of an initramfs) is not read.
    bld.b.resize(bld.b.size() + 7, 0xee);
    EXPECT_EQ(next_error(bld.b), Error::NotFound);
}

// ---- mutation: never crash, and every success keeps the promises -------------------

TEST(Cpio, MutationsNeverBreakTheInvariants) {
    Builder bld;
    bld.file("./init", "hello").add("bin", 040755, "").file("bin/sh", std::string(37, 's'));
    bld.add("lnk", 0120777, "init").file("e", "").trailer();
    const Bytes good = bld.b;
    const char junk[] = {'0', '1', '7', '8', 'f', 'F', 'g', '\0', '/', 'T', '!', '\xff'};
    std::mt19937_64 rng(424242);
    int walked_ok = 0;
    for (int iter = 0; iter < 5000; ++iter) {
        Bytes b = good;
        int ops = 1 + int(rng() % 3);
        for (int k = 0; k < ops; ++k) {
            switch (rng() % 4) {
            case 0:
                if (!b.empty()) b[rng() % b.size()] = uint8_t(junk[rng() % sizeof junk]);
                break;
            case 1:
                if (!b.empty()) b[rng() % b.size()] ^= uint8_t(1u << (rng() % 8));
                break;
            case 2:
                b.resize(rng() % (b.size() + 1));
                break;
            case 3: // a big or odd size into namesize or filesize of some header
                if (b.size() >= 110) {
                    size_t at = 4 * (rng() % (b.size() / 4));
                    if (at + 110 <= b.size()) {
                        char s[9];
                        uint32_t sizes[] = {0,  1,    2,     3,          4,          5,
                                            11, 0x7f, 0xfff, 0x7fffffff, 0xfffffffe, 0xffffffff};
                        std::snprintf(s, sizeof s, "%08x", sizes[rng() % std::size(sizes)]);
                        std::memcpy(&b[at + 6 + (rng() % 2 ? 6 : 11) * 8], s, 8);
                    }
                }
                break;
            }
        }
        std::span<const uint8_t> a = view(b);
        if (walk(
                a, [](const CpioEntry&, size_t) {}, 100) == Error::NotFound)
            ++walked_ok;
        for (const char* name : {"init", "bin/sh", "e", "lnk"}) {
            CpioEntry e;
            if (!cpio_find(a, name, e).ok()) continue;
            EXPECT_EQ(e.mode & kCpioTypeMask, kCpioRegular);
            EXPECT_EQ(name_of(e), name);
            EXPECT_GE(e.data.data(), a.data());
            EXPECT_LE(e.data.data() + e.data.size(), a.data() + a.size());
        }
        if (HasFailure()) {
            ADD_FAILURE() << "iteration " << iter;
            return;
        }
    }
    EXPECT_GT(walked_ok, 100);
    EXPECT_LT(walked_ok, 5000);
}

// ---- an archive from a file (skipped unless given) ------------------------------------

TEST(Cpio, ArchiveFromFile) {
    const char* path = std::getenv("CAPFRAME_CPIO");
    if (!path) GTEST_SKIP() << "set CAPFRAME_CPIO to an archive (tools/mkcpio.py)";
    Bytes b = read_file(path);
    std::span<const uint8_t> a = view(b);
    int files = 0;
    Error end = walk(a, [&](const CpioEntry& e, size_t) {
        std::printf("%06o %8zu %.*s\n", unsigned(e.mode), e.data.size(), int(e.name_len), e.name);
        if ((e.mode & kCpioTypeMask) != kCpioRegular) return;
        ++files;
        std::string name = name_of(e);
        if (name.rfind("./", 0) == 0) name = name.substr(2);
        CpioEntry f;
        ASSERT_TRUE(cpio_find(a, name.c_str(), f).ok()) << name;
        EXPECT_EQ(f.data.data(), e.data.data());
        EXPECT_EQ(f.data.size(), e.data.size());
    });
    EXPECT_EQ(end, Error::NotFound);
    EXPECT_GT(files, 0);
}
