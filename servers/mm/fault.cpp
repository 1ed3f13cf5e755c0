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
    if (!is_page_fault(cause) || va >= abi::kMaxVa) return false;
    uint32_t i = find_mapping(p, va & ~(kPage - 1));
    if (i) {
        if (cause != 15 || !(flags_of(mapping(i)) & kMapCow))
            return false; // a real protection fault
        auto r = break_cow(p, i);
        if (!r.ok())
            kernel::log("mm: pid %d (%s): no memory for a copy-on-write page\n", p->pid, p->name);
        return r.ok();
    }
    if (cause == 12) return false; // heap and stack are not executable
    if (!in_heap(p, va) && !in_stack(va)) return false;
    auto r = touch(p, va, true);
    if (!r.ok())
        kernel::log("mm: pid %d (%s): no memory for a page at 0x%lx (%s; reserved %lu, free %lu)\n",
                    p->pid, p->name, va, error_name(r.error()), p->reserved, available());
    return r.ok();
}

} // namespace capframe::mm
