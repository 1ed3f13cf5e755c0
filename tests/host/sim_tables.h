// Simulated physical memory for page-table pages (lib/sv39.h's
// PageTableMemory): host pages that stand for the physical pages at kBase,
// handed out lowest first. Used by the sv39 and vmprint host tests and the
// sv39 fuzzer.
//
// Misuse is reported through Report::bad(what, pa): a table() of a page that
// is not allocated, a double free; an address outside the pages also
// aborts. An allocation can be made to fail (fail_nth_alloc); a freed page
// is filled with 0xa5 so that a use after free shows.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "addr.h"
#include "result.h"

namespace capframe::test {

template <unsigned kPages, class Report>
class SimTables {
  public:
    static constexpr uint64_t kBase = 0x80000000;

    SimTables() : pages_(new Page[kPages]) {}

    // Everything free again, no failure pending (the pages keep their bytes).
    void reset() {
        std::memset(live_, 0, sizeof live_);
        live_count_ = 0;
        allocs_ = 0;
        fail_at_ = -1;
    }

    uint64_t* table(PhysAddr pa) {
        unsigned i = index(pa);
        if (!live_[i]) Report::bad("table() of a page that is not allocated", pa);
        return pages_[i].w;
    }
    Result<PhysAddr> alloc_table() {
        if (allocs_++ == fail_at_) return Error::NoMemory;
        for (unsigned i = 0; i < kPages; ++i) {
            if (live_[i]) continue;
            live_[i] = true;
            ++live_count_;
            std::memset(pages_[i].w, 0, sizeof pages_[i].w);
            return PhysAddr(kBase + uint64_t{i} * kPageSize);
        }
        return Error::NoMemory;
    }
    void free_table(PhysAddr pa) {
        unsigned i = index(pa);
        if (!live_[i]) {
            Report::bad("double free", pa);
            return;
        }
        live_[i] = false;
        --live_count_;
        std::memset(pages_[i].w, 0xa5, sizeof pages_[i].w);
    }

    unsigned live() const { return live_count_; }
    unsigned free_pages() const { return kPages - live_count_; }
    // The n-th allocation from now (0-based) fails; the others succeed.
    void fail_nth_alloc(long n) { fail_at_ = allocs_ + n; }
    void never_fail() { fail_at_ = -1; }

    // Every live page with its contents: equal snapshots mean equal trees.
    std::vector<std::pair<unsigned, std::vector<uint64_t>>> snapshot() const {
        std::vector<std::pair<unsigned, std::vector<uint64_t>>> s;
        for (unsigned i = 0; i < kPages; ++i)
            if (live_[i]) s.emplace_back(i, std::vector<uint64_t>(pages_[i].w, pages_[i].w + 512));
        return s;
    }

  private:
    struct alignas(4096) Page {
        uint64_t w[512];
    };
    unsigned index(PhysAddr pa) const {
        uint64_t i = (pa.value() - kBase) / kPageSize;
        if (pa.value() < kBase || i >= kPages || !pa.is_page_aligned()) {
            Report::bad("PA outside simulated memory", pa);
            std::abort();
        }
        return unsigned(i);
    }

    std::unique_ptr<Page[]> pages_;
    bool live_[kPages] = {};
    unsigned live_count_ = 0;
    long allocs_ = 0;
    long fail_at_ = -1;
};

} // namespace capframe::test
