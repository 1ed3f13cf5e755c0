// What mm asks of the kernel: the one seam between the memory server's logic
// and the system. Every module of mm reaches the kernel only through these
// functions. kernel_sys.cpp implements them with system calls (the only file
// of mm's core that includes capframe/sys.h); tests/host/mm/fake_kernel.cpp
// implements them with a model of the kernel's capability rules, so that the
// frame records, the mapping index, reservations, copy-on-write and
// fork/exec/exit bookkeeping run on the host (GoogleTest, libFuzzer).
//
// Results are the kernel's: >= 0 on success, a negated abi::Errno on failure.
// Slot numbers index mm's own capability table unless a call says otherwise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "capframe/abi.h"
#include "capframe/msg.h"

namespace capframe::mm::kernel {

using Msg = capframe::Msg; // capframe/msg.h, the same type as sys::Msg

// Capabilities (abi::Sys::Cap*, FrameSplit, Retype). dst_table 0: mm's own
// table; otherwise the slot of a CapTable object mm holds.
int64_t cap_info(uint64_t slot, uint64_t* pa = nullptr);
int64_t cap_copy(uint64_t src, uint64_t dst_table, uint64_t dst, uint64_t rights, uint64_t badge);
int64_t cap_delete(uint64_t slot);
int64_t cap_revoke(uint64_t slot);
int64_t frame_split(uint64_t slot, uint64_t lo, uint64_t hi);
int64_t retype(uint64_t frame, abi::ObjType type, uint64_t dst);
// mm's two-level capability space (table 0: its own): a one-page CapTable
// becomes leaf `index`; an empty leaf leaves.
int64_t cap_attach(uint64_t table, uint64_t leaf, uint64_t index);
int64_t cap_detach(uint64_t table, uint64_t index);
// The inverse of frame_split(slot, slot, hi): hi merges back into lo.
int64_t frame_merge(uint64_t lo, uint64_t hi);
// A frame capability free for use moves to an empty slot (compaction).
int64_t cap_move(uint64_t src, uint64_t dst);

// Address spaces. map: NeedTable with *need_level set when a table is missing.
int64_t map(uint64_t frame, uint64_t as, uint64_t va, uint64_t rights, int* need_level = nullptr);
int64_t unmap(uint64_t frame);
int64_t protect(uint64_t frame, uint64_t rights);
// Every page mapped in [va, end) of as read-only; returns where it stopped.
int64_t protect_range(uint64_t as, uint64_t va, uint64_t end);
int64_t map_table(uint64_t frame, uint64_t as, uint64_t va);
int64_t unmap_table(uint64_t frame);
int64_t vmprint(uint64_t as);

// Batches (abi::Sys::Batch): `count` abi::BatchEntry records in the first
// page of `frame` (mm's batch page, mapped in mm) run in order in one kernel
// entry; the kernel stops at the first that fails and writes each result
// back. Returns how many succeeded (or a negated errno for the batch
// itself); *second: the a1 value of the last entry run (Map's level).
int64_t batch(uint64_t frame, uint64_t count, uint64_t* second = nullptr);

// Threads.
int64_t thread_configure(uint64_t thread, uint64_t as, uint64_t table, uint64_t fault_ep);
int64_t thread_set_stack(uint64_t thread, uint64_t frame);
int64_t thread_write_regs(uint64_t thread, uint64_t pc, uint64_t sp, uint64_t a0, uint64_t a1);
int64_t thread_start(uint64_t thread);
int64_t thread_suspend(uint64_t thread);
int64_t thread_reply(uint64_t thread, const Msg& m); // the deferred answer to its call
int64_t thread_copy_regs(uint64_t dst, uint64_t src, uint64_t a0, uint64_t a1);

// IPC on mm's endpoint.
int64_t recv(uint64_t ep, Msg& m);
int64_t reply_recv(uint64_t ep, Msg& m);
void yield();

// The end: the system powers off with this status (the host fake records it
// and returns).
void shutdown(int status);

// The console.
void log(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void write(const char* s, size_t n);

// What the kernel gave mm at start: BootInfo, the boot archive, and mm's own
// memory at a virtual address (the frame-metadata region, the scratch
// windows onto frames it fills).
const abi::BootInfo& boot_info();
std::span<const uint8_t> boot_archive();
void* view(uint64_t va);

} // namespace capframe::mm::kernel
