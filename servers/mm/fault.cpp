// Page faults of processes, delivered to mm as IPC: demand-zero heap and
// stack pages, copy-on-write; anything else ends the process with a message
// that says why.
#include "errors.h"
#include "frames.h"
#include "kernel.h"
#include "mappings.h"
#include "pages.h"
#include "server.h"

namespace capframe::mm {

namespace {
// The last fault on a page that was already there (see handle_fault).
struct Spurious {
    int pid = 0;
    uint64_t va = 0;
} g_spurious;

bool is_page_fault(uint64_t cause) {
    return cause == 12 || cause == 13 || cause == 15;
}
} // namespace

void kill_for_fault(Proc* p, const kernel::Msg& m) {
    uint64_t va = m.w[2];
    uint32_t i = va < abi::kMaxVa ? find_mapping(p, va & ~(kPage - 1)) : kNone;
    const char* why = !is_page_fault(m.w[1])    ? "not a page fault"
                      : va >= abi::kMaxVa       ? "outside the user address space"
                      : va >= abi::kTrapframeVa ? "the kernel's page"
                      : !i                      ? "nothing mapped there"
                      : m.w[1] == 12            ? "page not executable"
                      : m.w[1] == 13            ? "page not readable"
                                                : "page not writable";
    kernel::log("mm: pid %d (%s): %s at 0x%016lx, pc 0x%016lx, killed (%s)\n", p->pid, p->name,
                abi::exception_name(m.w[1]), va, m.w[3], why);
    end_process(p, -1);
}

bool handle_fault(Proc* p, const kernel::Msg& m) {
    uint64_t cause = m.w[1], va = m.w[2];
    Spurious last = g_spurious;
    g_spurious = Spurious{};
    if (!is_page_fault(cause) || va >= abi::kMaxVa) return false;
    uint32_t i = find_mapping(p, va & ~(kPage - 1));
    bool made = false; // a lazy page (fork) made present by this fault
    if (i && is_lazy(mapping(i))) {
        if (auto r = materialize(p, i); !r.ok()) {
            kernel::log("mm: pid %d (%s): cannot map shared page 0x%lx (%s)\n", p->pid, p->name, va,
                        error_name(r.error()));
            return false;
        }
        made = true;
    }
    if (i) {
        uint64_t flags = flags_of(mapping(i));
        // Already there with the rights the access needs (fault-around
        // placed it, or another hart's stale TLB said it was not there):
        // the access is retried, and the way back to user mode flushes.
        bool allowed = cause == 13   ? true // every mapping is readable
                       : cause == 12 ? (flags & kMapX) != 0
                                     : (flags & kMapW) && !(flags & kMapCow);
        if (allowed && made) return true;
        if (allowed) {
            // Twice in a row at the same page would mean mm's books and the
            // page table disagree: a bug, reported instead of looping.
            bool again = last.pid == p->pid && last.va == (va & ~(kPage - 1));
            g_spurious = again ? Spurious{} : Spurious{p->pid, va & ~(kPage - 1)};
            if (again)
                kernel::log("mm: pid %d (%s): faults again at present page 0x%lx: books and page "
                            "table disagree\n",
                            p->pid, p->name, va);
            return !again;
        }
        if (cause != 15 || !(flags & kMapCow)) return false; // a real protection fault
        auto r = break_cow(p, i);
        if (!r.ok())
            kernel::log("mm: pid %d (%s): no memory for a copy-on-write page\n", p->pid, p->name);
        return r.ok();
    }
    if (cause == 12) return false; // heap and stack are not executable
    if (!in_heap(p, va) && !in_stack(va)) return false;
    Result<void> r = Result<void>{};
    if (in_heap(p, va))
        r = fault_heap(p, va);
    else if (auto t = touch(p, va, true); !t.ok())
        r = t.error();
    if (!r.ok())
        kernel::log("mm: pid %d (%s): no memory for a page at 0x%lx (%s; reserved %lu, free %lu)\n",
                    p->pid, p->name, va, error_name(r.error()), p->reserved, available());
    return r.ok();
}

} // namespace capframe::mm
