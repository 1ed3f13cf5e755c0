// Prints mm's frame accounting (mm writes the table to the console).
#include "capframe/sys.h"

int main() {
    sys::Msg m;
    int64_t r = sys::mm_request(capframe::mmp::Request::Meminfo, 0, 0, 0, &m);
    if (r < 0) {
        sys::printf("meminfo: mm refused: %ld\n", r);
        return 1;
    }
    return 0;
}
