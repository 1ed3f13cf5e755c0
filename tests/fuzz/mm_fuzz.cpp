// Fuzzes the memory server's logic (servers/mm/, against the fake kernel of
// tests/host/mm/) with sequences of fork / exec / sbrk / faults / exit /
// kill / wait / setlimit / injected allocation failures / map and unmap /
// forks with a kernel call refused in the middle of a batch, with either
// of fork's paths for the heap (per page, or lazy records),
// decoded from the input. After every step the books must hold
// (mmh::check_books: allocator, accounting, mapping index, reference counts,
// reservations, mm's records against the kernel's mappings), and every
// promise must be kept: a page inside a heap that sbrk granted can always be
// touched. At the end every process is killed and init exits: every frame,
// capability slot and kernel object must be back.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <vector>

#include "fuzz.h"
#include "mm/mm_harness.h"

using namespace mmh;
namespace cabi = ::capframe::abi;

namespace {

// What mm printed and the op trail, for the crash report.
void dump() {
    for (auto& l : fakek::fake().log)
        std::fprintf(stderr, "mm| %s", l.c_str());
}
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) dump();                                                                       \
        FUZZ_CHECK(cond);                                                                          \
    } while (0)

std::vector<int> live() {
    std::vector<int> pids;
    for (int i = 0; i < mm::kMaxProcs; ++i)
        if (mm::g_pt.procs[i].state == mm::State::Running) pids.push_back(mm::g_pt.procs[i].pid);
    return pids;
}

uint64_t put_path(int pid, const char* name) {
    auto a = request(pid, mmp::Request::Sbrk, 4096);
    if (a.r() < 0) return 0;
    uint64_t va = static_cast<uint64_t>(a.r()), w = 0;
    for (int b = 0; b < 8 && name[b]; ++b)
        w |= uint64_t(uint8_t(name[b])) << (8 * b);
    if (!poke(pid, va, w)) return 0;
    return va;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FuzzedDataProvider in(data, size);
    uint64_t frames = 1024 + in.ConsumeIntegralInRange<uint64_t>(0, 3) * 1024;
    // fork's two paths: heaps shared by records (kMapLazy) from this size.
    static const uint64_t kLazyFrom[] = {1, 8, mm::kLazyHeapPages, ~uint64_t{0}};
    mm::g_lazy_heap_pages = kLazyFrom[in.ConsumeIntegralInRange<int>(0, 3)];
    CHECK(boot(frames));
    CHECK(check_books().empty());
    for (int step = 0; step < 200 && in.remaining_bytes() > 0; ++step) {
        auto pids = live();
        if (pids.empty()) break;
        int pid = pids[in.ConsumeIntegralInRange<size_t>(0, pids.size() - 1)];
        mm::Proc* p = proc(pid);
        uint64_t heap = p->heap_base, brk = p->brk;
        switch (in.ConsumeIntegralInRange<int>(0, 12)) {
        case 0:
        case 1:
            request(pid, mmp::Request::Fork);
            break;
        case 2: {
            static const char* names[] = {"prog", "big", "bad", "nope", "init"};
            uint64_t path = put_path(pid, names[in.ConsumeIntegralInRange<int>(0, 4)]);
            if (path) request(pid, mmp::Request::Exec, path, 0);
            break;
        }
        case 3: {
            int64_t pages = in.ConsumeIntegralInRange<int64_t>(-64, 256);
            request(pid, mmp::Request::Sbrk, static_cast<uint64_t>(pages * 4096));
            break;
        }
        case 4:
        case 5: { // a store or load in the heap: sbrk promised it
            if (brk <= heap) break;
            uint64_t va = heap + in.ConsumeIntegralInRange<uint64_t>(0, brk - heap - 1);
            bool store = in.ConsumeBool();
            // Only faults the hardware can raise: a load of a page that is
            // not there, a store to one that is not there or copy-on-write.
            uint32_t i = mm::find_mapping(p, va & ~uint64_t{4095});
            if (i && (!store || !(mm::flags_of(mm::mapping(i)) & mm::kMapCow))) break;
            bool ok = fault(pid, va, store ? 15 : 13);
            if (!ok)
                std::fprintf(stderr, "pid %d heap [0x%lx, 0x%lx) fault at 0x%lx\n", pid,
                             (unsigned long)heap, (unsigned long)brk, (unsigned long)va);
            CHECK(ok);
            break;
        }
        case 6: { // anywhere: data, text, stack, nothing
            uint64_t va =
                in.ConsumeBool()
                    ? 0x10000 + in.ConsumeIntegralInRange<uint64_t>(0, 0x20000)
                    : cabi::kUserStackTop - 1 - in.ConsumeIntegralInRange<uint64_t>(0, 0x120000);
            bool store = in.ConsumeBool();
            uint32_t i = mm::find_mapping(p, va & ~uint64_t{4095});
            uint64_t flags = i ? mm::flags_of(mm::mapping(i)) : 0;
            bool allowed = !store || ((flags & mm::kMapW) && !(flags & mm::kMapCow));
            if (i && allowed) break; // no fault: the access is allowed
            if (pid != 1) fault(pid, va, store ? 15 : 13);
            break;
        }
        case 7:
            if (pid != 1) request(pid, mmp::Request::Exit, in.ConsumeIntegral<uint8_t>());
            break;
        case 8: {
            int victim = pids[in.ConsumeIntegralInRange<size_t>(0, pids.size() - 1)];
            request(pid, mmp::Request::Kill, static_cast<uint64_t>(victim));
            break;
        }
        case 9:
            request(pid, mmp::Request::Wait, 0);
            break;
        case 10: {
            int target =
                in.ConsumeBool() ? 0 : pids[in.ConsumeIntegralInRange<size_t>(0, pids.size() - 1)];
            request(pid, mmp::Request::SetLimit, static_cast<uint64_t>(target),
                    in.ConsumeIntegralInRange<uint64_t>(0, frames));
            break;
        }
        case 11: {
            uint64_t va = 0x40000000 + in.ConsumeIntegralInRange<uint64_t>(0, 64) * 4096;
            if (in.ConsumeBool()) {
                request(pid, mmp::Request::FailAlloc, in.ConsumeIntegralInRange<uint64_t>(1, 30));
                request(pid, in.ConsumeBool() ? mmp::Request::Fork : mmp::Request::MapPage, va, 1);
            } else {
                request(pid, in.ConsumeBool() ? mmp::Request::MapPage : mmp::Request::UnmapPage, va,
                        1);
            }
            break;
        }
        case 12: { // fork with a kernel call refused in the middle of one of its batches
            static const cabi::Sys kinds[] = {cabi::Sys::Protect, cabi::Sys::CapCopy,
                                              cabi::Sys::Map, cabi::Sys::ProtectRange};
            fakek::fake().fail_sys = kinds[in.ConsumeIntegralInRange<int>(0, 3)];
            fakek::fake().fail_after = in.ConsumeIntegralInRange<uint64_t>(1, 300);
            request(pid, mmp::Request::Fork);
            fakek::fake().fail_after = 0;
            break;
        }
        }
        CHECK(check_books().empty());
        if (fakek::fake().shutdown_status != -1000) break; // init died
    }
    // Everyone goes; init last.
    if (fakek::fake().shutdown_status == -1000) {
        for (int pid : live())
            if (pid != 1) request(1, mmp::Request::Kill, static_cast<uint64_t>(pid));
        CHECK(check_books().empty());
        request(1, mmp::Request::Exit, 0);
    }
    CHECK(fakek::fake().shutdown_status != -1000);
    CHECK(free_frames() == free_at_start());
    CHECK(mm::g_slots.used() == slots_at_start());
    CHECK(fakek::fake().live_objects() == 5);
    return 0;
}
