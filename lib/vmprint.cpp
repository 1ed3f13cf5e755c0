#include "vmprint.h"

namespace capframe {

PteFlags pte_flags(Pte e) {
    constexpr uint64_t bits[] = {Pte::kR, Pte::kW, Pte::kX, Pte::kU, Pte::kG, Pte::kA, Pte::kD};
    const char* names = "rwxugad";
    PteFlags f{};
    for (int i = 0; i < 7; ++i)
        f.s[i] = (e.raw() & bits[i]) ? names[i] : '-';
    f.s[7] = '\0';
    return f;
}

const char* page_size_tag(uint64_t page_size) {
    if (page_size == kGigaPageSize) return " 1G";
    if (page_size == kMegaPageSize) return " 2M";
    return "";
}

void vmprint_line(Sink out, int depth, unsigned index, Pte e, uint64_t va, uint64_t page_size) {
    for (int d = 0; d < depth; ++d)
        format(out, " ..");
    format(out, "%u: pte 0x%016lx pa 0x%016lx", index, e.raw(), e.pa().value());
    if (e.is_leaf()) format(out, " va 0x%016lx %s%s", va, pte_flags(e).s, page_size_tag(page_size));
    format(out, "\n");
}

namespace {
// The bits that must match for two leaves to share a summary line.
constexpr uint64_t kSummaryFlags = Pte::kV | Pte::kPermMask | Pte::kA | Pte::kD;

int level_of(uint64_t page_size) {
    if (page_size == kGigaPageSize) return 2;
    if (page_size == kMegaPageSize) return 1;
    return 0;
}
} // namespace

void RangeSummary::add(VirtAddr va, PhysAddr pa, uint64_t page_size, Pte e) {
    uint64_t flags = e.raw() & kSummaryFlags;
    bool continues =
        open_ && va.value() == end_ && pa.value() == pa_ + (end_ - va_) && flags == flags_;
    if (!continues) {
        flush();
        open_ = true;
        va_ = end_ = va.value();
        pa_ = pa.value();
        flags_ = flags;
    }
    end_ += page_size;
    ++count_[level_of(page_size)];
}

void RangeSummary::flush() {
    if (!open_) return;
    format(out_, "0x%016lx-0x%016lx -> 0x%016lx %s", va_, end_, pa_, pte_flags(Pte(flags_)).s);
    const char* const names[] = {"4K", "2M", "1G"};
    bool first = true;
    for (int level = sv39::kLevels - 1; level >= 0; --level) {
        if (!count_[level]) continue;
        format(out_, first ? " %4lu x %s" : " + %lu x %s", count_[level], names[level]);
        first = false;
        count_[level] = 0;
    }
    format(out_, "\n");
    ++ranges_;
    bytes_ += end_ - va_;
    open_ = false;
}

void RangeSummary::finish(uint64_t table_pages) {
    flush();
    format(out_, "%lu ranges, %lu KiB mapped, %lu table pages\n", ranges_, bytes_ / 1024,
           table_pages);
}

void audit_leaf(TableAudit& a, VirtAddr va, Pte e) {
    bool was_clean = a.wx_leaves == 0 && a.user_leaves == 0 && a.missing_ad == 0;
    ++a.leaves;
    if (e.writable() && e.executable()) ++a.wx_leaves;
    if (e.user()) ++a.user_leaves;
    if (!e.accessed() || (e.writable() && !e.dirty())) ++a.missing_ad;
    bool is_clean = a.wx_leaves == 0 && a.user_leaves == 0 && a.missing_ad == 0;
    if (was_clean && !is_clean) a.first_bad = va;
}

void print_audit(Sink out, const TableAudit& a) {
    format(out,
           "vm audit: %lu leaves, %lu W+X, %lu user, %lu missing A/D, trampoline %s: ", a.leaves,
           a.wx_leaves, a.user_leaves, a.missing_ad, a.trampoline_ok ? "ok" : "BAD");
    if (a.clean()) {
        format(out, "clean\n");
    } else if (a.wx_leaves || a.user_leaves || a.missing_ad) {
        format(out, "BAD, first bad leaf va 0x%016lx\n", a.first_bad.value());
    } else {
        format(out, "BAD\n");
    }
}

} // namespace capframe
