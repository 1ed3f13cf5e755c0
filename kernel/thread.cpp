#include "thread.h"

#include "arch/riscv64/csr.h"
#include "cap.h"
#include "console.h"
#include "hart.h"
#include "trap.h"
#include "vmops.h"

extern "C" void swtch(capframe::Context* from, capframe::Context* to);

namespace capframe {
namespace {

Thread* g_run_head = nullptr;
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
void owe(Thread* replier, Thread* caller) {
    caller->replier = replier;
    caller->owed_prev = nullptr;
    caller->owed_next = replier->owed_head;
    if (replier->owed_head) replier->owed_head->owed_prev = caller;
    replier->owed_head = caller;
}

void unowe(Thread* caller) {
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

// A new thread's first run: straight out to user mode.
extern "C" void thread_first_run() {
    return_to_user();
}

} // namespace

Thread* current_thread() {
    return this_hart().current;
}

void make_ready(Thread* t) {
    if (!kernel_lock_held_here()) panic("make_ready() without the kernel lock");
    t->state = ThreadState::Ready;
    push(g_run_head, g_run_tail, t);
}

bool threads_waiting() {
    return g_run_head != nullptr;
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
        swtch(&h.scheduler_ctx, &t->ctx);
        // Back here with the lock held: the thread blocked, yielded or left
        // (possibly having run on other harts in between).
        t->on_hart = -1;
        this_hart().current = nullptr;
        if (Thread* w = t->suspend_waiter) { // its suspend call may return now
            t->suspend_waiter = nullptr;
            w->suspend_target = nullptr;
            make_ready(w);
        }
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
    t->ctx = Context{};
    t->ctx.ra = reinterpret_cast<uint64_t>(&thread_first_run);
    t->ctx.sp = kstack_top(t->kstack_slot);
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
        r->queued_on = nullptr;
        deliver(self, r);
        make_ready(r);
    } else {
        self->state = ThreadState::BlockedCall;
        self->queued_on = ep;
        push(ep->send_head, ep->send_tail, self);
    }
    block();
}

void ipc_recv(Endpoint* ep) {
    Thread* self = this_hart().current;
    if (Thread* c = pop(ep->send_head, ep->send_tail)) {
        c->queued_on = nullptr;
        deliver(c, self);
        return;
    }
    self->state = ThreadState::BlockedRecv;
    self->queued_on = ep;
    push(ep->recv_head, ep->recv_tail, self);
    block();
}

namespace {
void finish_reply(Thread* c, const uint64_t msg[4]) {
    unowe(c);
    if (c->fault_call) {
        // A fault reply: m0 = 0 resumes the thread at the faulting
        // instruction with its registers untouched; anything else stops it.
        c->fault_call = false;
        if (msg[0] == 0)
            make_ready(c);
        else
            c->state = ThreadState::Inactive;
        return;
    }
    c->tf.regs[arch::a0] = 0;
    set_msg(c, msg);
    make_ready(c);
}
} // namespace

Result<void> ipc_reply(const uint64_t msg[4]) {
    Thread* self = this_hart().current;
    Thread* c = self->reply_to;
    if (!c) return Error::NoCaller;
    finish_reply(c, msg); // clears reply_to
    return {};
}

Result<void> ipc_reply_to(Thread* c, const uint64_t msg[4]) {
    Thread* self = this_hart().current;
    if (c->state != ThreadState::BlockedReply || c->replier != self) return Error::NoCaller;
    if (self->reply_to == c) self->reply_to = nullptr;
    finish_reply(c, msg);
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
