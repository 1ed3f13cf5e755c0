#include "syscalls.h"

#include <atomic>

#include "arch/riscv64/csr.h"
#include "cap.h"
#include "capframe/abi.h"
#include "capframe/calls.h"
#include "console.h"
#include "hart.h"
#include "thread.h"
#include "trap.h"
#include "vm.h"
#include "vmops.h"
#include "vmprint.h"

namespace capframe {
namespace {

using abi::Errno;
using abi::Sys;

} // namespace

int64_t syscall_errno(Error e) {
    switch (e) {
    case Error::BadSlot:
        return abi::error_return(Errno::BadSlot);
    case Error::BadType:
        return abi::error_return(Errno::BadType);
    case Error::Permission:
        return abi::error_return(Errno::Perm);
    case Error::Busy:
    case Error::TooMany:
        return abi::error_return(Errno::Busy);
    case Error::AlreadyMapped:
        return abi::error_return(Errno::Exist);
    case Error::OutOfRange:
        return abi::error_return(Errno::Range);
    case Error::NeedTable:
        return abi::error_return(Errno::NeedTable);
    case Error::NoCaller:
        return abi::error_return(Errno::NoCaller);
    case Error::Dead:
        return abi::error_return(Errno::Dead);
    case Error::Fault:
        return abi::error_return(Errno::Fault);
    case Error::NotFound:
        return abi::error_return(Errno::NoEnt);
    case Error::NoSystemCall:
        return abi::error_return(Errno::NoSys);
    default:
        return abi::error_return(Errno::Inval);
    }
}

namespace {

// Reads a user table without ever allocating (the kernel walks it only).
struct NoAllocTables {
    uint64_t* table(PhysAddr pa) { return reinterpret_cast<uint64_t*>(pa.value()); }
    Result<PhysAddr> alloc_table() { return Error::NoMemory; }
    void free_table(PhysAddr) {}
};

// Checked access to user memory: every page mapped in t's table with U and
// `need` (R to read, W to write). A copy-on-write page is not writable until
// its first write fault: libsys then asks mm to prepare it and tries again.
Result<void> check_user(const Thread& t, uint64_t va, uint64_t n, Perm need) {
    uint64_t end = va + n;
    if (end < va || end > kMaxVa) return Error::Fault;
    for (uint64_t page = align_down(va, kPageSize); page < end; page += kPageSize) {
        NoAllocTables mem;
        auto tr = Sv39<NoAllocTables>(mem, PhysAddr(t.as->root)).translate(VirtAddr(page));
        if (!tr.ok() || !has(tr.value().perm, Perm::U) || !has(tr.value().perm, need))
            return Error::Fault;
    }
    return {};
}

// Copies between the kernel and user memory that check_user accepted:
// through the translation, never through the user's own mapping.
void copy_user(const Thread& t, char* kernel, uint64_t va, uint64_t n, bool to_user) {
    NoAllocTables mem;
    Sv39<NoAllocTables> table(mem, PhysAddr(t.as->root));
    while (n) {
        uint64_t chunk = kPageSize - (va & (kPageSize - 1));
        if (chunk > n) chunk = n;
        char* user = reinterpret_cast<char*>(table.translate(VirtAddr(va)).value().pa.value());
        for (uint64_t i = 0; i < chunk; ++i) {
            if (to_user)
                user[i] = kernel[i];
            else
                kernel[i] = user[i];
        }
        kernel += chunk, va += chunk, n -= chunk;
    }
}

Result<int64_t> sys_console_read(Thread& t, SyscallArgs a) {
    uint64_t buf = a[0], len = a[1];
    if (len == 0) return 0;
    if (len > abi::kWriteChunk) len = abi::kWriteChunk;
    TRY(check_user(t, buf, len, Perm::W));
    char chunk[abi::kWriteChunk];
    uint64_t n = 0;
    for (int c; n < len && (c = console_getc()) >= 0; ++n)
        chunk[n] = static_cast<char>(c == '\r' ? '\n' : c);
    copy_user(t, chunk, buf, n, true);
    return static_cast<int64_t>(n);
}

// A console write prints at most kWriteChunk bytes per call and returns how
// many: the UART is polled with the lock held and interrupts off, so one call
// must not keep every other hart out for long (libsys's write loops). The
// whole buffer (up to kWriteMax) is checked first, so a buffer that is not
// all the caller's fails before anything is printed.
Result<int64_t> sys_debug_write(Thread& t, SyscallArgs a) {
    uint64_t fd = a[0], buf = a[1], len = a[2];
    if (fd != 1 && fd != 2) return Error::InvalidArgument;
    if (len > abi::kWriteMax) len = abi::kWriteMax;
    if (len == 0) return 0;
    TRY(check_user(t, buf, len, Perm::R));
    char chunk[abi::kWriteChunk];
    uint64_t n = len < sizeof chunk ? len : sizeof chunk;
    copy_user(t, chunk, buf, n, false);
    console_write(chunk, n);
    return static_cast<int64_t>(n);
}

// Uptime and Timebase (kLockFree): the light path answers them with
// lock_free_call() before it would come here; the table's rows keep the
// numbers valid for the generic decoder all the same.
Result<int64_t> sys_lock_free(Thread& t, SyscallArgs) {
    return static_cast<int64_t>(lock_free_call(t.tf.regs[arch::a7]));
}

// The longest kernel-lock hold so far (hart.h), and optionally a fresh start:
// benchmarks and soaks read it around a workload.
Result<int64_t> sys_lock_stats(Thread& t, SyscallArgs a) {
    if (a[0] > 1) return Error::InvalidArgument;
    uint64_t longest = g_kernel_lock.longest;
    t.tf.regs[arch::a1] = g_kernel_lock.gen;
    if (a[0]) g_kernel_lock.longest = 0;
    return static_cast<int64_t>(longest);
}

Result<int64_t> sys_yield(Thread&, SyscallArgs) {
    yield();
    return 0;
}

Result<int64_t> sys_sleep(Thread&, SyscallArgs a) {
    if (a[0] > (uint64_t{1} << 40)) return Error::InvalidArgument;
    if (a[0] == 0)
        yield();
    else
        thread_sleep(a[0]);
    return 0;
}

Result<int64_t> sys_shutdown(Thread& t, SyscallArgs a) {
    TRY(lookup(t, a[0], ObjType::Control));
    kprintf("kernel: shutdown requested with status %ld\n", static_cast<int64_t>(a[1]));
    shutdown(a[1] != 0);
}

#ifdef CAPFRAME_TEST_KERNEL
// Test kernels only: proves the guard page under every kernel stack.
volatile uint64_t g_recursion_limit = ~uint64_t{0}; // never reached: the guard page is

[[gnu::noinline]] uint64_t recurse_forever(uint64_t depth) {
    volatile uint64_t frame[32];
    frame[depth % 32] = depth;
    if (depth >= g_recursion_limit) return depth;
    return recurse_forever(depth + 1) + frame[depth % 32];
}

Result<int64_t> sys_debug_kstack_overflow(Thread&, SyscallArgs) {
    return static_cast<int64_t>(recurse_forever(1));
}

// Stays in the kernel, lock held and interrupts off, for a0 ms (at most
// 20 s): what a kernel bug looks like to the watchdog. a0 ms on the clock
// and a0 ms worth of the lock's wait loop (watchdog_calibrate): a hold that
// is long in this hart's own work too, not only because the host left the
// hart's thread waiting.
Result<int64_t> sys_debug_hold_lock(Thread&, SyscallArgs a) {
    if (a[0] > 20000) return Error::InvalidArgument;
    std::atomic<uint32_t> held{1};
    uint64_t end = arch::read_time() + a[0] * timer_timebase() / 1000;
    uint64_t turns = a[0] * lock_wait_turns_per_ms();
    for (uint64_t spins = 0; held.load(std::memory_order_relaxed);)
        if ((++spins & 0xffff) == 0 && spins >= turns && arch::read_time() >= end) break;
    return 0;
}

Result<int64_t> sys_debug_on_hart_refusals(Thread&, SyscallArgs) {
    return static_cast<int64_t>(thread_on_hart_refusals());
}
#endif

// The system-call table: number -> decoder, and what the call may do. A
// number without an entry (or a debug call in a production kernel) is ENOSYS.
//   kLight: never blocks, yields or switches threads and never reads the
//     caller's saved registers, so it may take the light trap path
//     (trampoline.S: only the registers C code may clobber are saved).
//   kBatchable: may be an entry of a Batch (syscall_batch.cpp): light, and
//     does not print, wait for another hart or take part in IPC (but
//     ThreadReply: it only makes a caller that waits for it ready, as a
//     deferred reply, and a server's answers ride its next receive).
//   kOnlyFirst: changes no capability but the one its first argument names
//     (and an empty slot it fills), so a batch need not check its own page's
//     capability again after it unless the first argument names that one.
//   kLockFree: light, and reads nothing but the clock and boot-time
//     constants, so the light path runs it without the kernel lock.
enum : uint8_t { kLight = 1, kBatchable = 2, kOnlyFirst = 4, kLockFree = 8 };
struct Entry {
    Sys number;
    SyscallHandler handler;
    uint8_t flags;
};
constexpr Entry kEntries[] = {
    {Sys::DebugWrite, sys_debug_write, kLight},
    {Sys::ConsoleRead, sys_console_read, kLight},
    {Sys::Uptime, sys_lock_free, kLight | kLockFree},
    {Sys::Yield, sys_yield, 0},
    {Sys::Timebase, sys_lock_free, kLight | kLockFree},
    {Sys::Sleep, sys_sleep, 0},
    {Sys::LockStats, sys_lock_stats, kLight},
#ifdef CAPFRAME_TEST_KERNEL
    {Sys::DebugKstackOverflow, sys_debug_kstack_overflow, 0},
    {Sys::DebugHoldLock, sys_debug_hold_lock, 0},
    {Sys::DebugOnHartRefusals, sys_debug_on_hart_refusals, 0},
#endif
    {Sys::CapInfo, sys_cap_info, kLight | kBatchable | kOnlyFirst},
    {Sys::CapCopy, sys_cap_copy, kLight | kBatchable | kOnlyFirst},
    {Sys::CapDelete, sys_cap_delete, kLight | kBatchable},
    {Sys::CapRevoke, sys_cap_revoke, kLight | kBatchable},
    {Sys::FrameSplit, sys_frame_split, kLight | kBatchable},
    {Sys::Retype, sys_retype, kLight | kBatchable},
    {Sys::CapAttach, sys_cap_attach, kLight | kBatchable},
    {Sys::CapDetach, sys_cap_detach, kLight | kBatchable},
    {Sys::FrameMerge, sys_frame_merge, kLight | kBatchable},
    {Sys::CapMove, sys_cap_move, kLight | kBatchable},
    {Sys::Map, sys_map, kLight | kBatchable | kOnlyFirst},
    {Sys::Unmap, sys_unmap, kLight | kBatchable | kOnlyFirst},
    {Sys::Protect, sys_protect, kLight | kBatchable | kOnlyFirst},
    {Sys::ProtectRange, sys_protect_range, kLight | kBatchable | kOnlyFirst},
    {Sys::FrameZero, sys_frame_zero, kLight | kBatchable | kOnlyFirst},
    {Sys::MapTable, sys_map_table, kLight | kBatchable},
    {Sys::UnmapTable, sys_unmap_table, kLight | kBatchable},
    {Sys::VmPrint, sys_vmprint, kLight},
    {Sys::ThreadConfigure, sys_thread_configure, kLight | kBatchable},
    {Sys::ThreadSetStack, sys_thread_set_stack, kLight | kBatchable},
    {Sys::ThreadWriteRegs, sys_thread_write_regs, kLight | kBatchable},
    {Sys::ThreadStart, sys_thread_start, kLight | kBatchable},
    {Sys::ThreadSuspend, sys_thread_suspend, 0},
    {Sys::ThreadReply, sys_thread_reply, kLight | kBatchable},
    {Sys::ThreadCopyRegs, sys_thread_copy_regs, kLight | kBatchable},
    {Sys::Call, sys_call, 0},
    {Sys::Recv, sys_recv, 0},
    {Sys::Reply, sys_reply, kLight},
    {Sys::ReplyRecv, sys_reply_recv, 0},
    {Sys::Shutdown, sys_shutdown, 0},
    {Sys::Batch, sys_batch, kLight},
};

constexpr uint64_t table_size() {
    uint64_t n = 0;
    for (const Entry& e : kEntries)
        if (static_cast<uint64_t>(e.number) + 1 > n) n = static_cast<uint64_t>(e.number) + 1;
    return n;
}

struct Table {
    SyscallHandler at[table_size()] = {};
    uint8_t flags[table_size()] = {};
    uint64_t light_mask = 0;     // bit n: call n is kLight
    uint64_t lock_free_mask = 0; // bit n: call n is kLockFree
    constexpr Table() {
        for (const Entry& e : kEntries) {
            auto n = static_cast<uint64_t>(e.number);
            at[n] = e.handler;
            flags[n] = e.flags;
            if (e.flags & kLight) light_mask |= uint64_t{1} << n;
            if (e.flags & kLockFree) lock_free_mask |= uint64_t{1} << n;
        }
    }
};
constexpr Table kTable;
static_assert((kTable.lock_free_mask & ~kTable.light_mask) == 0, "a lock-free call is light");
static_assert(kTable.lock_free_mask == ((uint64_t{1} << static_cast<uint64_t>(Sys::Uptime)) |
                                        (uint64_t{1} << static_cast<uint64_t>(Sys::Timebase))),
              "lock_free_call() (syscalls.h) answers exactly the kLockFree calls");

// Two entries for one number would leave one unreachable.
constexpr bool numbers_unique() {
    for (const Entry& e : kEntries)
        if (kTable.at[static_cast<uint64_t>(e.number)] != e.handler) return false;
    return true;
}
static_assert(numbers_unique(), "two system calls share a number");

// The batchable calls libsys passes through (abi/capframe/calls.h) are the
// kBatchable rows here, but for the four it decodes by hand (CapInfo,
// Retype, Map, ThreadReply): a call added to one list and not the other
// does not build.
#define CAPFRAME_CHECK_BATCHABLE(function, number, count)                                          \
    static_assert(kTable.flags[static_cast<uint64_t>(Sys::number)] & kBatchable,                   \
                  #number " is batchable in abi/capframe/calls.h, not in the table");
CAPFRAME_PASS_THROUGH_BATCHABLE(CAPFRAME_CHECK_BATCHABLE)
#undef CAPFRAME_CHECK_BATCHABLE
constexpr uint64_t batchable_rows() {
    uint64_t n = 0;
    for (const Entry& e : kEntries)
        n += (e.flags & kBatchable) != 0;
    return n;
}
#define CAPFRAME_COUNT_ROW(function, number, count) +1
static_assert(batchable_rows() == 4 CAPFRAME_PASS_THROUGH_BATCHABLE(CAPFRAME_COUNT_ROW),
              "a kBatchable row that abi/capframe/calls.h does not list (nor libsys decode)");
#undef CAPFRAME_COUNT_ROW

} // namespace

uint64_t syscall_light_mask() {
    return kTable.light_mask;
}

constinit const uint64_t g_syscall_lock_free_mask = kTable.lock_free_mask;

namespace {
struct BatchTable {
    BatchCall at[table_size()];
    constexpr BatchTable() {
        for (uint64_t n = 0; n < table_size(); ++n)
            if (kTable.flags[n] & kBatchable)
                at[n] = {kTable.at[n], (kTable.flags[n] & kOnlyFirst) != 0};
    }
};
constexpr BatchTable kBatchTable;
} // namespace

constinit const BatchCall* const g_batch_calls = kBatchTable.at;
constinit const uint64_t g_batch_calls_count = table_size();

void do_syscall(Thread& t) {
    do_syscall(t, t.tf.regs[arch::a7]);
}

void do_syscall(Thread& t, uint64_t n) {
    // The arguments where uservec saved them (a0..a5, contiguous).
    const uint64_t(&a)[6] = *reinterpret_cast<const uint64_t(*)[6]>(&t.tf.regs[arch::a0]);
    SyscallHandler h = n < sizeof kTable.at / sizeof kTable.at[0] ? kTable.at[n] : nullptr;
    Result<int64_t> r = h ? h(t, a) : Result<int64_t>(Error::NoSystemCall);
    t.tf.regs[arch::a0] = static_cast<uint64_t>(r.ok() ? r.value() : syscall_errno(r.error()));
}

} // namespace capframe
