// Page-table printers and auditor on simulated physical memory.
#include "vmprint.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>

#include "sv39_test.h"

using namespace capframe;
using namespace capframe::test;

namespace {

void append(void* ctx, const char* s, size_t n) {
    static_cast<std::string*>(ctx)->append(s, n);
}

constexpr uint64_t kTrampolinePa = 0x80201000;

class VmprintTest : public SimTreeTest {
  protected:
    std::string tree() {
        std::string s;
        vmprint(Sink{append, &s}, mem, pt.root());
        return s;
    }
    std::string summary() {
        std::string s;
        vmprint_summary(Sink{append, &s}, mem, pt.root());
        return s;
    }
    TableAudit audit() { return audit_kernel_table(mem, pt.root(), P(kTrampolinePa)); }
    // The level-0 slot of a 4 KiB leaf, to corrupt by hand.
    uint64_t& slot(uint64_t va) {
        uint64_t* t = mem.table(pt.root());
        for (int level = 2; level > 0; --level)
            t = mem.table(Pte(t[sv39::index(va, level)]).pa());
        return t[sv39::index(va, 0)];
    }
    // A small, clean kernel table.
    void map_kernel() {
        ASSERT_TRUE(pt.map(V(0x10000000), P(0x10000000), K4, perm::kMmio).ok());
        ASSERT_TRUE(pt.map(V(0x80200000), P(0x80200000), 3 * K4, perm::kKernelText).ok());
        ASSERT_TRUE(pt.map(V(0x80203000), P(0x80203000), K4, perm::kKernelRodata).ok());
        ASSERT_TRUE(pt.map(V(0x80204000), P(0x80204000), 4 * K4, perm::kKernelData).ok());
        ASSERT_TRUE(pt.map(V(kTrampolineVa), P(kTrampolinePa), K4, perm::kTrampoline).ok());
    }
};

TEST(Vmprint, FlagStringAndSizeTag) {
    EXPECT_STREQ(pte_flags(Pte(0x40000c7)).s, "rw---ad");
    EXPECT_STREQ(pte_flags(Pte(0xff)).s, "rwxugad");
    EXPECT_STREQ(pte_flags(Pte(0x1)).s, "-------");
    EXPECT_STREQ(pte_flags(Pte::leaf(P(0), perm::kUserText)).s, "r-xu-a-");
    EXPECT_STREQ(pte_flags(Pte::leaf(P(0), Perm::R | Perm::G)).s, "r---ga-");
    EXPECT_STREQ(page_size_tag(G1), " 1G");
    EXPECT_STREQ(page_size_tag(M2), " 2M");
    EXPECT_STREQ(page_size_tag(K4), "");
}

TEST_F(VmprintTest, EmptyTable) {
    EXPECT_EQ(tree(), "page table 0x0000000080000000\n");
    EXPECT_EQ(summary(), "0 ranges, 0 KiB mapped, 1 table pages\n");
}

TEST_F(VmprintTest, TreeMatchesXv6Format) {
    // New tables come out of map()'s pool last-allocated first, so the
    // level-1 table of a fresh path sits above its level-0 table (as in xv6).
    ASSERT_TRUE(
        pt.map(V(0x10000000), P(0x10000000), K4, perm::kMmio).ok()); // 0x80002000, 0x80001000
    ASSERT_TRUE(pt.map(V(0x80200000), P(0x80200000), M2, perm::kKernelText).ok()); // 0x80003000
    ASSERT_TRUE(pt.map(V(kTrampolineVa), P(kTrampolinePa), K4, perm::kTrampoline)
                    .ok()); // 0x80005000, 0x80004000
    ASSERT_TRUE(pt.map(V(0x40000000), P(0x40000000), G1, perm::kKernelData).ok()); // in the root
    EXPECT_EQ(
        tree(),
        "page table 0x0000000080000000\n"
        " ..0: pte 0x0000000020000801 pa 0x0000000080002000\n"
        " .. ..128: pte 0x0000000020000401 pa 0x0000000080001000\n"
        " .. .. ..0: pte 0x00000000040000c7 pa 0x0000000010000000 va 0x0000000010000000 "
        "rw---ad\n"
        " ..1: pte 0x00000000100000c7 pa 0x0000000040000000 va 0x0000000040000000 rw---ad 1G\n"
        " ..2: pte 0x0000000020000c01 pa 0x0000000080003000\n"
        " .. ..1: pte 0x000000002008004b pa 0x0000000080200000 va 0x0000000080200000 r-x--a- "
        "2M\n"
        " ..255: pte 0x0000000020001401 pa 0x0000000080005000\n"
        " .. ..511: pte 0x0000000020001001 pa 0x0000000080004000\n"
        " .. .. ..511: pte 0x000000002008044b pa 0x0000000080201000 va 0x0000003ffffff000 "
        "r-x--a-\n");
    EXPECT_EQ(summary(),
              "0x0000000010000000-0x0000000010001000 -> 0x0000000010000000 rw---ad    1 x 4K\n"
              "0x0000000040000000-0x0000000080000000 -> 0x0000000040000000 rw---ad    1 x 1G\n"
              "0x0000000080200000-0x0000000080400000 -> 0x0000000080200000 r-x--a-    1 x 2M\n"
              "0x0000003ffffff000-0x0000004000000000 -> 0x0000000080201000 r-x--a-    1 x 4K\n"
              "4 ranges, 1050632 KiB mapped, 6 table pages\n");
}

TEST_F(VmprintTest, SummaryMergesOnlyContinuingRuns) {
    ASSERT_TRUE(pt.map(V(0x80000000), P(0x80000000), 5 * K4, perm::kKernelText).ok());
    ASSERT_TRUE(pt.map(V(0x80005000), P(0x80005000), 3 * K4, Perm::R).ok());       // flags differ
    ASSERT_TRUE(pt.map(V(0x80008000), P(0x90000000), 2 * K4, Perm::R).ok());       // PA jumps
    ASSERT_TRUE(pt.map(V(0x8000a000), P(0x90002000), K4, Perm::R).ok());           // continues
    ASSERT_TRUE(pt.map(V(0x8000b000), P(0x90003000), K4, Perm::R | Perm::G).ok()); // G differs
    ASSERT_TRUE(pt.map(V(0x80010000), P(0x80010000), K4, Perm::R).ok());           // VA gap
    ASSERT_TRUE(pt.map(V(0x801ff000), P(0x801ff000), M2 + 2 * K4, perm::kKernelData).ok());
    EXPECT_EQ(
        summary(),
        "0x0000000080000000-0x0000000080005000 -> 0x0000000080000000 r-x--a-    5 x 4K\n"
        "0x0000000080005000-0x0000000080008000 -> 0x0000000080005000 r----a-    3 x 4K\n"
        "0x0000000080008000-0x000000008000b000 -> 0x0000000090000000 r----a-    3 x 4K\n"
        "0x000000008000b000-0x000000008000c000 -> 0x0000000090003000 r---ga-    1 x 4K\n"
        "0x0000000080010000-0x0000000080011000 -> 0x0000000080010000 r----a-    1 x 4K\n"
        "0x00000000801ff000-0x0000000080401000 -> 0x00000000801ff000 rw---ad    1 x 2M + 2 x 4K\n"
        "6 ranges, 2108 KiB mapped, 4 table pages\n");
}

// ---- audit ------------------------------------------------------------------

TEST_F(VmprintTest, CleanKernelTable) {
    map_kernel();
    TableAudit a = audit();
    EXPECT_EQ(a.leaves, 1u + 3u + 1u + 4u + 1u);
    EXPECT_EQ(a.wx_leaves, 0u);
    EXPECT_EQ(a.user_leaves, 0u);
    EXPECT_EQ(a.missing_ad, 0u);
    EXPECT_TRUE(a.trampoline_ok);
    EXPECT_TRUE(a.clean());
    std::string s;
    print_audit(Sink{append, &s}, a);
    EXPECT_EQ(s, "vm audit: 10 leaves, 0 W+X, 0 user, 0 missing A/D, trampoline ok: clean\n");
}

TEST_F(VmprintTest, AuditFindsBadLeaves) {
    map_kernel();
    slot(0x80201000) |= Pte::kW;  // text made W+X (D clear too)
    slot(0x80205000) &= ~Pte::kD; // writable, not dirty
    slot(0x80206000) &= ~Pte::kA; // not accessed
    slot(0x10000000) |= Pte::kU;  // user-accessible MMIO
    TableAudit a = audit();
    EXPECT_EQ(a.leaves, 10u);
    EXPECT_EQ(a.wx_leaves, 1u);
    EXPECT_EQ(a.user_leaves, 1u);
    EXPECT_EQ(a.missing_ad, 3u);
    EXPECT_TRUE(a.trampoline_ok);
    EXPECT_FALSE(a.clean());
    EXPECT_EQ(a.first_bad, V(0x10000000));
    std::string s;
    print_audit(Sink{append, &s}, a);
    EXPECT_EQ(s, "vm audit: 10 leaves, 1 W+X, 1 user, 3 missing A/D, trampoline ok: BAD, first bad "
                 "leaf va 0x0000000010000000\n");

    slot(0x10000000) &= ~Pte::kU;
    EXPECT_EQ(audit().first_bad, V(0x80201000));
}

TEST_F(VmprintTest, AuditChecksTheTrampoline) {
    ASSERT_TRUE(pt.map(V(0x80200000), P(0x80200000), K4, perm::kKernelText).ok());
    TableAudit a = audit();
    EXPECT_FALSE(a.trampoline_ok); // not mapped at all
    EXPECT_FALSE(a.clean());
    std::string s;
    print_audit(Sink{append, &s}, a);
    EXPECT_EQ(s, "vm audit: 1 leaves, 0 W+X, 0 user, 0 missing A/D, trampoline BAD: BAD\n");

    ASSERT_TRUE(pt.map(V(kTrampolineVa), P(kTrampolinePa + K4), K4, perm::kTrampoline).ok());
    EXPECT_FALSE(audit().trampoline_ok); // wrong frame
    uint64_t& t = slot(kTrampolineVa);
    t = Pte::leaf(P(kTrampolinePa), perm::kTrampoline).raw();
    EXPECT_TRUE(audit().trampoline_ok);
    t = Pte::leaf(P(kTrampolinePa), perm::kTrampoline | Perm::G).raw();
    EXPECT_TRUE(audit().trampoline_ok); // G does not matter
    for (Perm p : {Perm::R, Perm::X, perm::kKernelData, perm::kUserText}) {
        t = Pte::leaf(P(kTrampolinePa), p).raw();
        EXPECT_FALSE(audit().trampoline_ok) << int(p);
    }
    t = Pte::leaf(P(kTrampolinePa), perm::kUserText).raw();
    EXPECT_EQ(audit().user_leaves, 1u);
}

} // namespace
