#include "syscalls.h"

#include "arch/riscv64/csr.h"
#include "cap.h"
#include "capframe/abi.h"
#include "console.h"
#include "lib/vmprint.h"
#include "thread.h"
#include "trap.h"
#include "vm.h"
#include "vmops.h"

namespace capframe {
namespace {

using abi::Errno;
using abi::Sys;

int64_t errno_of(Error e) {
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
    default:
        return abi::error_return(Errno::Inval);
    }
}

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

int64_t sys_console_read(Thread& t, uint64_t buf, uint64_t len) {
    if (len == 0) return 0;
    if (len > abi::kWriteChunk) len = abi::kWriteChunk;
    if (!check_user(t, buf, len, Perm::W).ok()) return abi::error_return(Errno::Fault);
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
int64_t sys_debug_write(Thread& t, uint64_t fd, uint64_t buf, uint64_t len) {
    if (fd != 1 && fd != 2) return abi::error_return(Errno::Inval);
    if (len > abi::kWriteMax) len = abi::kWriteMax;
    if (len == 0) return 0;
    if (!check_user(t, buf, len, Perm::R).ok()) return abi::error_return(Errno::Fault);
    char chunk[abi::kWriteChunk];
    uint64_t n = len < sizeof chunk ? len : sizeof chunk;
    copy_user(t, chunk, buf, n, false);
    console_write(chunk, n);
    return static_cast<int64_t>(n);
}

// Thread capabilities: W to change or run the thread (configure, stack,
// registers, start, suspend, a deferred reply), R to read its registers
// (the source of ThreadCopyRegs).
Result<Thread*> thread_cap(Thread& t, uint64_t slot, uint8_t need) {
    Cap* c = TRY(lookup(t, slot, ObjType::Thread));
    if (!c->has(need)) return Error::Permission;
    return phys_to<Thread>(c->object);
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
#endif

// Each case decodes its capabilities with TRY (an error returns before any
// change) and then performs.
Result<int64_t> dispatch(Thread& t, uint64_t n, const uint64_t a[6], bool& unknown) {
    switch (static_cast<Sys>(n)) {
    case Sys::DebugWrite:
        return sys_debug_write(t, a[0], a[1], a[2]);
    case Sys::ConsoleRead:
        return sys_console_read(t, a[0], a[1]);
    case Sys::Uptime:
        return static_cast<int64_t>(timer_ticks());
    case Sys::Sleep:
        if (a[0] > (uint64_t{1} << 40)) return Error::InvalidArgument;
        if (a[0] == 0)
            yield();
        else
            thread_sleep(a[0]);
        return 0;
    case Sys::Yield:
        yield();
        return 0;
    case Sys::Timebase:
        return static_cast<int64_t>(timer_timebase());
    case Sys::DebugKstackOverflow:
#ifdef CAPFRAME_TEST_KERNEL
        return static_cast<int64_t>(recurse_forever(1));
#else
        break; // not in this kernel: ENOSYS
#endif
    case Sys::DebugHoldLock:
#ifdef CAPFRAME_TEST_KERNEL
        // Stays in the kernel, lock held and interrupts off, for a0 ms (at
        // most 20 s): what a kernel bug looks like to the watchdog.
        if (a[0] > 20000) return Error::InvalidArgument;
        for (uint64_t end = arch::read_time() + a[0] * timer_timebase() / 1000;
             arch::read_time() < end;) {
        }
        return 0;
#else
        break;
#endif

    case Sys::DebugOnHartRefusals:
#ifdef CAPFRAME_TEST_KERNEL
        return static_cast<int64_t>(thread_on_hart_refusals());
#else
        break;
#endif

    case Sys::CapInfo: {
        Cap* c = TRY(lookup(t, a[0], ObjType::Null));
        t.tf.regs[arch::a1] = c->object;
        return int64_t{static_cast<uint8_t>(c->type)} | int64_t{c->rights} << 8 |
               int64_t{c->order} << 16 | int64_t{c->flags} << 24;
    }
    case Sys::CapCopy: {
        Cap* src = TRY(lookup(t, a[0], ObjType::Null));
        CapTableRef dst_table = TRY(table_of(t, a[1]));
        Cap* dst = TRY(lookup_empty(dst_table, a[2]));
        if (a[3] > 0xff) return Error::InvalidArgument;
        TRY(cap_copy(src, dst, static_cast<uint8_t>(a[3]), a[4]));
        return 0;
    }
    case Sys::CapDelete: {
        Cap* c = TRY(lookup(t, a[0], ObjType::Null));
        TRY(cap_delete(c));
        return 0;
    }
    case Sys::CapRevoke: {
        Cap* c = TRY(lookup(t, a[0], ObjType::Null));
        return static_cast<int64_t>(TRY(cap_revoke(c)));
    }
    case Sys::FrameSplit: {
        Cap* f = TRY(lookup(t, a[0], ObjType::Frame));
        Cap* lo = TRY(lookup_empty(t.table, a[1]));
        Cap* hi = TRY(lookup_empty(t.table, a[2]));
        TRY(frame_split(f, lo, hi));
        return 0;
    }
    case Sys::Retype: {
        Cap* f = TRY(lookup(t, a[0], ObjType::Frame));
        Cap* dst = TRY(lookup_empty(t.table, a[2]));
        if (a[1] > 0xff) return Error::InvalidArgument;
        TRY(retype(f, static_cast<ObjType>(a[1]), dst));
        return 0;
    }

    case Sys::Map: {
        Cap* f = TRY(lookup(t, a[0], ObjType::Frame));
        Cap* as = TRY(lookup(t, a[1], ObjType::AddressSpace));
        if (a[3] > 0xff) return Error::InvalidArgument;
        int level = 0;
        auto r = frame_map(f, as_of(as->object), a[2], static_cast<uint8_t>(a[3]), &level);
        if (!r.ok() && r.error() == Error::NeedTable) t.tf.regs[arch::a1] = level;
        TRY(r);
        return 0;
    }
    case Sys::Unmap: {
        Cap* f = TRY(lookup(t, a[0], ObjType::Frame));
        TRY(frame_unmap_checked(f));
        return 0;
    }
    case Sys::Protect: {
        Cap* f = TRY(lookup(t, a[0], ObjType::Frame));
        if (a[1] > 0xff) return Error::InvalidArgument;
        TRY(frame_protect(f, static_cast<uint8_t>(a[1])));
        return 0;
    }
    case Sys::MapTable: {
        Cap* f = TRY(lookup(t, a[0], ObjType::Frame));
        Cap* as = TRY(lookup(t, a[1], ObjType::AddressSpace));
        return TRY(table_map(f, as_of(as->object), a[2]));
    }
    case Sys::UnmapTable: {
        Cap* f = TRY(lookup(t, a[0], ObjType::Frame));
        TRY(table_unmap(f));
        return 0;
    }
    case Sys::VmPrint: {
        Cap* c = TRY(lookup(t, a[0], ObjType::Null));
        if (c->type == ObjType::AddressSpace)
            as_vmprint(as_of(c->object));
        else if (c->type == ObjType::Control)
            kernel_vmprint();
        else
            return Error::BadType;
        return 0;
    }

    case Sys::ThreadConfigure: {
        Thread* target = TRY(thread_cap(t, a[0], abi::kRightWrite));
        Cap* as = TRY(lookup(t, a[1], ObjType::AddressSpace));
        CapTableRef table = TRY(table_of(t, a[2]));
        if (a[2] == 0) return Error::InvalidArgument; // name the table explicitly
        Endpoint* ep = nullptr;
        uint64_t badge = 0;
        if (a[3]) {
            Cap* e = TRY(lookup(t, a[3], ObjType::Endpoint));
            ep = phys_to<Endpoint>(e->object);
            badge = e->badge;
        }
        TRY(thread_configure(target, as_of(as->object), table, ep, badge));
        return 0;
    }
    case Sys::ThreadSetStack: {
        Thread* target = TRY(thread_cap(t, a[0], abi::kRightWrite));
        Cap* f = TRY(lookup(t, a[1], ObjType::Frame));
        if (target->kstack_cap) return Error::Busy;
        uint64_t slot = TRY(kstack_install(f));
        target->kstack_cap = f;
        target->kstack_slot = slot;
        return static_cast<int64_t>(slot);
    }
    case Sys::ThreadWriteRegs: {
        Thread* target = TRY(thread_cap(t, a[0], abi::kRightWrite));
        if (!thread_detached(target)) return Error::Busy;
        // A new register set (exec): everything else zero, the FPU off and
        // clean, so nothing of the old image shows through.
        for (uint64_t& r : target->tf.regs)
            r = 0;
        for (uint64_t& r : target->fp)
            r = 0;
        target->fp_on = false;
        target->fp_hart = -1;
        target->tf.epc = a[1];
        target->tf.regs[arch::sp] = a[2];
        target->tf.regs[arch::a0] = a[3];
        target->tf.regs[arch::a1] = a[4];
        return 0;
    }
    case Sys::ThreadStart: {
        Thread* target = TRY(thread_cap(t, a[0], abi::kRightWrite));
        TRY(thread_start(target));
        return 0;
    }
    case Sys::ThreadSuspend: {
        Thread* target = TRY(thread_cap(t, a[0], abi::kRightWrite));
        TRY(thread_suspend(target));
        return 0;
    }

    case Sys::ThreadReply: {
        Thread* caller = TRY(thread_cap(t, a[0], abi::kRightWrite));
        TRY(ipc_reply_to(caller, &a[1]));
        return 0;
    }
    case Sys::ThreadCopyRegs: {
        Thread* dst = TRY(thread_cap(t, a[0], abi::kRightWrite));
        const Thread* src = TRY(thread_cap(t, a[1], abi::kRightRead));
        if (dst == src || !thread_detached(dst)) return Error::Busy;
        // src's registers are saved only while it is in the kernel, off a hart
        if (src->state == ThreadState::Ready || src->on_hart >= 0) return Error::Busy;
        for (int i = 0; i < 32; ++i)
            dst->tf.regs[i] = src->tf.regs[i];
        for (int i = 0; i < 33; ++i) // saved whenever src is in the kernel
            dst->fp[i] = src->fp[i];
        dst->fp_on = src->fp_on;
        dst->fp_hart = -1;
        dst->tf.epc = src->tf.epc;
        dst->tf.regs[arch::a0] = a[2];
        dst->tf.regs[arch::a1] = a[3];
        return 0;
    }

    case Sys::Call: {
        Cap* e = TRY(lookup(t, a[0], ObjType::Endpoint));
        if (!e->has(abi::kRightWrite)) return Error::Permission;
        ipc_call(phys_to<Endpoint>(e->object), e->badge, &a[1], false);
        return static_cast<int64_t>(t.tf.regs[arch::a0]); // set by the replier
    }
    case Sys::Recv: {
        Cap* e = TRY(lookup(t, a[0], ObjType::Endpoint));
        if (!e->has(abi::kRightRead)) return Error::Permission;
        ipc_recv(phys_to<Endpoint>(e->object));
        return static_cast<int64_t>(t.tf.regs[arch::a0]);
    }
    case Sys::Reply: {
        TRY(ipc_reply(&a[1]));
        return 0;
    }
    case Sys::ReplyRecv: {
        Cap* e = TRY(lookup(t, a[0], ObjType::Endpoint));
        if (!e->has(abi::kRightRead)) return Error::Permission;
        (void)ipc_reply(&a[1]); // nobody to reply to: just receive
        ipc_recv(phys_to<Endpoint>(e->object));
        return static_cast<int64_t>(t.tf.regs[arch::a0]);
    }

    case Sys::Shutdown: {
        TRY(lookup(t, a[0], ObjType::Control));
        kprintf("kernel: shutdown requested with status %ld\n", static_cast<int64_t>(a[1]));
        shutdown(a[1] != 0);
    }
    }
    unknown = true;
    return 0;
}

} // namespace

void do_syscall(Thread& t) {
    uint64_t n = t.tf.regs[arch::a7];
    uint64_t a[6];
    for (int i = 0; i < 6; ++i)
        a[i] = t.tf.regs[arch::a0 + i];
    bool unknown = false;
    Result<int64_t> r = dispatch(t, n, a, unknown);
    if (unknown)
        t.tf.regs[arch::a0] = static_cast<uint64_t>(abi::error_return(Errno::NoSys));
    else if (r.ok())
        t.tf.regs[arch::a0] = static_cast<uint64_t>(r.value());
    else
        t.tf.regs[arch::a0] = static_cast<uint64_t>(errno_of(r.error()));
}

} // namespace capframe
