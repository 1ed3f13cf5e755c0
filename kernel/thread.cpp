#include "thread.h"

#include "arch/riscv64/csr.h"
#include "cap.h"
#include "console.h"
#include "hart.h"
#include "syscalls.h"
#include "trap.h"
#include "vmops.h"

extern "C" void swtch(capframe::Context* from, capframe::Context* to);

namespace capframe {

Thread* g_run_head = nullptr;

namespace {

Thread* g_run_tail = nullptr;
Thread* g_sleep_head = nullptr; // unordered: few sleepers, checked once a tick
Thread* g_sleep_tail = nullptr;
uint32_t g_next_id = 1;
uint64_t g_on_hart_refusals = 0;

void push(Thread*& head, Thread*& tail, Thread* t) {
    t->queue_next = nullptr;
    if (tail)
        tail->queue_next = t;
    else
        head = t;
    tail = t;
}

Thread* pop(Thread*& head, Thread*& tail) {
    Thread* t = head;
    if (!t) return nullptr;
    head = t->queue_next;
    if (!head) tail = nullptr;
    t->queue_next = nullptr;
    return t;
}

void unlink(Thread*& head, Thread*& tail, Thread* t) {
    Thread* prev = nullptr;
    for (Thread* q = head; q; prev = q, q = q->queue_next) {
        if (q != t) continue;
        if (prev)
            prev->queue_next = q->queue_next;
        else
            head = q->queue_next;
        if (tail == q) tail = prev;
        q->queue_next = nullptr;
        return;
    }
}

// A receiver owes a reply to every caller whose call it took until it
// answers (deferred replies: mm answers a wait later), not only to the last
// one (reply_to): all of them are in its owed list, so that destroying it
// fails every one.
[[gnu::always_inline]] inline void owe(Thread* replier, Thread* caller) {
    caller->replier = replier;
    caller->owed_prev = nullptr;
    caller->owed_next = replier->owed_head;
    if (replier->owed_head) replier->owed_head->owed_prev = caller;
    replier->owed_head = caller;
}

[[gnu::always_inline]] inline void unowe(Thread* caller) {
    Thread* r = caller->replier;
    if (!r) return;
    if (caller->owed_prev)
        caller->owed_prev->owed_next = caller->owed_next;
    else
        r->owed_head = caller->owed_next;
    if (caller->owed_next) caller->owed_next->owed_prev = caller->owed_prev;
    caller->owed_prev = caller->owed_next = nullptr;
    if (r->reply_to == caller) r->reply_to = nullptr;
    caller->replier = nullptr;
}

// Switches away from the current thread until something makes it run again.
void block() {
    if (!kernel_lock_held_here()) panic("block() without the kernel lock");
    Hart& h = this_hart();
    swtch(&h.current->ctx, &h.scheduler_ctx);
}

// Takes t out of whatever it waits in; afterwards it is Inactive.
void detach(Thread* t) {
    switch (t->state) {
    case ThreadState::Ready:
        unlink(g_run_head, g_run_tail, t);
        break;
    case ThreadState::BlockedCall:
        unlink(t->queued_on->send_head, t->queued_on->send_tail, t);
        break;
    case ThreadState::BlockedRecv:
        unlink(t->queued_on->recv_head, t->queued_on->recv_tail, t);
        break;
    case ThreadState::BlockedReply:
        unowe(t);
        break;
    case ThreadState::Sleeping:
        unlink(g_sleep_head, g_sleep_tail, t);
        break;
    case ThreadState::BlockedSuspend:
        t->suspend_target->suspend_waiter = nullptr;
        t->suspend_target = nullptr;
        break;
    case ThreadState::Inactive:
        break;
    }
    t->replier = nullptr;
    t->queued_on = nullptr;
    t->state = ThreadState::Inactive;
}

void set_msg(Thread* t, const uint64_t msg[4]) {
    for (int i = 0; i < 4; ++i)
        t->tf.regs[arch::a1 + i] = msg[i];
}

// The receiver takes the caller's message; the caller waits for the reply.
void deliver(Thread* caller, Thread* receiver) {
    set_msg(receiver, caller->msg);
    receiver->tf.regs[arch::a0] = 0;
    receiver->tf.regs[arch::a5] = caller->call_badge;
    receiver->reply_to = caller;
    owe(receiver, caller);
    caller->state = ThreadState::BlockedReply;
}

// A thread waiting on something that went away gets EDEAD; one waiting
// for the answer to a fault message has nothing to return to and stays
// stopped.
void fail_waiter(Thread* t) {
    t->tf.regs[arch::a0] = static_cast<uint64_t>(abi::error_return(abi::Errno::Dead));
    if (t->fault_call)
        t->state = ThreadState::Inactive;
    else
        make_ready(t);
}

// A new thread's first run, and every run of a thread whose kernel stack
// was dropped (block_to_user): straight out to user mode.
extern "C" void thread_first_run() {
    return_to_user();
}

// The context that starts t at thread_first_run on an empty kernel stack
// (the other callee-saved registers do not matter there).
[[gnu::always_inline]] inline void set_fresh(Thread* t) {
    t->ctx.ra = reinterpret_cast<uint64_t>(&thread_first_run);
    t->ctx.sp = t->tf.kernel_sp;
}

// Blocks the current thread (its state is set, it is queued where it waits)
// when all that is left for it in the kernel is the way back to user mode:
// its results go into its trapframe, which holds all its registers (IPC
// enters by the full path). Its kernel stack is dropped: it runs again
// from thread_first_run, started by the scheduler or by switch_direct().
[[noreturn]] void block_to_user() {
    if (!kernel_lock_held_here()) panic("block_to_user() without the kernel lock");
    Hart& h = this_hart();
    set_fresh(h.current);
    Context dropped;
    swtch(&dropped, &h.scheduler_ctx);
    __builtin_unreachable();
}

// What the scheduler does when a thread leaves the hart.
[[gnu::always_inline]] inline void left_hart(Thread* t) {
    t->on_hart = -1;
    if (Thread* w = t->suspend_waiter) [[unlikely]] { // its suspend call may return now
        t->suspend_waiter = nullptr;
        w->suspend_target = nullptr;
        make_ready(w);
    }
}

// Puts next on this hart in self's place (self has blocked as
// block_to_user() would) and goes to user mode in it, still on self's
// kernel stack: enter_user lets the lock go only at the jump to the
// trampoline, so no other hart starts self while its stack is in use.
// (Inline: the IPC fast path's whole way out is one function.)
[[noreturn, gnu::always_inline]] inline void switch_to(Hart& h, Thread* self, Thread* next) {
    set_fresh(self);
    left_hart(self);
    auto me = static_cast<uint32_t>(tp_value());
    next->state = ThreadState::Ready;
    next->on_hart = static_cast<int32_t>(me);
    next->tf.kernel_hartid = me;
    next->tf.kernel_scratch = h.trap_stack_top;
    h.current = next;
    enter_user_on(h, next);
}

// A direct switch (IPC): the current thread has just blocked as
// block_to_user() would, and `next` (taken out of an IPC wait, which it
// entered by block_to_user, so its kernel stack holds nothing) runs on this
// hart at once: no run queue, no scheduler, the lock held throughout.
[[noreturn]] void switch_direct(Thread* next) {
    Hart& h = this_hart();
    switch_to(h, h.current, next);
}

} // namespace

void make_ready(Thread* t) {
    if (!kernel_lock_held_here()) panic("make_ready() without the kernel lock");
    t->state = ThreadState::Ready;
    push(g_run_head, g_run_tail, t);
}

void scheduler() {
    for (;;) {
        kernel_lock();
        if (g_sleep_head) wake_sleepers(timer_ticks());
        Thread* t = pop(g_run_head, g_run_tail);
        if (!t) {
            // Nothing to run: wait for an interrupt with the lock free and
            // interrupts on (the kernel trap vector takes the tick, and the
            // IPI make_ready sends to an idle hart).
            set_idle(true);
            kernel_unlock();
            arch::write_sstatus(arch::read_sstatus() | arch::kSstatusSie);
            arch::wfi();
            arch::interrupts_off();
            set_idle(false);
            continue;
        }
        Hart& h = this_hart();
        h.current = t;
        t->on_hart = static_cast<int32_t>(hart_index());
        trapframe_on_hart(t, hart_index());
        kernel_table_flush_if_changed(h); // t's kernel stack may be new here
        swtch(&h.scheduler_ctx, &t->ctx);
        // Back here with the lock held: the current thread blocked, yielded
        // or left (possibly having run on other harts in between; after an
        // IPC fast-path switch it is not the one started above).
        Thread* left = h.current;
        h.current = nullptr;
        left_hart(left);
        kernel_unlock();
    }
}

void yield() {
    Thread* self = this_hart().current;
    if (self->state == ThreadState::Inactive) { // suspended while it ran
        block();
        return;
    }
    if (!g_run_head) return; // nobody else wants a hart
    make_ready(self);
    block();
}

void thread_init(Thread* t) {
    t->id = g_next_id++;
    t->state = ThreadState::Inactive;
    t->on_hart = -1;
    t->fp_hart = -1;
}

bool thread_detached(const Thread* t) {
    if (t->state != ThreadState::Inactive) return false;
    if (t->on_hart >= 0) ++g_on_hart_refusals; // suspended, not yet off its hart
    return t->on_hart < 0;
}

uint64_t thread_on_hart_refusals() {
    return g_on_hart_refusals;
}

Result<void> thread_check_destroy(const Thread* t) {
    // Not itself, and not while it runs on another hart (thread_suspend
    // returns only once it has left).
    if (t->on_hart >= 0) {
        if (t->state == ThreadState::Inactive) ++g_on_hart_refusals;
        return Error::Busy;
    }
    return {};
}

void thread_destroy(Thread* t) {
    detach(t);
    // Callers waiting for this thread's reply would wait forever: fail them
    // all (not only the last one it received).
    while (Thread* c = t->owed_head) {
        unowe(c);
        fail_waiter(c);
    }
    t->reply_to = nullptr;
    if (t->as) as_unbind_trapframe(t->as, t);
    if (t->table.slots) t->table.header()->bound_threads--;
    if (t->fault_ep) t->fault_ep->fault_refs--;
    if (t->kstack_cap) {
        kstack_remove(t->kstack_slot);
        zero_frames(t->kstack_cap->object, 1);
        t->kstack_cap->zeroed = 1;
        t->kstack_cap->flags &= static_cast<uint8_t>(~abi::kCapDonated);
        t->kstack_cap->donated_as = 0;
    }
}

Result<void> thread_configure(Thread* t, AddressSpace* as, CapTableRef table, Endpoint* fault_ep,
                              uint64_t fault_badge) {
    if (!thread_detached(t)) return Error::Busy;
    if (t->as != as) TRY(as_check_trapframe(as, t));
    if (t->as) { // rebinding a stopped thread (exec): let go of the old set-up
        as_unbind_trapframe(t->as, t);
        t->table.header()->bound_threads--;
        if (t->fault_ep) t->fault_ep->fault_refs--;
        t->as = nullptr;
    }
    as_bind_trapframe(as, t);
    t->as = as;
    t->tf.user_satp = arch::make_satp_sv39(as->root);
    t->table = table;
    table.header()->bound_threads++;
    t->fault_ep = fault_ep;
    t->fault_badge = fault_badge;
    if (fault_ep) fault_ep->fault_refs++;
    return {};
}

Result<void> thread_start(Thread* t) {
    if (!thread_detached(t)) return Error::Busy;
    if (!t->as || !t->kstack_cap) return Error::InvalidArgument;
    trapframe_init(t);
    set_fresh(t);
    t->fault_call = false;
    make_ready(t);
    return {};
}

Result<void> thread_suspend(Thread* t) {
    Thread* self = this_hart().current;
    if (t->on_hart >= 0 && t != self) {
        // Running on another hart (in user mode, or about to take the lock):
        // marked Inactive, it leaves that hart at its next kernel entry,
        // which the IPI makes happen now. The caller waits until it has.
        if (t->suspend_waiter) return Error::Busy;
        t->state = ThreadState::Inactive;
        t->suspend_waiter = self;
        self->suspend_target = t;
        self->state = ThreadState::BlockedSuspend;
        kick_hart(static_cast<uint32_t>(t->on_hart));
        block();
        return {};
    }
    detach(t);
    if (t == self) block();
    return {};
}

void ipc_call(Endpoint* ep, uint64_t badge, const uint64_t msg[4], bool fault) {
    Thread* self = this_hart().current;
    for (int i = 0; i < 4; ++i)
        self->msg[i] = msg[i];
    self->call_badge = badge;
    self->fault_call = fault;
    if (Thread* r = pop(ep->recv_head, ep->recv_tail)) {
        // The fast path: the receiver waits; it runs here, now.
        r->queued_on = nullptr;
        deliver(self, r);
        switch_direct(r);
    }
    self->state = ThreadState::BlockedCall;
    self->queued_on = ep;
    push(ep->send_head, ep->send_tail, self);
    block_to_user();
}

void ipc_recv(Endpoint* ep, Thread* woken) {
    Thread* self = this_hart().current;
    if (Thread* c = pop(ep->send_head, ep->send_tail)) {
        c->queued_on = nullptr;
        deliver(c, self);
        if (woken) make_ready(woken);
        return;
    }
    self->state = ThreadState::BlockedRecv;
    self->queued_on = ep;
    push(ep->recv_head, ep->recv_tail, self);
    if (woken) switch_direct(woken); // the fast path: the caller we answered runs here
    block_to_user();
}

namespace {
// Answers c; returns it if it is to run again (the caller makes it ready or
// switches to it), null if it stays stopped.
Thread* finish_reply(Thread* c, const uint64_t msg[4]) {
    unowe(c);
    if (c->fault_call) {
        // A fault reply: m0 = 0 resumes the thread at the faulting
        // instruction with its registers untouched; anything else stops it.
        c->fault_call = false;
        if (msg[0] == 0) return c;
        c->state = ThreadState::Inactive;
        return nullptr;
    }
    c->tf.regs[arch::a0] = 0;
    set_msg(c, msg);
    return c;
}
} // namespace

Result<void> ipc_reply(const uint64_t msg[4]) {
    Thread* c = TRY(ipc_reply_take(msg));
    if (c) make_ready(c);
    return {};
}

Result<Thread*> ipc_reply_take(const uint64_t msg[4]) {
    Thread* self = this_hart().current;
    Thread* c = self->reply_to;
    if (!c) return Error::NoCaller;
    return finish_reply(c, msg); // clears reply_to
}

namespace {
// The endpoint behind slot in t's table if the capability has `right`;
// null for anything else (the generic path then reports the error).
[[gnu::always_inline]] inline Cap* fast_endpoint(const Thread* t, uint64_t slot, uint8_t right) {
    Cap* c = t->table.slot(slot);
    if (!c || c->type != ObjType::Endpoint || !c->has(right)) return nullptr;
    return c;
}

[[gnu::always_inline]] inline void copy_msg(Thread* to, const Thread* from) {
    for (int i = arch::a1; i <= arch::a4; ++i)
        to->tf.regs[i] = from->tf.regs[i];
}

// The IPC fast path, for a system call (a7) whose arguments are in self's
// trapframe: Call when a receiver waits, ReplyRecv when the caller it
// answers waits (not a fault reply) and no other caller is queued. The
// current thread blocks and the other runs on this hart at once, without
// the run queue or the scheduler and with the lock held throughout (one
// function from user_ecall's entry to the jump to the trampoline). Returns
// (having changed nothing) whenever it does not apply; the generic path
// then gives the same result the slow way.
[[gnu::always_inline]] inline void ipc_fastpath(Hart& h, Thread* self, uint64_t n) {
    if (n == static_cast<uint64_t>(abi::Sys::Call)) {
        Cap* c = fast_endpoint(self, self->tf.regs[arch::a0], abi::kRightWrite);
        if (!c) return;
        auto* ep = phys_to<Endpoint>(c->object);
        Thread* r = ep->recv_head;
        if (!r) return;
        // As ipc_call + deliver, with the message copied register to register.
        ep->recv_head = r->queue_next;
        if (!ep->recv_head) ep->recv_tail = nullptr;
        r->queue_next = nullptr;
        r->queued_on = nullptr;
        copy_msg(r, self);
        r->tf.regs[arch::a0] = 0;
        r->tf.regs[arch::a5] = c->badge;
        self->call_badge = c->badge;
        self->fault_call = false;
        r->reply_to = self;
        owe(r, self);
        self->state = ThreadState::BlockedReply;
        switch_to(h, self, r);
    }
    if (n == static_cast<uint64_t>(abi::Sys::ReplyRecv)) {
        Cap* c = fast_endpoint(self, self->tf.regs[arch::a0], abi::kRightRead);
        if (!c) return;
        auto* ep = phys_to<Endpoint>(c->object);
        Thread* caller = self->reply_to;
        // A fault reply, or a caller already queued (the receive returns at
        // once): the generic path.
        if (!caller || caller->fault_call || ep->send_head) return;
        // As finish_reply + ipc_recv blocking + switch_direct.
        unowe(caller);
        caller->tf.regs[arch::a0] = 0;
        copy_msg(caller, self);
        self->state = ThreadState::BlockedRecv;
        self->queued_on = ep;
        push(ep->recv_head, ep->recv_tail, self);
        switch_to(h, self, caller);
    }
}

constexpr bool kIpcFastPath = true;

// BatchReplyRecv (from user_ecall; out of line, to keep the IPC path's
// registers): a server's last calls for a request, riding its answer. The
// batch, then (if every entry succeeded) the reply and receive as
// ReplyRecv, or only the receive (kBatchRecvOnly); otherwise back at once
// with the batch's result in a0, a1.
[[noreturn, gnu::noinline]] void batch_reply_recv(Hart& h, Thread* t) {
    const bool recv_only = t->tf.regs[arch::a5] & abi::kBatchRecvOnly;
    if (batch_before_reply(*t)) {
        if (recv_only) {
            do_syscall(*t, static_cast<uint64_t>(abi::Sys::Recv));
        } else {
            constexpr auto n = static_cast<uint64_t>(abi::Sys::ReplyRecv);
            if (kIpcFastPath) ipc_fastpath(h, t, n);
            do_syscall(*t, n);
        }
        if (t->state == ThreadState::Inactive) yield();
    }
    return_to_user();
}
} // namespace

// System calls by the full path (those not light: IPC, calls that may
// block or switch threads), from uservec.
extern "C" [[noreturn]] void user_ecall() {
    Hart& h = this_hart();
    Thread* t = h.current;
    (void)enter_kernel(h, t, 4); // the pc past the ecall
    // Suspended by another hart while it ran here: it leaves this hart at
    // once, before it acts on anything; the call is not done (its pc goes
    // back to the ecall).
    if (t->state == ThreadState::Inactive) [[unlikely]] {
        t->tf.epc -= 4;
        yield();
        // It runs again only when started afresh (thread_start: its
        // context restarts at thread_first_run), never from here.
        panic("thread %u: a suspended thread went on in user_ecall", t->id);
    }
    // The dedicated IPC fast path (a hang reported with it at e240ef1 was
    // not reproduced since: docs/benchmarks.md, "The IPC fast path's
    // hang"). The generic path gives the same result.
    const uint64_t n = t->tf.regs[arch::a7];
    if (kIpcFastPath) ipc_fastpath(h, t, n); // returns only if it does not apply
    if (n == static_cast<uint64_t>(abi::Sys::BatchReplyRecv)) batch_reply_recv(h, t);
    do_syscall(*t, n);
    // Suspended by another hart while it ran here: leave this hart.
    if (t->state == ThreadState::Inactive) yield();
    return_to_user();
}

Result<void> ipc_reply_to(Thread* c, const uint64_t msg[4]) {
    Thread* self = this_hart().current;
    if (c->state != ThreadState::BlockedReply || c->replier != self) return Error::NoCaller;
    if (self->reply_to == c) self->reply_to = nullptr;
    if (Thread* r = finish_reply(c, msg)) make_ready(r);
    return {};
}

void thread_sleep(uint64_t ticks) {
    Thread* self = this_hart().current;
    self->wake_tick = timer_ticks() + ticks;
    self->state = ThreadState::Sleeping;
    push(g_sleep_head, g_sleep_tail, self);
    block();
}

void wake_sleepers(uint64_t now) {
    for (Thread* t = g_sleep_head; t;) {
        Thread* next = t->queue_next;
        if (now >= t->wake_tick) {
            unlink(g_sleep_head, g_sleep_tail, t);
            make_ready(t);
        }
        t = next;
    }
}

Result<void> endpoint_check_destroy(const Endpoint* ep) {
    if (ep->fault_refs) return Error::Busy;
    return {};
}

void endpoint_destroy(Endpoint* ep) {
    // Everyone waiting on it learns that it is gone.
    for (Thread** q : {&ep->send_head, &ep->recv_head}) {
        while (Thread* t = *q) {
            *q = t->queue_next;
            t->queue_next = nullptr;
            t->queued_on = nullptr;
            fail_waiter(t);
        }
    }
    ep->send_tail = ep->recv_tail = nullptr;
}

} // namespace capframe
