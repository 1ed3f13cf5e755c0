#include "accounting.h"

#include "addr.h"

namespace capframe::mm {

uint64_t Usage::total() const {
    uint64_t sum = 0;
    for (uint64_t n : frames)
        sum += n;
    return sum;
}

Result<void> Accounting::charge(TaskId task, Use use, uint64_t frames) {
    if (!valid(task, use)) return Error::InvalidArgument;
    const auto u = static_cast<size_t>(use);
    // all_ is never below a task's counter, so checking it covers both.
    if (all_.frames[u] + frames < all_.frames[u]) return Error::InvalidArgument;
    tasks_[task].frames[u] += frames;
    all_.frames[u] += frames;
    return {};
}

Result<void> Accounting::uncharge(TaskId task, Use use, uint64_t frames) {
    if (!valid(task, use)) return Error::InvalidArgument;
    const auto u = static_cast<size_t>(use);
    if (tasks_[task].frames[u] < frames) return Error::InvalidArgument;
    tasks_[task].frames[u] -= frames;
    all_.frames[u] -= frames;
    return {};
}

uint64_t Accounting::frames(TaskId task, Use use) const {
    return valid(task, use) ? tasks_[task][use] : 0;
}

Usage Accounting::usage(TaskId task) const {
    return task <= kMmTask ? tasks_[task] : Usage{};
}

Usage Accounting::release_task(TaskId task) {
    if (task > kMmTask) return Usage{};
    const Usage was = tasks_[task];
    for (size_t u = 0; u < kUseCount; ++u)
        all_.frames[u] -= was.frames[u];
    tasks_[task] = Usage{};
    return was;
}

Snapshot Accounting::snapshot(uint64_t total_frames, uint64_t free_frames) const {
    return Snapshot{total_frames, free_frames, all_};
}

namespace {

void write_row(Sink sink, const char* name, const Usage& u) {
    format(sink, "%-6s", name);
    for (uint64_t n : u.frames)
        format(sink, "%8lu", n);
    format(sink, "%8lu\n", u.total());
}

} // namespace

void write_meminfo(Sink sink, const Snapshot& snap, const Accounting& acct) {
    format(sink, "frames: %lu total (%lu KiB), %lu free, %lu in use\n", snap.total,
           snap.total << (kPageShift - 10), snap.free, snap.in_use());
    format(sink, "task      user  ptable  kstack    kobj  shared   total\n");
    write_row(sink, "mm", acct.usage(kMmTask));
    for (TaskId t = 0; t < kMaxTasks; ++t) {
        if (!acct.task_total(t)) continue;
        char name[12];
        snformat(name, sizeof name, "%u", t);
        write_row(sink, name, acct.usage(t));
    }
    write_row(sink, "all", snap.used);

    const uint64_t counted = snap.free + snap.in_use();
    if (snap.adds_up()) {
        format(sink, "frames add up: %lu free + %lu in use = %lu total\n", snap.free, snap.in_use(),
               snap.total);
        return;
    }
    const bool over = counted > snap.total;
    format(sink, "MISMATCH: %lu free + %lu in use = %lu, not %lu total (%lu %s)\n", snap.free,
           snap.in_use(), counted, snap.total, over ? counted - snap.total : snap.total - counted,
           over ? "counted twice" : "unaccounted");
}

} // namespace capframe::mm
