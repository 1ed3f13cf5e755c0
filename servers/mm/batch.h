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
    // The first n queued calls are not the next caller's: they ride along
    // in front of its calls, in the same kernel call, and `done(k)` gets how
    // many of them succeeded once they ran (k < n: the rest did not run,
    // and then neither did the caller's calls, which run() runs again).
    // Deferred merges (frames.cpp) ride this way instead of costing a
    // kernel call of their own. run()'s counts are the caller's only.
    void carry(uint64_t n, void (*done)(uint64_t ran));
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

    uint32_t slot_ = 0;
    abi::BatchEntry* page_ = nullptr;
    abi::BatchEntry local_[abi::kBatchMax] = {};
    uint64_t n_ = 0;
    uint64_t carried_ = 0; // calls at the front that carry() put there
    void (*carried_done_)(uint64_t) = nullptr;
};

extern Batch g_batch;

// Sets up mm's batch page (start()); false if it could not (then every
// batch runs call by call).
bool batch_start();

} // namespace capframe::mm
