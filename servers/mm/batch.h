// mm's batches: the kernel calls of a loop over pages queued in one page
// and run in one kernel entry (abi::Sys::Batch) instead of one entry each.
// The kernel runs the entries in order and stops at the first that fails;
// that one changed nothing, so after run() exactly the first `done` queued
// calls happened, and the caller brings its books up to date for those
// (and undoes or retries the rest). Flush (run) before anything needs a
// result: a window that is about to be written, a slot about to be reused.
//
// The page is a frame of mm's, mapped read-write at kBatchVa and nowhere
// else (the kernel refuses any other). Until start() attaches it, and if it
// could not, run() makes one kernel call per entry with the same
// stop-at-the-first-failure result.
#pragma once

#include <cstdint>

#include "capframe/abi.h"
#include "kernel.h"
#include "proc.h"
#include "result.h"

namespace capframe::mm {

inline constexpr uint64_t kBatchVa = 0x3000000000 + 2 * kPage; // after the scratch windows

struct BatchRun {
    uint64_t done = 0;     // queued calls that succeeded, counted from the first
    int64_t result = 0;    // the failing call's result (a negated errno), 0 if none failed
    Error error = Error{}; // the failure as an Error (NoMemory: no frame for a page table)
    bool ok() const { return result == 0; }
};

class Batch {
  public:
    // From now on the queue lives in frame `slot`, mapped at `page`.
    void attach(uint32_t slot, abi::BatchEntry* page);
    void detach();
    uint32_t slot() const { return slot_; }

    uint64_t size() const { return n_ - carried_; } // the caller's calls queued
    uint64_t room() const { return abi::kBatchMax - n_; }
    uint64_t queued() const { return n_; } // carried calls included
    uint64_t carried() const { return carried_; }
    // The calls `done`'s group carries, if it is the last group (else 0).
    uint64_t carried_by(void (*done)(uint64_t)) const {
        return ngroups_ && groups_[ngroups_ - 1].done == done ? groups_[ngroups_ - 1].n : 0;
    }
    // The n calls queued after those already carried (after the earlier
    // ones of the same `done`, if it carries the last group) are not the next
    // caller's: they ride along in front of its calls, in the same kernel
    // call, and `done(k)` gets how many of them succeeded once they ran
    // (k < n: the rest did not run, and then neither did the caller's
    // calls, which run() runs again). Deferred merges (frames.cpp) ride
    // this way instead of costing a kernel call of their own. run()'s
    // counts are the caller's only.
    void carry(uint64_t n, void (*done)(uint64_t ran));

    // Calls that ride the answer to the request mm is serving: queued now,
    // made with the reply in one kernel entry (reply_recv below:
    // BatchReplyRecv), or in front of the next batch if one runs first
    // (carried). Only for calls that cannot fail unless mm has a bug (the
    // books are brought up to date before they run; such a failure is
    // logged as a BUG and the calls after it are made one by one), and
    // only when nothing else waits in the queue: can_ride(k) says whether
    // k calls may ride now. `free_after`: a slot freed once the call ran
    // (the capability it deletes), 0 for none.
    bool can_ride(uint64_t k) const { return page_ && n_ == carried_ && room() >= k; }
    [[gnu::always_inline]] void ride(abi::Sys n, uint64_t a0, uint64_t a1 = 0, uint64_t a2 = 0,
                                     uint64_t a3 = 0, uint64_t a4 = 0, uint32_t free_after = 0) {
        if (can_ride(1) && ngroups_ && !groups_[ngroups_ - 1].done) { // the riding group grows
            abi::BatchEntry& e = page_[n_++];
            e.number = static_cast<uint64_t>(n);
            e.args[0] = a0, e.args[1] = a1, e.args[2] = a2, e.args[3] = a3;
            e.args[4] = a4, e.args[5] = 0;
            if (free_after) frees_[nfrees_++] = Free{n_ - 1, free_after};
            ++groups_[ngroups_ - 1].n, ++carried_;
            return;
        }
        ride_slow(n, a0, a1, a2, a3, a4, free_after);
    }
    // serve(): the reply and the next receive, with the calls carried (those
    // riding the answer, merges) in the same kernel entry when there are
    // any; settle() makes them alone (no reply to ride: the next receive is
    // a plain one; the host tests' harness after every request).
    int64_t reply_recv(uint64_t ep, kernel::Msg& m) {
        return n_ ? reply_recv_riding(ep, m, true) : kernel::reply_recv(ep, m);
    }
    int64_t recv(uint64_t ep, kernel::Msg& m) { // (no answer: the calls ride the receive)
        return n_ ? reply_recv_riding(ep, m, false) : kernel::recv(ep, m);
    }
    void settle();
    // Queues a call (a batchable abi::Sys); the caller checks room() first.
    void add(abi::Sys n, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0,
             uint64_t a4 = 0);
    // Runs every queued call and empties the queue. A Map the kernel
    // refuses for a missing page table gets the table (a frame charged to
    // table_owner, mm itself if null, recorded for its teardown) and the
    // batch goes on from that Map.
    BatchRun run(Proc* table_owner = nullptr);

    uint64_t kernel_calls = 0; // batch calls made (tests)

  private:
    abi::BatchEntry* queue() { return page_ ? page_ : local_; }
    int64_t execute(uint64_t count, uint64_t* second);
    // The carried calls ran: the first `ran` of them succeeded. Each group
    // learns its part; riding calls free their slots (or are made alone).
    void finish_carried(uint64_t ran);
    int64_t reply_recv_riding(uint64_t ep, kernel::Msg& m, bool reply);
    void ride_slow(abi::Sys n, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                   uint32_t free_after);
    struct Group {
        uint64_t n;
        void (*done)(uint64_t ran); // null: calls riding the answer (ride)
    };
    static constexpr uint32_t kMaxGroups = 4;
    Group groups_[kMaxGroups] = {};
    uint32_t ngroups_ = 0;
    struct Free {
        uint64_t at;   // queue index of the riding call
        uint32_t slot; // freed once it ran
    };
    Free frees_[abi::kBatchMax] = {};
    uint32_t nfrees_ = 0;

    uint32_t slot_ = 0;
    abi::BatchEntry* page_ = nullptr;
    abi::BatchEntry local_[abi::kBatchMax] = {};
    uint64_t n_ = 0;
    uint64_t carried_ = 0; // calls at the front that carry() or ride() put there
};

extern Batch g_batch;

// Sets up mm's batch page (start()); false if it could not (then every
// batch runs call by call).
bool batch_start();

} // namespace capframe::mm
