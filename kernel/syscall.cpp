#include "syscall.h"

#include "capframe/abi.h"
#include "console.h"
#include "trap.h"

namespace capframe {
namespace {

using abi::Errno;
using abi::error_return;

int64_t sys_write(Process& p, uint64_t fd, UserPtr<const char> buf, uint64_t len) {
    if (fd != 1 && fd != 2) return error_return(Errno::Inval);
    if (len > abi::kWriteMax) len = abi::kWriteMax;
    if (len == 0) return 0;
    // Check the whole buffer before writing a byte of it.
    if (!check_user_readable(p, buf.va(), len).ok()) return error_return(Errno::Fault);

    char chunk[abi::kWriteChunk];
    for (uint64_t done = 0; done < len;) {
        uint64_t n = len - done < sizeof chunk ? len - done : sizeof chunk;
        if (!copy_from_user(p, chunk, buf.va() + done, n).ok()) return error_return(Errno::Fault);
        console_write(chunk, n);
        done += n;
    }
    return static_cast<int64_t>(len);
}

} // namespace

int64_t do_syscall(Process& p, arch::TrapFrame& tf) {
    uint64_t a0 = tf.regs[arch::a0];
    switch (static_cast<abi::Sys>(tf.regs[arch::a7])) {
    case abi::Sys::Write:
        return sys_write(p, a0, UserPtr<const char>(tf.regs[arch::a1]), tf.regs[arch::a2]);
    case abi::Sys::Exit:
        exit_current(static_cast<int>(a0));
    case abi::Sys::Getpid:
        return p.pid;
    case abi::Sys::Uptime:
        return static_cast<int64_t>(timer_ticks());
    case abi::Sys::Yield:
        return 0;
    }
    return error_return(Errno::NoSys);
}

} // namespace capframe
