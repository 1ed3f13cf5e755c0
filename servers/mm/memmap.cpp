// ./capframe memmap: every frame mm manages, in address order, as runs of
// frames with the same holder: "memmap: PA COUNT KIND PID NAME" (KIND free,
// user, shared, ptable, kobj, kstack or mm; free runs have pid 0 and "-").
// Frames of the window that are not mm's (the kernel, mm's image) are not
// listed. tools/memmap.py draws it.
#include "frames.h"
#include "kernel.h"
#include "mappings.h"
#include "server.h"

namespace capframe::mm {

uint64_t memmap() {
    struct Holder {
        const char* kind;
        const Proc* p;
        bool operator==(const Holder&) const = default;
    };
    const Proc* self = &mm_self();
    auto holder_of = [self](uint64_t idx) -> Holder {
        uint64_t pa = frame_pa(idx);
        auto in = [pa](const Block& b) {
            return b.pa && pa >= b.pa && pa < b.pa + (kPage << b.order);
        };
        for (const Proc& q : g_pt.procs) {
            if (q.state == State::Free && !q.stuck) continue;
            if (in(q.kstack_block)) return {"kstack", &q};
            if (in(q.table_block) || in(q.as_block) || in(q.thread_block)) return {"kobj", &q};
        }
        const FrameInfo& f = frame_info(idx);
        const Proc* p = f.owner ? &g_pt.procs[f.owner - 1] : nullptr;
        if (!p || p == self) return {"mm", self};
        return {f.refs == 0 ? "ptable" : f.refs > 1 ? "shared" : "user", p};
    };
    uint64_t runs = 0, start = 0, count = 0;
    Holder run{};
    auto flush = [&] {
        if (!count) return;
        bool mine = run.p == self || !run.p;
        kernel::log("memmap: 0x%016lx %lu %s %d %s\n", start, count, run.kind,
                    mine ? 0 : run.p->pid,
                    !run.p ? "-"
                    : mine ? "mm"
                           : run.p->name);
        ++runs;
    };
    auto add = [&](uint64_t pa, uint64_t n, Holder h) {
        if (count && h == run && pa == start + count * kPage) {
            count += n;
            return;
        }
        flush();
        start = pa, count = n, run = h;
    };
    kernel::log("memmap: begin, %lu frames, %lu free\n", g_book.buddy.total_frames(),
                g_book.buddy.free_frames());
    g_book.buddy.for_each_block([&](Block b, bool is_free) {
        uint64_t n = uint64_t{1} << b.order;
        if (is_free) return add(b.pa, n, Holder{"free", nullptr});
        for (uint64_t i = 0; i < n; ++i)
            add(b.pa + i * kPage, 1, holder_of(frame_index(b.pa) + i));
    });
    flush();
    kernel::log("memmap: end, %lu runs\n", runs);
    return runs;
}

} // namespace capframe::mm
