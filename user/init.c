/* init: the first process (pid 1). Starts the shell; when sh exits (`exit`,
 * `exit N`, end of input) init ends the session and exits with sh's status,
 * which mm hands to the kernel's shutdown. Only a shell that was killed
 * (status -1) is started again. Every process whose parent ended is handed
 * to init, so any other pid wait() returns is such an orphan, just reaped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capframe/user.h"

#define SH_NOT_RUNNABLE 127 /* the status sh.c's child and this file use for "exec failed" */

static int start_sh(void) {
    int pid = fork();
    if (pid < 0) {
        printf("init: fork failed\n");
        return -1;
    }
    if (pid == 0) {
        char* argv[] = {"sh", 0};
        exec("sh", argv);
        printf("init: exec sh failed\n");
        exit(SH_NOT_RUNNABLE);
    }
    return pid;
}

/* Before init itself ends: kill what is still running under it (orphans
 * that never exited) and reap everything, so nothing is left behind. */
static void end_session(void) {
    struct procinfo pi;
    int me = getpid();
    for (int i = 0; getproc(i, &pi) == 0; ++i)
        if (pi.parent == me && pi.pid != me && pi.state == 1) kill(pi.pid);
    int status;
    while (wait(&status) >= 0) {
    }
}

int main(int argc, char** argv) {
    int failures_in_a_row = 0;
    for (;;) {
        int sh = start_sh();
        if (sh < 0) {
            end_session();
            exit(1);
        }
        int status = 0;
        int pid;
        while ((pid = wait(&status)) >= 0 && pid != sh) {
            /* an orphan handed to us: reaped, nothing else to do */
        }
        if (pid < 0) { /* cannot happen while sh lives; do not spin */
            printf("init: lost track of sh (pid %d)\n", sh);
            end_session();
            exit(1);
        }
        printf("init: sh exited with status %d\n", status);
        if (status != -1) { /* sh exited (exit N, end of input, exec failed) */
            end_session();
            exit(status);
        }
        if (++failures_in_a_row > 10) {
            printf("init: giving up on sh\n");
            end_session();
            exit(1);
        }
    }
}
