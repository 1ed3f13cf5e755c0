// mm: the memory server. The first user task; it owns every free frame (as
// frame capabilities the kernel handed it at boot) and runs the processes:
// exec from the boot archive, fork with copy-on-write, exit/wait/kill, sbrk,
// demand-zero and copy-on-write faults, per-tree memory limits. Every frame
// comes back when processes end. docs/memory-server.md maps the modules;
// docs/processes.md explains the design.
//
// This file is start-up and the request loop; each operation has its own
// file (server.h lists them).
#include "batch.h"
#include "bootargs.h"
#include "kernel.h"
#include "selftest.h"
#include "server.h"

using namespace capframe::mm;

namespace {

[[noreturn]] void die(const char* what) {
    kernel::log("mm: %s\n", what);
    kernel::shutdown(1);
    for (;;)
        kernel::yield();
}

[[noreturn]] void serve() {
    kernel::Msg m;
    int64_t r = kernel::recv(g_pt.endpoint, m);
    for (;;) {
        kernel::Msg out;
        if (handle_message(r, m, out)) {
            m = out;
            r = g_batch.reply_recv(g_pt.endpoint, m); // with the calls riding the answer
        } else {
            r = g_batch.recv(g_pt.endpoint, m); // with the calls riding along
        }
    }
}

} // namespace

int main() {
    if (auto r = start(); !r.ok()) die("cannot take over the frames the kernel handed over");
    const char* bootargs = kernel::boot_info().bootargs;
    char flag[8];
    if (capframe::find_bootarg(bootargs, "mmtest", flag, sizeof flag)) selftest();

    static char init[24] = "init";
    static Args args;
    (void)capframe::find_bootarg(bootargs, "init", init, sizeof init);
    if (!init_args(bootargs, init, args)) {
        kernel::log("mm: the arguments of '%s' do not fit: at most %lu words, %lu bytes\n", init,
                    capframe::abi::kMaxArgs, capframe::abi::kMaxArgBytes);
        kernel::shutdown(1);
    }
    auto t = spawn_init(init, args);
    if (!t.ok()) {
        kernel::log("mm: cannot start '%s': %s\n", init, capframe::error_name(t.error()));
        kernel::shutdown(1);
    }
    uint64_t retired;
    asm volatile("rdinstret %0" : "=r"(retired));
    kernel::log("mm: started pid %d (%s) (%lu instructions since reset; exact under -icount)\n",
                g_pt.init_pid, init, static_cast<unsigned long>(retired));
    serve();
}
