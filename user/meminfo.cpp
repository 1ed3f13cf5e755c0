// Prints mm's frame accounting (mm writes the table to the console).
#include "capframe/sys.h"

int main() {
    sys::Msg m;
    int64_t r = sys::mm_request(capframe::mmp::Request::Meminfo, 0, 0, 0, &m);
    if (r < 0) {
        sys::printf("meminfo: mm refused: %ld\n", r);
        return 1;
    }
    uint64_t taken = 0;
    int64_t longest = sys::lock_stats(false, &taken);
    sys::printf("kernel: longest lock hold since boot: %ld instructions retired (%lu acquisitions; "
                "instructions only under -icount)\n",
                static_cast<long>(longest), static_cast<unsigned long>(taken));
    return 0;
}
