// sbrk: the heap grows by a reservation (its pages and the page tables they
// may need are promised, so the first touch cannot fail) and shrinks by
// giving pages and promises back.
#include "batch.h"
#include "errors.h"
#include "frames.h"
#include "mappings.h"
#include "pages.h"
#include "server.h"

namespace capframe::mm {

uint64_t heap_tables(const Proc* p, uint64_t top) {
    if (top <= p->heap_base) return 0;
    uint64_t base = p->heap_base;
    return ((top - 1) >> 21) - (base >> 21) + 1 + ((top - 1) >> 30) - (base >> 30) + 1;
}

int64_t sbrk(Proc* p, int64_t n) {
    uint64_t old = p->brk;
    uint64_t want = old + static_cast<uint64_t>(n);
    if ((n > 0 && want < old) || (n < 0 && want > old) || want < p->heap_base || want > kHeapTop)
        return err(Errno::NoMem);
    uint64_t old_top = (old + kPage - 1) & ~(kPage - 1);
    uint64_t new_top = (want + kPage - 1) & ~(kPage - 1);
    if (new_top > old_top) {
        // The pages, and the page tables of the 2 MiB and 1 GiB regions the
        // heap enters.
        uint64_t tables = heap_tables(p, new_top) - heap_tables(p, old_top);
        if (!reserve(p, (new_top - old_top) / kPage + tables).ok()) return err(Errno::NoMem);
        reserve_to_tables(p, tables);
    } else {
        uint32_t list[abi::kBatchMax];
        uint64_t listed = 0;
        for (uint64_t va = new_top; va < old_top; va += kPage) {
            if (uint32_t i = find_mapping(p, va))
                list[listed++] = i;
            else
                unreserve(p, 1);
            if (listed == abi::kBatchMax || (listed && va + kPage >= old_top)) {
                remove_mappings(list, listed);
                listed = 0;
            }
        }
        // The regions the heap left give their table promise back (a table
        // already made stays until exit, and serves a later growth).
        unreserve_tables(p, heap_tables(p, old_top) - heap_tables(p, new_top));
    }
    p->brk = want;
    // A small growth is placed at once (zeroed by the kernel, one kernel
    // entry): whoever grows a heap by a few pages writes them next, and
    // each would otherwise cost a fault and its round trip through mm. The
    // frames come out of the promise just made; a page that cannot be
    // placed now stays promised and comes at its first touch.
    const uint64_t pages = (new_top - old_top) / kPage;
    if (new_top > old_top && pages <= kEagerSbrkPages && p->table_hint == (old_top >> 21) + 1 &&
        p->table_hint == ((new_top - 1) >> 21) + 1 && g_batch.can_ride(2 * pages)) {
        // Their tables are there: the kernel's part rides the answer. (A
        // page MapPage put above the break stays; it and the pages after
        // it stay promised, as when the kernel refuses its Map below.)
        for (uint64_t va = old_top; va < new_top; va += kPage)
            if (find_mapping(p, va) || !new_page_riding(p, va, kMapW, true, false).ok()) break;
    } else if (new_top > old_top && pages <= kEagerSbrkPages) {
        PageFiller f(p, true);
        f.expect((new_top - old_top) / kPage);
        for (uint64_t va = old_top; va < new_top; va += kPage)
            if (!f.add(va, kMapW, nullptr, 0).ok()) break;
        (void)f.finish();
    }
    return static_cast<int64_t>(old);
}

} // namespace capframe::mm
