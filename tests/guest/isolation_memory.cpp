// The isolation suite, groups 1-5: memory. Kernel memory, devices, the
// trampoline, the trapframe and what lies beyond MAXVA, directly and as
// pointers in system calls and mm requests; its own text and rodata; another
// process's memory; what an ended process leaves behind.
#include <stdio.h>
#include <stdlib.h>

#include "isolation.h"

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

namespace isolation {

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

namespace {

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

} // namespace

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

namespace {

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

} // namespace

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

} // namespace isolation
