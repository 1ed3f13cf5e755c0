// The first user program: proves the trip into user mode and back through
// the trampoline, with a console write and an exit.
#include "capframe/sys.h"

int main() {
    sys::printf("hello: running in user mode as pid %d\n", sys::getpid());
    sys::printf("hello: %d timer ticks since boot\n", static_cast<int>(sys::uptime()));
    sys::printf("hello: goodbye\n");
    return 0;
}
