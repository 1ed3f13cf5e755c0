// isolation: the isolation suite. A task tries to break out of its own
// address space and capability table, and every attempt must fail: a system
// call or mm request answers an error, or the access kills only the
// attacker (a forked child that ends with wait status -1).
//
// Groups: kernel memory, devices, trampoline, trapframe and addresses at or
// beyond MAXVA, directly and as pointers in system calls and mm requests;
// its own text and rodata; another process's memory (copy-on-write, its
// private pages, frames shared by fork); every capability call on every
// slot; the endpoint to mm (rights, badges, forged messages); deleted and
// revoked slots; mm's mappings (bad addresses, mm-only regions, the break);
// privileged instructions.
//
// Each group runs in a fresh image of this program (the runner forks and
// execs "isolation -g N"), which counts its attempts and exits with
// (attempts << 16 | blocked). The runner checks that every frame is back
// after each group and after the whole suite (one more attempt each), and
// that each group ends within its time.
//
// Output is TAP: "ok N - group (n attempts)" / "not ok N - group ... # why"
// per group, a "# ..." line for each attempt that got through, the plan, and
//
//     isolation: A attempts, B blocked, A-B got through
//
// Exit status 0 iff every attempt was blocked (A == B).
//
// Allowed on purpose and not counted: vmprint of another pid (informational),
// kill of a process that is not one's child (xv6 semantics), and mm's
// FailAlloc test hook (it arms a failure for whichever allocation comes next).
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capframe/sys.h"
#include "capframe/user.h"
#include "tap.h"

namespace abi = capframe::abi;
using capframe::abi::Errno;
using capframe::abi::Sys;
using capframe::mmp::Request;

// One page of text that holds nothing but this function: the own-text group
// replaces it through mm and checks that what replaces it cannot run.
asm(R"(
    .section .text.isolation_victim, "ax", @progbits
    .balign 4096
    .globl isolation_victim
isolation_victim:
    li a0, 42
    ret
    .balign 4096
    .previous
)");
extern "C" int isolation_victim();

namespace {

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

int g_attempts = 0, g_blocked = 0;

void vdiag(const char* fmt, va_list ap) {
    printf("# ");
    vprintf(fmt, ap);
    printf("\n");
}

// One attempt: blocked says whether it was refused (or killed the attacker).
__attribute__((format(printf, 2, 3))) bool attempt(bool blocked, const char* fmt, ...) {
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

__attribute__((format(printf, 1, 2))) void note(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vdiag(fmt, ap);
    va_end(ap);
}

// ---- small helpers -------------------------------------------------------

int64_t err(Errno e) {
    return abi::error_return(e);
}

// The errors a refused capability call may give: the slot is out of range,
// empty, of the wrong type, lacks the right, or the arguments are refused.
bool cap_refusal(int64_t r) {
    return r == err(Errno::Range) || r == err(Errno::BadSlot) || r == err(Errno::BadType) ||
           r == err(Errno::Perm) || r == err(Errno::Inval) || r == err(Errno::Exist) ||
           r == err(Errno::NoCaller);
}

int64_t mm(Request r, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0) {
    return sys::mm_request(r, a1, a2, a3);
}

int64_t mm_exec(uint64_t path, uint64_t argv) {
    fflush(stdout);
    return mm(Request::Exec, path, argv);
}

int64_t mm_wait(uint64_t status_va) {
    return mm(Request::Wait, status_va);
}

uint64_t va_of(const void* p) {
    return reinterpret_cast<uint64_t>(p);
}
template <class R, class... A>
uint64_t va_of(R (*f)(A...)) {
    return reinterpret_cast<uint64_t>(f);
}

// A process whose parent is `parent` (and whose name starts with `name`,
// if given), other than `except`.
bool has_child(int parent, int except, const char* name) {
    procinfo pi;
    for (int i = 0; getproc(i, &pi) == 0; ++i)
        if (pi.parent == parent && pi.pid != except &&
            (!name || strncmp(pi.name, name, strlen(name)) == 0))
            return true;
    return false;
}

// Waits up to `ticks` for pid to end; if it does not, kills it. Returns
// true if it ended by itself; *status is its wait status either way.
bool wait_timeout(int pid, int ticks, int* status) {
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
int run_child(void (*fn)(uint64_t), uint64_t arg) {
    int pid = fork();
    if (pid < 0) return -2;
    if (pid == 0) {
        fn(arg);
        exit(kSurvived);
    }
    int st = 0;
    return wait_for(pid, &st) == pid ? st : -2;
}

void poke_read(uint64_t va) {
    volatile uint8_t v = *reinterpret_cast<volatile uint8_t*>(va);
    (void)v;
}
void poke_write(uint64_t va) {
    *reinterpret_cast<volatile uint8_t*>(va) = 0x5a;
}
void jump_to(uint64_t va) {
    reinterpret_cast<void (*)()>(va)();
}

// Writes "li a0, 43; ret" at va (writable memory) and calls it.
void run_code_at(uint64_t va) {
    auto* code = reinterpret_cast<volatile uint32_t*>(va);
    code[0] = kLi43;
    code[1] = kRet;
    asm volatile("fence.i" ::: "memory");
    jump_to(va);
}

// The child doing fn(va) must be killed.
void expect_killed(const char* what, void (*fn)(uint64_t), uint64_t va) {
    int st = run_child(fn, va);
    attempt(st == -1, "%s 0x%lx: the child was not killed (status %d%s)", what, va, st,
            st == kSurvived ? ": the access went through" : "");
}

// A child that exits at once and stays a zombie (for wait with bad status
// pointers). Returns its pid.
int make_zombie(int status) {
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

bool page_is_zero(uint64_t va) {
    auto* p = reinterpret_cast<volatile uint64_t*>(va);
    for (uint64_t i = 0; i < kPage / 8; ++i)
        if (p[i]) return false;
    return true;
}

// Ordinary RAM of ours: what we write reads back (device registers and
// read-only memory would not).
bool page_is_ram(uint64_t va) {
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
void map_page_own_or_refused(uint64_t va, const char* what) {
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
void pointer_attempts(uint64_t va, const char* what, ZombieWaits& waits) {
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

// ---- group 1: kernel memory, directly -------------------------------------

void g_kernel_direct() {
    for (const Place& p : kKernelPlaces) {
        expect_killed("read of", poke_read, p.va);
        expect_killed("write to", poke_write, p.va);
    }
    const uint64_t edges[] = {uint64_t{0}, abi::kStackGuardVa, abi::kUserStackTop};
    for (const uint64_t va : edges) {
        expect_killed("read of", poke_read, va);
        expect_killed("write to", poke_write, va);
    }
    const uint64_t jumps[] = {uint64_t{0x80200000}, abi::kTrampolineVa, abi::kTrapframeVa,
                              uint64_t{0x10000000}, kUpperHalf};
    for (const uint64_t va : jumps)
        expect_killed("jump to", jump_to, va);
}

// ---- group 2: kernel memory through system calls and mm requests ---------

void g_kernel_syscalls() {
    ZombieWaits waits;
    waits.begin();
    for (const Place& p : kKernelPlaces)
        pointer_attempts(p.va, p.what, waits);
    pointer_attempts(0, "address 0", waits);
    waits.end();
    // Ranges that start in our memory and run into what is not ours.
    const Range ranges[] = {Range{abi::kMaxVa - 2, 5, "across MAXVA"},
                            Range{abi::kUserStackTop - 8, 16, "from the stack into the gap"},
                            Range{abi::kTrapframeVa - 8, 16, "into the trapframe"},
                            Range{abi::kUserTextBase, abi::kWriteMax, "1 MiB from the text"},
                            Range{~uint64_t{0} - 4, 16, "wrapping around"}};
    for (const Range& g : ranges) {
        int64_t r = sys::write(1, reinterpret_cast<const void*>(g.va), g.len);
        attempt(r < 0, "console write %s gave %ld", g.what, r);
        r = mm(Request::PrepareWrite, g.va, g.len);
        attempt(r < 0, "PrepareWrite %s gave %ld", g.what, r);
    }
    // MapPage at kernel addresses: refused, or our own zero page.
    for (const Place& p : kKernelPlaces)
        map_page_own_or_refused(p.va, p.what);
}

// ---- group 3: its own text and read-only data ------------------------------

const char kRodata[] = "read-only data of the isolation suite";
const uint32_t kRodataCode[2] = {kLi43, kRet};
uint32_t g_data_code[4] = {1, 2, 3, 4};

void exec_heap(uint64_t) {
    char* p = sbrk(static_cast<int>(2 * kPage));
    if (p == reinterpret_cast<char*>(-1)) exit(1);
    run_code_at((va_of(p) + kPage - 1) & ~(kPage - 1));
}
void exec_stack(uint64_t) {
    uint32_t code[4];
    run_code_at(va_of(code));
}
void exec_data(uint64_t) {
    run_code_at(va_of(g_data_code));
}
void exec_mapped(uint64_t va) {
    if (mm(Request::MapPage, va, 1) < 0) exit(1);
    run_code_at(va);
}
// mm replaces a text page with a fresh writable one: code put there must
// not run (mm never maps a page executable on request).
void exec_replaced_text(uint64_t va) {
    if (isolation_victim() != 42) exit(2);
    if (mm(Request::UnmapPage, va) < 0 || mm(Request::MapPage, va, 1) < 0) exit(3);
    run_code_at(va);
}

void g_own_text() {
    uint64_t text = va_of(&poke_write) & ~(kPage - 1);
    uint64_t victim = va_of(&isolation_victim);
    uint64_t rodata = va_of(kRodata);
    uint64_t data = va_of(g_data_code) & ~(kPage - 1);
    expect_killed("write to own text at", poke_write, va_of(&poke_write));
    expect_killed("write to the victim text page at", poke_write, victim);
    expect_killed("write to own rodata at", poke_write, rodata);
    expect_killed("call of code in rodata at", jump_to, va_of(kRodataCode));
    expect_killed("code run from the heap:", exec_heap, 0);
    expect_killed("code run from the stack:", exec_stack, 0);
    expect_killed("code run from data at", exec_data, va_of(g_data_code));
    expect_killed("code run from a page mm mapped at", exec_mapped, kTestVa);
    expect_killed("code run from a text page mm replaced at", exec_replaced_text, victim);

    ZombieWaits waits;
    waits.begin();
    const Place own[] = {Place{va_of(&poke_write), "own text"}, Place{victim, "victim text"},
                         Place{rodata, "own rodata"}};
    for (const Place& p : own) {
        int64_t r = mm(Request::PrepareWrite, p.va, 8);
        attempt(r < 0, "PrepareWrite of %s gave %ld", p.what, r);
        r = sys::console_read(reinterpret_cast<void*>(p.va), 1);
        attempt(r < 0, "console read into %s gave %ld", p.what, r);
        waits.attempt_at(p.va, p.what);
        r = mm(Request::MapPage, p.va & ~(kPage - 1), 1);
        attempt(r < 0, "MapPage over %s gave %ld", p.what, r);
    }
    waits.end();
    const uint64_t mapped[] = {text, rodata & ~(kPage - 1), data, abi::kUserStackTop - kPage};
    for (const uint64_t va : mapped) {
        int64_t r = mm(Request::MapPage, va, 0);
        attempt(r < 0, "read-only MapPage over mapped 0x%lx gave %ld", va, r);
    }
    // Text and rodata are still intact for us.
    attempt(isolation_victim() == 42 && kRodata[0] == 'r', "own text or rodata changed");
}

// ---- group 4: another process's memory -------------------------------------

constexpr int kCowPages = 6;
constexpr uint64_t kSecret = 0x5ec7e75ec7e75ec7;
constexpr uint64_t kMine = 0x0123456789abcdef;

uint64_t pattern(int page, uint64_t word) {
    return (static_cast<uint64_t>(page) + 1) * 0x9e3779b97f4a7c15ull ^ word;
}
void fill_page(uint64_t va, int page) {
    auto* w = reinterpret_cast<volatile uint64_t*>(va);
    for (uint64_t i = 0; i < kPage / 8; ++i)
        w[i] = pattern(page, i);
}
bool holds_page(uint64_t va, int page) {
    auto* w = reinterpret_cast<volatile uint64_t*>(va);
    for (uint64_t i = 0; i < kPage / 8; ++i)
        if (w[i] != pattern(page, i)) return false;
    return true;
}
bool holds_secret(uint64_t va) {
    auto* w = reinterpret_cast<volatile uint64_t*>(va);
    for (uint64_t i = 0; i < kPage / 8; ++i)
        if (w[i] != (kSecret ^ i)) return false;
    return true;
}
void fill_secret(uint64_t va) {
    auto* w = reinterpret_cast<volatile uint64_t*>(va);
    for (uint64_t i = 0; i < kPage / 8; ++i)
        w[i] = kSecret ^ i;
}

// The victim's checks, one bit each in its exit status.
constexpr const char* kVictimChecks[] = {
    "the parent's later write showed in the child (COW)",
    "the parent's UnmapPage of a shared page removed it from the child",
    "the parent's RevokePage of a shared page removed it from the child",
    "the child's RevokePage of a page shared with its parent was not refused",
    "the child set a limit on its parent",
    "the child's own data changed while the parent attacked",
};
constexpr int kVictimTimeout = 1 << 6;

// Pages of the attacker's heap buffer: 0 the child overwrites with its
// secret; 1 the parent writes later; 2 the parent unmaps; 3 the parent
// revokes; 4 the child unmaps; 5 the child revokes.
[[noreturn]] void victim(uint64_t buf, volatile uint64_t* local, int parent) {
    int bits = 0;
    fill_secret(buf);
    *local = kSecret;
    if (mm(Request::MapPage, kPrivVa, 1) == 0) fill_secret(kPrivVa);
    if (mm(Request::RevokePage, buf + 5 * kPage) >= 0) bits |= 1 << 3;
    (void)mm(Request::UnmapPage, buf + 4 * kPage); // our own mapping only
    if (setlimit(parent, 1) == 0) bits |= 1 << 4;
    // Ready: a child of ours appears (a zombie until we reap it).
    int ready = fork();
    if (ready == 0) exit(0);
    // Wait for the parent's "done": a child of it that ran "true".
    int me = getpid(), t = 0;
    for (; t < 3000 && !has_child(parent, me, "true") && proc_state(parent, nullptr) == 1; ++t)
        sleep(1); // (if the parent died, its attack got through: give up)
    if (t == 3000) bits |= kVictimTimeout;
    if (!holds_page(buf + 1 * kPage, 1)) bits |= 1 << 0;
    if (!holds_page(buf + 2 * kPage, 2)) bits |= 1 << 1;
    if (!holds_page(buf + 3 * kPage, 3)) bits |= 1 << 2;
    if (!holds_secret(buf) || *local != kSecret || !holds_secret(kPrivVa)) bits |= 1 << 5;
    int st;
    (void)wait_for(ready, &st);
    exit(bits);
}

void g_other_process() {
    // A page-aligned heap buffer, every page touched (ours, then shared).
    char* brk = sbrk(0);
    uint64_t pad = (kPage - va_of(brk) % kPage) % kPage;
    char* raw = sbrk(static_cast<int>(pad + kCowPages * kPage));
    if (raw == reinterpret_cast<char*>(-1)) {
        attempt(false, "sbrk for the shared buffer failed");
        return;
    }
    uint64_t buf = va_of(raw) + pad;
    for (int k = 0; k < kCowPages; ++k)
        fill_page(buf + k * kPage, k);
    volatile uint64_t local = kMine; // the same stack address in the child
    int me = getpid();

    int v = fork();
    if (v < 0) {
        attempt(false, "fork of the victim failed");
        return;
    }
    if (v == 0) victim(buf, &local, me);

    int t = 0;
    for (; t < 3000 && !has_child(v, 0, nullptr) && proc_state(v, nullptr) == 1; ++t)
        sleep(1);
    if (t == 3000) note("the victim never said it was ready");

    // Its secrets, at the same addresses as ours: we see our own data.
    attempt(holds_page(buf, 0), "the child's write to a shared heap page showed in the parent");
    attempt(local == kMine, "the child's write to its stack showed in the parent");
    attempt(holds_page(buf + 5 * kPage, 5), "the child's RevokePage took a page from the parent");
    attempt(holds_page(buf + 4 * kPage, 4), "the child's UnmapPage took a page from the parent");

    // Its private page, which we never mapped.
    expect_killed("read of the child's private page at", poke_read, kPrivVa);
    expect_killed("write to the child's private page at", poke_write, kPrivVa);
    int64_t r = mm(Request::UnmapPage, kPrivVa);
    attempt(r < 0, "UnmapPage of the child's page gave %ld", r);
    r = mm(Request::RevokePage, kPrivVa);
    attempt(r < 0, "RevokePage of the child's page gave %ld", r);
    r = mm(Request::PrepareWrite, kPrivVa, 8);
    attempt(r < 0, "PrepareWrite of the child's page gave %ld", r);
    r = sys::write(1, reinterpret_cast<const void*>(kPrivVa), 8);
    attempt(r < 0, "console write from the child's page gave %ld", r);
    r = sys::console_read(reinterpret_cast<void*>(kPrivVa), 1);
    attempt(r < 0, "console read into the child's page gave %ld", r);
    r = mm_exec(kPrivVa, 0);
    attempt(r < 0, "exec with the path in the child's page gave %ld", r);
    char name[] = "true";
    r = mm_exec(va_of(name), kPrivVa);
    attempt(r < 0, "exec with argv in the child's page gave %ld", r);

    // Shared pages: our write stays ours; unmapping is ours only; revoking
    // a frame someone else maps is refused.
    fill_page(buf + 1 * kPage, 11);
    r = mm(Request::UnmapPage, buf + 2 * kPage);
    if (r < 0) note("UnmapPage of our own shared page: %ld", r);
    r = mm(Request::RevokePage, buf + 3 * kPage);
    attempt(r < 0, "RevokePage of a page shared with the child gave %ld", r);
    r = mm(Request::RevokePage, va_of(&poke_write) & ~(kPage - 1));
    attempt(r < 0, "RevokePage of our text page (shared with the child) gave %ld", r);

    // Its address in our space is ours: a fresh zero page, no secret.
    map_page_own_or_refused(kPrivVa, "the child's private address");

    // Done: a child of ours runs "true" and stays a zombie.
    int done = fork();
    if (done == 0) {
        char* argv[] = {name, nullptr};
        exec(name, argv);
        exit(1);
    }
    r = mm_wait(kPrivVa); // both children end: neither status lands there
    attempt(r < 0, "wait with the status in the child's page gave %ld", r);
    int st = 0;
    bool ended = wait_timeout(v, 3000, &st);
    if (!ended) note("the victim did not finish");
    int dst;
    (void)wait_for(done, &dst);
    if (st < 0) {
        attempt(false, "the victim ended with status %d", st);
        return;
    }
    if (st & kVictimTimeout) note("the victim timed out waiting for the parent");
    for (int b = 0; b < static_cast<int>(sizeof kVictimChecks / sizeof kVictimChecks[0]); ++b)
        attempt(!(st & (1 << b)), "%s", kVictimChecks[b]);
}

// ---- group 5: what an ended process leaves behind ----------------------------

constexpr int kLeftoverPages = 512;
constexpr int kLeftoverMapped = 64;
constexpr uint64_t kLeftover = 0x1eff0c0de1eff0c0;

// One process fills heap pages and pages mm mapped on request with a secret
// and exits; the next takes twice as many fresh pages (mostly the same
// frames, back from the first) and must find every one of them zero.
void g_leftovers() {
    int pid = fork();
    if (pid == 0) {
        char* p = sbrk(kLeftoverPages * static_cast<int>(kPage));
        if (p == reinterpret_cast<char*>(-1)) exit(1);
        for (int k = 0; k < kLeftoverPages; ++k) {
            auto* w = reinterpret_cast<volatile uint64_t*>(va_of(p) + k * kPage);
            for (uint64_t i = 0; i < kPage / 8; ++i)
                w[i] = kLeftover ^ i;
        }
        for (int k = 0; k < kLeftoverMapped; ++k) {
            uint64_t va = kTestVa + k * kPage;
            if (mm(Request::MapPage, va, 1) < 0) exit(2);
            for (uint64_t i = 0; i < kPage / 8; ++i)
                reinterpret_cast<volatile uint64_t*>(va)[i] = kLeftover ^ i;
        }
        exit(0);
    }
    int st = -2;
    if (wait_for(pid, &st) != pid || st != 0) note("the process leaving secrets: status %d", st);
    pid = fork();
    if (pid == 0) {
        int dirty = 0;
        char* p = sbrk(2 * kLeftoverPages * static_cast<int>(kPage));
        if (p == reinterpret_cast<char*>(-1)) exit(255);
        for (int k = 0; k < 2 * kLeftoverPages; ++k)
            dirty += !page_is_zero(va_of(p) + k * kPage);
        for (int k = 0; k < 2 * kLeftoverMapped; ++k) {
            uint64_t va = kTestVa + k * kPage;
            if (mm(Request::MapPage, va, 0) < 0) exit(254);
            dirty += !page_is_zero(va);
        }
        exit(dirty > 200 ? 200 : dirty);
    }
    st = -2;
    (void)wait_for(pid, &st);
    attempt(st == 0,
            "fresh pages after another process ended: status %d (pages not zero, or 254/255: "
            "no pages)",
            st);
}

// ---- group 6: capability calls on every slot --------------------------------

struct SlotCall {
    const char* name;
    bool skip_slot1; // legal on slot 1 (our endpoint): checked in group 7
    bool skip_slot0;
    int64_t (*call)(uint64_t s);
};

constexpr uint64_t kFree1 = 40, kFree2 = 41; // empty slots of ours

int64_t call_slot(uint64_t s) {
    sys::Msg m;
    m.w[0] = static_cast<uint64_t>(Request::Getpid);
    return sys::call(s, m);
}
int64_t recv_slot(uint64_t s) {
    sys::Msg m;
    return sys::recv(s, m);
}
int64_t reply_recv_slot(uint64_t s) {
    sys::Msg m;
    return sys::reply_recv(s, m);
}

const SlotCall kSlotCalls[] = {
    {"CapInfo", true, false, [](uint64_t s) { return sys::cap_info(s); }},
    {"CapCopy from", true, false,
     [](uint64_t s) { return sys::cap_copy(s, 0, kFree1, abi::kRightsAll, 0); }},
    {"CapCopy into table", false, true,
     [](uint64_t s) { return sys::cap_copy(abi::kSlotMmEndpoint, s, kFree1, abi::kRightsAll, 0); }},
    {"CapDelete", true, false, [](uint64_t s) { return sys::cap_delete(s); }},
    {"CapRevoke", true, false, [](uint64_t s) { return sys::cap_revoke(s); }},
    {"FrameSplit", false, false, [](uint64_t s) { return sys::frame_split(s, kFree1, kFree2); }},
    {"Retype as endpoint", false, false,
     [](uint64_t s) { return sys::retype(s, abi::ObjType::Endpoint, kFree1); }},
    {"Retype as table", false, false,
     [](uint64_t s) { return sys::retype(s, abi::ObjType::CapTable, kFree1); }},
    {"Retype as address space", false, false,
     [](uint64_t s) { return sys::retype(s, abi::ObjType::AddressSpace, kFree1); }},
    {"Map", false, false, [](uint64_t s) { return sys::map(s, s, kTestVa, abi::kRightRead); }},
    {"Map into our space", false, false,
     [](uint64_t s) { return sys::map(s, abi::kSlotSelfAs, kTestVa, abi::kRightRead); }},
    {"Unmap", false, false, [](uint64_t s) { return sys::unmap(s); }},
    {"Protect", false, false,
     [](uint64_t s) { return sys::protect(s, abi::kRightRead | abi::kRightWrite); }},
    {"MapTable", false, false, [](uint64_t s) { return sys::map_table(s, s, kTestVa); }},
    {"UnmapTable", false, false, [](uint64_t s) { return sys::unmap_table(s); }},
    {"VmPrint", false, false, [](uint64_t s) { return sys::vmprint_cap(s); }},
    {"ThreadConfigure", false, false, [](uint64_t s) { return sys::thread_configure(s, s, s, s); }},
    {"ThreadSetStack", false, false, [](uint64_t s) { return sys::thread_set_stack(s, s); }},
    {"ThreadWriteRegs", false, false,
     [](uint64_t s) { return sys::thread_write_regs(s, kTestVa, kTestVa, 0, 0); }},
    {"ThreadStart", false, false, [](uint64_t s) { return sys::thread_start(s); }},
    {"ThreadSuspend", false, false, [](uint64_t s) { return sys::thread_suspend(s); }},
    {"ThreadReply", false, false,
     [](uint64_t s) {
         sys::Msg m;
         return sys::thread_reply(s, m);
     }},
    {"ThreadCopyRegs", false, false, [](uint64_t s) { return sys::thread_copy_regs(s, s, 0, 0); }},
    {"Call", true, false, call_slot},
    {"Recv", false, false, recv_slot},
    {"ReplyRecv", false, false, reply_recv_slot},
    {"Shutdown", false, false, [](uint64_t s) { return sys::syscall(Sys::Shutdown, s, 0); }},
};

void g_slot_sweep() {
    uint64_t slots[abi::kCapSlotsPerPage + 4];
    int n = 0;
    for (uint64_t s = 0; s < abi::kCapSlotsPerPage; ++s)
        slots[n++] = s;
    const uint64_t beyond[] = {uint64_t{64}, uint64_t{65}, uint64_t{1} << 20, ~uint64_t{0}};
    for (const uint64_t s : beyond)
        slots[n++] = s;
    for (const SlotCall& c : kSlotCalls)
        for (int i = 0; i < n; ++i) {
            uint64_t s = slots[i];
            if ((s == abi::kSlotMmEndpoint && c.skip_slot1) || (s == 0 && c.skip_slot0)) continue;
            int64_t r = c.call(s);
            attempt(cap_refusal(r), "%s on slot %ld gave %ld", c.name, static_cast<int64_t>(s), r);
        }
    // Copies of slot 1 into slots that are not ours to fill.
    const uint64_t not_ours[] = {uint64_t{0}, uint64_t{1}, uint64_t{64}, uint64_t{1} << 20,
                                 ~uint64_t{0}};
    for (const uint64_t s : not_ours) {
        int64_t r = sys::cap_copy(abi::kSlotMmEndpoint, 0, s, abi::kRightsAll, 0);
        attempt(cap_refusal(r), "CapCopy of slot 1 into slot %ld gave %ld", static_cast<int64_t>(s),
                r);
    }
    // Nothing appeared in the table.
    int found = 0;
    for (uint64_t s = 2; s < abi::kCapSlotsPerPage; ++s)
        found += sys::cap_info(s) >= 0;
    attempt(found == 0, "%d slots hold a capability after the sweep", found);
}

// ---- group 7: the endpoint to mm, and other kernel entries ------------------

void g_endpoint() {
    using abi::kSlotMmEndpoint;
    uint64_t object = 0;
    int64_t info = sys::cap_info(kSlotMmEndpoint, &object);
    attempt(info == (static_cast<int64_t>(abi::ObjType::Endpoint) | abi::kRightWrite << 8),
            "slot 1 is not a write-only endpoint: CapInfo 0x%lx", info);
    sys::Msg m;
    int64_t r = sys::recv(kSlotMmEndpoint, m);
    attempt(r == err(Errno::Perm), "Recv on slot 1 gave %ld", r);
    r = sys::reply_recv(kSlotMmEndpoint, m);
    attempt(r == err(Errno::Perm), "ReplyRecv on slot 1 gave %ld", r);
    int me = getpid();
    const uint64_t badges[] = {uint64_t{1}, static_cast<uint64_t>(me + 1), uint64_t{1} << 32,
                               (uint64_t{1} << 32) | static_cast<uint64_t>(me)};
    for (const uint64_t badge : badges) {
        r = sys::cap_copy(kSlotMmEndpoint, 0, 5, abi::kRightsAll, badge);
        attempt(r < 0 && sys::cap_info(5) == err(Errno::BadSlot),
                "CapCopy of slot 1 with badge 0x%lx gave %ld", badge, r);
        if (r >= 0) (void)sys::cap_delete(5);
    }
    r = sys::cap_copy(kSlotMmEndpoint, 0, 5, 0x1ff, 0);
    attempt(r == err(Errno::Inval), "CapCopy with rights 0x1ff gave %ld", r);
    if (r >= 0) (void)sys::cap_delete(5);

    // A copy with every right asked for: still only Write.
    r = sys::cap_copy(kSlotMmEndpoint, 0, 5, abi::kRightsAll, 0);
    if (r < 0) {
        attempt(false, "CapCopy of slot 1 into slot 5 failed: %ld", r);
    } else {
        info = sys::cap_info(5);
        attempt(((info >> 8) & 0xff) == abi::kRightWrite,
                "the copy of slot 1 widened its rights: CapInfo 0x%lx", info);
        r = sys::recv(5, m);
        attempt(r == err(Errno::Perm), "Recv on the copy gave %ld", r);
        r = sys::cap_copy(5, 0, 6, abi::kRightsAll, 1);
        attempt(r < 0, "CapCopy of the copy with badge 1 gave %ld", r);
        if (r >= 0) (void)sys::cap_delete(6);
        m = sys::Msg{};
        m.w[0] = static_cast<uint64_t>(Request::Getpid);
        r = sys::call(5, m);
        attempt(r == 0 && m.w[0] == static_cast<uint64_t>(me),
                "the copy speaks as pid %ld, not as us (%d)", static_cast<int64_t>(m.w[0]), me);
        (void)sys::cap_delete(5);
    }

    // A forged fault message is only an unknown request.
    m = sys::Msg{};
    m.w[0] = abi::kFaultLabel, m.w[1] = 15, m.w[2] = 0x80200000, m.w[3] = 0x10000;
    r = sys::call(kSlotMmEndpoint, m);
    attempt(r == 0 && static_cast<int64_t>(m.w[0]) == err(Errno::NoSys),
            "a fault message sent through slot 1 got %ld/%ld", r, static_cast<int64_t>(m.w[0]));
    // (0, the gap at 9, the first number past the last request, ...)
    const uint64_t requests[] = {uint64_t{0}, uint64_t{9},
                                 static_cast<uint64_t>(Request::MemMap) + 1, uint64_t{99},
                                 ~uint64_t{0}};
    for (const uint64_t req : requests) {
        r = sys::mm_request(static_cast<Request>(req));
        attempt(r == err(Errno::NoSys), "mm request %ld gave %ld", static_cast<int64_t>(req), r);
    }
    r = sys::reply(m);
    attempt(r == err(Errno::NoCaller), "Reply with nobody to reply to gave %ld", r);
    // Unknown system calls and the test kernels' hooks.
    const uint64_t numbers[] = {uint64_t{0},  uint64_t{3},   uint64_t{8},    uint64_t{98},
                                uint64_t{99}, uint64_t{100}, uint64_t{1000}, ~uint64_t{0}};
    for (const uint64_t n : numbers) {
        r = sys::syscall(n, 1000, 0, 0);
        attempt(r == err(Errno::NoSys), "system call %ld gave %ld", static_cast<int64_t>(n), r);
    }
    // Other processes: none of ours to limit; init cannot be killed.
    procinfo self;
    int parent = 0;
    for (int i = 0; getproc(i, &self) == 0; ++i)
        if (self.pid == me) parent = self.parent;
    attempt(setlimit(parent, 1) < 0, "a limit on our parent (pid %d) was accepted", parent);
    attempt(setlimit(1, 1) < 0, "a limit on pid 1 was accepted");
    attempt(kill(1) < 0, "kill(1) was accepted");
}

// ---- group 8: deleted and forged slots -------------------------------------

// A child that deleted its slot 1: everything on it fails; then it faults
// on purpose (the fault goes to mm through its thread's own fault
// endpoint), or sleeps forever if anything got through.
void cut_off(uint64_t) {
    bool ok = sys::cap_delete(abi::kSlotMmEndpoint) == 0;
    sys::Msg m;
    m.w[0] = static_cast<uint64_t>(Request::Getpid);
    ok = ok && sys::call(abi::kSlotMmEndpoint, m) == err(Errno::BadSlot);
    ok = ok && sys::cap_info(abi::kSlotMmEndpoint) == err(Errno::BadSlot);
    ok = ok && sys::cap_copy(abi::kSlotMmEndpoint, 0, 5, abi::kRightsAll, 0) == err(Errno::BadSlot);
    ok = ok && sys::recv(abi::kSlotMmEndpoint, m) == err(Errno::BadSlot);
    ok = ok && sys::mm_request(Request::Getpid) == err(Errno::BadSlot);
    if (ok) poke_write(0);
    for (;;)
        sys::sleep(100);
}

void g_deleted_slots() {
    using abi::kSlotMmEndpoint;
    sys::Msg m;
    // Copy, delete, use.
    if (sys::cap_copy(kSlotMmEndpoint, 0, 5, abi::kRightWrite, 0) != 0 || sys::cap_delete(5) != 0)
        note("copy and delete of slot 5 failed");
    int64_t r = sys::call(5, m);
    attempt(r == err(Errno::BadSlot), "Call on a deleted slot gave %ld", r);
    r = sys::cap_info(5);
    attempt(r == err(Errno::BadSlot), "CapInfo on a deleted slot gave %ld", r);
    r = sys::cap_copy(5, 0, 6, abi::kRightsAll, 0);
    attempt(r == err(Errno::BadSlot), "CapCopy from a deleted slot gave %ld", r);
    r = sys::map(5, 5, kTestVa, abi::kRightRead);
    attempt(r == err(Errno::BadSlot), "Map of a deleted slot gave %ld", r);
    r = sys::recv(5, m);
    attempt(r == err(Errno::BadSlot), "Recv on a deleted slot gave %ld", r);
    r = sys::cap_delete(5);
    attempt(r == err(Errno::BadSlot), "a second CapDelete gave %ld", r);
    r = sys::cap_revoke(5);
    attempt(r == err(Errno::BadSlot), "CapRevoke of a deleted slot gave %ld", r);

    // A chain of copies: revoke ends every one of them.
    (void)sys::cap_copy(kSlotMmEndpoint, 0, 5, abi::kRightWrite, 0);
    (void)sys::cap_copy(5, 0, 6, abi::kRightWrite, 0);
    (void)sys::cap_copy(6, 0, 7, abi::kRightWrite, 0);
    r = sys::cap_delete(5);
    attempt(r == err(Errno::Busy), "CapDelete of a capability with copies gave %ld", r);
    r = sys::cap_revoke(5);
    attempt(r == 2, "CapRevoke of slot 5 deleted %ld (want 2)", r);
    r = sys::call(6, m);
    attempt(r == err(Errno::BadSlot), "Call on a revoked copy gave %ld", r);
    r = sys::call(7, m);
    attempt(r == err(Errno::BadSlot), "Call on a revoked copy of a copy gave %ld", r);
    (void)sys::cap_delete(5);
    (void)sys::cap_copy(kSlotMmEndpoint, 0, 8, abi::kRightWrite, 0);
    (void)sys::cap_copy(kSlotMmEndpoint, 0, 9, abi::kRightWrite, 0);
    r = sys::cap_revoke(kSlotMmEndpoint);
    attempt(r == 2 && sys::cap_info(8) == err(Errno::BadSlot) &&
                sys::cap_info(9) == err(Errno::BadSlot),
            "CapRevoke of slot 1 deleted %ld, its copies remain", r);
    attempt(getpid() > 0, "slot 1 stopped working after revoking its copies");

    // A child fills its whole table with a chain of copies and exits: mm
    // takes every one back (frames are checked after the group).
    int pid = fork();
    if (pid == 0) {
        uint64_t from = kSlotMmEndpoint;
        for (uint64_t s = 2; s < abi::kCapSlotsPerPage; ++s)
            if (sys::cap_copy(from, 0, s, abi::kRightWrite, 0) == 0) from = s;
        exit(from == abi::kCapSlotsPerPage - 1 ? 0 : 1);
    }
    int st = -2;
    (void)wait_timeout(pid, kGroupTicks / 4, &st);
    attempt(st == 0, "a child with a full table of copies ended with status %d", st);

    // A child deletes slot 1: it reaches nobody, then its fault kills it.
    pid = fork();
    if (pid == 0) cut_off(0);
    bool ended = wait_timeout(pid, 1000, &st);
    attempt(ended && st == -1,
            "a child without slot 1 (deleted) %s, status %d (a call on the deleted slot "
            "got through, or its fault did not reach mm)",
            ended ? "ended" : "was still running", st);

    // A child deletes slot 1 and sleeps: its parent still ends it.
    pid = fork();
    if (pid == 0) {
        if (sys::cap_delete(kSlotMmEndpoint) != 0) exit(1);
        for (;;)
            sys::sleep(100);
    }
    for (int t = 0; t < 20; ++t)
        sleep(1);
    r = proc_state(pid, nullptr);
    int k = kill(pid);
    int w = wait_for(pid, &st);
    attempt(r == 1 && k == 0 && w == pid && st == -1,
            "a child that cut itself off: state %ld, kill %d, wait %d status %d", r, k, w, st);
}

// ---- group 9: mm's mappings -------------------------------------------------

void g_mm_mappings() {
    // MapPage where mm must never map a page for us.
    const Place refused[] = {
        {0, "0"},
        {kPage, "4096"},
        {abi::kUserTextBase - kPage, "below the text"},
        {abi::kStackGuardVa, "the stack guard"},
        {abi::kStackGuardVa + kPage, "the stack's lowest page"},
        {abi::kUserStackTop - kPage, "the stack's top page"},
        {abi::kUserStackTop, "the gap above the stack"},
        {abi::kTrapframeVa, "the trapframe"},
        {abi::kTrampolineVa, "the trampoline (MAXVA - 4096)"},
        {abi::kMaxVa, "MAXVA"},
        {kUpperHalf, "the upper half"},
        {kTop, "2^64 - 4096"},
        {kTestVa + 1, "an unaligned address"},
        {kTestVa + 0x800, "an unaligned address"},
        {kTestVa + kPage - 8, "an unaligned address"},
    };
    for (const Place& p : refused)
        for (uint64_t writable = 0; writable < 2; ++writable) {
            int64_t r = mm(Request::MapPage, p.va, writable);
            attempt(r < 0, "MapPage at %s (0x%lx) gave %ld", p.what, p.va, r);
        }
    // Twice at the same address; unmap and revoke what is not there.
    if (mm(Request::MapPage, kTestVa, 1) != 0) note("MapPage at 0x%lx failed", kTestVa);
    for (uint64_t writable = 0; writable < 2; ++writable) {
        int64_t r = mm(Request::MapPage, kTestVa, writable);
        attempt(r < 0, "a second MapPage at 0x%lx gave %ld", kTestVa, r);
    }
    (void)mm(Request::UnmapPage, kTestVa);
    // A page mm mapped read-only stays read-only.
    if (mm(Request::MapPage, kTestVa, 0) != 0) note("read-only MapPage at 0x%lx failed", kTestVa);
    expect_killed("write to a read-only page mm mapped at", poke_write, kTestVa);
    int64_t r = mm(Request::PrepareWrite, kTestVa, 8);
    attempt(r < 0, "PrepareWrite of a read-only page mm mapped gave %ld", r);
    r = sys::console_read(reinterpret_cast<void*>(kTestVa), 1);
    attempt(r < 0, "console read into a read-only page mm mapped gave %ld", r);
    (void)mm(Request::UnmapPage, kTestVa);
    r = mm(Request::UnmapPage, kTestVa);
    attempt(r < 0, "a second UnmapPage gave %ld", r);
    r = mm(Request::RevokePage, kTestVa);
    attempt(r < 0, "RevokePage of an unmapped page gave %ld", r);

    // PrepareWrite over what is not ours to write.
    const Range not_writable[] = {
        {abi::kTrampolineVa, 8, "the trampoline"},
        {abi::kTrapframeVa, 8, "the trapframe"},
        {abi::kMaxVa - 8, 16, "across MAXVA"},
        {abi::kStackGuardVa, 8, "the stack guard"},
        {abi::kUserStackTop, 8, "the gap above the stack"},
        {abi::kUserStackTop - 8, 16, "across the stack's top"},
        {abi::kUserTextBase, ~uint64_t{0}, "wrapping around"},
        {abi::kStackGuardVa + kPage - 8, 16, "from the guard into the stack"},
    };
    for (const Range& g : not_writable) {
        r = mm(Request::PrepareWrite, g.va, g.len);
        attempt(r < 0, "PrepareWrite over %s gave %ld", g.what, r);
    }

    // The break: not into the stack, not below the heap, no wrap-around.
    char* before = sbrk(0);
    const uint64_t increments[] = {
        kHeapTop - va_of(before) + kPage,
        abi::kTrapframeVa - va_of(before),
        -va_of(before),
        uint64_t{1} << 63,
        (uint64_t{1} << 63) - 1,
        uint64_t{1} << 40,
    };
    for (uint64_t inc : increments) {
        r = mm(Request::Sbrk, inc);
        attempt(r < 0 && sbrk(0) == before, "sbrk(0x%lx) gave 0x%lx", inc, r);
    }

    // mm's own regions: not reachable from here. (Children first: a wait
    // for a killed child could reap the zombie the waits below need.)
    for (const Place& p : kMmPlaces) {
        expect_killed("read of", poke_read, p.va);
        expect_killed("write to", poke_write, p.va);
    }
    ZombieWaits waits;
    waits.begin();
    for (const Place& p : kMmPlaces)
        pointer_attempts(p.va, p.what, waits);
    waits.end();
    for (const Place& p : kMmPlaces)
        map_page_own_or_refused(p.va, p.what);
}

// ---- group 10: privileged instructions --------------------------------------

void csrr_satp(uint64_t) {
    uint64_t v;
    asm volatile("csrr %0, satp" : "=r"(v));
}
void csrw_satp(uint64_t) {
    asm volatile("csrw satp, zero");
}
void csrw_stvec(uint64_t) {
    asm volatile("csrw stvec, zero");
}
void csrs_sstatus(uint64_t) {
    asm volatile("csrs sstatus, %0" ::"r"(uint64_t{1} << 18)); // SUM
}
void csrr_mstatus(uint64_t) {
    uint64_t v;
    asm volatile("csrr %0, mstatus" : "=r"(v));
}
void do_sret(uint64_t) {
    asm volatile("sret");
}
void do_mret(uint64_t) {
    asm volatile("mret");
}
void do_sfence(uint64_t) {
    asm volatile("sfence.vma");
}

void g_privileged() {
    expect_killed("csrr satp", csrr_satp, 0);
    expect_killed("csrw satp", csrw_satp, 0);
    expect_killed("csrw stvec", csrw_stvec, 0);
    expect_killed("csrs sstatus.SUM", csrs_sstatus, 0);
    expect_killed("csrr mstatus", csrr_mstatus, 0);
    expect_killed("sret", do_sret, 0);
    expect_killed("mret", do_mret, 0);
    expect_killed("sfence.vma", do_sfence, 0);
}

// ---- the runner ---------------------------------------------------------------

struct Group {
    const char* name;
    void (*fn)();
};

const Group kGroups[] = {
    {"kernel memory, devices, trampoline, trapframe, MAXVA and beyond: direct access",
     g_kernel_direct},
    {"kernel memory through system calls and mm requests", g_kernel_syscalls},
    {"own text and rodata: write, replace, execute heap/stack/data", g_own_text},
    {"another process's memory (copy-on-write, private pages, shared frames)", g_other_process},
    {"what an ended process leaves behind: recycled frames come back zeroed", g_leftovers},
    {"capability calls on every slot of the table and beyond", g_slot_sweep},
    {"the endpoint to mm: rights, badges, forged messages, other calls", g_endpoint},
    {"deleted, revoked and forged slots", g_deleted_slots},
    {"mm's mappings: bad addresses, mm-only regions, the break", g_mm_mappings},
    {"privileged instructions", g_privileged},
};

int g_total_attempts = 0, g_total_blocked = 0;

void result(bool ok, const char* name, int attempts, const char* why) {
    char line[160];
    snprintf(line, sizeof line, "%s (%d attempts)", name, attempts);
    tap_result(ok, line, why);
}

constexpr int kGroupCount = static_cast<int>(sizeof kGroups / sizeof kGroups[0]);

// "isolation -g N": group N in this process; the exit status says how it
// went (attempts << 16 | blocked).
[[noreturn]] void group_main(int index) {
    g_attempts = g_blocked = 0;
    kGroups[index].fn();
    fflush(stdout);
    if (g_attempts >= 1 << 15) exit(1); // does not fit the status
    exit(g_attempts << 16 | g_blocked);
}

// Each group runs in a fresh image of this program (fork, then exec): its
// text and data frames are its own, shared with nobody outside the group,
// so not even an attack that got through can reach the runner.
void run_group(int index) {
    const Group& g = kGroups[index];
    long before = freeframes();
    int pid = fork();
    if (pid == 0) {
        char prog[] = "isolation", flag[] = "-g", num[4];
        snprintf(num, sizeof num, "%d", index);
        char* argv[] = {prog, flag, num, nullptr};
        exec(prog, argv);
        printf("# exec of %s failed\n", prog);
        exit(1);
    }
    int attempts = 1, blocked = 0;
    char why[128] = "";
    if (pid < 0) {
        snprintf(why, sizeof why, "fork failed");
    } else {
        int st = 0;
        bool ended = wait_timeout(pid, kGroupTicks, &st);
        if (!ended) {
            snprintf(why, sizeof why, "did not finish in %d ticks", kGroupTicks);
        } else if (st <= 0 || (st >> 16) == 0) {
            snprintf(why, sizeof why, "the group's process ended with status %d", st);
        } else {
            attempts = st >> 16, blocked = st & 0xffff;
            if (blocked != attempts)
                snprintf(why, sizeof why, "%d got through", attempts - blocked);
        }
    }
    // Whatever the attacker did, every frame comes back.
    long after = frames_settle(before, 200);
    ++attempts;
    if (after == before) {
        ++blocked;
    } else {
        size_t used = strlen(why);
        snprintf(why + used, sizeof why - used, "%sframes lost: %ld", used ? "; " : "",
                 before - after);
        printf("# %s: %ld frames not back\n", g.name, before - after);
    }
    g_total_attempts += attempts, g_total_blocked += blocked;
    result(why[0] == 0, g.name, attempts, why);
}

// Grows our stack once, so that its growth does not count as a lost frame.
void warm_stack() {
    volatile char pad[16 * 1024];
    for (unsigned i = 0; i < sizeof pad; i += 512)
        pad[i] = 0;
}

} // namespace

int main(int argc, char** argv) {
    if (argc == 3 && strcmp(argv[1], "-g") == 0) {
        int index = atoi(argv[2]);
        if (index >= 0 && index < kGroupCount) group_main(index);
    }
    if (argc != 1) {
        printf("usage: isolation          (isolation -g N runs group N alone; its exit status is\n"
               "                           attempts << 16 | blocked)\n");
        return 2;
    }
    warm_stack();
    long start = freeframes();
    printf("# isolation: pid %d, %ld free frames, %d groups\n", getpid(), start, kGroupCount);
    for (int i = 0; i < kGroupCount; ++i)
        run_group(i);
    long end = frames_settle(start, 200);
    ++g_total_attempts;
    char why[64] = "";
    if (end == start)
        ++g_total_blocked;
    else
        snprintf(why, sizeof why, "frames lost: %ld", start - end);
    result(end == start, "every frame back after the suite", 1, why);
    (void)tap_done("isolation: groups");
    printf("isolation: %d attempts, %d blocked, %d got through\n", g_total_attempts,
           g_total_blocked, g_total_attempts - g_total_blocked);
    return g_total_attempts == g_total_blocked ? 0 : 1;
}
