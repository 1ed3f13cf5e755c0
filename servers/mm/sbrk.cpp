// sbrk: the heap grows by a reservation (its pages and the page tables they
// may need are promised, so the first touch cannot fail) and shrinks by
// giving pages and promises back.
#include "errors.h"
#include "frames.h"
#include "mappings.h"
#include "pages.h"
#include "server.h"

namespace capframe::mm {

int64_t sbrk(Proc* p, int64_t n) {
    uint64_t old = p->brk;
    uint64_t want = old + static_cast<uint64_t>(n);
    if ((n > 0 && want < old) || (n < 0 && want > old) || want < p->heap_base || want > kHeapTop)
        return err(Errno::NoMem);
    uint64_t old_top = (old + kPage - 1) & ~(kPage - 1);
    uint64_t new_top = (want + kPage - 1) & ~(kPage - 1);
    if (new_top > old_top) {
        // The pages, and the page tables they may need (one per 2 MiB and
        // per 1 GiB region the growth enters).
        constexpr uint64_t k2M = uint64_t{1} << 21, k1G = uint64_t{1} << 30;
        uint64_t tables =
            (new_top - 1) / k2M - old_top / k2M + 1 + (new_top - 1) / k1G - old_top / k1G + 1;
        if (!reserve(p, (new_top - old_top) / kPage + tables).ok()) return err(Errno::NoMem);
    } else {
        for (uint64_t va = new_top; va < old_top; va += kPage) {
            if (uint32_t i = find_mapping(p, va))
                remove_mapping(i);
            else
                unreserve(p, 1);
        }
    }
    p->brk = want;
    return static_cast<int64_t>(old);
}

} // namespace capframe::mm
