// Per-task frame accounting for mm: who holds how many frames, for what.
// Together with the buddy allocator's free count it answers "do all frames
// add up?", which the meminfo tool prints. Pure logic, host-tested.
#pragma once

#include <cstddef>
#include <cstdint>

#include "format.h"
#include "result.h"

namespace capframe::mm {

enum class Use : uint8_t { User, PageTable, KernelStack, KernelObject, Shared };
inline constexpr size_t kUseCount = 5;

// Tasks are small integers below kMaxTasks; kMmTask is mm itself.
using TaskId = uint32_t;
inline constexpr TaskId kMaxTasks = 64;
inline constexpr TaskId kMmTask = kMaxTasks;

// Frame counts per category.
struct Usage {
    uint64_t frames[kUseCount] = {};

    uint64_t operator[](Use u) const { return frames[static_cast<size_t>(u)]; }
    uint64_t total() const;
};

// The whole picture at one moment: the allocator's view (total, free) and
// the accounting's view (in use per category). They must add up.
struct Snapshot {
    uint64_t total = 0; // frames the allocator manages
    uint64_t free = 0;  // of which free
    Usage used;         // charged to tasks (and mm), per category

    uint64_t in_use() const { return used.total(); }
    bool adds_up() const { return free + in_use() == total; }
    // Frames neither free nor charged; negative if counted twice.
    int64_t unaccounted() const { return static_cast<int64_t>(total - free - in_use()); }
};

class Accounting {
  public:
    // InvalidArgument (nothing changes) for an unknown task or category, if a
    // counter would overflow (charge) or go below zero (uncharge).
    Result<void> charge(TaskId task, Use use, uint64_t frames);
    Result<void> uncharge(TaskId task, Use use, uint64_t frames);

    // 0 for an unknown task or category.
    uint64_t frames(TaskId task, Use use) const;
    Usage usage(TaskId task) const;
    uint64_t task_total(TaskId task) const { return usage(task).total(); }
    uint64_t total(Use use) const { return valid(0, use) ? all_[use] : 0; }
    uint64_t in_use() const { return all_.total(); }

    // Returns the task's counters and zeroes them (the task is gone; its
    // frames go back to the allocator).
    Usage release_task(TaskId task);

    Snapshot snapshot(uint64_t total_frames, uint64_t free_frames) const;

  private:
    static bool valid(TaskId task, Use use) {
        return task <= kMmTask && static_cast<size_t>(use) < kUseCount;
    }

    Usage tasks_[kMaxTasks + 1];
    Usage all_;
};

// The meminfo report: totals, one row for mm and each task holding frames,
// the per-category totals, and whether the frames add up.
void write_meminfo(Sink sink, const Snapshot& snap, const Accounting& acct);

} // namespace capframe::mm
