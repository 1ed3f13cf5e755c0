// Test kernels only: asks the kernel to recurse on this thread's kernel
// stack until it hits the guard page; the kernel must panic with
// "kernel stack overflow, thread N".
#include "capframe/sys.h"

int main() {
    sys::printf("kstackbomb: asking the kernel to overflow its stack\n");
    int64_t r = sys::syscall(capframe::abi::Sys::DebugKstackOverflow);
    sys::printf("kstackbomb: the kernel returned %ld (not a test kernel?)\n", r);
    return 1;
}
