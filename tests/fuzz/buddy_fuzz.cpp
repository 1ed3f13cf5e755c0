// Fuzzes mm's frame allocator (servers/mm/buddy.cpp) and its accounting
// (accounting.cpp) with operation sequences decoded from the input.
//
// The window, its roots and then alloc / free / forged free / add_root /
// injected split, merge and alloc failures / charge / uncharge / release come
// from the bytes. A fake kernel hands out cap slots and checks each split and
// merge; a model (the allocated blocks, the roots, the counters) predicts
// every result. After each step: BuddyCore::check(), the allocator agrees
// with the fake kernel, no frame is handed out twice, and the frames add up
// (free + charged == total). At the end everything is freed and must come
// back: all frames free and, unless a merge was refused, the roots again.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "accounting.h"
#include "buddy.h"
#include "fake_frame_caps.h"
#include "fuzz.h"

using namespace capframe;
using namespace capframe::mm;

namespace {

constexpr uint64_t kPage = 4096;

struct FuzzReport {
    static void bad(const char* what) {
        std::fprintf(stderr, "%s\n", what);
        FUZZ_CHECK(false);
    }
};
// The kernel's side of frame caps (tests/host/fake_frame_caps.h).
using FakeCaps = test::FakeFrameCaps<FuzzReport>;

struct Owned {
    Block b;
    TaskId task;
    Use use;
};

struct Blocks {
    std::vector<Block> v;
    std::vector<bool> free;
};

Blocks dump(const BuddyCore& b) {
    Blocks d;
    b.for_each_block([&](Block x, bool f) {
        d.v.push_back(x);
        d.free.push_back(f);
    });
    return d;
}

bool same(const Block& a, const Block& b) {
    return a.slot == b.slot && a.pa == b.pa && a.order == b.order;
}

struct Harness {
    FuzzedDataProvider& in;
    FakeCaps caps;
    std::vector<FrameMeta> meta;
    Buddy<FakeCaps> buddy{caps};
    uint64_t base = 0;
    std::vector<Block> roots;            // sorted by pa
    std::map<uint64_t, Owned> allocated; // by pa
    std::vector<Block> freed;            // stale handles, for double frees
    uint64_t alloc_countdown = 0;        // mirrors fail_nth_alloc
    Accounting charged;                  // every allocated block, by owner
    Accounting acct;                     // free-form charge/uncharge, against `counters`
    uint64_t counters[kMaxTasks + 1][kUseCount] = {};

    explicit Harness(FuzzedDataProvider& p) : in(p) {}

    uint64_t window_pages() const { return meta.size(); }
    uint64_t allocated_frames() const {
        uint64_t n = 0;
        for (auto& kv : allocated)
            n += uint64_t{1} << kv.second.b.order;
        return n;
    }

    Result<void> predict_add_root(const Block& b) const {
        if (b.order > BuddyCore::kMaxOrder) return Error::InvalidArgument;
        const uint64_t pages = uint64_t{1} << b.order;
        if (b.pa % (pages * kPage)) return Error::Misaligned;
        const uint64_t pfn = b.pa / kPage, first = base / kPage;
        if (pfn < first || pfn - first + pages > window_pages()) return Error::OutOfRange;
        for (const Block& r : roots) {
            uint64_t rp = r.pa / kPage, rn = uint64_t{1} << r.order;
            if (pfn < rp + rn && rp < pfn + pages) return Error::AlreadyMapped;
        }
        if (roots.size() == BuddyCore::kMaxRoots) return Error::TooMany;
        return {};
    }

    void add_root(uint64_t pa, uint8_t order) {
        Block b{0, pa, order};
        Result<void> want = predict_add_root(b);
        if (want.ok()) b.slot = caps.make_root(pa, order);
        Result<void> got = buddy.add_root(b);
        FUZZ_CHECK(got.ok() == want.ok());
        if (!got.ok()) {
            FUZZ_CHECK(got.error() == want.error());
            return;
        }
        roots.push_back(b);
        std::sort(roots.begin(), roots.end(), [](auto& x, auto& y) { return x.pa < y.pa; });
    }

    // Covers [first, first + pages) of the window with the largest aligned roots.
    void cover(uint64_t first, uint64_t pages) {
        uint64_t pa = base + first * kPage;
        const uint64_t end = pa + pages * kPage;
        while (pa < end) {
            uint8_t k = largest_aligned_order(pa, end - pa, BuddyCore::kMaxOrder);
            add_root(pa, k);
            pa += kPage << k;
        }
    }

    void alloc() {
        const auto order = in.ConsumeIntegralInRange<uint8_t>(0, BuddyCore::kMaxOrder + 2);
        const Blocks before = dump(buddy);
        bool big_enough = false;
        for (size_t i = 0; i < before.v.size(); ++i)
            big_enough |= before.free[i] && before.v[i].order >= order;
        const bool injected = alloc_countdown && --alloc_countdown == 0;
        const uint64_t refused = caps.merges_refused;

        Result<Block> r = buddy.alloc(order);
        if (injected) {
            FUZZ_CHECK(!r.ok() && r.error() == Error::NoMemory);
        } else if (order > BuddyCore::kMaxOrder) {
            FUZZ_CHECK(!r.ok() && r.error() == Error::InvalidArgument);
        } else if (!big_enough) {
            FUZZ_CHECK(!r.ok() && r.error() == Error::NoMemory);
        } else if (!r.ok()) {
            FUZZ_CHECK(r.error() == Error::TooMany); // a refused split, rolled back
            if (caps.merges_refused == refused) {    // else the pieces stay free: fragmented
                const Blocks after = dump(buddy);
                FUZZ_CHECK(after.v.size() == before.v.size() && after.free == before.free);
                for (size_t i = 0; i < after.v.size(); ++i)
                    FUZZ_CHECK(same(after.v[i], before.v[i]));
            }
        }
        if (!r.ok()) return;

        const Block b = r.value();
        FUZZ_CHECK(b.order == order && b.pa % (kPage << order) == 0);
        FUZZ_CHECK(caps.is_leaf(b));
        bool in_root = false;
        for (const Block& root : roots)
            in_root |=
                b.pa >= root.pa && b.pa + (kPage << b.order) <= root.pa + (kPage << root.order);
        FUZZ_CHECK(in_root);
        // No frame handed out twice.
        auto next = allocated.lower_bound(b.pa);
        if (next != allocated.end()) FUZZ_CHECK(b.pa + (kPage << b.order) <= next->first);
        if (next != allocated.begin()) {
            auto prev = std::prev(next);
            FUZZ_CHECK(prev->first + (kPage << prev->second.b.order) <= b.pa);
        }
        Owned o{b, in.ConsumeIntegralInRange<TaskId>(0, kMmTask),
                static_cast<Use>(in.ConsumeIntegralInRange<size_t>(0, kUseCount - 1))};
        FUZZ_CHECK(charged.charge(o.task, o.use, uint64_t{1} << b.order).ok());
        allocated[b.pa] = o;
    }

    void free_one() {
        if (allocated.empty()) return;
        auto it = allocated.begin();
        std::advance(it, in.ConsumeIntegralInRange<size_t>(0, allocated.size() - 1));
        const Owned o = it->second;
        FUZZ_CHECK(buddy.free(o.b).ok());
        FUZZ_CHECK(charged.uncharge(o.task, o.use, uint64_t{1} << o.b.order).ok());
        allocated.erase(it);
        freed.push_back(o.b);
    }

    void forged_free() {
        Block b{};
        switch (in.ConsumeIntegralInRange(0, 5)) {
        case 0: // a double free
            if (freed.empty()) return;
            b = freed[in.ConsumeIntegralInRange<size_t>(0, freed.size() - 1)];
            break;
        case 1:
        case 2:
        case 3: { // an allocated block with one field wrong
            if (allocated.empty()) return;
            auto it = allocated.begin();
            std::advance(it, in.ConsumeIntegralInRange<size_t>(0, allocated.size() - 1));
            b = it->second.b;
            const auto delta = in.ConsumeIntegral<int8_t>();
            if (delta == 0) return;
            if (in.ConsumeBool())
                b.slot += static_cast<uint32_t>(delta);
            else if (in.ConsumeBool())
                b.order = static_cast<uint8_t>(b.order + delta);
            else
                b.pa += static_cast<uint64_t>(int64_t{delta} * int64_t{kPage / 2});
            break;
        }
        case 4: // a free block, as the allocator lists it
        {
            const Blocks d = dump(buddy);
            if (d.v.empty()) return;
            b = d.v[in.ConsumeIntegralInRange<size_t>(0, d.v.size() - 1)];
            break;
        }
        default: // anything
            b = Block{in.ConsumeIntegral<uint32_t>(), in.ConsumeIntegral<uint64_t>(),
                      in.ConsumeIntegral<uint8_t>()};
        }
        bool live = false;
        if (auto it = allocated.find(b.pa); it != allocated.end()) live = same(it->second.b, b);
        if (live) return; // not forged after all
        const Blocks before = dump(buddy);
        const uint64_t free_before = buddy.free_frames();
        Result<void> r = buddy.free(b);
        FUZZ_CHECK(!r.ok() && r.error() == Error::InvalidArgument);
        const Blocks after = dump(buddy);
        FUZZ_CHECK(after.v.size() == before.v.size() && after.free == before.free);
        FUZZ_CHECK(buddy.free_frames() == free_before);
    }

    void account() {
        const TaskId task = in.ConsumeIntegralInRange<TaskId>(0, kMmTask + 2);
        const auto use = in.ConsumeIntegralInRange<uint8_t>(0, kUseCount);
        uint64_t n = in.ConsumeBool() ? in.ConsumeIntegralInRange<uint64_t>(0, 64)
                                      : in.ConsumeIntegral<uint64_t>();
        const bool valid = task <= kMmTask && use < kUseCount;
        switch (in.ConsumeIntegralInRange(0, 2)) {
        case 0: {
            uint64_t all = 0;
            for (auto& t : counters)
                all += valid ? t[use] : 0;
            const bool ok = valid && all + n >= all;
            FUZZ_CHECK(acct.charge(task, static_cast<Use>(use), n).ok() == ok);
            if (ok) counters[task][use] += n;
            break;
        }
        case 1: {
            const bool ok = valid && counters[task][use] >= n;
            FUZZ_CHECK(acct.uncharge(task, static_cast<Use>(use), n).ok() == ok);
            if (ok) counters[task][use] -= n;
            break;
        }
        default: {
            Usage was = acct.release_task(task);
            for (size_t u = 0; u < kUseCount; ++u) {
                FUZZ_CHECK(was.frames[u] == (task <= kMmTask ? counters[task][u] : 0));
                if (task <= kMmTask) counters[task][u] = 0;
            }
        }
        }
        uint64_t in_use = 0;
        for (size_t u = 0; u < kUseCount; ++u) {
            uint64_t sum = 0;
            for (TaskId t = 0; t <= kMmTask; ++t) {
                FUZZ_CHECK(acct.frames(t, static_cast<Use>(u)) == counters[t][u]);
                sum += counters[t][u];
            }
            FUZZ_CHECK(acct.total(static_cast<Use>(u)) == sum);
            in_use += sum;
        }
        FUZZ_CHECK(acct.in_use() == in_use);
        FUZZ_CHECK(acct.frames(kMmTask + 1, Use::User) == 0 && acct.task_total(kMmTask + 5) == 0);
    }

    void check_state() {
        FUZZ_CHECK(buddy.check());
        const Blocks d = dump(buddy);
        FUZZ_CHECK(d.v.size() == caps.leaves()); // the allocator holds every leaf cap
        uint64_t free = 0, total = 0;
        for (size_t i = 0; i < d.v.size(); ++i) {
            FUZZ_CHECK(caps.is_leaf(d.v[i]));
            total += uint64_t{1} << d.v[i].order;
            if (d.free[i]) {
                free += uint64_t{1} << d.v[i].order;
            } else {
                auto it = allocated.find(d.v[i].pa);
                FUZZ_CHECK(it != allocated.end() && same(it->second.b, d.v[i]));
            }
        }
        FUZZ_CHECK(free == buddy.free_frames() && total == buddy.total_frames());
        FUZZ_CHECK(buddy.total_frames() - buddy.free_frames() == allocated_frames());
        FUZZ_CHECK(charged.snapshot(buddy.total_frames(), buddy.free_frames()).adds_up());
        int largest = -1;
        for (size_t i = 0; i < d.v.size(); ++i)
            if (d.free[i] && d.v[i].order > largest) largest = d.v[i].order;
        FUZZ_CHECK(buddy.largest_free_order() == largest);
    }

    void run() {
        const auto pages = in.ConsumeIntegralInRange<uint32_t>(1, 2048);
        base = (uint64_t{0x80000} + in.ConsumeIntegral<uint8_t>()) * kPage;
        meta.resize(pages);
        FUZZ_CHECK(buddy.init(base, meta).ok());
        if (in.ConsumeBool()) {
            cover(0, pages);
        } else {
            for (int i = in.ConsumeIntegralInRange(1, 8); i > 0; --i) {
                const uint64_t first = in.ConsumeIntegralInRange<uint64_t>(0, pages);
                cover(first, in.ConsumeIntegralInRange<uint64_t>(0, pages - first));
            }
        }
        check_state();

        for (int steps = 0; steps < 2000 && in.remaining_bytes(); ++steps) {
            switch (choose(in, {3, 2, 1, 1, 1, 1, 1})) {
            case 0:
                alloc();
                break;
            case 1:
                free_one();
                break;
            case 2:
                forged_free();
                break;
            case 3: {
                const uint64_t pa =
                    in.ConsumeBool() ? base + in.ConsumeIntegralInRange<uint64_t>(0, pages) * kPage
                                     : in.ConsumeIntegral<uint64_t>();
                add_root(pa, in.ConsumeIntegralInRange<uint8_t>(0, 30));
                break;
            }
            case 4:
                if (in.ConsumeBool())
                    caps.fail_nth_split(in.ConsumeIntegralInRange<uint64_t>(0, 8));
                else
                    caps.fail_nth_merge(in.ConsumeIntegralInRange<uint64_t>(0, 8));
                break;
            case 5:
                alloc_countdown = in.ConsumeIntegralInRange<uint64_t>(0, 4);
                buddy.fail_nth_alloc(alloc_countdown);
                break;
            default:
                account();
            }
            check_state();
        }

        std::string report;
        Sink sink{[](void* ctx, const char* s, size_t n) {
                      static_cast<std::string*>(ctx)->append(s, n);
                  },
                  &report};
        write_meminfo(sink, charged.snapshot(buddy.total_frames(), buddy.free_frames()), charged);
        FUZZ_CHECK(report.find("frames add up") != std::string::npos);

        // Everything comes back.
        caps.fail_nth_split(0);
        caps.fail_nth_merge(0);
        for (auto& kv : allocated) {
            FUZZ_CHECK(buddy.free(kv.second.b).ok());
            FUZZ_CHECK(
                charged.uncharge(kv.second.task, kv.second.use, uint64_t{1} << kv.second.b.order)
                    .ok());
        }
        allocated.clear();
        check_state();
        FUZZ_CHECK(buddy.free_frames() == buddy.total_frames() && charged.in_use() == 0);
        if (!caps.merges_refused) {
            const Blocks d = dump(buddy);
            FUZZ_CHECK(d.v.size() == roots.size() && caps.live_children() == 0);
            for (size_t i = 0; i < d.v.size(); ++i)
                FUZZ_CHECK(same(d.v[i], roots[i]) && d.free[i]);
        }
    }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    return run_harness<Harness>(data, size);
}
