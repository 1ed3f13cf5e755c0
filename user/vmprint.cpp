// vmprint [PID]: the kernel prints a process's page table through mm. With
// no argument: mm's own (pid 0) and this program's, and a check that an
// unknown pid is refused (the in-QEMU test runs it that way).
#include "capframe/sys.h"

namespace {
int64_t vmprint(int pid) {
    return sys::mm_request(capframe::mmp::Request::VmPrint, static_cast<uint64_t>(pid));
}
} // namespace

int main(int argc, char** argv) {
    if (argc > 1) {
        int pid = 0;
        for (const char* s = argv[1]; *s; ++s) {
            if (*s < '0' || *s > '9') {
                sys::printf("usage: vmprint [PID]\n");
                return 2;
            }
            pid = pid * 10 + (*s - '0');
        }
        if (vmprint(pid) < 0) {
            sys::printf("vmprint: no process %d\n", pid);
            return 1;
        }
        return 0;
    }
    int me = sys::getpid();
    int64_t a = vmprint(0), b = vmprint(me), c = vmprint(999);
    sys::printf("vmprint: mm %ld, self %ld, pid 999 %ld\n", a, b, c);
    return (a == 0 && b == 0 && c < 0) ? 0 : 1;
}
