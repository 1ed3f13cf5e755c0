// Micro-benchmarks, one line per figure: instructions (rdinstret; exact and
// repeatable under qemu -icount shift=0) and time (rdtime) per operation.
// Built with picolibc: printf is stdio's; the xv6 calls come from
// capframe/user.h, the raw system calls and mm requests from capframe/sys.h.
#include <stdio.h>

#include "capframe/sys.h"
#include "capframe/user.h"

using capframe::abi::Sys;
using capframe::mmp::Request;

namespace {

uint64_t g_timebase = 1;

void report(const char* what, int n, uint64_t instructions, uint64_t ticks) {
    uint64_t ns = ticks * 1000000000ull / g_timebase / static_cast<uint64_t>(n);
    printf("bench: %-34s %6lu instructions  %8lu ns  (%d runs)\n", what,
           static_cast<unsigned long>(instructions / static_cast<uint64_t>(n)),
           static_cast<unsigned long>(ns), n);
}

template <class F>
void measure(const char* what, int n, F&& f) {
    f(); // warm up
    uint64_t i0 = rdinstret(), t0 = rdtime();
    for (int k = 0; k < n; ++k)
        f();
    uint64_t i1 = rdinstret(), t1 = rdtime();
    report(what, n, i1 - i0, t1 - t0);
}

char* const kNoMemory = reinterpret_cast<char*>(-1);

void reap() {
    int status;
    (void)wait(&status);
}

// A small process: fork, the child exits at once, the parent waits.
void fork_exit_wait() {
    int pid = fork();
    if (pid == 0) exit(0);
    if (pid > 0) reap();
}

void fork_exec_wait() {
    int pid = fork();
    if (pid == 0) {
        char name[] = "true";
        char* argv[] = {name, nullptr};
        exec("true", argv);
        exit(1);
    }
    if (pid > 0) reap();
}

// Demand-zero heap: one sbrk(4096) and the first touch, per page, over 16 MiB.
void sbrk_pages() {
    constexpr int kPages = 16 * 256;
    char* start = sbrk(0);
    bool ok = true;
    uint64_t i0 = rdinstret(), t0 = rdtime();
    for (int k = 0; k < kPages && ok; ++k) {
        char* p = sbrk(4096);
        if (p == kNoMemory)
            ok = false;
        else
            p[0] = 1;
    }
    uint64_t i1 = rdinstret(), t1 = rdtime();
    if (!ok) {
        printf("bench: sbrk(4096)+touch: out of memory before 16 MiB\n");
    } else {
        report("sbrk(4096)+touch, 16 MiB", kPages, i1 - i0, t1 - t0);
    }
    (void)sbrk(static_cast<int>(start - sbrk(0))); // give it all back
}

// fork of a process with 8 MiB of touched heap: the parent's time to the
// return from fork (the child exits at once; waiting is not measured).
void fork_big() {
    constexpr int kBytes = 8 << 20;
    constexpr int kRuns = 5;
    char* heap = sbrk(kBytes);
    if (heap == kNoMemory) {
        printf("bench: fork with 8 MiB heap: sbrk failed\n");
        return;
    }
    for (int off = 0; off < kBytes; off += 4096)
        heap[off] = 1;
    uint64_t instructions = 0, ticks = 0;
    for (int k = 0; k <= kRuns; ++k) { // run 0 warms up
        uint64_t i0 = rdinstret(), t0 = rdtime();
        int pid = fork();
        uint64_t i1 = rdinstret(), t1 = rdtime();
        if (pid == 0) exit(0);
        if (pid < 0) {
            printf("bench: fork with 8 MiB heap: fork failed\n");
            break;
        }
        reap();
        if (k > 0) {
            instructions += i1 - i0;
            ticks += t1 - t0;
        }
    }
    report("fork with 8 MiB heap (to return)", kRuns, instructions, ticks);
    (void)sbrk(-kBytes);
}

} // namespace

int main() {
    g_timebase = timebase();
    if (g_timebase == 0) g_timebase = 1;
    measure("null syscall (uptime)", 2000, [] { (void)sys::syscall(Sys::Uptime); });
    measure("IPC call+reply to mm (getpid)", 1000, [] { (void)sys::getpid(); });
    measure("map+unmap one page via mm", 300, [] {
        (void)sys::mm_request(Request::MapPage, 0x40000000, 1);
        (void)sys::mm_request(Request::UnmapPage, 0x40000000);
    });
    measure("fork+exit+wait", 50, fork_exit_wait);
    measure("fork+exec(true)+wait", 20, fork_exec_wait);
    sbrk_pages();
    fork_big();
    return 0;
}
