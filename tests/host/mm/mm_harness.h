// Drives mm's modules on the host, against the fake kernel: boots a machine,
// sends requests and faults as processes would, and checks the books.
#pragma once

#include <string>

#include "batch.h"
#include "capframe/mm_protocol.h"
#include "fake_kernel.h"
#include "frames.h"
#include "mappings.h"
#include "pages.h"
#include "server.h"
#include "slots.h"

namespace mmh {

using capframe::mm::kernel::Msg;
namespace mmp = capframe::mmp;
namespace mm = capframe::mm;

// Boots mm on `frames` frames with programs "init", "prog" and "big" (a
// larger data segment), then starts init (pid 1). False if anything fails.
bool boot(uint64_t frames, uint64_t slots = 0);

struct Answer {
    bool replied; // false: no reply (exit, exec, a wait still waiting)
    Msg out;
    int64_t r() const { return static_cast<int64_t>(out.w[0]); }
};
// After a message: the answer with the calls riding it, as serve() sends it.
void answer_as_serve_does(bool reply, const Msg& out);
Answer request(int pid, mmp::Request req, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0);
// A page fault of pid at va (scause 13 load, 15 store); true if mm resolved it.
bool fault(int pid, uint64_t va, uint64_t scause = 15);

// Process memory as mm sees it (through its windows); false if va is not
// mapped or not readable.
bool peek(int pid, uint64_t va, uint64_t& value);
bool poke(int pid, uint64_t va, uint64_t value); // as a write would: COW, demand-zero

// Every invariant of the books; "" if they hold, else what is wrong.
std::string check_books();
// Frames free now, frames free after start.
uint64_t free_frames();   // after mm gave back the empty leaves of its capability space
uint64_t available_now(); // mm::available() after the same
uint64_t free_at_start();
uint64_t slots_at_start(); // mm's capability slots in use after start

mm::Proc* proc(int pid);

} // namespace mmh
