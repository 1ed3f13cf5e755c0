/* ps: the processes the memory server knows, with the frames each holds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capframe/user.h"

static const char* state_name(int state) {
    switch (state) {
    case 1:
        return "running";
    case 2:
        return "zombie";
    }
    return "?";
}

int main(int argc, char** argv) {
    struct procinfo pi;
    printf("%5s %6s %-8s %7s %s\n", "PID", "PARENT", "STATE", "FRAMES", "NAME");
    for (int i = 0; getproc(i, &pi) == 0; ++i)
        printf("%5d %6d %-8s %7ld %s\n", pi.pid, pi.parent, state_name(pi.state), pi.frames,
               pi.name);
    return 0;
}
