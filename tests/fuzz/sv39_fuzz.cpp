// Fuzzes the Sv39 mapper (lib/sv39.h) with map / unmap / protect /
// translate sequences decoded from the input, on a fake physical memory of
// host pages, against a model: the leaves (va -> pa, size, permissions).
//
// Addresses cluster around the interesting places (0, 1 GiB boundaries,
// MAXVA, the trapframe, the top of physical memory), sizes come in 4 KiB /
// 2 MiB / 1 GiB units, and now and then anything goes (misaligned, wrapping,
// past MAXVA). The model predicts every result, error code included, the
// leaf sizes the mapper picks and the number of table pages; injected
// allocation failures must leave the tree untouched. After each step the
// whole tree is compared with the model; at the end everything is unmapped
// and destroyed and every table page must have been freed.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <vector>

#include "fuzz.h"
#include "sim_tables.h"
#include "sv39.h"

using namespace capframe;

namespace {

constexpr uint64_t K4 = kPageSize, M2 = kMegaPageSize, G1 = kGigaPageSize;
constexpr size_t kOpLeafBudget = 1024;    // leaves one map may create
constexpr size_t kTotalLeafBudget = 4096; // leaves alive at once

struct FuzzReport {
    static void bad(const char* what, PhysAddr pa) {
        std::fprintf(stderr, "%s: %#llx\n", what, (unsigned long long)pa.value());
        FUZZ_CHECK(false);
    }
};
using FakeMem = test::SimTables<256, FuzzReport>;

FakeMem g_mem; // 1 MiB, reset per input

struct Leaf {
    uint64_t pa, size;
    Perm perm;
};

class Model {
  public:
    std::map<uint64_t, Leaf> leaves; // by va

    // The leaf holding va, or end().
    std::map<uint64_t, Leaf>::const_iterator find(uint64_t va) const {
        auto it = leaves.upper_bound(va);
        if (it == leaves.begin()) return leaves.end();
        --it;
        return va - it->first < it->second.size ? it : leaves.end();
    }
    bool overlaps(uint64_t va, uint64_t end) const {
        if (find(va) != leaves.end()) return true;
        auto it = leaves.lower_bound(va);
        return it != leaves.end() && it->first < end;
    }
    // A table hangs below the level-`level` slot at `slot` iff some leaf
    // smaller than the slot lies in it (empty tables are freed).
    bool has_table(int level, uint64_t slot) const {
        if (level == 0) return false;
        auto it = leaves.lower_bound(slot);
        return it != leaves.end() && it->first < slot + sv39::span(level) &&
               it->second.size < sv39::span(level);
    }
    uint64_t tables() const {
        std::set<uint64_t> l1, l0; // level-2 slots with a table, level-1 slots with one
        for (auto& [va, l] : leaves) {
            if (l.size < G1) l1.insert(va / G1);
            if (l.size < M2) l0.insert(va / M2);
        }
        return 1 + l1.size() + l0.size();
    }

    // The leaves map() makes for [va, end) and the table pages it needs, as
    // the mapper's documented rule says: the largest allowed leaf where va
    // and pa are aligned and the slot is free and covered; else a table.
    bool plan(int level, uint64_t va, uint64_t end, uint64_t pa, Perm p, PageSizes allowed,
              std::vector<std::pair<uint64_t, Leaf>>& out, uint64_t& tables) const {
        for (uint64_t next; va < end; pa += next - va, va = next) {
            const uint64_t span = sv39::span(level), slot = va & ~(span - 1);
            next = slot + span < end ? slot + span : end;
            const bool table = has_table(level, slot);
            bool leaf_ok = level == 0 || (va == slot && next - va == span && pa % span == 0);
            if (level == 1 && allowed == PageSizes::Only4K) leaf_ok = false;
            if (level == 2 && allowed != PageSizes::All) leaf_ok = false;
            if (!table && leaf_ok) {
                out.push_back({va, Leaf{pa, span, p}});
                if (out.size() > kOpLeafBudget) return false;
                continue;
            }
            if (!table) ++tables;
            if (!plan(level - 1, va, next, pa, p, allowed, out, tables)) return false;
        }
        return true;
    }

    // check_mapped(): every page mapped, no leaf sticking out.
    Result<void> covered(uint64_t va, uint64_t end) const {
        while (va < end) {
            auto it = find(va);
            if (it == leaves.end()) return Error::NotMapped;
            if (it->first < va || it->second.size > end - it->first)
                return Error::WouldSplitLargePage;
            va = it->first + it->second.size;
        }
        return {};
    }
};

Result<void> range_error(uint64_t va, uint64_t size) {
    if (size == 0) return Error::InvalidArgument;
    if (va % K4 || size % K4) return Error::Misaligned;
    if (va + size < va || va + size > kMaxVa) return Error::OutOfRange;
    return {};
}

Result<void> perm_error(Perm p) {
    const bool r = has(p, Perm::R), w = has(p, Perm::W), x = has(p, Perm::X);
    if (!r && !x) return Error::InvalidArgument;
    if (w && (!r || x)) return Error::InvalidArgument;
    return {};
}

void same_result(const Result<void>& got, const Result<void>& want) {
    FUZZ_CHECK(got.ok() == want.ok());
    if (!got.ok()) FUZZ_CHECK(got.error() == want.error());
}

struct Harness {
    FuzzedDataProvider& in;
    Model model;
    Sv39<FakeMem> pt;

    explicit Harness(FuzzedDataProvider& p) : in(p) {}

    uint64_t unit() {
        switch (in.ConsumeIntegralInRange(0, 3)) {
        case 0:
            return M2;
        case 1:
            return G1;
        default:
            return K4;
        }
    }

    uint64_t pick_va() {
        static constexpr uint64_t kBases[] = {0,
                                              0x10000,
                                              G1,
                                              2 * G1,
                                              kMaxVa - G1,
                                              kMaxVa - M2,
                                              kTrapframeVa,
                                              kMaxVa,
                                              ~uint64_t{0} - G1 + 1};
        uint64_t va = kBases[in.ConsumeIntegralInRange<size_t>(0, std::size(kBases) - 1)];
        const auto steps = static_cast<uint64_t>(int64_t{in.ConsumeIntegral<int8_t>()});
        va += steps * unit();
        if (in.ConsumeIntegralInRange(0, 15) == 0) va += in.ConsumeIntegralInRange(1, 4095);
        if (in.ConsumeIntegralInRange(0, 31) == 0) va = in.ConsumeIntegral<uint64_t>();
        return va;
    }
    uint64_t pick_pa() {
        static constexpr uint64_t kBases[] = {0x80000000,  0x80200000, 0x80001000, 4 * G1,
                                              kMaxPa - G1, kMaxPa,     0};
        uint64_t pa = kBases[in.ConsumeIntegralInRange<size_t>(0, std::size(kBases) - 1)];
        const auto steps = static_cast<uint64_t>(int64_t{in.ConsumeIntegral<int8_t>()});
        pa += steps * unit();
        if (in.ConsumeIntegralInRange(0, 15) == 0) pa += in.ConsumeIntegralInRange(1, 4095);
        if (in.ConsumeIntegralInRange(0, 31) == 0) pa = in.ConsumeIntegral<uint64_t>();
        return pa;
    }
    uint64_t pick_size() {
        const auto units = in.ConsumeIntegralInRange<uint64_t>(0, 8);
        uint64_t size = units * unit();
        if (in.ConsumeIntegralInRange(0, 15) == 0) size += in.ConsumeIntegralInRange(1, 4095);
        if (in.ConsumeIntegralInRange(0, 31) == 0) size = in.ConsumeIntegral<uint64_t>();
        return size;
    }
    Perm pick_perm() {
        if (in.ConsumeBool()) { // usually a sensible one
            static constexpr Perm kUsual[] = {perm::kUserText, perm::kUserData, perm::kUserRodata,
                                              perm::kKernelData, perm::kKernelText};
            return kUsual[in.ConsumeIntegralInRange<size_t>(0, std::size(kUsual) - 1)];
        }
        return Perm(in.ConsumeIntegral<uint8_t>() & 0x3e);
    }

    void do_map() {
        const uint64_t va = pick_va(), pa = pick_pa(), size = pick_size();
        const Perm p = pick_perm();
        const auto allowed = static_cast<PageSizes>(in.ConsumeIntegralInRange(0, 2));
        const long fail_after = in.ConsumeIntegralInRange(0, 7) == 0
                                    ? static_cast<long>(in.ConsumeIntegralInRange(0, 3))
                                    : -1;

        Result<void> want = range_error(va, size);
        if (want.ok() && pa % K4) want = Error::Misaligned;
        if (want.ok() && (pa + size < pa || pa + size > kMaxPa)) want = Error::OutOfRange;
        if (want.ok()) want = perm_error(p);
        if (want.ok() && model.overlaps(va, va + size)) want = Error::AlreadyMapped;
        std::vector<std::pair<uint64_t, Leaf>> add;
        uint64_t tables = 0;
        if (want.ok()) {
            if (!model.plan(2, va, va + size, pa, p, allowed, add, tables)) return; // too big
            if (model.leaves.size() + add.size() > kTotalLeafBudget) return;
            if (tables > g_mem.free_pages()) want = Error::NoMemory;
            if (fail_after >= 0 && static_cast<uint64_t>(fail_after) < tables)
                want = Error::NoMemory;
        }
        if (fail_after >= 0) g_mem.fail_nth_alloc(fail_after);
        const unsigned live_before = g_mem.live();
        Result<void> got = pt.map(VirtAddr(va), PhysAddr(pa), size, p, allowed);
        g_mem.never_fail();
        same_result(got, want);
        if (!got.ok()) {
            FUZZ_CHECK(g_mem.live() == live_before); // nothing allocated stays allocated
            return;
        }
        for (auto& [v, l] : add)
            model.leaves[v] = l;
    }

    void do_unmap_or_protect(bool unmap) {
        uint64_t va, size;
        if (!model.leaves.empty() && in.ConsumeBool()) { // aim at something mapped
            auto it = model.leaves.begin();
            std::advance(it, in.ConsumeIntegralInRange<size_t>(
                                 0, std::min<size_t>(model.leaves.size() - 1, 64)));
            va = it->first;
            size = it->second.size;
            if (in.ConsumeBool()) va += in.ConsumeIntegralInRange<uint64_t>(0, 3) * K4;
            if (in.ConsumeBool()) {
                const auto units = in.ConsumeIntegralInRange<uint64_t>(1, 4);
                size = units * unit();
            }
        } else {
            va = pick_va();
            size = pick_size();
        }
        const Perm p = pick_perm();
        Result<void> want = range_error(va, size);
        if (want.ok() && !unmap) want = perm_error(p);
        if (want.ok()) want = model.covered(va, va + size);
        Result<void> got = unmap ? pt.unmap(VirtAddr(va), size) : pt.protect(VirtAddr(va), size, p);
        same_result(got, want);
        if (!got.ok()) return;
        auto it = model.leaves.lower_bound(va);
        while (it != model.leaves.end() && it->first < va + size) {
            if (unmap) {
                it = model.leaves.erase(it);
            } else {
                it->second.perm = p;
                ++it;
            }
        }
    }

    void check_translate(uint64_t va) {
        Result<Translation> t = pt.translate(VirtAddr(va));
        if (va >= kMaxVa) {
            FUZZ_CHECK(!t.ok() && t.error() == Error::OutOfRange);
            return;
        }
        auto it = model.find(va);
        if (it == model.leaves.end()) {
            FUZZ_CHECK(!t.ok() && t.error() == Error::NotMapped);
            return;
        }
        FUZZ_CHECK(t.ok());
        FUZZ_CHECK(t.value().pa.value() == it->second.pa + (va - it->first));
        FUZZ_CHECK(t.value().page_size == it->second.size && t.value().perm == it->second.perm);
    }

    void do_translate() {
        if (!model.leaves.empty() && in.ConsumeBool()) {
            auto it = model.leaves.begin();
            std::advance(it, in.ConsumeIntegralInRange<size_t>(
                                 0, std::min<size_t>(model.leaves.size() - 1, 64)));
            check_translate(it->first);
            check_translate(it->first + it->second.size - 1);
            check_translate(it->first + it->second.size);
        } else {
            check_translate(pick_va());
        }
    }

    // The whole tree equals the model, PTE bits included.
    void compare() {
        auto it = model.leaves.begin();
        size_t n = 0;
        pt.for_each_leaf([&](VirtAddr va, PhysAddr pa, uint64_t size, Pte e) {
            FUZZ_CHECK(it != model.leaves.end());
            FUZZ_CHECK(va.value() == it->first && pa.value() == it->second.pa);
            FUZZ_CHECK(size == it->second.size && e.perm() == it->second.perm);
            FUZZ_CHECK(e.valid() && e.accessed() && e.dirty() == e.writable());
            FUZZ_CHECK((e.raw() >> 54) == 0 && (e.raw() & (3u << 8)) == 0); // no stray bits
            ++it;
            ++n;
        });
        FUZZ_CHECK(n == model.leaves.size());
        FUZZ_CHECK(pt.count_tables() == model.tables());
        FUZZ_CHECK(g_mem.live() == model.tables());
    }

    void run() {
        g_mem.reset();
        g_mem.fail_nth_alloc(0);
        FUZZ_CHECK(Sv39<FakeMem>::create(g_mem).error() == Error::NoMemory);
        g_mem.never_fail();
        auto created = Sv39<FakeMem>::create(g_mem);
        FUZZ_CHECK(created.ok() && g_mem.live() == 1);
        pt = created.value();

        for (int steps = 0; steps < 200 && in.remaining_bytes(); ++steps) {
            switch (choose(in, {3, 2, 1, 1})) {
            case 0:
                do_map();
                break;
            case 1:
                do_unmap_or_protect(true);
                break;
            case 2:
                do_unmap_or_protect(false);
                break;
            default:
                do_translate();
            }
            compare();
        }

        // Everything goes away again.
        while (!model.leaves.empty()) {
            auto it = model.leaves.begin();
            FUZZ_CHECK(pt.unmap(VirtAddr(it->first), it->second.size).ok());
            model.leaves.erase(it);
        }
        compare();
        FUZZ_CHECK(g_mem.live() == 1);
        pt.destroy();
        FUZZ_CHECK(g_mem.live() == 0);
    }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    return run_harness<Harness>(data, size);
}
