// Micro-benchmarks, one line per figure: instructions (rdinstret; exact and
// repeatable under qemu -icount shift=0) and time (rdtime) per operation.
// Built with picolibc: printf is stdio's; the xv6 calls come from
// capframe/user.h, the raw system calls and mm requests from capframe/sys.h.
//
// Each measured loop is bracketed by two calls of mark(): an uptime system
// call from one known instruction (the symbol bench_mark_ecall), so that
// tools/bench.py finds the loop in QEMU's trap log (-d int) by its epc and
// counts the kernel entries between the two marks.
//
// "bench NAME..." runs only the named figures (null ipc map fork exec sbrk
// forkbig fork512); the 512 MiB fork needs about 1.1 GiB free and says
// "skipped" otherwise (./capframe bench boots with 2 GiB).
//
// "bench wall" runs the wall-clock workload of issue 14 instead (300 x
// fork+exec(true)+wait, then 50 x fork+exit+wait of a process with 8 MiB of
// touched heap) between the lines "bench-wall: start" and "bench-wall: done".
#include <stdio.h>
#include <string.h>

#include "capframe/sys.h"
#include "capframe/user.h"

using capframe::abi::Sys;
using capframe::mmp::Request;

namespace {

uint64_t g_timebase = 1;

// The marker: an uptime system call whose ecall sits at bench_mark_ecall,
// outside every instruction and time measurement.
extern "C" __attribute__((noinline)) void bench_mark() {
    register uint64_t a0 asm("a0") = 0;
    register uint64_t a1 asm("a1") = 0;
    register uint64_t a2 asm("a2") = 0;
    register uint64_t a3 asm("a3") = 0;
    register uint64_t a4 asm("a4") = 0;
    register uint64_t a5 asm("a5") = 0;
    register uint64_t a7 asm("a7") = static_cast<uint64_t>(Sys::Uptime);
    asm volatile(".globl bench_mark_ecall\nbench_mark_ecall:\n\tecall"
                 : "+r"(a0), "+r"(a1), "+r"(a2), "+r"(a3), "+r"(a4), "+r"(a5)
                 : "r"(a7)
                 : "memory");
}

void report(const char* what, int n, uint64_t instructions, uint64_t ticks) {
    uint64_t ns = ticks * 1000000000ull / g_timebase / static_cast<uint64_t>(n);
    printf("bench: %-34s %6lu instructions  %8lu ns  (%d runs)\n", what,
           static_cast<unsigned long>(instructions / static_cast<uint64_t>(n)),
           static_cast<unsigned long>(ns), n);
}

template <class F>
void measure(const char* what, int n, F&& f) {
    f(); // warm up
    bench_mark();
    uint64_t i0 = rdinstret(), t0 = rdtime();
    for (int k = 0; k < n; ++k)
        f();
    uint64_t i1 = rdinstret(), t1 = rdtime();
    bench_mark();
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
    if (spawn("true") > 0) reap();
}

// Demand-zero heap: one sbrk(4096) and the first touch, per page, over 16 MiB.
void sbrk_pages() {
    constexpr int kPages = 16 * 256;
    char* start = sbrk(0);
    bool ok = true;
    bench_mark();
    uint64_t i0 = rdinstret(), t0 = rdtime();
    for (int k = 0; k < kPages && ok; ++k) {
        char* p = sbrk(4096);
        if (p == kNoMemory)
            ok = false;
        else
            p[0] = 1;
    }
    uint64_t i1 = rdinstret(), t1 = rdtime();
    bench_mark();
    if (!ok) {
        printf("bench: sbrk(4096)+touch: out of memory before 16 MiB\n");
    } else {
        report("sbrk(4096)+touch, 16 MiB", kPages, i1 - i0, t1 - t0);
    }
    (void)sbrk(static_cast<int>(start - sbrk(0))); // give it all back
}

// fork of a process with `mib` MiB of touched heap: the parent's time to the
// return from fork (the child exits at once; waiting is not measured). The
// marks bracket the whole fork+exit+wait of runs 1..runs (run 0 warms up).
void fork_heap(int mib, int runs) {
    const uint64_t bytes = static_cast<uint64_t>(mib) << 20;
    char name[48];
    snprintf(name, sizeof name, "fork with %d MiB heap (to return)", mib);
    // The heap, its copy-on-write promises and the child's tables: about
    // twice the heap; say so instead of failing when the machine is small.
    uint64_t need = 2 * (bytes / 4096) + (bytes / 4096) / 64 + 1024;
    if (static_cast<uint64_t>(freeframes()) < need) {
        printf("bench: %s: skipped: needs %lu free frames, %lu free (run with --mem 2G)\n", name,
               static_cast<unsigned long>(need), static_cast<unsigned long>(freeframes()));
        return;
    }
    char* heap = sbrk(static_cast<int>(bytes));
    if (heap == kNoMemory) {
        printf("bench: %s: sbrk failed\n", name);
        return;
    }
    for (uint64_t off = 0; off < bytes; off += 4096)
        heap[off] = 1;
    uint64_t instructions = 0, ticks = 0;
    for (int k = 0; k <= runs; ++k) {
        if (k == 1) bench_mark();
        uint64_t i0 = rdinstret(), t0 = rdtime();
        int pid = fork();
        uint64_t i1 = rdinstret(), t1 = rdtime();
        if (pid == 0) exit(0);
        if (pid < 0) {
            printf("bench: %s: fork failed\n", name);
            break;
        }
        reap();
        if (k > 0) {
            instructions += i1 - i0;
            ticks += t1 - t0;
        }
    }
    bench_mark();
    report(name, runs, instructions, ticks);
    (void)sbrk(-static_cast<int>(bytes));
}

// The wall-clock workload (issue 14); tools/bench.py times it on the host
// between the start and done lines, and the guest's rdtime figure is printed.
int wall() {
    constexpr int kExecs = 300, kForks = 50, kBytes = 8 << 20;
    printf("bench-wall: start\n");
    uint64_t t0 = rdtime();
    for (int k = 0; k < kExecs; ++k)
        fork_exec_wait();
    uint64_t t1 = rdtime();
    char* heap = sbrk(kBytes);
    if (heap == kNoMemory) {
        printf("bench-wall: sbrk of 8 MiB failed\n");
        return 1;
    }
    for (int off = 0; off < kBytes; off += 4096)
        heap[off] = 1;
    for (int k = 0; k < kForks; ++k)
        fork_exit_wait();
    uint64_t t2 = rdtime();
    printf("bench-wall: done: guest rdtime %lu us (%d x fork+exec(true)+wait %lu us, 8 MiB "
           "heap + %d x fork+exit+wait %lu us)\n",
           static_cast<unsigned long>((t2 - t0) * 1000000ull / g_timebase), kExecs,
           static_cast<unsigned long>((t1 - t0) * 1000000ull / g_timebase), kForks,
           static_cast<unsigned long>((t2 - t1) * 1000000ull / g_timebase));
    return 0;
}

// The figures, by the name "bench NAME..." runs them by (all without names).
struct Figure {
    const char* name;
    void (*run)();
};
const Figure kFigures[] = {
    {"null",
     [] {
         // Uptime is lock-free; CapInfo is the cheapest call that takes the
         // kernel lock (the light path's other calls).
         measure("null syscall (uptime)", 2000, [] { (void)sys::syscall(Sys::Uptime); });
         measure("light call with the lock (cap_info)", 2000,
                 [] { (void)sys::cap_info(capframe::abi::kSlotMmEndpoint); });
     }},
    {"ipc", [] { measure("IPC call+reply to mm (getpid)", 1000, [] { (void)sys::getpid(); }); }},
    {"map",
     [] {
         measure("map+unmap one page via mm", 300, [] {
             (void)sys::mm_request(Request::MapPage, 0x40000000, 1);
             (void)sys::mm_request(Request::UnmapPage, 0x40000000);
         });
     }},
    {"fork", [] { measure("fork+exit+wait", 50, fork_exit_wait); }},
    {"exec", [] { measure("fork+exec(true)+wait", 20, fork_exec_wait); }},
    {"sbrk", sbrk_pages},
    {"forkbig", [] { fork_heap(8, 5); }},
    {"fork512", [] { fork_heap(512, 2); }},
};

} // namespace

int main(int argc, char** argv) {
    g_timebase = timebase();
    if (g_timebase == 0) g_timebase = 1;
    if (argc > 1 && strcmp(argv[1], "wall") == 0) return wall();
    for (int a = 1; a < argc; ++a) {
        bool known = false;
        for (const Figure& f : kFigures)
            known = known || strcmp(f.name, argv[a]) == 0;
        if (!known) {
            printf("bench: unknown figure '%s'; the figures are:", argv[a]);
            for (const Figure& f : kFigures)
                printf(" %s", f.name);
            printf(" (or: wall)\n");
            return 2;
        }
    }
    (void)sys::lock_stats(true); // the longest hold over this run only
    for (const Figure& f : kFigures) {
        bool chosen = argc == 1;
        for (int a = 1; a < argc; ++a)
            chosen = chosen || strcmp(f.name, argv[a]) == 0;
        if (chosen) f.run();
    }
    uint64_t taken = 0;
    int64_t longest = sys::lock_stats(false, &taken);
    printf("bench: longest kernel-lock hold over the run  %ld instructions retired (%lu "
           "acquisitions)\n",
           static_cast<long>(longest), static_cast<unsigned long>(taken));
    return 0;
}
