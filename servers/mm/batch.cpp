#include "batch.h"

#include "errors.h"
#include "frames.h"
#include "kernel.h"
#include "mappings.h"
#include "pages.h"
#include "slots.h"

namespace capframe::mm {

Batch g_batch;

using abi::Sys;

void Batch::attach(uint32_t slot, abi::BatchEntry* page) {
    slot_ = slot, page_ = page, n_ = 0;
}

void Batch::detach() {
    slot_ = 0, page_ = nullptr, n_ = 0, carried_ = 0, ngroups_ = 0, nfrees_ = 0;
}

void Batch::carry(uint64_t n, void (*done)(uint64_t ran)) {
    if (ngroups_ && groups_[ngroups_ - 1].done == done) { // the same group, grown to n
        carried_ -= groups_[--ngroups_].n;
    }
    if (n > n_ - carried_) n = n_ - carried_;
    if (n == 0) return;
    if (ngroups_ == kMaxGroups) {
        kernel::log("mm: BUG: too many groups of carried calls\n");
        return;
    }
    groups_[ngroups_++] = Group{n, done};
    carried_ += n;
}

void Batch::ride_slow(Sys n, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                      uint32_t free_after) {
    if (!can_ride(1)) {
        // Not now (calls of the caller's are queued): made at once, alone.
        abi::BatchEntry e{};
        e.number = static_cast<uint64_t>(n);
        e.args[0] = a0, e.args[1] = a1, e.args[2] = a2, e.args[3] = a3, e.args[4] = a4;
        uint64_t second = 0;
        if (int64_t r = kernel::call_entry(e, &second); r < 0)
            kernel::log("mm: BUG: call %lu (slot %lu) refused: %ld\n", e.number, a0, r);
        else if (free_after)
            g_slots.free(free_after);
        return;
    }
    // Behind a group that is not riding (merges) the carried calls run
    // first: then there is never more than one group of each kind, merges
    // last (their done handles every merge deferred), and the order holds.
    if (ngroups_) (void)run(); // (it empties the queue: the call can ride now)
    if (free_after) frees_[nfrees_++] = Free{n_, free_after};
    add(n, a0, a1, a2, a3, a4);
    groups_[ngroups_++] = Group{1, nullptr}; // a new riding group
    ++carried_;
}

void Batch::finish_carried(uint64_t ran) {
    // (Reset first: a group's done may queue and run calls of its own; it
    // does not ride, so the slots to free stay as they are until the end.)
    const uint32_t count = ngroups_;
    Group groups[kMaxGroups];
    for (uint32_t g = 0; g < count; ++g)
        groups[g] = groups_[g];
    ngroups_ = 0, carried_ = 0;
    abi::BatchEntry* q = queue();
    uint64_t at = 0;
    for (uint32_t g = 0; g < count; ++g) {
        const uint64_t n = groups[g].n;
        const uint64_t mine = ran <= at ? 0 : ran - at < n ? ran - at : n;
        if (groups[g].done) {
            groups[g].done(mine);
        } else {
            // Failed or did not run: alone now (a failure again is a bug;
            // a slot to free is kept then).
            for (uint64_t i = mine; i < n; ++i) {
                uint64_t second = 0;
                if (int64_t r = kernel::call_entry(q[at + i], &second); r < 0) {
                    kernel::log("mm: BUG: call %lu (slot %lu) riding an answer refused: %ld\n",
                                q[at + i].number, q[at + i].args[0], r);
                    for (uint32_t k = 0; k < nfrees_; ++k)
                        if (frees_[k].at == at + i) frees_[k].slot = 0;
                }
            }
        }
        at += n;
    }
    for (uint32_t k = 0; k < nfrees_; ++k)
        if (frees_[k].slot) g_slots.free(frees_[k].slot);
    nfrees_ = 0;
}

void Batch::add(Sys n, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4) {
    if (n_ == abi::kBatchMax) {
        kernel::log("mm: BUG: batch overfull\n");
        return;
    }
    abi::BatchEntry& e = queue()[n_++];
    e.number = static_cast<uint64_t>(n);
    e.args[0] = a0, e.args[1] = a1, e.args[2] = a2, e.args[3] = a3, e.args[4] = a4, e.args[5] = 0;
    e.result = 0;
}

// The first `count` queued entries: how many succeeded.
int64_t Batch::execute(uint64_t count, uint64_t* second) {
    *second = 0;
    if (page_) {
        ++kernel_calls;
        return kernel::batch(slot_, count, second);
    }
    for (uint64_t i = 0; i < count; ++i) {
        int64_t r = kernel::call_entry(local_[i], second);
        local_[i].result = r;
        if (r < 0) return static_cast<int64_t>(i);
    }
    return static_cast<int64_t>(count);
}

BatchRun Batch::run(Proc* table_owner) {
    BatchRun out;
    abi::BatchEntry* q = queue();
    Proc* owner = table_owner ? table_owner : &mm_self();
    int tables = 0; // donated for the Map now at the front (at most two: levels 1 and 0)
    Block table{};  // a MapTable this run put at the front, if table_queued
    bool table_queued = false;
    uint64_t carried = carried_;
    carried_ = 0;
    while (n_) {
        uint64_t second = 0;
        int64_t r = execute(n_, &second);
        if (r < 0) { // the batch itself was refused (a bug: the page is mm's)
            kernel::log("mm: BUG: batch refused (%ld)\n", r);
            out.result = r, out.error = error_of(r);
            if (table_queued) free_frames(owner, Use::PageTable, table);
            if (carried) finish_carried(0);
            break;
        }
        uint64_t done = static_cast<uint64_t>(r), callers = done;
        if (carried) { // the calls riding in front (carry())
            uint64_t ran = done < carried ? done : carried;
            finish_carried(ran);
            if (ran < carried) { // the caller's calls did not run: again, without them
                n_ -= carried;
                for (uint64_t i = 0; i < n_; ++i)
                    q[i] = q[carried + i];
                carried = 0;
                continue;
            }
            callers = done - carried;
            carried = 0;
        } else if (table_queued) { // ours: not one of the caller's calls
            table_queued = false;
            if (done == 0) {
                free_frames(owner, Use::PageTable, table);
                out.result = q[0].result, out.error = Error::InvalidArgument;
                break;
            }
            push_table(owner, table);
            --callers;
        }
        out.done += callers;
        if (done == n_) {
            n_ = 0;
            break;
        }
        const abi::BatchEntry failed = q[done];
        out.result = failed.result;
        out.error = error_of(failed.result);
        if (callers) tables = 0; // a new Map at the front
        if (failed.number != static_cast<uint64_t>(Sys::Map) ||
            failed.result != err(Errno::NeedTable) || tables == 2)
            break;
        // The table, then the rest again from that Map (it changed nothing):
        // in the same kernel call, as a MapTable queued before it, when the
        // queue has room (else by a call of its own).
        const uint64_t rest = n_ - done;
        if (rest < abi::kBatchMax) {
            auto t = table_frame(owner, failed.args[2]);
            if (!t.ok()) {
                out.error = t.error();
                break;
            }
            if (done == 0)
                for (uint64_t i = rest; i >= 1; --i)
                    q[i] = q[i - 1];
            else
                for (uint64_t i = 1; i <= rest; ++i)
                    q[i] = q[done + i - 1];
            n_ = rest + 1;
            q[0] = abi::BatchEntry{};
            q[0].number = static_cast<uint64_t>(Sys::MapTable);
            q[0].args[0] = t.value().slot, q[0].args[1] = failed.args[1];
            q[0].args[2] = failed.args[2];
            table = t.value();
            table_queued = true;
        } else {
            if (auto t = donate_table(owner, failed.args[1], failed.args[2]); !t.ok()) {
                out.error = t.error();
                break;
            }
            n_ = rest;
            for (uint64_t i = 0; i < n_; ++i)
                q[i] = q[done + i];
        }
        ++tables;
        out.result = 0, out.error = Error{};
    }
    n_ = 0;
    return out;
}

int64_t Batch::reply_recv_riding(uint64_t ep, kernel::Msg& m, bool reply) {
    if (n_ != carried_) { // a request left calls of its own queued: a bug
        kernel::log("mm: BUG: %lu calls left queued at an answer\n", n_ - carried_);
        settle();
        return reply ? kernel::reply_recv(ep, m) : kernel::recv(ep, m);
    }
    const uint64_t count = n_, w0 = m.w[0];
    ++kernel_calls;
    int64_t r = kernel::batch_reply_recv(ep, m, slot_, count, reply);
    if (r == err(Errno::Stopped)) [[unlikely]] { // nothing replied or received
        finish_carried(m.w[0]);
        n_ = 0;
        m.w[0] = w0; // (m.w[1..3] came back as they went)
        return reply ? kernel::reply_recv(ep, m) : kernel::recv(ep, m);
    }
    finish_carried(count);
    n_ = 0;
    return r;
}

void Batch::settle() {
    if (n_) (void)run();
}

bool batch_start() {
    auto b = alloc_frames(nullptr, Use::User, 0);
    if (!b.ok()) return false;
    if (!map_with_tables(&mm_self(), b.value().slot, abi::kSlotSelfAs, kBatchVa,
                         abi::kRightRead | abi::kRightWrite)
             .ok()) {
        free_frames(nullptr, Use::User, b.value());
        return false;
    }
    g_batch.attach(b.value().slot, static_cast<abi::BatchEntry*>(kernel::view(kBatchVa)));
    return true;
}

} // namespace capframe::mm
