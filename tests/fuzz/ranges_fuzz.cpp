// Fuzzes the boot-time range set (lib/ranges.cpp) with add /
// subtract / trim / take / contains / overlaps sequences against a model: a
// std::map of disjoint, non-touching [base, end) intervals. Every result and
// the whole set are compared after each step; "nothing changes on error" is
// checked too. Addresses cluster at 0, page boundaries and the top of the
// 64-bit space, where the overflow cases are.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <iterator>
#include <map>

#include "fuzz.h"
#include "ranges.h"

using namespace capframe;

namespace {

using Model = std::map<uint64_t, uint64_t>; // base -> end, disjoint, not touching

Model union_of(Model m, uint64_t lo, uint64_t hi) {
    auto it = m.lower_bound(lo);
    if (it != m.begin() && std::prev(it)->second >= lo) --it;
    while (it != m.end() && it->first <= hi) {
        lo = std::min(lo, it->first);
        hi = std::max(hi, it->second);
        it = m.erase(it);
    }
    m[lo] = hi;
    return m;
}

Model minus(const Model& m, uint64_t lo, uint64_t hi) {
    Model out;
    for (auto [b, e] : m) {
        if (e <= lo || b >= hi) {
            out[b] = e;
            continue;
        }
        if (b < lo) out[b] = lo;
        if (e > hi) out[hi] = e;
    }
    return out;
}

bool same(const RangeSet& s, const Model& m) {
    if (s.count() != static_cast<int>(m.size())) return false;
    int i = 0;
    for (auto [b, e] : m) {
        if (s[i].base.value() != b || s[i].end() != e || s[i].size == 0) return false;
        ++i;
    }
    return true;
}

uint64_t pick(FuzzedDataProvider& in) {
    static constexpr uint64_t kBases[] = {0, 0x1000, 0x80000000, uint64_t{1} << 63, ~uint64_t{0}};
    uint64_t v = kBases[in.ConsumeIntegralInRange<size_t>(0, std::size(kBases) - 1)];
    const auto steps = static_cast<uint64_t>(int64_t{in.ConsumeIntegral<int8_t>()});
    v += steps * (in.ConsumeBool() ? kPageSize : 0x100);
    if (in.ConsumeIntegralInRange(0, 15) == 0) v = in.ConsumeIntegral<uint64_t>();
    return v;
}

uint64_t pick_size(FuzzedDataProvider& in) {
    switch (in.ConsumeIntegralInRange(0, 7)) {
    case 0:
        return 0;
    case 1:
        return in.ConsumeIntegral<uint64_t>();
    case 2:
        return ~uint64_t{0} - in.ConsumeIntegralInRange<uint64_t>(0, 0x2000);
    default:
        return in.ConsumeIntegralInRange<uint64_t>(1, 64) * (in.ConsumeBool() ? kPageSize : 0x80);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FuzzedDataProvider in(data, size);
    RangeSet set;
    Model model;
    // The set must now hold `want`, or refuse with TooMany where that would
    // not fit (and then hold what it held: compared after each step).
    auto expect = [&](const Result<void>& got, const Model& want) {
        if (want.size() > RangeSet::kCapacity) {
            FUZZ_CHECK(!got.ok() && got.error() == Error::TooMany);
        } else {
            FUZZ_CHECK(got.ok());
            model = want;
        }
    };
    for (int steps = 0; steps < 400 && in.remaining_bytes(); ++steps) {
        const uint64_t base = pick(in), len = pick_size(in);
        const uint64_t end = base + len;
        const bool wraps = end < base;
        const PhysRange r{PhysAddr(base), len};
        switch (in.ConsumeIntegralInRange(0, 5)) {
        case 0: { // add
            Result<void> got = set.add(r);
            if (len == 0) {
                FUZZ_CHECK(got.ok());
            } else if (wraps) {
                FUZZ_CHECK(!got.ok() && got.error() == Error::OutOfRange);
            } else {
                expect(got, union_of(model, base, end));
            }
            break;
        }
        case 1: { // subtract
            Result<void> got = set.subtract(r);
            if (len == 0) {
                FUZZ_CHECK(got.ok());
                break;
            }
            expect(got, minus(model, base, wraps ? ~uint64_t{0} : end));
            break;
        }
        case 2: { // trim_to_pages
            set.trim_to_pages();
            Model want;
            for (auto [b, e] : model) {
                uint64_t lo = 0, hi = align_down(e, kPageSize);
                if (align_up(b, kPageSize, lo) && lo < hi) want[lo] = hi;
            }
            model = want;
            break;
        }
        case 3: { // take
            const uint64_t align = in.ConsumeBool()
                                       ? uint64_t{1} << in.ConsumeIntegralInRange(0, 63)
                                       : in.ConsumeIntegral<uint64_t>();
            Result<PhysAddr> got = set.take(len, align);
            if (len == 0 || align == 0 || (align & (align - 1))) {
                FUZZ_CHECK(!got.ok() && got.error() == Error::InvalidArgument);
                break;
            }
            // The lowest range that can give an aligned run whose removal fits.
            bool found = false;
            for (auto [b, e] : model) {
                uint64_t a = 0;
                if (!align_up(b, align, a) || a + len < a || a + len > e) continue;
                Model want = minus(model, a, a + len);
                if (want.size() > RangeSet::kCapacity) continue;
                FUZZ_CHECK(got.ok() && got.value().value() == a);
                model = want;
                found = true;
                break;
            }
            if (!found) FUZZ_CHECK(!got.ok() && got.error() == Error::NoMemory);
            break;
        }
        case 4: { // contains
            if (len == 0 || wraps) break;
            auto it = model.upper_bound(base);
            bool want = it != model.begin() && std::prev(it)->second >= end;
            FUZZ_CHECK(set.contains(r) == want);
            break;
        }
        default: { // overlaps
            if (len == 0 || wraps) break;
            bool want = minus(model, base, end) != model;
            FUZZ_CHECK(set.overlaps(r) == want);
        }
        }
        FUZZ_CHECK(same(set, model));
        uint64_t total = 0;
        for (auto [b, e] : model)
            total += e - b;
        FUZZ_CHECK(set.total_bytes() == total);
    }
    return 0;
}
