// exit, wait and kill: a process ends (teardown gives everything back), its
// children go to init, its parent reaps it. When init ends the system shuts
// down after checking that every frame came back.
#include "batch.h"
#include "errors.h"
#include "frames.h"
#include "kernel.h"
#include "pages.h"
#include "server.h"

namespace capframe::mm {

namespace {

bool g_shut_down = false;

// p waits in its Wait call to mm (p->waiting): the deferred answer cannot
// fail, and rides mm's next receive (Batch::ride) when it can.
void reply_to(Proc* p, int64_t result, int32_t status = 0) {
    g_batch.ride(abi::Sys::ThreadReply, p->thread_obj, static_cast<uint64_t>(result),
                 static_cast<uint64_t>(static_cast<int64_t>(status)));
}

// Reaps zombie child c for waiting parent p and answers p's wait. If the
// status cannot be stored, p gets EFAULT instead and c stays a zombie.
void reap(Proc* p, Proc* c) {
    if (p->wait_va) {
        int32_t st = c->status;
        if (p->wait_in_answer ? !user_writable(p, p->wait_va, sizeof st)
                              : !copy_user(p, p->wait_va, &st, sizeof st, true).ok()) {
            p->waiting = false;
            reply_to(p, err(Errno::Fault));
            return;
        }
    }
    int pid = c->pid;
    const int32_t status = c->status;
    c->state = State::Free;
    p->waiting = false;
    reply_to(p, pid, status); // (the status in m1 too: libsys's wait takes it from there)
}

bool has_children(const Proc* p, Proc** zombie) {
    bool any = false;
    for (int i = 0; i < kMaxProcs; ++i) {
        Proc& c = g_pt.procs[i];
        if ((c.state == State::Running || c.state == State::Zombie) && c.parent == p->pid) {
            any = true;
            if (c.state == State::Zombie && zombie) {
                *zombie = &c;
                return true;
            }
        }
    }
    return any;
}

void shutdown_after_init(int status) {
    // Whatever is still running goes first, so the frame count is exact.
    for (int i = 0; i < kMaxProcs; ++i)
        if (g_pt.procs[i].state == State::Running) teardown(&g_pt.procs[i]);
    slots_trim(true); // the capability leaves mm grew, given back
    uint64_t free_now = g_book.buddy.free_frames();
    kernel::log("mm: init exited; free frames %lu, at start %lu: %s\n", free_now,
                g_book.free_at_start,
                free_now == g_book.free_at_start ? "every frame came back" : "FRAMES LOST");
    g_shut_down = true;
    kernel::shutdown(free_now == g_book.free_at_start ? status : 99);
}

} // namespace

bool shut_down() {
    return g_shut_down;
}

void end_process(Proc* p, int status) {
    teardown(p);
    p->status = status;
    if (p->pid == g_pt.init_pid) {
        shutdown_after_init(status);
        p->state = State::Free;
        return;
    }
    // Orphans go to init.
    Proc* init = proc_by_pid(g_pt.init_pid);
    for (int i = 0; i < kMaxProcs; ++i) {
        Proc& c = g_pt.procs[i];
        if ((c.state == State::Running || c.state == State::Zombie) && c.parent == p->pid) {
            c.parent = g_pt.init_pid;
            if (c.state == State::Zombie && init && init->waiting) reap(init, &c);
        }
    }
    Proc* parent = proc_by_pid(p->parent);
    if (!parent || parent->state != State::Running) {
        p->state = State::Free;
        return;
    }
    p->state = State::Zombie;
    if (parent->waiting) reap(parent, p);
}

bool wait(Proc* p, uint64_t status_va, int64_t& result, bool in_answer) {
    Proc* zombie = nullptr;
    if (!has_children(p, &zombie)) {
        result = err(Errno::Child);
        return true;
    }
    p->waiting = true;
    p->wait_va = status_va;
    p->wait_in_answer = in_answer;
    if (zombie) reap(p, zombie);
    return false; // answered by reap()
}

} // namespace capframe::mm
