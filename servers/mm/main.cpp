// mm: the memory server. The first user task; it owns every free frame (as
// frame capabilities the kernel handed it at boot), builds tasks from the
// boot image, serves their requests, handles their faults, and gets every
// frame back when they exit.
#include <span>

#include "accounting.h"
#include "bootargs.h"
#include "buddy.h"
#include "capframe/abi.h"
#include "capframe/mm_protocol.h"
#include "capframe/sys.h"
#include "format.h"
#include "image.h"

namespace abi = capframe::abi;
namespace mmp = capframe::mmp;
using capframe::Error;
using capframe::Result;
using capframe::mm::Block;
using capframe::mm::SplitSlots;
using capframe::mm::Use;

namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kScratchVa = 0x3000000000; // mm's window onto frames it fills
constexpr uint64_t kFaultBit = uint64_t{1} << 32;
constexpr int kMaxPages = 512; // per task (2 MiB): grows with sbrk in a later issue
constexpr int kMaxTables = 16;

const abi::BootInfo* boot() {
    return reinterpret_cast<const abi::BootInfo*>(abi::kBootInfoVa);
}
std::span<const uint8_t> boot_image() {
    return {reinterpret_cast<const uint8_t*>(abi::kBootImageVa), boot()->image_bytes};
}

Error error_of(int64_t r) {
    switch (static_cast<abi::Errno>(-r)) {
    case abi::Errno::NoMem:
        return Error::NoMemory;
    case abi::Errno::Busy:
        return Error::Busy;
    case abi::Errno::Exist:
        return Error::AlreadyMapped;
    case abi::Errno::NeedTable:
        return Error::NeedTable;
    default:
        return Error::InvalidArgument;
    }
}

// ---- slots of mm's own capability table -------------------------------
struct SlotAllocator {
    uint64_t bits[4096 / 64] = {};
    uint64_t count = 0, hint = 0;
    void init(uint64_t slots, uint64_t first_free) {
        count = slots > 4096 ? 4096 : slots;
        for (uint64_t i = 0; i < first_free; ++i)
            bits[i / 64] |= uint64_t{1} << (i % 64);
        hint = first_free;
    }
    Result<uint32_t> alloc() {
        for (uint64_t n = 0; n < count; ++n) {
            uint64_t i = (hint + n) % count;
            if (!(bits[i / 64] & (uint64_t{1} << (i % 64)))) {
                bits[i / 64] |= uint64_t{1} << (i % 64);
                hint = i + 1;
                return static_cast<uint32_t>(i);
            }
        }
        return Error::TooMany;
    }
    void free(uint32_t i) { bits[i / 64] &= ~(uint64_t{1} << (i % 64)); }
} g_slots;

// The allocator's capability operations: the kernel splits and (by deleting
// the halves) merges frame capabilities.
struct KernelFrameOps {
    Result<SplitSlots> split(uint32_t slot, uint8_t) {
        uint32_t lo = TRY(g_slots.alloc());
        auto hi = g_slots.alloc();
        if (!hi.ok()) {
            g_slots.free(lo);
            return hi.error();
        }
        int64_t r = sys::frame_split(slot, lo, hi.value());
        if (r < 0) {
            g_slots.free(lo), g_slots.free(hi.value());
            return error_of(r);
        }
        return SplitSlots{lo, hi.value()};
    }
    Result<void> merge(uint32_t, uint32_t lower, uint32_t upper) {
        if (sys::cap_delete(lower) < 0) return Error::Busy;
        if (sys::cap_delete(upper) < 0) return Error::Busy; // lower is gone: cannot happen
        g_slots.free(lower), g_slots.free(upper);
        return {};
    }
} g_ops;

capframe::mm::Buddy<KernelFrameOps> g_buddy(g_ops);
capframe::mm::Accounting g_acct;
uint64_t g_endpoint = 0; // mm's endpoint (slot)
uint64_t g_free_at_start = 0;

// ---- tasks ---------------------------------------------------------------
struct Page {
    Block block;
    uint32_t map_slot; // the copy of block's cap that made the mapping
    uint64_t va;
};

struct Task {
    bool used = false;
    int pid = 0;
    char name[24] = {};
    uint32_t table_obj = 0, as_obj = 0, thread_obj = 0, badged_ep = 0;
    Block table_block{}, as_block{}, thread_block{}, kstack_block{};
    Page pages[kMaxPages];
    int page_count = 0;
    Block tables[kMaxTables];
    int table_count = 0;
};
constexpr int kMaxTasks = 16;
Task g_tasks[kMaxTasks];
int g_next_pid = 1;

Task* task_by_pid(int pid) {
    for (Task& t : g_tasks)
        if (t.used && t.pid == pid) return &t;
    return nullptr;
}

Task g_mm_self; // mm's own scratch-window page tables are charged to mm

capframe::mm::TaskId id_of(const Task* t) {
    if (!t || t == &g_mm_self) return capframe::mm::kMmTask;
    return static_cast<capframe::mm::TaskId>(t - g_tasks);
}

Result<Block> alloc_frames(Task* owner, Use use, uint8_t order) {
    Block b = TRY(g_buddy.alloc(order));
    (void)g_acct.charge(id_of(owner), use, uint64_t{1} << order);
    return b;
}

void free_frames(Task* owner, Use use, Block b) {
    (void)g_acct.uncharge(id_of(owner), use, uint64_t{1} << b.order);
    if (!g_buddy.free(b).ok()) sys::printf("mm: BUG: free of block at 0x%lx refused\n", b.pa);
}

// Maps `frame` in an address space, donating page-table pages as the kernel
// asks for them (charged to `owner`, recorded for teardown).
Result<void> map_with_tables(Task* owner, uint64_t frame, uint64_t as, uint64_t va,
                             uint64_t rights) {
    for (int tries = 0; tries < 3; ++tries) {
        int level = 0;
        int64_t r = sys::map(frame, as, va, rights, &level);
        if (r >= 0) return {};
        if (r != abi::error_return(abi::Errno::NeedTable)) return error_of(r);
        if (!owner || owner->table_count == kMaxTables) return Error::TooMany;
        Block t = TRY(alloc_frames(owner, Use::PageTable, 0));
        if (sys::map_table(t.slot, as, va) < 0) {
            free_frames(owner, Use::PageTable, t);
            return Error::InvalidArgument;
        }
        owner->tables[owner->table_count++] = t;
    }
    return Error::InvalidArgument;
}

// Fills a frame through mm's scratch window: zeroes it and copies `len`
// bytes of `src` (if any) to its start.
Result<void> fill_frame(const Block& b, const uint8_t* src, uint64_t len) {
    uint32_t copy = TRY(g_slots.alloc());
    if (sys::cap_copy(b.slot, 0, copy, abi::kRightRead | abi::kRightWrite | abi::kRightMap, 0) <
        0) {
        g_slots.free(copy);
        return Error::InvalidArgument;
    }
    auto mapped = map_with_tables(&g_mm_self, copy, abi::kSlotSelfAs, kScratchVa,
                                  abi::kRightRead | abi::kRightWrite);
    if (!mapped.ok()) {
        (void)sys::cap_delete(copy), g_slots.free(copy);
        return mapped.error();
    }
    auto* dst = reinterpret_cast<volatile uint64_t*>(kScratchVa);
    for (uint64_t i = 0; i < kPage / 8; ++i)
        dst[i] = 0;
    auto* bytes = reinterpret_cast<volatile uint8_t*>(kScratchVa);
    for (uint64_t i = 0; i < len && i < kPage; ++i)
        bytes[i] = src[i];
    (void)sys::cap_delete(copy); // unmaps the scratch window
    g_slots.free(copy);
    return {};
}

// A fresh zeroed (or filled) page mapped at va in the task, through a copy
// of its frame capability so that revoking the frame removes the mapping.
Result<void> give_page(Task* t, uint64_t va, uint64_t rights, const uint8_t* src, uint64_t len) {
    if (t->page_count == kMaxPages) return Error::TooMany;
    Block b = TRY(alloc_frames(t, Use::User, 0));
    auto undo = [&](Error e) -> Error {
        free_frames(t, Use::User, b);
        return e;
    };
    if (auto r = fill_frame(b, src, len); !r.ok()) return undo(r.error());
    auto slot = g_slots.alloc();
    if (!slot.ok()) return undo(slot.error());
    uint64_t map_rights = rights | abi::kRightMap;
    if (sys::cap_copy(b.slot, 0, slot.value(), map_rights, 0) < 0) {
        g_slots.free(slot.value());
        return undo(Error::InvalidArgument);
    }
    if (auto r = map_with_tables(t, slot.value(), t->as_obj, va, rights); !r.ok()) {
        (void)sys::cap_delete(slot.value()), g_slots.free(slot.value());
        return undo(r.error());
    }
    t->pages[t->page_count++] = Page{b, slot.value(), va};
    return {};
}

void drop_page(Task* t, int i) {
    Page& p = t->pages[i];
    if (p.map_slot) (void)sys::cap_delete(p.map_slot), g_slots.free(p.map_slot);
    free_frames(t, Use::User, p.block);
    p = t->pages[--t->page_count];
}

Result<uint32_t> make_object(Task* t, abi::ObjType type, uint8_t order, Block& block) {
    block = TRY(alloc_frames(t, Use::KernelObject, order));
    auto slot = g_slots.alloc();
    if (!slot.ok() || sys::retype(block.slot, type, slot.value()) < 0) {
        if (slot.ok()) g_slots.free(slot.value());
        free_frames(t, Use::KernelObject, block);
        block = Block{};
        return Error::NoMemory;
    }
    return slot.value();
}

void delete_object(Task* t, uint32_t& obj, Block& block, Use use) {
    if (!obj) return;
    if (sys::cap_delete(obj) < 0) sys::printf("mm: BUG: cannot delete object slot %u\n", obj);
    g_slots.free(obj);
    obj = 0;
    free_frames(t, use, block);
}

void teardown(Task* t) {
    delete_object(t, t->thread_obj, t->thread_block, Use::KernelObject); // stops it first
    if (t->kstack_block.slot) {
        free_frames(t, Use::KernelStack, t->kstack_block); // released with the thread
        t->kstack_block = Block{};
    }
    while (t->page_count)
        drop_page(t, t->page_count - 1);
    // Page tables leaf-level first: a table can only go once it is empty.
    for (int pass = 0; pass < 2; ++pass)
        for (int i = 0; i < t->table_count;) {
            if (sys::unmap_table(t->tables[i].slot) == 0) {
                free_frames(t, Use::PageTable, t->tables[i]);
                t->tables[i] = t->tables[--t->table_count];
            } else {
                ++i;
            }
        }
    if (t->table_count) sys::printf("mm: BUG: %d page tables still busy\n", t->table_count);
    delete_object(t, t->as_obj, t->as_block, Use::KernelObject);
    if (t->badged_ep) { // removes the copy in the task's table too
        (void)sys::cap_revoke(t->badged_ep);
        (void)sys::cap_delete(t->badged_ep);
        g_slots.free(t->badged_ep);
        t->badged_ep = 0;
    }
    delete_object(t, t->table_obj, t->table_block, Use::KernelObject);
    (void)g_acct.release_task(id_of(t));
    t->used = false;
}

// Builds a task running `name` from the boot image. Everything it took is
// given back if any step fails.
Result<Task*> spawn(const char* name) {
    static capframe::mm::ProgramView view; // static: mm's stack is small
    TRY(capframe::mm::find_program(boot_image(), name, view));
    const capframe::mm::ProgramView* prog = &view;

    Task* t = nullptr;
    for (Task& s : g_tasks)
        if (!s.used && !t) t = &s;
    if (!t) return Error::TooMany;
    *t = Task{};
    t->used = true;
    t->pid = g_next_pid++;
    for (size_t i = 0; i + 1 < sizeof t->name && name[i]; ++i)
        t->name[i] = name[i];

    auto fail = [&](Error e) -> Error {
        teardown(t);
        return e;
    };
    auto obj = make_object(t, abi::ObjType::CapTable, 0, t->table_block);
    if (!obj.ok()) return fail(obj.error());
    t->table_obj = obj.value();
    if (!(obj = make_object(t, abi::ObjType::AddressSpace, 2, t->as_block)).ok())
        return fail(obj.error());
    t->as_obj = obj.value();
    if (!(obj = make_object(t, abi::ObjType::Thread, 0, t->thread_block)).ok())
        return fail(obj.error());
    t->thread_obj = obj.value();
    {
        auto k = alloc_frames(t, Use::KernelStack, 0);
        if (!k.ok()) return fail(k.error());
        t->kstack_block = k.value();
        if (sys::thread_set_stack(t->thread_obj, t->kstack_block.slot) < 0) {
            free_frames(t, Use::KernelStack, t->kstack_block);
            t->kstack_block = Block{};
            return fail(Error::Busy);
        }
    }

    for (int s = 0; s < prog->segment_count; ++s) {
        const auto& seg = prog->segments[s];
        uint64_t rights = 0;
        if (seg.flags & 4) rights |= abi::kRightRead;
        if (seg.flags & 2) rights |= abi::kRightWrite;
        if (seg.flags & 1) rights |= abi::kRightExec;
        for (uint64_t off = 0; off < seg.memsz; off += kPage) {
            uint64_t len = off < seg.data.size() ? seg.data.size() - off : 0;
            auto r = give_page(t, seg.vaddr + off, rights, seg.data.data() + off, len);
            if (!r.ok()) return fail(r.error());
        }
    }
    for (uint64_t i = 1; i <= abi::kUserStackPages; ++i) {
        auto r = give_page(t, abi::kUserStackTop - i * kPage, abi::kRightRead | abi::kRightWrite,
                           nullptr, 0);
        if (!r.ok()) return fail(r.error());
    }

    // Its way to mm: a copy of mm's endpoint, send-only, badged with the pid.
    auto ep = g_slots.alloc();
    if (!ep.ok()) return fail(ep.error());
    t->badged_ep = ep.value();
    if (sys::cap_copy(g_endpoint, 0, t->badged_ep, abi::kRightWrite, uint64_t(t->pid)) < 0 ||
        sys::cap_copy(t->badged_ep, t->table_obj, abi::kSlotMmEndpoint, abi::kRightWrite, 0) < 0)
        return fail(Error::InvalidArgument);
    // Its faults come to mm too, with the fault bit in the badge.
    auto fault_ep = g_slots.alloc();
    if (!fault_ep.ok()) return fail(fault_ep.error());
    bool ok = sys::cap_copy(g_endpoint, 0, fault_ep.value(), abi::kRightWrite,
                            kFaultBit | uint64_t(t->pid)) == 0 &&
              sys::thread_configure(t->thread_obj, t->as_obj, t->table_obj, fault_ep.value()) == 0;
    (void)sys::cap_delete(fault_ep.value());
    g_slots.free(fault_ep.value());
    if (!ok) return fail(Error::InvalidArgument);
    if (sys::thread_write_regs(t->thread_obj, prog->entry, abi::kUserStackTop, 0, 0) < 0 ||
        sys::thread_start(t->thread_obj) < 0)
        return fail(Error::InvalidArgument);
    return t;
}

capframe::mm::Snapshot snapshot() {
    return g_acct.snapshot(g_buddy.total_frames(), g_buddy.free_frames());
}

void console_sink_write(void*, const char* s, size_t n) {
    sys::write(1, s, n);
}

void meminfo() {
    const abi::BootInfo* b = boot();
    sys::printf("meminfo: RAM free at boot %lu frames; kernel tables %lu, mm's image+objects %lu, "
                "handed to mm %lu\n",
                b->total_frames, b->kernel_boot_frames, b->mm_frames, g_buddy.total_frames());
    capframe::mm::write_meminfo(capframe::Sink{console_sink_write, nullptr}, snapshot(), g_acct);
    for (const Task& t : g_tasks)
        if (t.used) sys::printf("meminfo: task %u is pid %d (%s)\n", id_of(&t), t.pid, t.name);
    uint64_t sum = b->kernel_boot_frames + b->mm_frames + g_buddy.total_frames();
    sys::printf("meminfo: boot accounting %s: %lu + %lu + %lu = %lu of %lu\n",
                sum == b->total_frames ? "adds up" : "MISMATCH", b->kernel_boot_frames,
                b->mm_frames, g_buddy.total_frames(), sum, b->total_frames);
}

int g_init_pid = 0;

// Ends a task; when it is init, reports and shuts the machine down.
void finish(Task* t, int status) {
    int pid = t->pid;
    teardown(t);
    if (pid != g_init_pid) return;
    uint64_t free_now = g_buddy.free_frames();
    sys::printf("mm: init exited; free frames %lu, at start %lu: %s\n", free_now, g_free_at_start,
                free_now == g_free_at_start ? "every frame came back" : "FRAMES LOST");
    sys::shutdown(abi::kSlotControl, free_now == g_free_at_start ? status : 99);
}

[[noreturn]] void serve() {
    sys::Msg m;
    int64_t r = sys::recv(g_endpoint, m);
    for (;;) {
        sys::Msg out;
        bool reply = true;
        uint64_t badge = m.badge;
        Task* t = task_by_pid(static_cast<int>(badge & 0xffffffff));
        if (r < 0 || !t) {
            out.w[0] = static_cast<uint64_t>(abi::error_return(abi::Errno::Inval));
        } else if (badge & kFaultBit) {
            // m = {kFaultLabel, scause, stval, sepc}. Demand paging and
            // copy-on-write come with fork; for now every fault kills.
            sys::printf("mm: pid %d (%s): %s at 0x%016lx, pc 0x%016lx, killed\n", t->pid, t->name,
                        abi::exception_name(m.w[1]), m.w[2], m.w[3]);
            finish(t, -1);
            reply = false;
        } else {
            switch (static_cast<mmp::Request>(m.w[0])) {
            case mmp::Request::Exit:
                sys::printf("mm: pid %d (%s) exited with status %ld\n", t->pid, t->name,
                            static_cast<int64_t>(m.w[1]));
                finish(t, static_cast<int>(m.w[1]));
                reply = false;
                break;
            case mmp::Request::Getpid:
                out.w[0] = static_cast<uint64_t>(t->pid);
                break;
            case mmp::Request::Meminfo: {
                meminfo();
                auto s = snapshot();
                out.w[1] = s.total, out.w[2] = s.free, out.w[3] = s.in_use();
                break;
            }
            case mmp::Request::FreeFrames:
                out.w[1] = g_buddy.free_frames();
                break;
            case mmp::Request::VmPrint: {
                int pid = static_cast<int>(m.w[1]);
                Task* target = pid == 0 ? nullptr : task_by_pid(pid);
                if (pid != 0 && !target) {
                    out.w[0] = static_cast<uint64_t>(abi::error_return(abi::Errno::NoEnt));
                    break;
                }
                sys::printf("vmprint: pid %d (%s)\n", pid, target ? target->name : "mm");
                sys::vmprint_cap(target ? target->as_obj : abi::kSlotSelfAs);
                break;
            }
            case mmp::Request::MapPage: {
                uint64_t rights = abi::kRightRead | (m.w[2] ? abi::kRightWrite : 0);
                auto res = give_page(t, m.w[1], rights, nullptr, 0);
                if (!res.ok())
                    out.w[0] = static_cast<uint64_t>(abi::error_return(
                        res.error() == Error::NoMemory ? abi::Errno::NoMem : abi::Errno::Inval));
                break;
            }
            case mmp::Request::UnmapPage:
            case mmp::Request::RevokePage: {
                int found = -1;
                for (int i = 0; i < t->page_count; ++i)
                    if (t->pages[i].va == m.w[1]) found = i;
                if (found < 0) {
                    out.w[0] = static_cast<uint64_t>(abi::error_return(abi::Errno::Inval));
                } else if (static_cast<mmp::Request>(m.w[0]) == mmp::Request::UnmapPage) {
                    drop_page(t, found);
                } else {
                    // Revoke the frame: every capability derived from it
                    // goes, and with them the mappings they made.
                    Page& p = t->pages[found];
                    int64_t n = sys::cap_revoke(p.block.slot);
                    g_slots.free(p.map_slot);
                    p.map_slot = 0;
                    out.w[1] = static_cast<uint64_t>(n);
                }
                break;
            }
            default:
                out.w[0] = static_cast<uint64_t>(abi::error_return(abi::Errno::NoSys));
            }
        }
        if (reply) {
            m = out;
            r = sys::reply_recv(g_endpoint, m);
        } else {
            r = sys::recv(g_endpoint, m);
        }
    }
}

// ---- self-test (bootarg mmtest=1) ----------------------------------------
// Bad input that needs real frame capabilities, which only mm holds. Each
// check prints a TAP line; the runner counts them. Everything is given back.
int g_selftest_failures = 0;

void check(bool ok, const char* what) {
    if (!ok) ++g_selftest_failures;
    sys::printf("%s - mm: %s\n", ok ? "ok" : "not ok", what);
}

int64_t err(abi::Errno e) {
    return abi::error_return(e);
}

void selftest() {
    constexpr uint64_t kTestVa = 0x3100000000;
    const uint64_t self_as = abi::kSlotSelfAs;
    const uint64_t rw = abi::kRightRead | abi::kRightWrite;
    uint64_t free_before = g_buddy.free_frames();
    int tables_before = g_mm_self.table_count;

    Block f = g_buddy.alloc(0).value();
    uint32_t s1 = g_slots.alloc().value(), s2 = g_slots.alloc().value(),
             s3 = g_slots.alloc().value();

    int level = -1;
    check(sys::map(f.slot, self_as, kTestVa, rw, &level) == err(abi::Errno::NeedTable) &&
              level == 1,
          "map where no table exists asks for a level-1 table");
    check(map_with_tables(&g_mm_self, f.slot, self_as, kTestVa, rw).ok(),
          "map succeeds once mm donates the tables");
    check(sys::map(f.slot, self_as, kTestVa + 0x1000, rw) == err(abi::Errno::Busy),
          "a frame capability maps once (a copy is needed to share)");
    check(sys::cap_copy(f.slot, 0, s1, abi::kRightsAll, 0) == 0 &&
              sys::map(s1, self_as, kTestVa, rw) == err(abi::Errno::Exist),
          "mapping over an existing mapping is refused");
    check(sys::map(s1, self_as, kTestVa + 0x1000, rw) == 0, "a copy maps the frame a second time");
    *reinterpret_cast<volatile uint64_t*>(kTestVa) = 0xabcd;
    check(*reinterpret_cast<volatile uint64_t*>(kTestVa + 0x1000) == 0xabcd,
          "both mappings show the same frame");
    check(sys::cap_revoke(f.slot) == 1 && sys::cap_info(s1) == err(abi::Errno::BadSlot),
          "revoke deletes the copy");
    check(sys::map(s1, self_as, kTestVa + 0x1000, rw) == err(abi::Errno::BadSlot) &&
              sys::cap_copy(f.slot, 0, s1, abi::kRightsAll, 0) == 0 &&
              sys::map(s1, self_as, kTestVa + 0x1000, rw) == 0,
          "revoke removed the copy's mapping (its address maps again)");
    (void)sys::cap_delete(s1);
    check(sys::unmap(f.slot) == 0 && sys::unmap(f.slot) == err(abi::Errno::Inval),
          "unmap, and unmap of an unmapped frame is refused");

    check(sys::map(f.slot, self_as, abi::kMaxVa, abi::kRightRead) == err(abi::Errno::Range),
          "map at MAXVA is refused");
    check(sys::map(f.slot, self_as, abi::kTrampolineVa, abi::kRightRead) == err(abi::Errno::Range),
          "map over the trampoline is refused");
    check(sys::map(f.slot, self_as, abi::kTrapframeVa, abi::kRightRead) == err(abi::Errno::Range),
          "map over the trapframe is refused");
    check(sys::map(f.slot, self_as, ~uint64_t{0} & ~uint64_t{0xfff}, abi::kRightRead) ==
              err(abi::Errno::Range),
          "map at 2^64 - 4096 is refused");
    check(sys::map(f.slot, self_as, kTestVa + 0x123, abi::kRightRead) == err(abi::Errno::Inval),
          "map at an unaligned address is refused");
    check(sys::map(f.slot, self_as, kTestVa,
                   abi::kRightWrite | abi::kRightExec | abi::kRightRead) == err(abi::Errno::Inval),
          "W+X is refused");
    check(sys::map(f.slot, self_as, kTestVa, abi::kRightWrite) == err(abi::Errno::Inval),
          "W without R is refused");
    check(sys::map(f.slot, self_as, kTestVa, 0x80) == err(abi::Errno::Inval),
          "unknown rights bits are refused");
    check(sys::cap_copy(f.slot, 0, s1, abi::kRightRead | abi::kRightMap, 0) == 0 &&
              sys::map(s1, self_as, kTestVa, rw) == err(abi::Errno::Perm),
          "a read-only copy cannot map writable");
    (void)sys::cap_delete(s1);
    check(sys::cap_copy(f.slot, 0, s1, abi::kRightRead, 0) == 0 &&
              sys::map(s1, self_as, kTestVa, abi::kRightRead) == err(abi::Errno::Perm),
          "a copy without the map right cannot map");
    check(sys::retype(s1, abi::ObjType::Endpoint, s2) == err(abi::Errno::Perm),
          "a copy without the donate right cannot be retyped");
    check(sys::cap_delete(f.slot) == err(abi::Errno::Busy),
          "a frame with copies cannot be deleted");
    (void)sys::cap_delete(s1);

    check(sys::retype(f.slot, abi::ObjType::AddressSpace, s1) == err(abi::Errno::Inval),
          "an address space needs an order-2 frame");
    check(sys::retype(f.slot, abi::ObjType::Frame, s1) == err(abi::Errno::Inval),
          "retype into a frame is refused");
    check(sys::retype(f.slot, abi::ObjType::Endpoint, s1) == 0, "retype the frame as an endpoint");
    check(sys::map(f.slot, self_as, kTestVa, abi::kRightRead) == err(abi::Errno::Busy),
          "a donated frame cannot be mapped");
    check(sys::cap_copy(f.slot, 0, s2, abi::kRightsAll, 0) == err(abi::Errno::Busy),
          "a donated frame cannot be copied");
    check(sys::cap_delete(f.slot) == err(abi::Errno::Busy), "a donated frame cannot be deleted");
    check(sys::cap_copy(s1, 0, s2, abi::kRightsAll, 0) == 0 && sys::cap_delete(s2) == 0,
          "copy and delete an endpoint capability");
    sys::Msg m;
    check(sys::call(s2, m) == err(abi::Errno::BadSlot), "IPC to a deleted endpoint is refused");
    check(sys::reply(m) == err(abi::Errno::NoCaller), "reply with no caller is refused");
    check(sys::cap_delete(s1) == 0 && sys::map(f.slot, self_as, kTestVa, rw) == 0 &&
              *reinterpret_cast<volatile uint64_t*>(kTestVa) == 0,
          "deleting the endpoint gives back a zeroed, mappable frame");
    (void)sys::unmap(f.slot);

    Block big = g_buddy.alloc(1).value();
    check(sys::frame_split(big.slot, s1, s2) == 0 &&
              sys::map(big.slot, self_as, kTestVa, abi::kRightRead) == err(abi::Errno::Busy),
          "a split frame cannot be mapped");
    check(sys::frame_split(big.slot, s3, s3) == err(abi::Errno::Inval) ||
              sys::frame_split(big.slot, s3, s3) == err(abi::Errno::Busy),
          "a frame splits only once");
    check(sys::cap_delete(s1) == 0 && sys::cap_delete(s2) == 0 &&
              (sys::cap_info(big.slot) >> 24 & abi::kCapSplit) == 0,
          "deleting both halves makes the frame whole again");
    check(sys::frame_split(f.slot, s1, s2) == err(abi::Errno::Inval),
          "an order-0 frame cannot split");
    (void)g_buddy.free(big);

    g_slots.free(s1), g_slots.free(s2), g_slots.free(s3);
    (void)g_buddy.free(f);
    // The tables donated for the test mappings go back, leaf level first.
    bool tables_back = true;
    while (g_mm_self.table_count > tables_before) {
        Block t = g_mm_self.tables[--g_mm_self.table_count];
        tables_back = tables_back && sys::unmap_table(t.slot) == 0;
        free_frames(&g_mm_self, Use::PageTable, t);
    }
    check(tables_back, "the emptied page tables are given back");
    check(g_buddy.free_frames() == free_before, "every frame is back after the self-test");
    sys::printf("mm: self-test: %d failure(s)\n", g_selftest_failures);
}

} // namespace

int main() {
    const abi::BootInfo* b = boot();
    if (b->magic != abi::kBootInfoMagic) {
        sys::printf("mm: no BootInfo from the kernel\n");
        sys::shutdown(abi::kSlotControl, 1);
    }
    g_slots.init(b->mm_captable_slots, b->first_free_slot);
    auto* meta = reinterpret_cast<capframe::mm::FrameMeta*>(abi::kFrameMetaVa);
    if (!g_buddy.init(b->window_base, std::span(meta, b->window_frames)).ok()) {
        sys::printf("mm: bad frame window\n");
        sys::shutdown(abi::kSlotControl, 1);
    }
    for (uint64_t s = b->first_frame_slot; s < b->first_frame_slot + b->frame_slot_count; ++s) {
        uint64_t pa = 0;
        int64_t info = sys::cap_info(s, &pa);
        uint8_t order = static_cast<uint8_t>(info >> 16);
        if (info < 0 || !g_buddy.add_root(Block{static_cast<uint32_t>(s), pa, order}).ok())
            sys::printf("mm: frame capability %lu unusable\n", s);
    }
    g_free_at_start = g_buddy.free_frames();
    sys::printf("mm: %lu free frames (%lu MiB) in %lu capabilities\n", g_free_at_start,
                g_free_at_start >> 8, b->frame_slot_count);

    Block ep_block{};
    auto ep = make_object(nullptr, abi::ObjType::Endpoint, 0, ep_block);
    if (!ep.ok()) {
        sys::printf("mm: cannot make its endpoint\n");
        sys::shutdown(abi::kSlotControl, 1);
    }
    g_endpoint = ep.value();
    // Warm the scratch window once (its page tables stay), so that from here
    // "back where it started" is exact.
    if (auto w = alloc_frames(nullptr, Use::User, 0); w.ok()) {
        (void)fill_frame(w.value(), nullptr, 0);
        free_frames(nullptr, Use::User, w.value());
    }
    g_free_at_start = g_buddy.free_frames();

    char flag[8];
    if (capframe::find_bootarg(boot()->bootargs, "mmtest", flag, sizeof flag)) selftest();

    char init[24] = "hello";
    (void)capframe::find_bootarg(boot()->bootargs, "init", init, sizeof init);
    auto t = spawn(init);
    if (!t.ok()) {
        sys::printf("mm: cannot start '%s': %s\n", init, capframe::error_name(t.error()));
        sys::shutdown(abi::kSlotControl, 1);
    }
    g_init_pid = t.value()->pid;
    sys::printf("mm: started pid %d (%s)\n", g_init_pid, init);
    serve();
    return 0;
}
