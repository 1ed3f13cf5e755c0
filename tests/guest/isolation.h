// The isolation suite's shared part (isolation.cpp has the whole story): its
// constants and addresses, the counting of attempts, and the helpers every
// group uses. The groups are in isolation_memory.cpp (1-5: memory) and
// isolation_caps.cpp (6-10: capabilities, mm's mappings, privileged
// instructions); the runner and main in isolation.cpp.
#pragma once

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "capframe/sys.h"
#include "capframe/user.h"

namespace isolation {

namespace abi = capframe::abi;
using capframe::abi::Errno;
using capframe::abi::Sys;
using capframe::mmp::Request;

constexpr uint64_t kPage = 4096;
constexpr uint64_t kRet = 0x00008067;             // jalr x0, 0(ra)
constexpr uint64_t kLi43 = 0x02b00513;            // addi a0, x0, 43
constexpr int kSurvived = 77;                     // a child whose forbidden access returned
constexpr uint64_t kHeapTop = abi::kStackGuardVa; // mm maps pages on request below this
constexpr uint64_t kScratchVa = 0x3000000000;     // mm's windows onto frames
constexpr uint64_t kSelfTestVa = 0x3100000000;    // mm's self-test mappings
constexpr uint64_t kTestVa = 0x40000000;          // a free user address for MapPage
constexpr uint64_t kPrivVa = 0x50000000;          // mapped by the victim only (group 4)
constexpr uint64_t kUpperHalf = 0xffffffc000000000;
constexpr uint64_t kTop = 0xfffffffffffff000;
constexpr int kGroupTicks = 4000; // a group's time limit (100 ticks a second)

// ---- counting (in the group's process) -----------------------------------

inline int g_attempts = 0, g_blocked = 0;

inline void vdiag(const char* fmt, va_list ap) {
    printf("# ");
    vprintf(fmt, ap);
    printf("\n");
}

// One attempt: blocked says whether it was refused (or killed the attacker).
inline __attribute__((format(printf, 2, 3))) bool attempt(bool blocked, const char* fmt, ...) {
    ++g_attempts;
    if (blocked) {
        ++g_blocked;
    } else {
        va_list ap;
        va_start(ap, fmt);
        vdiag(fmt, ap);
        va_end(ap);
    }
    return blocked;
}

inline __attribute__((format(printf, 1, 2))) void note(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vdiag(fmt, ap);
    va_end(ap);
}

// ---- small helpers -------------------------------------------------------

inline int64_t err(Errno e) {
    return abi::error_return(e);
}

// The errors a refused capability call may give: the slot is out of range,
// empty, of the wrong type, lacks the right, or the arguments are refused.
inline bool cap_refusal(int64_t r) {
    return r == err(Errno::Range) || r == err(Errno::BadSlot) || r == err(Errno::BadType) ||
           r == err(Errno::Perm) || r == err(Errno::Inval) || r == err(Errno::Exist) ||
           r == err(Errno::NoCaller);
}

inline int64_t mm(Request r, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0) {
    return sys::mm_request(r, a1, a2, a3);
}

inline int64_t mm_exec(uint64_t path, uint64_t argv) {
    fflush(stdout);
    return mm(Request::Exec, path, argv);
}

inline int64_t mm_wait(uint64_t status_va) {
    return mm(Request::Wait, status_va);
}

inline uint64_t va_of(const void* p) {
    return reinterpret_cast<uint64_t>(p);
}
template <class R, class... A>
uint64_t va_of(R (*f)(A...)) {
    return reinterpret_cast<uint64_t>(f);
}

// A process whose parent is `parent` (and whose name starts with `name`,
// if given), other than `except`.
inline bool has_child(int parent, int except, const char* name) {
    procinfo pi;
    for (int i = 0; getproc(i, &pi) == 0; ++i)
        if (pi.parent == parent && pi.pid != except &&
            (!name || strncmp(pi.name, name, strlen(name)) == 0))
            return true;
    return false;
}

// Waits up to `ticks` for pid to end; if it does not, kills it. Returns
// true if it ended by itself; *status is its wait status either way.
inline bool wait_timeout(int pid, int ticks, int* status) {
    bool ended = false;
    for (int t = 0; t < ticks && !ended; ++t) {
        int s = proc_state(pid, nullptr);
        if (s != 1)
            ended = true;
        else
            sleep(1);
    }
    if (!ended) (void)kill(pid);
    if (wait_for(pid, status) != pid) *status = -2;
    return ended;
}

// Runs fn(arg) in a child and returns its wait status: -1 if it was killed,
// kSurvived if fn returned (-2: no child).
inline int run_child(void (*fn)(uint64_t), uint64_t arg) {
    int pid = fork();
    if (pid < 0) return -2;
    if (pid == 0) {
        fn(arg);
        exit(kSurvived);
    }
    int st = 0;
    return wait_for(pid, &st) == pid ? st : -2;
}

inline void poke_read(uint64_t va) {
    volatile uint8_t v = *reinterpret_cast<volatile uint8_t*>(va);
    (void)v;
}
inline void poke_write(uint64_t va) {
    *reinterpret_cast<volatile uint8_t*>(va) = 0x5a;
}
inline void jump_to(uint64_t va) {
    reinterpret_cast<void (*)()>(va)();
}

// Writes "li a0, 43; ret" at va (writable memory) and calls it.
inline void run_code_at(uint64_t va) {
    auto* code = reinterpret_cast<volatile uint32_t*>(va);
    code[0] = kLi43;
    code[1] = kRet;
    asm volatile("fence.i" ::: "memory");
    jump_to(va);
}

// The child doing fn(va) must be killed.
inline void expect_killed(const char* what, void (*fn)(uint64_t), uint64_t va) {
    int st = run_child(fn, va);
    attempt(st == -1, "%s 0x%lx: the child was not killed (status %d%s)", what, va, st,
            st == kSurvived ? ": the access went through" : "");
}

// A child that exits at once and stays a zombie (for wait with bad status
// pointers). Returns its pid.
inline int make_zombie(int status) {
    int pid = fork();
    if (pid == 0) exit(status);
    for (int t = 0; t < 500 && pid > 0 && proc_state(pid, nullptr) == 1; ++t)
        sleep(1);
    return pid;
}

// wait(status at va) must fail and leave the zombie to be reaped. If a
// wait got through, a new zombie is made for the next attempt.
struct ZombieWaits {
    int pid = -1;
    void begin() { pid = make_zombie(7); }
    void attempt_at(uint64_t va, const char* what) {
        if (pid < 0) begin();
        int64_t r = mm_wait(va);
        if (!attempt(r < 0, "wait with the status at %s (0x%lx) gave %ld", what, va, r)) begin();
    }
    void end() {
        int st = 0;
        int w = wait_for(pid, &st);
        attempt(w == pid && st == 7, "after the refused waits: pid %d status %d", w, st);
    }
};

// ---- the addresses -------------------------------------------------------

struct Place {
    uint64_t va;
    const char* what;
};

struct Range {
    uint64_t va, len;
    const char* what;
};

// Kernel memory and devices (identity mapped in the kernel, absent in every
// user address space), the kernel's top pages, and what lies beyond MAXVA.
constexpr Place kKernelPlaces[] = {
    {0x80200000, "kernel image"},
    {0x80000000, "OpenSBI"},
    {0x80100000, "firmware RAM"},
    {0x87f00000, "RAM"},
    {0x10000000, "UART"},
    {0x0c000000, "PLIC"},
    {0x02000000, "CLINT"},
    {abi::kTrampolineVa, "trampoline"},
    {abi::kTrapframeVa, "trapframe"},
    {abi::kMaxVa, "MAXVA"},
    {abi::kMaxVa + kPage, "MAXVA + 4096"},
    {uint64_t{1} << 39, "2^39"},
    {kUpperHalf, "upper half"},
    {kTop, "2^64 - 4096"},
};

// What only mm has mapped in its own address space.
constexpr Place kMmPlaces[] = {
    {abi::kBootInfoVa, "mm's BootInfo"},        {abi::kBootImageVa, "mm's boot archive"},
    {abi::kFrameMetaVa, "mm's frame metadata"}, {kScratchVa, "mm's scratch window"},
    {kScratchVa + kPage, "mm's second window"}, {kSelfTestVa, "mm's self-test window"},
};

inline bool page_is_zero(uint64_t va) {
    auto* p = reinterpret_cast<volatile uint64_t*>(va);
    for (uint64_t i = 0; i < kPage / 8; ++i)
        if (p[i]) return false;
    return true;
}

// Ordinary RAM of ours: what we write reads back (device registers and
// read-only memory would not).
inline bool page_is_ram(uint64_t va) {
    auto* p = reinterpret_cast<volatile uint64_t*>(va);
    for (uint64_t i = 0; i < kPage / 8; ++i)
        p[i] = va ^ (i * 0x9e3779b97f4a7c15ull);
    for (uint64_t i = 0; i < kPage / 8; ++i)
        if (p[i] != (va ^ (i * 0x9e3779b97f4a7c15ull))) return false;
    return true;
}

// MapPage at va must fail, or give us our own fresh page: zeroed, plain
// RAM (our address space, not whatever the kernel or mm keeps at that
// number: the kernel image, a device, mm's BootInfo).
inline void map_page_own_or_refused(uint64_t va, const char* what) {
    int64_t r = mm(Request::MapPage, va, 1);
    if (r < 0) {
        attempt(true, "%s", what);
        return;
    }
    bool own = page_is_zero(va) && page_is_ram(va);
    attempt(own, "MapPage at %s (0x%lx) mapped a page that is not a fresh one of ours", what, va);
    int64_t u = mm(Request::UnmapPage, va);
    if (u < 0) note("UnmapPage of 0x%lx after MapPage: %ld", va, u);
}

// Every way of handing an address to the kernel or mm as a pointer.
inline void pointer_attempts(uint64_t va, const char* what, ZombieWaits& waits) {
    int64_t r = sys::write(1, reinterpret_cast<const void*>(va), 16);
    attempt(r < 0, "console write from %s (0x%lx) gave %ld", what, va, r);
    r = sys::console_read(reinterpret_cast<void*>(va), 1);
    attempt(r < 0, "console read into %s (0x%lx) gave %ld", what, va, r);
    char name[] = "true";
    char* argv_elem[] = {name, reinterpret_cast<char*>(va), nullptr};
    r = mm_exec(va, 0);
    attempt(r < 0, "exec with the path at %s (0x%lx) gave %ld", what, va, r);
    if (va != 0) { // argv 0 (none) and a NULL element are legal
        r = mm_exec(va_of(name), va);
        attempt(r < 0, "exec with argv at %s (0x%lx) gave %ld", what, va, r);
        r = mm_exec(va_of(name), va_of(argv_elem));
        attempt(r < 0, "exec with an argument at %s (0x%lx) gave %ld", what, va, r);
        waits.attempt_at(va, what);
    }
    r = mm(Request::PrepareWrite, va, 8);
    attempt(r < 0, "PrepareWrite at %s (0x%lx) gave %ld", what, va, r);
    r = mm(Request::UnmapPage, va);
    attempt(r < 0, "UnmapPage at %s (0x%lx) gave %ld", what, va, r);
    r = mm(Request::RevokePage, va);
    attempt(r < 0, "RevokePage at %s (0x%lx) gave %ld", what, va, r);
}

// ---- the groups (each runs in a process of its own) ------------------------

void g_kernel_direct(); // isolation_memory.cpp
void g_kernel_syscalls();
void g_own_text();
void g_other_process();
void g_leftovers();
void g_slot_sweep(); // isolation_caps.cpp
void g_endpoint();
void g_deleted_slots();
void g_mm_mappings();
void g_privileged();

} // namespace isolation
