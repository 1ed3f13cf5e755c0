#include "capframe/sys.h"

#include <cstdarg>

#include "format.h"

namespace sys {

using capframe::abi::Sys;

int64_t syscall_msg(Sys n, uint64_t a0, Msg& m) {
    capframe::abi::EcallRegs r{a0, m.w[0], m.w[1], m.w[2], m.w[3], 0};
    int64_t status = capframe::abi::ecall(static_cast<uint64_t>(n), r);
    m.w[0] = r.a1, m.w[1] = r.a2, m.w[2] = r.a3, m.w[3] = r.a4, m.badge = r.a5;
    return status;
}

int64_t cap_info(uint64_t slot, uint64_t* object) {
    Msg m;
    int64_t r = syscall_msg(Sys::CapInfo, slot, m);
    if (object) *object = m.w[0];
    return r;
}
int64_t retype(uint64_t frame, capframe::abi::ObjType type, uint64_t dst) {
    return syscall(Sys::Retype, frame, static_cast<uint64_t>(type), dst);
}

// The pass-through calls (capframe/syscalls.h), each
//     int64_t function(uint64_t a0, ...) { return syscall(Sys::number, a0, ...); }
// after a check that it has the type syscalls.h declares.
#define PARAMS_1 uint64_t a0
#define PARAMS_2 PARAMS_1, uint64_t a1
#define PARAMS_3 PARAMS_2, uint64_t a2
#define PARAMS_4 PARAMS_3, uint64_t a3
#define PARAMS_5 PARAMS_4, uint64_t a4
#define ARGS_1 a0
#define ARGS_2 ARGS_1, a1
#define ARGS_3 ARGS_2, a2
#define ARGS_4 ARGS_3, a3
#define ARGS_5 ARGS_4, a4
#define PASS_THROUGH(function, number, n)                                                          \
    static_assert(__is_same(decltype(&function), int64_t (*)(PARAMS_##n)));                        \
    int64_t function(PARAMS_##n) {                                                                 \
        return syscall(Sys::number, ARGS_##n);                                                     \
    }
CAPFRAME_PASS_THROUGH_CALLS(PASS_THROUGH)
#undef PASS_THROUGH

int64_t map(uint64_t frame, uint64_t as, uint64_t va, uint64_t rights, int* need_level) {
    Msg m;
    m.w[0] = as, m.w[1] = va, m.w[2] = rights;
    int64_t r = syscall_msg(Sys::Map, frame, m);
    if (need_level) *need_level = static_cast<int>(m.w[0]);
    return r;
}
int64_t batch(uint64_t frame, uint64_t count, uint64_t* second) {
    Msg m;
    m.w[0] = count;
    int64_t r = syscall_msg(Sys::Batch, frame, m);
    if (second) *second = m.w[0];
    return r;
}
int64_t thread_reply(uint64_t thread, const Msg& m) {
    return syscall(Sys::ThreadReply, thread, m.w[0], m.w[1], m.w[2], m.w[3]);
}
int64_t call(uint64_t ep, Msg& m) {
    return syscall_msg(Sys::Call, ep, m);
}
int64_t recv(uint64_t ep, Msg& m) {
    return syscall_msg(Sys::Recv, ep, m);
}
int64_t reply_recv(uint64_t ep, Msg& m) {
    return syscall_msg(Sys::ReplyRecv, ep, m);
}
int64_t batch_reply_recv(uint64_t ep, Msg& m, uint64_t frame, uint64_t count, bool reply) {
    capframe::abi::EcallRegs r{
        ep,     m.w[0], m.w[1],
        m.w[2], m.w[3], frame | count << 32 | (reply ? 0 : capframe::abi::kBatchRecvOnly)};
    int64_t status = capframe::abi::ecall(static_cast<uint64_t>(Sys::BatchReplyRecv), r);
    m.w[0] = r.a1, m.w[1] = r.a2, m.w[2] = r.a3, m.w[3] = r.a4, m.badge = r.a5;
    return status;
}
int64_t reply(const Msg& m) {
    Msg copy = m;
    return syscall_msg(Sys::Reply, 0, copy);
}
void shutdown(uint64_t control, int status) {
    syscall(Sys::Shutdown, control, static_cast<uint64_t>(static_cast<int64_t>(status)));
    for (;;) {
    }
}

int64_t write_some(int fd, const void* buf, size_t len) {
    return syscall(Sys::DebugWrite, static_cast<uint64_t>(fd), reinterpret_cast<uint64_t>(buf),
                   len);
}
int64_t write(int fd, const void* buf, size_t len) {
    // The kernel prints a bounded chunk per call. The first call checks the
    // whole buffer; the rest go a chunk at a time (each checked again).
    const char* p = static_cast<const char*>(buf);
    int64_t r = write_some(fd, p, len);
    if (r <= 0) return r;
    size_t done = static_cast<size_t>(r);
    while (done < len) {
        size_t n = len - done;
        if (n > capframe::abi::kWriteChunk) n = capframe::abi::kWriteChunk;
        r = write_some(fd, p + done, n);
        if (r <= 0) break; // the memory went away meanwhile: what was written
        done += static_cast<size_t>(r);
    }
    return static_cast<int64_t>(done);
}
int64_t console_read(void* buf, size_t len) {
    return syscall(Sys::ConsoleRead, reinterpret_cast<uint64_t>(buf), len);
}
int64_t sleep(uint64_t ticks) {
    return syscall(Sys::Sleep, ticks);
}
int64_t lock_stats(bool reset, uint64_t* acquisitions) {
    Msg m;
    int64_t r = syscall_msg(Sys::LockStats, reset ? 1 : 0, m);
    if (acquisitions) *acquisitions = m.w[0];
    return r;
}
uint64_t uptime() {
    return static_cast<uint64_t>(syscall(Sys::Uptime));
}
void yield() {
    syscall(Sys::Yield);
}

int64_t mm_request(capframe::mmp::Request r, uint64_t a1, uint64_t a2, uint64_t a3, Msg* out) {
    Msg m;
    m.w[0] = static_cast<uint64_t>(r), m.w[1] = a1, m.w[2] = a2, m.w[3] = a3;
    int64_t status = call(capframe::abi::kSlotMmEndpoint, m);
    if (out) *out = m;
    return status < 0 ? status : static_cast<int64_t>(m.w[0]);
}

void exit(int status) {
    mm_request(capframe::mmp::Request::Exit, static_cast<uint64_t>(static_cast<int64_t>(status)));
    for (;;) { // mm never answers an exit; if there is no mm, stay put
        yield();
    }
}

int getpid() {
    return static_cast<int>(mm_request(capframe::mmp::Request::Getpid));
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
