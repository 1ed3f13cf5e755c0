// Host tests for the FDT reader, continued from fdt_test.cpp: blobs broken on
// purpose (built by fdt_test.h's writer or mutated from a real one), each in an
// exactly-sized heap buffer so AddressSanitizer catches any read past
// `available`.
#include "fdt_test.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "fdt.h"

using namespace capframe;
using namespace fdt_test;

// ---- broken blobs: each must fail with a message ----

namespace {

struct Broken {
    const char* what;
    Bytes blob;
    size_t available; // 0: the blob's size
    Error error;
    const char* says; // a substring of the message
};

void expect_rejected(const Broken& c) {
    Buffer buf(c.blob);
    auto o = try_open(buf, c.available ? c.available : buf.size);
    ASSERT_FALSE(o.result.ok()) << c.what;
    EXPECT_EQ(o.result.error(), c.error) << c.what << ": " << o.why;
    EXPECT_NE(o.why, "") << c.what;
    EXPECT_NE(o.why.find(c.says), std::string::npos) << c.what << ": " << o.why;
    if (getenv("SHOW_WHY")) printf("%-28s %s\n", c.what, o.why.c_str());
}

} // namespace

TEST(FdtBroken, Header) {
    Bytes v = load("virt-smp1");
    auto with = [&](size_t off, uint32_t val) {
        Bytes b = v;
        put32(b, off, val);
        return b;
    };
    const uint32_t total = get32(v, kTotal), os = get32(v, kOffStruct),
                   ostr = get32(v, kOffStrings);
    Broken cases[] = {
        {"bad magic", with(0, 0xd00dfeee), 0, Error::BadFormat, "magic 0xd00dfeee"},
        {"version 15", with(kVersion, 15), 0, Error::BadFormat, "version 15"},
        {"last_comp 18", with(kLastComp, 18), 0, Error::BadFormat, "last_comp_version 18"},
        {"totalsize > available", v, v.size() - 1, Error::Truncated, "exceeds"},
        {"tiny available", v, 39, Error::Truncated, "39 bytes"},
        {"totalsize < header", with(kTotal, 39), 0, Error::BadFormat, "smaller than the 40"},
        {"totalsize > buffer", with(kTotal, total + 1), 0, Error::Truncated, "totalsize"},
        {"rsvmap misaligned", with(kOffRsv, 44), 0, Error::BadFormat, "8-byte aligned"},
        {"rsvmap outside", with(kOffRsv, total & ~7u), 0, Error::BadFormat, "exceeds totalsize"},
        {"rsvmap in header", with(kOffRsv, 8), 0, Error::BadFormat, "overlaps the header"},
        {"struct past end", with(kSizeStruct, total), 0, Error::BadFormat, "struct block ["},
        {"struct misaligned", with(kOffStruct, os + 2), 0, Error::BadFormat, "4-byte aligned"},
        {"struct offset wraps", with(kOffStruct, 0xfffffff0), 0, Error::BadFormat,
         "exceeds totalsize"},
        {"strings past end", with(kSizeStrings, total), 0, Error::BadFormat, "strings block ["},
        {"strings offset wraps", with(kOffStrings, 0xffffffff), 0, Error::BadFormat,
         "strings block"},
        {"strings size wraps", with(kSizeStrings, 0xffffffff - ostr + 2), 0, Error::BadFormat,
         "strings block"},
    };
    for (const auto& c : cases)
        expect_rejected(c);

    char why[80];
    auto null = Fdt::open(nullptr, 100, why, sizeof why);
    EXPECT_EQ(null.error(), Error::InvalidArgument);
    EXPECT_STRNE(why, "");
}

TEST(FdtBroken, Structure) {
    const Bytes one = {0, 0, 0, 1};
    Bytes deep;
    {
        Writer w;
        for (int i = 0; i < 100; ++i)
            w.begin("n");
        for (int i = 0; i < 100; ++i)
            w.end();
        deep = w.finish().build();
    }
    Bytes unterminated;
    {
        Writer w;
        w.begin("").tok(1).tok(0x61626364); // BEGIN_NODE "abcd" without NUL, then the end
        unterminated = w.build();
    }
    Bytes bad_nameoff;
    {
        Writer w;
        w.begin("").prop("a", one).prop_raw(2, 4, one).end().finish(); // strings size is 2
        bad_nameoff = w.build();
    }
    Bytes bad_nameoff_far;
    {
        Writer w;
        w.begin("").prop("a", one).prop_raw(0x7fffffff, 4, one).end().finish();
        bad_nameoff_far = w.build();
    }
    Bytes name_unterminated;
    {
        Writer w;
        w.begin("").prop("a", one).end().finish();
        name_unterminated = w.build();
        name_unterminated.back() = 'x'; // the strings block's only NUL
    }
    Bytes long_value;
    {
        Writer w;
        w.begin("").prop("a", one).end().finish();
        long_value = w.build();
        put32(long_value, get32(long_value, kOffStruct) + 12, 0x1000); // the prop's len
    }
    Bytes huge_value;
    {
        Writer w;
        w.begin("").prop("a", one).end().finish();
        huge_value = w.build();
        put32(huge_value, get32(huge_value, kOffStruct) + 12, 0xfffffffe);
    }
    Bytes truncated_prop;
    {
        Writer w;
        w.begin("").tok(3).tok(0); // FDT_PROP and len, but no nameoff
        truncated_prop = w.build();
    }

    Broken cases[] = {
        {"missing FDT_END", Writer(small_tree()).build(), 0, Error::BadFormat, ""},
        {"no FDT_END",
         [] {
             Writer w;
             w.begin("").end();
             return w.build();
         }(),
         0, Error::BadFormat, "without FDT_END"},
        {"empty struct block", Writer().build(), 0, Error::BadFormat, "without FDT_END"},
        {"only FDT_END", Writer().finish().build(), 0, Error::BadFormat, "before any root"},
        {"unclosed root",
         [] {
             Writer w;
             w.begin("").begin("x").end().finish();
             return w.build();
         }(),
         0, Error::BadFormat, "inside an open node"},
        {"extra END_NODE",
         [] {
             Writer w;
             w.begin("").end().end().finish();
             return w.build();
         }(),
         0, Error::BadFormat, "closes no node"},
        {"second root",
         [] {
             Writer w;
             w.begin("").end().begin("").end().finish();
             return w.build();
         }(),
         0, Error::BadFormat, "second root"},
        {"property outside nodes",
         [&] {
             Writer w;
             w.prop("a", one).begin("").end().finish();
             return w.build();
         }(),
         0, Error::BadFormat, "outside any node"},
        {"property after subnode",
         [&] {
             Writer w;
             w.begin("").begin("c").end().prop("a", one).end().finish();
             return w.build();
         }(),
         0, Error::BadFormat, "follows a subnode"},
        {"unknown token",
         [] {
             Writer w;
             w.begin("").tok(7).end().finish();
             return w.build();
         }(),
         0, Error::BadFormat, "unknown token 0x7"},
        {"nesting 100 deep", deep, 0, Error::BadFormat, "nested deeper than 16"},
        {"unterminated node name", unterminated, 0, Error::BadFormat, "not NUL-terminated"},
        {"name offset outside strings", bad_nameoff, 0, Error::BadFormat,
         "outside the strings block"},
        {"name offset far outside", bad_nameoff_far, 0, Error::BadFormat, "name offset 0x7fffffff"},
        {"name not NUL-terminated", name_unterminated, 0, Error::BadFormat, "not NUL-terminated"},
        {"value past struct block", long_value, 0, Error::BadFormat, "value of 4096 bytes"},
        {"value length wraps", huge_value, 0, Error::BadFormat, "runs past"},
        {"property header cut", truncated_prop, 0, Error::BadFormat, "runs past"},
        {"rsvmap without terminator",
         [] {
             Writer w = small_tree();
             w.rsv(0x80000000, 0x1000).rsv(0x90000000, 0x1000);
             return w.build(false);
         }(),
         0, Error::BadFormat, "no (0, 0) terminator"},
    };
    // The "missing FDT_END" case: drop the final token by shrinking the block.
    Bytes& missing_end = cases[0].blob;
    put32(missing_end, kSizeStruct, get32(missing_end, kSizeStruct) - 4);
    for (const auto& c : cases)
        expect_rejected(c);

    // Nesting exactly to the limit is fine.
    Writer w;
    for (int i = 0; i < kFdtMaxDepth; ++i)
        w.begin("n");
    for (int i = 0; i < kFdtMaxDepth; ++i)
        w.end();
    auto ok = try_open(w.finish().build());
    EXPECT_TRUE(ok.result.ok()) << ok.why;
}

TEST(FdtBroken, NopsAreSkipped) {
    Writer w;
    w.tok(4).begin("").tok(4).prop("a", {0, 0, 0, 7}).tok(4).begin("c").tok(4).end().tok(4);
    w.begin("d").end().end().tok(4).finish();
    auto o = try_open(w.build());
    ASSERT_TRUE(o.result.ok()) << o.why;
    const Fdt& f = o.result.value();
    EXPECT_EQ(f.u32(f.root(), "a").value(), 7u);
    EXPECT_EQ(name_of(f, f.first_child(f.root())), "c");
    EXPECT_EQ(name_of(f, f.next_sibling(f.find_node("/c"))), "d");
    EXPECT_EQ(f.parent(f.find_node("/d")), f.root());
}

TEST(FdtBroken, MessageFitsSmallBuffers) {
    Bytes v = load("virt-smp1");
    put32(v, 0, 0x12345678);
    Buffer buf(v);
    char why[8];
    std::memset(why, 'X', sizeof why);
    auto r = Fdt::open(buf.data, buf.size, why, sizeof why);
    EXPECT_FALSE(r.ok());
    EXPECT_STREQ(why, "fdt: ba"); // truncated, NUL-terminated
    EXPECT_FALSE(Fdt::open(buf.data, buf.size, nullptr, 0).ok());
}

TEST(MsgWriter, Formats) {
    char buf[64];
    MsgWriter(buf, sizeof buf).str("a").hex(0).str(" ").hex(0x1f).str(" ").dec(0).str(" ");
    EXPECT_STREQ(buf, "a0x0 0x1f 0 ");
    MsgWriter(buf, sizeof buf).hex(~uint64_t{0}).str(" ").dec(18446744073709551615u);
    EXPECT_STREQ(buf, "0xffffffffffffffff 18446744073709551615");
    MsgWriter(buf, sizeof buf).str("abcdef", 3).str(nullptr);
    EXPECT_STREQ(buf, "abc");
}
