/* heapmax: how much heap one process can sbrk and touch.
 *
 *   heapmax [STEP_MIB]   (default 4)
 *
 * A child grows its heap STEP_MIB at a time with sbrk, writes every page of
 * each step, and prints a progress line every 64 MiB, until sbrk fails. It
 * then prints "heapmax: sbrk+touched N MiB (N pages), then sbrk failed" and
 * exits 0. If the child is killed on the way (a page it was promised could
 * not be given), the parent says so, and the last progress line is how far
 * it got (and mm's message names the page it could not give; the first line
 * says where the heap starts). Either way the parent checks that every frame came back.
 * Exit status: 0 if sbrk failed cleanly and no frame was lost, 1 otherwise. */
#include <stdio.h>
#include <stdlib.h>

#include "capframe/user.h"

#define PAGE 4096L
#define MIB (1L << 20)
#define BAD ((char*)-1)

static int grow(long step) {
    long got = 0;
    for (;;) {
        char* p = sbrk((int)step);
        if (p == BAD) break;
        for (long off = 0; off < step; off += PAGE)
            p[off] = 1;
        got += step;
        if (got % (64 * MIB) == 0) {
            printf("heapmax: %ld MiB touched, %ld frames free\n", got / MIB, freeframes());
        }
    }
    printf("heapmax: sbrk+touched %ld MiB (%ld pages), then sbrk failed; %ld frames free\n",
           got / MIB, got / PAGE, freeframes());
    return 0;
}

int main(int argc, char** argv) {
    long step = (argc > 1 ? atol(argv[1]) : 4) * MIB;
    if (step <= 0 || step > 1024 * MIB) {
        printf("usage: heapmax [STEP_MIB], 1..1024\n");
        return 2;
    }
    long f0 = freeframes();
    printf("heapmax: %ld frames free (%ld MiB), steps of %ld MiB, heap from %p\n", f0,
           f0 * PAGE / MIB, step / MIB, (void*)sbrk(0));
    int pid = fork();
    if (pid < 0) {
        printf("heapmax: fork failed\n");
        return 1;
    }
    if (pid == 0) exit(grow(step));
    int status = 0;
    wait_for(pid, &status);
    long f1 = frames_settle(f0, 100);
    printf("heapmax: child exited with status %d; frames free %ld, before %ld\n", status, f1, f0);
    return status == 0 && f1 == f0 ? 0 : 1;
}
