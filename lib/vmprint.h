// Page-table printers and the kernel-table auditor. The walks are templates
// over the same Mem as Sv39; the formatting lives in vmprint.cpp.
//
// vmprint(): xv6's lab format, one line per valid PTE, " .." per depth, and on
// leaves the VA, the flags "rwxugad" ('-' where clear) and " 2M" / " 1G" for
// large leaves:
//   page table 0x0000000087f6e000
//    ..0: pte 0x0000000021fda801 pa 0x0000000087f6a000
//    .. ..128: pte 0x0000000021fda401 pa 0x0000000087f69000
//    .. .. ..0: pte 0x00000000040000c7 pa 0x0000000010000000 va 0x0000000010000000 rw---ad
//
// vmprint_summary(): one line per run of leaves whose VA and PA both continue
// and whose flags are equal, page counts largest size first, then a total:
//   0x0000000080000000-0x0000000080201000 -> 0x0000000080000000 rw---ad    1 x 2M + 1 x 4K
//   0x0000000080400000-0x0000000080405000 -> 0x0000000080600000 r-x--a-    5 x 4K
//   2 ranges, 2072 KiB mapped, 4 table pages
#pragma once

#include <cstdint>

#include "format.h"
#include "sv39.h"

namespace capframe {

// "rwxugad" with '-' for each clear bit, NUL-terminated.
struct PteFlags {
    char s[8];
};
PteFlags pte_flags(Pte e);

// " 1G", " 2M" or "" (4 KiB and anything else).
const char* page_size_tag(uint64_t page_size);

// One vmprint() line; va and page_size are used only if e is a leaf.
void vmprint_line(Sink out, int depth, unsigned index, Pte e, uint64_t va, uint64_t page_size);

// Merges leaves (fed in VA order) into ranges and prints them.
class RangeSummary {
  public:
    explicit RangeSummary(Sink out) : out_(out) {}
    void add(VirtAddr va, PhysAddr pa, uint64_t page_size, Pte e);
    // Prints the open range and the total line.
    void finish(uint64_t table_pages);

  private:
    void flush();

    Sink out_;
    bool open_ = false;
    uint64_t va_ = 0, end_ = 0, pa_ = 0, flags_ = 0;
    uint64_t count_[sv39::kLevels] = {}; // leaves per level: 4K, 2M, 1G
    uint64_t ranges_ = 0, bytes_ = 0;
};

struct TableAudit {
    uint64_t leaves = 0;
    uint64_t wx_leaves = 0;     // writable and executable
    uint64_t user_leaves = 0;   // U set: the kernel table maps no user memory
    uint64_t missing_ad = 0;    // A clear, or W set with D clear (faults on the U74)
    bool trampoline_ok = false; // kTrampolineVa -> trampoline_pa, R-X, not U
    VirtAddr first_bad;         // lowest bad leaf; meaningful if any count above is non-zero

    bool clean() const {
        return wx_leaves == 0 && user_leaves == 0 && missing_ad == 0 && trampoline_ok;
    }
};

void audit_leaf(TableAudit& a, VirtAddr va, Pte e);
// "vm audit: ..." with the counts and the verdict.
void print_audit(Sink out, const TableAudit& a);

namespace detail {
template <class Mem>
void vmprint_table(Sink out, Mem& mem, PhysAddr table_pa, int level, uint64_t base) {
    const uint64_t* t = mem.table(table_pa);
    for (unsigned i = 0; i < sv39::kEntries; ++i) {
        Pte e(t[i]);
        if (!e.valid()) continue;
        uint64_t va = base + (uint64_t{i} << sv39::shift(level));
        vmprint_line(out, sv39::kLevels - level, i, e, va, sv39::span(level));
        if (e.is_table() && level > 0) vmprint_table(out, mem, e.pa(), level - 1, va);
    }
}
} // namespace detail

template <class Mem>
void vmprint(Sink out, Mem& mem, PhysAddr root) {
    format(out, "page table 0x%016lx\n", root.value());
    detail::vmprint_table(out, mem, root, sv39::kLevels - 1, 0);
}

template <class Mem>
void vmprint_summary(Sink out, Mem& mem, PhysAddr root) {
    Sv39<Mem> pt(mem, root);
    RangeSummary summary(out);
    pt.for_each_leaf(
        [&](VirtAddr va, PhysAddr pa, uint64_t size, Pte e) { summary.add(va, pa, size, e); });
    summary.finish(pt.count_tables());
}

template <class Mem>
TableAudit audit_kernel_table(Mem& mem, PhysAddr root, PhysAddr trampoline_pa) {
    Sv39<Mem> pt(mem, root);
    TableAudit a;
    pt.for_each_leaf([&](VirtAddr va, PhysAddr, uint64_t, Pte e) { audit_leaf(a, va, e); });
    Result<Translation> t = pt.translate(VirtAddr(kTrampolineVa));
    a.trampoline_ok =
        t.ok() && t.value().pa == trampoline_pa &&
        (t.value().perm & (Perm::R | Perm::W | Perm::X | Perm::U)) == perm::kTrampoline;
    return a;
}

} // namespace capframe
