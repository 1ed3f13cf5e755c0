// fuzz: the in-guest system-call fuzzer. From a seed, worker processes issue
// random system calls with random and adversarial arguments (wild pointers,
// kernel addresses, MAXVA edges, random capability slots, huge sizes) and
// IPC calls to the memory server with random messages. Afterwards the
// system must be alive (fork+exec works) and every frame back.
//
//   fuzz [-n CALLS] [-s SEED] [-j WORKERS] [-c CHUNK] [-v]
//
// CALLS (default 20000) are split into chunks of CHUNK (default 2000); each
// chunk runs in a fresh worker process, at most WORKERS (default 1) at once.
// A worker that finishes its chunk exits with status 77 and its calls count;
// one that a call of its own ended (it unmapped or revoked its own page,
// set itself a limit, ...) is counted as killed and its chunk runs again
// with the next seed. Left out on purpose: mm's Exit (ends the worker),
// Meminfo/VmPrint/MemMap (they print), FailAlloc (an armed failure would land on
// some other process), kills of processes outside the worker's own
// children, deleting slot 1 (the worker could no longer reach mm to exit),
// and sleeps longer than two ticks. Console writes that would print go to a
// buffer of NUL bytes.
//
// Output: one line per figure, then "fuzz: ok" or "fuzz: FAILED ..."; exit
// status 0 on success.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capframe/sys.h"
#include "capframe/user.h"

using capframe::abi::Sys;
using capframe::mmp::Request;
namespace abi = capframe::abi;

namespace {

constexpr int kDone = 77;      // worker status: chunk completed
constexpr int kCanaryBad = 78; // worker status: its own memory changed under it
constexpr int kMaxWorkers = 8;
constexpr uint64_t kPage = 4096;

// ---- random numbers -------------------------------------------------------

uint64_t g_rng;

uint64_t next() { // xorshift64*
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return g_rng * 0x2545f4914f6cdd1dull;
}
uint64_t below(uint64_t n) {
    return next() % n;
}
uint64_t mix(uint64_t seed, uint64_t i) { // splitmix64 of (seed, i)
    uint64_t z = seed + (i + 1) * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (z ^ (z >> 31)) | 1;
}

// ---- the worker's memory and argument pools -------------------------------

char g_nul[4096];         // harmless console output
char g_scratch[2 * 4096]; // a writable target for calls that write
uint64_t g_canary[64];    // checked now and then: must never change
char g_junk_path[64];     // random bytes
char g_long_path[200];    // longer than mm accepts
char* g_argv_bad[4];      // an argument pointing into the kernel
char* g_argv_many[40];    // more arguments than exec takes
const char g_rodata[] = "fuzz rodata";
const char kTrue[] = "true"; // a real program: exec of it needs a bad argv
int g_children[64];
bool g_verbose;             // -v: each worker prints where its time went
uint64_t g_kind;            // what the current call is: kernel call n, or 128 + mm request
uint64_t g_kind_ticks[256]; // time per kind (verbose)
uint64_t g_kind_calls[256];
int g_nchildren;
int g_self;

void canary_fill() {
    for (int i = 0; i < 64; ++i)
        g_canary[i] = 0xc0ffee0000000000ull + static_cast<uint64_t>(i);
}
bool canary_ok() {
    for (int i = 0; i < 64; ++i)
        if (g_canary[i] != 0xc0ffee0000000000ull + static_cast<uint64_t>(i)) return false;
    return true;
}

uint64_t stack_address() {
    volatile char here = 0;
    return reinterpret_cast<uint64_t>(&here);
}

// An address: adversarial (kernel, MMIO, trampoline, MAXVA edges, upper
// half, mm-only regions), the worker's own (text, rodata, data, heap,
// stack), or random. Without own_ok nothing the worker can read (console
// writes from it would print).
uint64_t address(bool own_ok) {
    static const uint64_t fixed[] = {
        0,
        1,
        abi::kUserTextBase,        // (own)
        abi::kStackGuardVa + 4096, // (own: the lowest stack page)
        abi::kUserStackTop - 8,    // (own)
        abi::kStackGuardVa,
        abi::kUserStackTop,
        abi::kTrapframeVa,
        abi::kTrampolineVa,
        abi::kTrampolineVa + 4095,
        abi::kMaxVa - 1,
        abi::kMaxVa - 8,
        abi::kMaxVa,
        abi::kMaxVa + 4096,
        uint64_t{1} << 39,
        0x80200000,         // the kernel image
        0x80000000,         // the firmware
        0x87fff000,         // the top of 128 MiB of RAM
        0x10000000,         // UART
        0x0c000000,         // PLIC
        abi::kBootInfoVa,   // mm only
        abi::kBootImageVa,  // mm only
        abi::kFrameMetaVa,  // mm only
        0xffffffc000000000, // canonical upper half
        0xffffffffffffff00,
        ~uint64_t{0},
        ~uint64_t{0} - 7,
        0x8000000000000000,
    };
    constexpr uint64_t kOwnFixed = 3; // fixed[2..4]: the worker's own text and stack
    switch (below(own_ok ? 8 : 5)) {
    case 0:
    case 1: {
        uint64_t i = below(sizeof fixed / sizeof fixed[0]);
        return own_ok || i < 2 || i >= 2 + kOwnFixed ? fixed[i] : fixed[0];
    }
    case 2:
        return next();
    case 3:
        return next() & (abi::kMaxVa - 1) & ~(kPage - 1);
    case 4:
        return own_ok ? reinterpret_cast<uint64_t>(sbrk(0)) - kPage + below(3) * kPage
                      : abi::kMaxVa - kPage * below(3); // around the break; the top
    case 5:
        return reinterpret_cast<uint64_t>(&g_scratch[below(sizeof g_scratch)]);
    case 6:
        return below(2) ? reinterpret_cast<uint64_t>(g_rodata)
                        : reinterpret_cast<uint64_t>(&address); // text
    default:
        return stack_address() - below(64) * 8;
    }
}

uint64_t size() {
    static const uint64_t fixed[] = {0,
                                     1,
                                     7,
                                     4096,
                                     4097,
                                     uint64_t{1} << 20,
                                     abi::kWriteMax,
                                     abi::kWriteMax + 1,
                                     uint64_t{1} << 31,
                                     uint64_t{1} << 32,
                                     abi::kMaxVa,
                                     ~uint64_t{0},
                                     static_cast<uint64_t>(-4096),
                                     static_cast<uint64_t>(-1 << 20)};
    return below(3) ? fixed[below(sizeof fixed / sizeof fixed[0])] : next() >> below(64);
}

uint64_t slot() {
    static const uint64_t fixed[] = {0,           1, 2, 5, 63, 64, 65, 1 << 20, uint64_t{1} << 32,
                                     ~uint64_t{0}};
    return below(2) ? fixed[below(sizeof fixed / sizeof fixed[0])] : below(4) ? below(70) : next();
}

uint64_t any() {
    switch (below(4)) {
    case 0:
        return address(true);
    case 1:
        return size();
    case 2:
        return slot();
    default:
        return next() >> below(64);
    }
}

// ---- one call ---------------------------------------------------------------

// Kernel calls, by number; 98/99 are test-kernel calls (ENOSYS here).
const uint64_t kKernelCalls[] = {1,  2,  4,  5,  6,  7,  10, 11, 12, 13, 14, 15, 20, 21, 22,
                                 23, 24, 25, 30, 31, 32, 33, 34, 35, 36, 40, 41, 42, 43, 50};

uint64_t path_arg() {
    switch (below(7)) {
    case 0:
        return reinterpret_cast<uint64_t>(g_junk_path);
    case 5:
        return reinterpret_cast<uint64_t>(kTrue);
    case 1:
        return reinterpret_cast<uint64_t>(g_long_path);
    case 2:
        return reinterpret_cast<uint64_t>("nosuchprogram");
    case 3:
        return reinterpret_cast<uint64_t>("bad-wx-segment"); // a malformed ELF in the archive
    default:
        return address(true);
    }
}

// argv that exec must refuse (with "true" as the path a good argv would
// replace the worker).
uint64_t argv_arg() {
    switch (below(4)) {
    case 0:
        return reinterpret_cast<uint64_t>(g_argv_bad);
    case 1:
        return reinterpret_cast<uint64_t>(g_argv_many);
    default:
        uint64_t a = address(false);
        return a ? a : 1; // (a NULL argv is a valid empty one)
    }
}

// A pid it may name in kill/setlimit: its own children or ones that do
// not exist (1 is init: refused).
uint64_t pid_arg() {
    switch (below(6)) {
    case 0:
        return g_nchildren ? static_cast<uint64_t>(g_children[below(g_nchildren)]) : 0;
    case 1:
        return 0;
    case 2:
        return 1;
    case 3:
        return static_cast<uint64_t>(-1);
    case 4:
        return 100000 + below(1000);
    default:
        return next();
    }
}

void mm_call(uint64_t ep) {
    sys::Msg m;
    // Mostly 2..19. The slow ones (fork, exec, wait, a PrepareWrite that
    // may map a megabyte of stack) come up an eighth as often.
    uint64_t req;
    do
        req = below(8) ? 2 + below(18) : next() >> below(64);
    while ((req == 10 || req == 11 || req == 12 || req == 18) && below(8));
    switch (static_cast<Request>(req)) {
    case Request::Exit:
    case Request::Meminfo:
    case Request::VmPrint:
    case Request::MemMap:
    case Request::FailAlloc:
        req = static_cast<uint64_t>(Request::FreeFrames);
        break;
    default:
        break;
    }
    m.w[0] = req, m.w[1] = any(), m.w[2] = any(), m.w[3] = any();
    switch (static_cast<Request>(req)) {
    case Request::MapPage:
        m.w[1] = below(4) ? address(false) : m.w[1];
        break;
    case Request::UnmapPage:
    case Request::RevokePage:
        m.w[1] = address(below(64) == 0); // its own pages only now and then
        break;
    case Request::Exec:
        m.w[1] = path_arg();
        m.w[2] = argv_arg();
        break;
    case Request::Wait:
        m.w[1] = below(2) ? 0 : address(true);
        break;
    case Request::Kill:
    case Request::SetLimit:
        m.w[1] = pid_arg();
        break;
    case Request::Sbrk:
        m.w[1] = below(2) ? size() : static_cast<uint64_t>(-static_cast<int64_t>(size()));
        break;
    case Request::PrepareWrite:
        m.w[1] = address(true);
        m.w[2] = below(2) ? below(3 * kPage) : size();
        break;
    default:
        break;
    }
    g_kind = 128 + (req < 128 ? req : 127);

    int64_t status = sys::syscall_msg(Sys::Call, ep, m);
    if (status == 0 && req == static_cast<uint64_t>(Request::Fork)) {
        if (m.w[0] == 0) sys::exit(0); // the child of a fuzzed fork
        if (static_cast<int64_t>(m.w[0]) > 0 && g_nchildren < 64)
            g_children[g_nchildren++] = static_cast<int>(m.w[0]);
    }
    if (status == 0 && req == static_cast<uint64_t>(Request::Wait) &&
        static_cast<int64_t>(m.w[0]) > 0) {
        for (int i = 0; i < g_nchildren; ++i)
            if (g_children[i] == static_cast<int>(m.w[0]))
                g_children[i] = g_children[--g_nchildren];
    }
}

void one_call() {
    g_kind = 255;
    uint64_t pick = below(100);
    uint64_t n;
    if (pick < 35) {
        mm_call(below(8) ? abi::kSlotMmEndpoint : slot()); // slot 1, or wherever a copy went
        return;
    }
    if (pick < 85)
        n = kKernelCalls[below(sizeof kKernelCalls / sizeof kKernelCalls[0])];
    else if (pick < 95)
        n = below(128);
    else
        n = next();
    uint64_t a[6] = {any(), any(), any(), any(), any(), any()};
    switch (static_cast<Sys>(n)) {
    case Sys::DebugWrite: // never print: bad pointers, or NUL bytes
        if (a[0] == 1 || a[0] == 2 || below(2)) {
            a[0] = 1 + below(2);
            if (below(2)) {
                a[1] = address(false), a[2] = size();
            } else {
                a[1] = reinterpret_cast<uint64_t>(g_nul) + below(sizeof g_nul);
                a[2] = below(8);
            }
        }
        break;
    case Sys::ConsoleRead:
        a[0] = address(true), a[1] = size();
        break;
    case Sys::Sleep: // 0 yields; a tick now and then
        if (a[0] <= (uint64_t{1} << 40)) a[0] = below(16) ? 0 : 1;
        break;
    case Sys::CapDelete:
    case Sys::CapRevoke:
        if (a[0] == abi::kSlotMmEndpoint) a[0] = 2;
        break;
    case Sys::CapCopy:
        if (below(2)) a[0] = abi::kSlotMmEndpoint, a[1] = 0, a[2] = below(70);
        break;
    case Sys::Call:
        mm_call(a[0]);
        return;
    default:
        break;
    }
    g_kind = n < 128 ? n : 127;
    (void)sys::syscall(n, a[0], a[1], a[2], a[3], a[4], a[5]);
}

void print_kinds() {
    uint64_t total = 0;
    for (uint64_t t : g_kind_ticks)
        total += t;
    for (int k = 0; k < 256; ++k)
        if (g_kind_ticks[k] * 50 >= total && g_kind_calls[k])
            printf("fuzz: pid %d: %s %d: %llu calls, %llu%% of the time, %llu us each\n", g_self,
                   k >= 128 ? "mm request" : "syscall", k >= 128 ? k - 128 : k,
                   static_cast<unsigned long long>(g_kind_calls[k]),
                   static_cast<unsigned long long>(g_kind_ticks[k] * 100 / total),
                   static_cast<unsigned long long>(g_kind_ticks[k] * 1000000 / timebase() /
                                                   g_kind_calls[k]));
}

// Makes the worker's data, bss and stack its own now (no copy-on-write
// left from the fork), so that memory its calls reserve or limit away does
// not kill it at its next store.
void own_pages() {
    uint64_t top = reinterpret_cast<uint64_t>(sbrk(0));
    for (uint64_t va = (top - 1) & ~(kPage - 1); prepare_write(reinterpret_cast<void*>(va), 1) == 0;
         va -= kPage) {
    }
    prepare_write(reinterpret_cast<void*>(abi::kUserStackTop - 8 * kPage), 8 * kPage);
}

[[noreturn]] void worker(uint64_t seed, long calls) {
    own_pages();
    g_rng = seed;
    g_self = getpid();
    g_nchildren = 0;
    canary_fill();
    for (size_t i = 0; i < sizeof g_junk_path; ++i)
        g_junk_path[i] = static_cast<char>(next());
    memset(g_long_path, 'x', sizeof g_long_path - 1);
    g_argv_bad[0] = const_cast<char*>("true");
    g_argv_bad[1] = reinterpret_cast<char*>(0x80200000);
    for (auto& a : g_argv_many)
        a = const_cast<char*>("x");
    for (long i = 0; i < calls; ++i) {
        uint64_t t0 = g_verbose ? rdtime() : 0;
        one_call();
        if (g_verbose) g_kind_ticks[g_kind] += rdtime() - t0, ++g_kind_calls[g_kind];
        if (i % 256 == 255 && (!canary_ok() || getpid() != g_self)) exit(kCanaryBad);
    }
    int st;
    while (wait(&st) >= 0) {
    }
    if (g_verbose) print_kinds();
    exit(canary_ok() ? kDone : kCanaryBad);
}

// ---- the runner -----------------------------------------------------------

struct Running {
    int pid;
    long calls;
};

int usage() {
    printf("usage: fuzz [-n CALLS] [-s SEED] [-j WORKERS] [-c CHUNK] [-v]\n");
    return 2;
}

} // namespace

int main(int argc, char** argv) {
    long total = 20000, chunk = 2000;
    uint64_t seed = 1;
    int jobs = 1;
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "-v")) {
            g_verbose = true;
            continue;
        }
        if (i + 1 >= argc) return usage();
        char* end = nullptr;
        unsigned long long v = strtoull(argv[i + 1], &end, 0);
        if (!*argv[i + 1] || *end) return usage();
        if (!strcmp(argv[i], "-n"))
            total = static_cast<long>(v);
        else if (!strcmp(argv[i], "-s"))
            seed = v;
        else if (!strcmp(argv[i], "-j"))
            jobs = static_cast<int>(v);
        else if (!strcmp(argv[i], "-c"))
            chunk = static_cast<long>(v);
        else
            return usage();
        ++i;
    }
    if (total < 1 || chunk < 1 || jobs < 1 || jobs > kMaxWorkers) return usage();

    // Our own stack and stdio buffer first, so their first writes are not
    // counted as frames the fuzzing took.
    printf("fuzz: seed %llu, %ld calls, chunks of %ld, %d worker(s) at once\n",
           static_cast<unsigned long long>(seed), total, chunk, jobs);
    long base = freeframes();
    uint64_t t0 = rdtime();
    Running run[kMaxWorkers] = {};
    long done = 0, queued = 0;
    uint64_t next_seed = 0;
    int workers = 0, killed = 0, odd = 0, running = 0;
    while (done < total) {
        while (running < jobs && queued < total - done) {
            long n = total - done - queued < chunk ? total - done - queued : chunk;
            uint64_t s = mix(seed, next_seed++);
            int pid = fork();
            if (pid == 0) worker(s, n);
            if (pid < 0) {
                printf("fuzz: FAILED: fork of a worker failed\n");
                return 1;
            }
            for (auto& r : run)
                if (r.pid == 0) {
                    r = {pid, n};
                    break;
                }
            ++running, ++workers, queued += n;
        }
        int st = 0;
        int pid = wait(&st);
        if (pid < 0) {
            printf("fuzz: FAILED: wait found no worker\n");
            return 1;
        }
        for (auto& r : run) {
            if (r.pid != pid) continue;
            queued -= r.calls;
            if (st == kDone)
                done += r.calls;
            else if (st == kCanaryBad) {
                printf("fuzz: FAILED: worker pid %d saw its own memory change\n", pid);
                return 1;
            } else if (st == -1)
                ++killed;
            else
                ++odd; // it exec'd something, or another call ended it
            r = {};
            --running;
        }
        // (anything else was an orphan a worker left behind)
    }
    uint64_t ticks = rdtime() - t0;
    uint64_t ms = ticks * 1000 / timebase();
    printf("fuzz: syscalls fuzzed: %ld in %llu ms (%llu calls/s)\n", done,
           static_cast<unsigned long long>(ms),
           static_cast<unsigned long long>(ms ? static_cast<uint64_t>(done) * 1000 / ms : 0));
    printf("fuzz: workers: %d, %d killed by their own calls, %d ended otherwise\n", workers, killed,
           odd);

    // Still alive: a process can be made and run a program.
    int pid = spawn("true");
    int st = -2;
    if (pid < 0 || wait(&st) != pid || st != 0) {
        printf("fuzz: FAILED: fork+exec of true after fuzzing (status %d)\n", st);
        return 1;
    }
    long after = frames_settle(base, 100);
    printf("fuzz: frames lost: %ld (free %ld, at start %ld)\n", base - after, after, base);
    if (after != base) {
        printf("fuzz: FAILED: frames lost\n");
        return 1;
    }
    printf("fuzz: ok\n");
    return 0;
}
