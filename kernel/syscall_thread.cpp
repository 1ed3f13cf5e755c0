// Thread system calls. Every one needs Write on the thread capability (Read
// for the source of ThreadCopyRegs); one that changes registers or binding
// needs a thread that is Inactive and on no hart (thread_detached).
#include "cap.h"
#include "syscalls.h"
#include "thread.h"
#include "vmops.h"

namespace capframe {

namespace {
// Thread capabilities: W to change or run the thread (configure, stack,
// registers, start, suspend, a deferred reply), R to read its registers
// (the source of ThreadCopyRegs).
Result<Thread*> thread_cap(Thread& t, uint64_t slot, uint8_t need) {
    Cap* c = TRY(lookup(t, slot, ObjType::Thread));
    if (!c->has(need)) return Error::Permission;
    return phys_to<Thread>(c->object);
}
} // namespace

Result<int64_t> sys_thread_configure(Thread& t, SyscallArgs a) {
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

Result<int64_t> sys_thread_set_stack(Thread& t, SyscallArgs a) {
    Thread* target = TRY(thread_cap(t, a[0], abi::kRightWrite));
    Cap* f = TRY(lookup(t, a[1], ObjType::Frame));
    if (target->kstack_cap) return Error::Busy;
    uint64_t slot = TRY(kstack_install(f));
    target->kstack_cap = f;
    target->kstack_slot = slot;
    return static_cast<int64_t>(slot);
}

Result<int64_t> sys_thread_write_regs(Thread& t, SyscallArgs a) {
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

Result<int64_t> sys_thread_start(Thread& t, SyscallArgs a) {
    Thread* target = TRY(thread_cap(t, a[0], abi::kRightWrite));
    TRY(thread_start(target));
    return 0;
}

Result<int64_t> sys_thread_suspend(Thread& t, SyscallArgs a) {
    Thread* target = TRY(thread_cap(t, a[0], abi::kRightWrite));
    TRY(thread_suspend(target));
    return 0;
}

Result<int64_t> sys_thread_reply(Thread& t, SyscallArgs a) {
    Thread* caller = TRY(thread_cap(t, a[0], abi::kRightWrite));
    TRY(ipc_reply_to(caller, &a[1]));
    return 0;
}

Result<int64_t> sys_thread_copy_regs(Thread& t, SyscallArgs a) {
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

} // namespace capframe
