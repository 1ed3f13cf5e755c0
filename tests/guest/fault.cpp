// Stores through a null pointer: the kernel must kill this process with a
// clear message and keep running (it never panics on a user fault).
#include "capframe/sys.h"

int main() {
    sys::printf("fault: storing to address 0\n");
    *reinterpret_cast<volatile int*>(0) = 1;
    sys::printf("fault: still alive after the store (wrong)\n");
    return 0;
}
