// The memory server's operations, one file each: start-up (start.cpp),
// exec (exec.cpp), fork (fork.cpp), exit/wait/kill (exit.cpp), sbrk
// (sbrk.cpp), page faults (fault.cpp) and the request dispatch
// (requests.cpp). main.cpp runs start() and the request loop on the real
// kernel; the host tests drive the same calls against a fake kernel.
#pragma once

#include <cstdint>

#include "capframe/abi.h"
#include "kernel.h"
#include "proc.h"
#include "result.h"

namespace capframe::mm {

// exec's arguments: argc strings, NUL-terminated, back to back.
struct Args {
    uint64_t argc = 0;
    uint64_t bytes = 0;
    char strings[abi::kMaxArgBytes];
    uint16_t offsets[abi::kMaxArgs];
    bool add(const char* s, uint64_t n); // false (and nothing added) if it does not fit
};

// Takes over what the kernel handed mm (BootInfo): the slots of its
// capability table, the metadata region, every free frame; makes mm's
// endpoint. Prints the summary line.
Result<void> start();
uint64_t free_at_start();

// Replaces p's image by program `name` with `args`. On any error p is as it
// was. On success p's thread starts afresh in the new image. fresh: p has
// no image yet (the first process).
Result<void> exec_into(Proc* p, const char* name, const Args& args, bool fresh);
// The first process: `name` with its arguments.
Result<Proc*> spawn_init(const char* name, const Args& args);
// Splits bootargs "init=NAME ... -- ARG ARG" into name's argv; false if an
// argument does not fit (too many or too long).
bool init_args(const char* bootargs, const char* name, Args& args);

Result<Proc*> fork(Proc* parent, uint64_t sp = 0);
// A heap of this many pages or more is shared lazily by fork (fork.cpp,
// share_heap); the host tests raise it to test the per-page path.
inline constexpr uint64_t kLazyHeapPages = 64;
inline uint64_t g_lazy_heap_pages = kLazyHeapPages;

// p ends with status: everything goes back, its children go to init, its
// parent learns (wait). When init ends, the system shuts down.
void end_process(Proc* p, int status);
// wait: false when the answer is deferred (p waits for a child).
// in_answer (kWaitStatusInAnswer): the status pointer is only checked (the
// caller stores the answer's m1 there).
bool wait(Proc* p, uint64_t status_va, int64_t& result, bool in_answer = false);

int64_t sbrk(Proc* p, int64_t n);
// The page tables a heap up to `top` may need (what sbrk promises for them).
uint64_t heap_tables(const Proc* p, uint64_t top);

// A fault message {kFaultLabel, scause, stval, sepc}: true if fixed.
bool handle_fault(Proc* p, const kernel::Msg& m);
void kill_for_fault(Proc* p, const kernel::Msg& m);

// Handles one request from p; false when there is no reply (p is gone or
// waits).
bool request(Proc* p, const kernel::Msg& m, kernel::Msg& out);
// One message from mm's endpoint (r: the receive's result): false when
// there is no reply; out (zeroed by the caller) is the reply otherwise.
bool handle_message(int64_t r, const kernel::Msg& m, kernel::Msg& out);

// Prints who holds each frame (./capframe memmap); returns the runs printed.
uint64_t memmap();

// True once init ended and the system was told to shut down.
bool shut_down();

} // namespace capframe::mm
