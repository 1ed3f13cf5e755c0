/* memmap: a picture of physical memory for ./capframe memmap. Starts a few
 * processes that hold memory (heaps of different sizes, one fork sharing
 * its parent's pages copy-on-write), asks mm to print who holds each frame
 * ("memmap: PA COUNT KIND PID NAME" lines, tools/memmap.py draws them), then
 * ends them all. memmap [CHILDREN] (default 3, at most 8). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capframe/user.h"

#define MAX_CHILDREN 8

/* A child: a heap of `pages` pages, touched, then waits to be killed. With
 * share set it forks once more: the grandchild shares the heap (COW). */
static void hold(int pages, int share) {
    char* heap = sbrk(pages * 4096L);
    if (heap == (char*)-1) exit(2);
    for (int i = 0; i < pages; ++i)
        heap[i * 4096L] = (char)i;
    if (share && fork() == 0) {
        for (;;)
            sleep(100);
    }
    for (;;)
        sleep(100);
}

int main(int argc, char** argv) {
    int n = argc > 1 ? atoi(argv[1]) : 3;
    if (n < 1 || n > MAX_CHILDREN) {
        printf("memmap: CHILDREN from 1 to %d\n", MAX_CHILDREN);
        return 2;
    }
    int pids[MAX_CHILDREN];
    long before = freeframes(), heaps = 0;
    for (int i = 0; i < n; ++i) {
        heaps += 64L << i;
        pids[i] = fork();
        if (pids[i] < 0) {
            printf("memmap: fork failed\n");
            return 1;
        }
        if (pids[i] == 0) hold(64 << i, i == 0);
    }
    /* Wait until the children have touched their heaps (sbrk only promises
     * frames, a touch takes one from the free list), the first one's child
     * exists (its fork is one mm request: its pages are shared once it
     * shows) and the free count holds still; up to 30 s, so that a slow,
     * busy host is waited for instead of drawn half-way. */
    long last = -1, steady = 0;
    for (int t = 0; t < 3000; ++t) {
        long now = freeframes();
        steady = now == last ? steady + 1 : 0;
        last = now;
        int grandchild = 0;
        struct procinfo gi;
        for (int i = 0; getproc(i, &gi) == 0; ++i)
            grandchild |= gi.parent == pids[0] && gi.state == 1;
        if (before - last >= heaps && grandchild && steady >= 5) break;
        sleep(1);
    }
    long runs = memmap();
    /* The grandchild first, then the children (only ours: run from the
     * shell, sh and init are running too). */
    struct procinfo pi;
    for (int i = 0; getproc(i, &pi) == 0; ++i)
        if (pi.parent == pids[0] && pi.state == 1) kill(pi.pid);
    int status;
    for (int i = 0; i < n; ++i) {
        kill(pids[i]);
        wait_for(pids[i], &status);
    }
    if (runs < 0) {
        printf("memmap: mm refused\n");
        return 1;
    }
    printf("memmap: %ld runs printed\n", runs);
    return 0;
}
