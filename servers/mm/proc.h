// The process table: what mm knows of each process (pid, parent, state,
// its kernel objects, its memory), and the calls that build and end them.
// The kernel knows only threads, address spaces and capability tables;
// processes are mm's.
#pragma once

#include <cstdint>

#include "accounting.h"
#include "buddy.h"
#include "capframe/abi.h"
#include "result.h"

namespace capframe::mm {

inline constexpr uint64_t kPage = 4096;
inline constexpr int kMaxProcs = 63; // process slots, including exec's image under construction
inline constexpr uint32_t kNone = 0; // "no entry" in index links (entries count from 1)
inline constexpr uint64_t kFaultBit = uint64_t{1} << 32; // badge bit of fault messages

enum class State : uint8_t { Free, Running, Zombie, Building };

struct Proc {
    State state = State::Free;
    int pid = 0, parent = 0, status = 0, group = -1;
    bool waiting = false;
    bool stuck = false; // the kernel kept objects of it: the slot is never reused
    uint64_t wait_va = 0;
    bool wait_in_answer = false; // only check wait_va: the status goes in the answer
    char name[24] = {};
    uint32_t table_obj = 0, as_obj = 0, thread_obj = 0, badged_ep = 0;
    Block table_block{}, as_block{}, thread_block{}, kstack_block{};
    uint32_t tables = kNone; // its page-table frames (index + 1), linked through FrameInfo
    int table_count = 0;
    uint32_t maps = kNone; // list of Mapping indices
    uint64_t heap_base = 0, brk = 0;
    uint64_t reserved = 0;       // frames sbrk promised to the heap, not yet pages
    uint64_t table_reserved = 0; // frames sbrk promised for the heap's page tables
    uint64_t cow_reserved = 0;   // frames held for copy-on-write copies (fork)
    // A 2 MiB region ((va >> 21) + 1; 0: none) whose page tables p is known
    // to have (a Map there succeeded; they stay until exec or exit): a Map
    // there cannot fail, so it may ride the answer (new_page_riding).
    uint64_t table_hint = 0;
};

struct ProcTable {
    Proc procs[kMaxProcs + 1]; // the last slot is mm's own (scratch-window tables)
    int next_pid = 1;
    int init_pid = 0;
    uint64_t endpoint = 0; // mm's endpoint (slot)
};
extern ProcTable g_pt;

inline Proc& mm_self() {
    return g_pt.procs[kMaxProcs];
}
inline int slot_of(const Proc* p) {
    return static_cast<int>(p - g_pt.procs);
}
inline TaskId id_of(const Proc* p) {
    if (!p || p == &mm_self()) return kMmTask;
    return static_cast<TaskId>(slot_of(p));
}
Proc* proc_by_pid(int pid); // a Running or Zombie process
Proc* new_proc(State s);    // a free slot, or null
void set_name(Proc* p, const char* name);

// Kernel objects in frames charged to p; the slot (and block) on success.
Result<uint32_t> make_object(Proc* p, abi::ObjType type, uint8_t order, Block& block);
// Deletes a kernel object and gives its frames back. False (and nothing
// freed, the object kept in obj/block) if the kernel still refuses.
bool delete_object(Proc* p, uint32_t& obj, Block& block, Use use);
// The objects every process has: capability table, address space, thread
// with its guarded kernel stack, and its endpoint capabilities to mm.
Result<void> make_process_objects(Proc* p);
// What configure_thread does next, in the same batch: the registers
// copied from another thread (fork) or set (exec), then maybe the start.
struct ThreadSetup {
    uint32_t copy_regs_from = 0;
    bool write_regs = false;
    uint64_t pc = 0, sp = 0, a0 = 0, a1 = 0;
    bool start = false;
};
// Binds p's thread to an address space with mm as its fault handler, then
// `then`; all of it in one kernel call. Fails if any part failed.
// ride: the calls ride the answer (Batch::ride) when they can, as calls
// that cannot fail (a fresh or stopped thread of mm's, on no hart, an empty
// slot): fork's last step, exec's (its next batch takes them in front).
Result<void> configure_thread(Proc* p, uint32_t as, const ThreadSetup& then = {},
                              bool ride = false);
void drop_tables(Proc* p); // its page-table frames go back, leaf level first
// What drop_image and drop_tables do (the mappings' calls, then every page
// table's), with the objects asked for, in one batch when they fit in one
// (mm's batch holds nothing of anyone else's); the books follow the calls
// that ran, and whatever did not run is left for those steps, which the
// caller makes next. The thread first (on no hart: suspended, or waiting
// in its call to mm), the address space, then the endpoint copy and the
// capability table last.
inline constexpr unsigned kDropThread = 1, kDropAs = 2, kDropRest = 4;
void drop_at_once(Proc* p, unsigned what);
void drop_image(Proc* p); // every mapping and reservation goes back
// Everything p holds goes back; the slot stays (a zombie keeps its status).
void teardown(Proc* p);

} // namespace capframe::mm
