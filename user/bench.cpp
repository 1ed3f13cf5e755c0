// Micro-benchmarks, one line per figure: instructions (rdinstret; exact and
// repeatable under qemu -icount shift=0) and time (rdtime) per operation.
#include "capframe/sys.h"

using capframe::abi::Sys;
using capframe::mmp::Request;

namespace {

inline uint64_t instret() {
    uint64_t v;
    asm volatile("rdinstret %0" : "=r"(v));
    return v;
}
inline uint64_t now() {
    uint64_t v;
    asm volatile("rdtime %0" : "=r"(v));
    return v;
}

uint64_t g_timebase = 1;

template <class F>
void measure(const char* what, int n, F&& f) {
    f(); // warm up
    uint64_t i0 = instret(), t0 = now();
    for (int k = 0; k < n; ++k)
        f();
    uint64_t i1 = instret(), t1 = now();
    uint64_t ns = (t1 - t0) * 1000000000ull / g_timebase / static_cast<uint64_t>(n);
    sys::printf("bench: %-34s %6lu instructions  %8lu ns  (%d runs)\n", what,
                (i1 - i0) / static_cast<uint64_t>(n), ns, n);
}

} // namespace

int main() {
    g_timebase = static_cast<uint64_t>(sys::syscall(Sys::Timebase));
    measure("null syscall (uptime)", 2000, [] { (void)sys::syscall(Sys::Uptime); });
    measure("IPC call+reply to mm (getpid)", 1000, [] { (void)sys::getpid(); });
    measure("map+unmap one page via mm", 300, [] {
        (void)sys::mm_request(Request::MapPage, 0x40000000, 1);
        (void)sys::mm_request(Request::UnmapPage, 0x40000000);
    });
    return 0;
}
