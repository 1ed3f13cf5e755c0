// libsys's C library layer: the system calls picolibc needs (write, read,
// sbrk, _exit), its standard streams, and the xv6 API of capframe/user.h.
// Compiled against picolibc's headers (user/meson.build).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "capframe/sys.h"
#define CAPFRAME_LIBC_IMPL
#include "capframe/user.h"

extern "C" ssize_t read(int fd, void* buf, size_t n);

namespace mmp = capframe::mmp;
namespace abi = capframe::abi;
using mmp::Request;

namespace {

int64_t mm(Request r, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0, sys::Msg* out = nullptr) {
    return sys::mm_request(r, a1, a2, a3, out);
}

// stdout/stderr: a line buffer, written with one system call per line.
char g_out[256];
size_t g_out_used = 0;

void flush_out() {
    // Nothing buffered: no store either. fork, exec and sleep call this, and
    // a needless store to a page shared copy-on-write after a fork needs a
    // frame (stress exhaust: the parent killed at sleep() while a child
    // that had not exec'd yet shared its bss, with no frame left).
    if (g_out_used == 0) return;
    size_t done = 0;
    while (done < g_out_used) {
        int64_t n = sys::write(1, g_out + done, g_out_used - done);
        if (n <= 0) break;
        done += static_cast<size_t>(n);
    }
    g_out_used = 0;
}

int put(char c, FILE*) {
    g_out[g_out_used++] = c;
    if (c == '\n' || g_out_used == sizeof g_out) flush_out();
    return static_cast<unsigned char>(c);
}

int flush(FILE*) {
    flush_out();
    return 0;
}

int get(FILE*) {
    char c;
    flush_out();
    return read(0, &c, 1) == 1 ? static_cast<unsigned char>(c) : EOF;
}

FILE g_stdio = FDEV_SETUP_STREAM(put, get, flush, _FDEV_SETUP_RW);

} // namespace

FILE* const stdin = &g_stdio;
FILE* const stdout = &g_stdio;
FILE* const stderr = &g_stdio;

extern "C" {

// picolibc's exit() runs the atexit handlers, then this.
void _exit(int status) {
    flush_out();
    sys::exit(status);
}

// The signatures picolibc calls; capframe/user.h declares the xv6 ones.
ssize_t write(int fd, const void* buf, size_t n) {
    if (fd == 1 || fd == 2) flush_out(); // keep order with buffered stdio
    int64_t r = sys::write(fd, buf, n);
    return r < 0 ? -1 : static_cast<ssize_t>(r);
}

ssize_t read(int fd, void* buf, size_t n) {
    if (fd != 0) return -1;
    if (n == 0) return 0;
    for (;;) {
        int64_t r = sys::console_read(buf, n);
        if (r == abi::error_return(abi::Errno::Fault)) {
            // Copy-on-write or not yet touched: mm makes it writable (or
            // says it is not our memory) and we try again.
            if (mm(Request::PrepareWrite, reinterpret_cast<uint64_t>(buf), n) < 0) return -1;
            r = sys::console_read(buf, n);
        }
        if (r < 0) return -1;
        if (r > 0) return static_cast<ssize_t>(r);
        sys::sleep(1); // nothing typed yet: look again next tick
    }
}

int close(int fd) {
    return fd >= 0 && fd <= 2 ? 0 : -1;
}

void* sbrk(ptrdiff_t n) {
    int64_t r = mm(Request::Sbrk, static_cast<uint64_t>(static_cast<int64_t>(n)));
    return r < 0 ? reinterpret_cast<void*>(-1) : reinterpret_cast<void*>(r);
}

int fork(void) {
    flush_out(); // or the child would print the parent's pending output again
    // The stack pointer: mm copies the page under it at once instead of
    // sharing it copy-on-write (parent and child both write it first).
    uint64_t sp;
    asm volatile("mv %0, sp" : "=r"(sp));
    int64_t r = mm(Request::Fork, sp);
    return r < 0 ? -1 : static_cast<int>(r);
}

int wait(int* status) {
    // The status comes in the answer (m1): mm checks the pointer (a bad one
    // fails with the child left to reap) and writes nothing into this
    // process, so it opens and closes no window for it.
    sys::Msg out;
    int64_t r = mm(Request::Wait, reinterpret_cast<uint64_t>(status),
                   capframe::mmp::kWaitStatusInAnswer, 0, &out);
    if (r >= 0 && status) *status = static_cast<int>(static_cast<int64_t>(out.w[1]));
    return r < 0 ? -1 : static_cast<int>(r);
}

int exec(const char* path, char** argv) {
    flush_out();
    int64_t r =
        mm(Request::Exec, reinterpret_cast<uint64_t>(path), reinterpret_cast<uint64_t>(argv));
    return r < 0 ? -1 : static_cast<int>(r); // returns only on failure
}

int getpid(void) {
    return sys::getpid();
}

int kill(int pid) {
    return mm(Request::Kill, static_cast<uint64_t>(static_cast<int64_t>(pid))) < 0 ? -1 : 0;
}

int sleep(int ticks) {
    if (ticks < 0) return -1;
    flush_out();
    return sys::sleep(static_cast<uint64_t>(ticks)) < 0 ? -1 : 0;
}

int uptime(void) {
    return static_cast<int>(sys::uptime());
}

long freeframes(void) {
    sys::Msg m;
    if (mm(Request::FreeFrames, 0, 0, 0, &m) < 0) return -1;
    return static_cast<long>(m.w[1]);
}

int setlimit(int pid, long frames) {
    return mm(Request::SetLimit, static_cast<uint64_t>(static_cast<int64_t>(pid)),
              static_cast<uint64_t>(frames)) < 0
               ? -1
               : 0;
}

int meminfo(void) {
    flush_out();
    return mm(Request::Meminfo) < 0 ? -1 : 0;
}

long memmap(void) {
    flush_out();
    sys::Msg m;
    if (sys::mm_request(Request::MemMap, 0, 0, 0, &m) < 0) return -1;
    return static_cast<long>(m.w[1]);
}

int vmprint(int pid) {
    flush_out();
    return mm(Request::VmPrint, static_cast<uint64_t>(static_cast<int64_t>(pid))) < 0 ? -1 : 0;
}

int getproc(int index, struct procinfo* out) {
    sys::Msg m;
    int64_t r = mm(Request::ProcInfo, static_cast<uint64_t>(static_cast<int64_t>(index)), 0, 0, &m);
    if (r < 0) return -1;
    const uint64_t words[3] = {m.w[1], m.w[2], m.w[3]};
    mmp::ProcInfoReply info = mmp::decode_proc_info(words);
    out->pid = static_cast<int>(r);
    out->parent = static_cast<int>(info.parent);
    out->state = static_cast<int>(info.state);
    out->frames = static_cast<long>(info.frames);
    memcpy(out->name, info.name, 8);
    out->name[8] = 0;
    return 0;
}

int program_name(int index, char* buf, int len) {
    sys::Msg m;
    if (len <= 0 ||
        mm(Request::Program, static_cast<uint64_t>(static_cast<int64_t>(index)), 0, 0, &m) < 0)
        return -1;
    const uint64_t words[3] = {m.w[1], m.w[2], m.w[3]};
    mmp::ProgramReply prog = mmp::decode_program(words);
    strncpy(buf, prog.name, static_cast<size_t>(len));
    buf[len - 1] = 0;
    return 0;
}

int prepare_write(void* va, long len) {
    return mm(Request::PrepareWrite, reinterpret_cast<uint64_t>(va), static_cast<uint64_t>(len)) < 0
               ? -1
               : 0;
}

int spawn(const char* path) {
    int pid = fork();
    if (pid == 0) {
        // The path, argv[0] and argv side by side on this stack: mm reads
        // them through one window (one kernel entry less than a path on
        // another page). A path too long for the copy goes as it is.
        struct {
            char* argv[2];
            char name[64];
        } a;
        const bool fits = strlcpy(a.name, path, sizeof a.name) < sizeof a.name;
        a.argv[0] = a.name, a.argv[1] = nullptr;
        exec(fits ? a.name : path, a.argv);
        exit(1);
    }
    return pid;
}

long arg_number(const char* s, long fallback) {
    if (!s) return fallback;
    char* end = nullptr;
    long v = strtol(s, &end, 0);
    return *s && !*end && v > 0 ? v : -1;
}

int wait_for(int pid, int* status) {
    int st = 0, w;
    while ((w = wait(&st)) >= 0)
        if (w == pid) {
            *status = st;
            return w;
        }
    return -1;
}

long frames_settle(long want, int ticks) {
    long now = freeframes();
    for (int i = 0; i < ticks && now != want; ++i) {
        sleep(1);
        now = freeframes();
    }
    return now;
}

int proc_state(int pid, long* frames) {
    procinfo pi;
    for (int i = 0; getproc(i, &pi) == 0; ++i)
        if (pi.pid == pid) {
            if (frames) *frames = pi.frames;
            return pi.state;
        }
    return 0;
}

int mm_fail_alloc(long n) {
    return mm(Request::FailAlloc, static_cast<uint64_t>(n)) < 0 ? -1 : 0;
}

uint64_t timebase(void) {
    return static_cast<uint64_t>(sys::syscall(abi::Sys::Timebase));
}

long lock_stats(int reset, uint64_t* acquisitions) {
    return static_cast<long>(sys::lock_stats(reset != 0, acquisitions));
}

} // extern "C"
