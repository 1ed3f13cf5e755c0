/* The C interface of libsys for programs built with picolibc: the xv6 user
 * API with xv6's names and meanings, and Capframe's own calls. Include it
 * instead of xv6's "user/user.h" (and not together with <unistd.h> or
 * <signal.h>, whose POSIX sleep/kill differ). Errors return -1. */
#ifndef CAPFRAME_USER_H
#define CAPFRAME_USER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* xv6 */
int fork(void);
void exit(int status) __attribute__((noreturn));
int wait(int* status);                   /* pid of a child that ended; -1 if none */
int exec(const char* path, char** argv); /* returns only on failure */
int getpid(void);
int kill(int pid); /* the process ends with status -1 */
#ifndef CAPFRAME_LIBC_IMPL
char* sbrk(int n); /* old break, or (char*)-1 */
#endif
int sleep(int ticks); /* timer ticks (100 per second) */
int uptime(void);     /* ticks since boot */
int close(int fd);
#ifndef CAPFRAME_LIBC_IMPL                 /* libc.cpp defines them with picolibc's (POSIX) types */
int write(int fd, const void* buf, int n); /* fd 1 and 2: the console */
int read(int fd, void* buf, int n);        /* fd 0: the console; waits for input */
#endif

/* Capframe */
long freeframes(void);              /* frames free in the memory server */
int setlimit(int pid, long frames); /* limit pid (self or a child) and its later children */
int meminfo(void);                  /* mm prints its accounting table */
long memmap(void);                  /* mm prints who holds each frame; runs printed */
int vmprint(int pid);               /* the kernel prints pid's page table (0: mm's) */
struct procinfo {
    int pid, parent, state; /* state: 1 running, 2 zombie */
    long frames;
    char name[9];
};
int getproc(int index, struct procinfo* out);    /* 0, or -1 past the last process */
int program_name(int index, char* buf, int len); /* the index-th program in the boot archive */
int prepare_write(void* va, long len);           /* make the range writable now (mm breaks COW) */
int mm_fail_alloc(long n); /* tests: the n-th frame allocation of our next mm request fails */
uint64_t timebase(void);   /* rdtime ticks per second */
/* The longest kernel-lock hold, in instructions retired (exact under -icount;
 * plain TCG ties instret to the host clock), since boot or the last reset
 * (reset != 0 starts over); *acquisitions (if given) the count. */
long lock_stats(int reset, uint64_t* acquisitions);

/* Helpers the test programs share. */
int wait_for(int pid, int* status); /* waits for pid, reaping others meanwhile; pid or -1 */
/* waits up to ticks until freeframes() == want; returns the last count */
long frames_settle(long want, int ticks);
/* 1 running, 2 zombie, 0 no such process; *frames (if given) its frames */
int proc_state(int pid, long* frames);
/* a child that execs path without arguments (or exits 1); its pid or -1 */
int spawn(const char* path);
/* a positive number (strtol, base 0); fallback if s is NULL; -1 if s is not one */
long arg_number(const char* s, long fallback);

/* Counters for benchmarks (the kernel lets user mode read them). */
static inline uint64_t rdinstret(void) {
    uint64_t v;
    __asm__ volatile("rdinstret %0" : "=r"(v));
    return v;
}
static inline uint64_t rdtime(void) {
    uint64_t v;
    __asm__ volatile("rdtime %0" : "=r"(v));
    return v;
}

#ifdef __cplusplus
}
#endif

#endif
