// The isolation suite, groups 6-10: capabilities and the rest. Every
// capability call on every slot; the endpoint to mm (rights, badges, forged
// messages); deleted and revoked slots; mm's mappings (bad addresses, mm-only
// regions, the break); privileged instructions.
#include <stdlib.h>

#include "isolation.h"

namespace isolation {

// ---- group 6: capability calls on every slot --------------------------------

namespace {

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

} // namespace

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
    const uint64_t numbers[] = {uint64_t{0},  uint64_t{3},   uint64_t{9},    uint64_t{98},
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

namespace {

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

} // namespace

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

namespace {

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

} // namespace

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

} // namespace isolation
