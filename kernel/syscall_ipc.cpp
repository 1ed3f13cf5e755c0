// IPC system calls on endpoints: call, receive, reply, reply-and-receive.
// The message travels in registers (kernel/thread.cpp). Call and a receive
// that blocks do not return here: the thread goes back to user mode from
// kernel/thread.cpp when it runs again.
#include "cap.h"
#include "syscalls.h"
#include "thread.h"

namespace capframe {

Result<int64_t> sys_call(Thread& t, SyscallArgs a) {
    Cap* e = TRY(lookup(t, a[0], ObjType::Endpoint));
    if (!e->has(abi::kRightWrite)) return Error::Permission;
    ipc_call(phys_to<Endpoint>(e->object), e->badge, &a[1], false); // returns to user itself
}

Result<int64_t> sys_recv(Thread& t, SyscallArgs a) {
    Cap* e = TRY(lookup(t, a[0], ObjType::Endpoint));
    if (!e->has(abi::kRightRead)) return Error::Permission;
    ipc_recv(phys_to<Endpoint>(e->object));
    return static_cast<int64_t>(t.tf.regs[arch::a0]);
}

Result<int64_t> sys_reply(Thread&, SyscallArgs a) {
    TRY(ipc_reply(&a[1]));
    return 0;
}

Result<int64_t> sys_reply_recv(Thread& t, SyscallArgs a) {
    Cap* e = TRY(lookup(t, a[0], ObjType::Endpoint));
    if (!e->has(abi::kRightRead)) return Error::Permission;
    // Nobody to reply to: just receive. The caller we answer runs on this
    // hart at once if the receive blocks (the IPC fast path).
    Result<Thread*> woken = ipc_reply_take(&a[1]);
    ipc_recv(phys_to<Endpoint>(e->object), woken.ok() ? woken.value() : nullptr);
    return static_cast<int64_t>(t.tf.regs[arch::a0]);
}

} // namespace capframe
