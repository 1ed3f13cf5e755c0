#include "capframe/sys.h"

#include <cstdarg>

#include "format.h"

namespace sys {

using capframe::abi::Sys;

int64_t write(int fd, const void* buf, size_t len) {
    return syscall(Sys::Write, static_cast<uint64_t>(fd), reinterpret_cast<uint64_t>(buf), len);
}

void exit(int status) {
    syscall(Sys::Exit, static_cast<uint64_t>(static_cast<int64_t>(status)));
    for (;;) {
    }
}

int getpid() {
    return static_cast<int>(syscall(Sys::Getpid));
}
uint64_t uptime() {
    return static_cast<uint64_t>(syscall(Sys::Uptime));
}
void yield() {
    syscall(Sys::Yield);
}

namespace {
// printf buffers a line at a time so one line is one write system call.
struct LineBuffer {
    char buf[128];
    size_t used = 0;
    void flush() {
        if (used) write(1, buf, used);
        used = 0;
    }
};
void line_write(void* ctx, const char* s, size_t n) {
    auto* b = static_cast<LineBuffer*>(ctx);
    for (size_t i = 0; i < n; ++i) {
        b->buf[b->used++] = s[i];
        if (s[i] == '\n' || b->used == sizeof b->buf) b->flush();
    }
}
} // namespace

int printf(const char* fmt, ...) {
    LineBuffer b;
    va_list ap;
    va_start(ap, fmt);
    size_t n = capframe::vformat(capframe::Sink{line_write, &b}, fmt, ap);
    va_end(ap);
    b.flush();
    return static_cast<int>(n);
}

} // namespace sys

extern "C" [[noreturn]] void _exit_from_main(int status) {
    sys::exit(status);
}
