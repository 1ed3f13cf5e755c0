// Prints page tables through mm and the kernel: mm's own (pid 0) and this
// program's. (vmprint PID with an argument comes with argv in exec.)
#include "capframe/sys.h"

int main() {
    int me = sys::getpid();
    int64_t a = sys::mm_request(capframe::mmp::Request::VmPrint, 0);
    int64_t b = sys::mm_request(capframe::mmp::Request::VmPrint, static_cast<uint64_t>(me));
    int64_t c = sys::mm_request(capframe::mmp::Request::VmPrint, 999);
    sys::printf("vmprint: mm %ld, self %ld, pid 999 %ld\n", a, b, c);
    return (a == 0 && b == 0 && c < 0) ? 0 : 1;
}
