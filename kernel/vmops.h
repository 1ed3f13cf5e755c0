// User address-space operations on behalf of capabilities.
#pragma once

#include <cstdint>

#include "object.h"
#include "result.h"

namespace capframe {

// Map / unmap / protect a frame capability's whole run (4 KiB leaves, U set).
// Map reports a missing page-table page as NeedTable with its level in
// *need_level.
Result<void> frame_map(Cap* frame, AddressSpace* as, uint64_t va, uint8_t rights, int* need_level);
Result<void> frame_unmap_checked(Cap* frame);
Result<void> frame_protect(Cap* frame, uint8_t rights);
// Every user page mapped in [va, end) of `as` loses W (fork's copy-on-write
// of a whole region in one call instead of a Protect per page); looks at no
// more than abi::kProtectRangeSteps entries and returns where it stopped
// (end when done). Misaligned or reversed bounds: InvalidArgument; end past
// the user part: OutOfRange. Only narrows what a frame capability allowed.
Result<uint64_t> as_protect_range(AddressSpace* as, uint64_t va, uint64_t end);
// Zeroes a frame that is free for use (FrameZero): Write, order <=
// abi::kFrameZeroMaxOrder, not mapped, donated or split, no children.
Result<void> frame_zero(Cap* frame);
// Donates an order-0 frame as the first missing page-table page on the way
// to va; returns its level.
Result<int> table_map(Cap* frame, AddressSpace* as, uint64_t va);
Result<void> table_unmap(Cap* frame);

// Binds a thread's page at TRAPFRAME in its address space (and unbinds).
Result<void> as_check_trapframe(const AddressSpace* as, const Thread* t);
void as_bind_trapframe(AddressSpace* as, Thread* t);
void as_unbind_trapframe(AddressSpace* as, Thread* t);

// Kernel stacks in the kernel's stack area (guard page below each).
Result<uint64_t> kstack_install(Cap* frame); // returns the slot
void kstack_remove(uint64_t slot);
uint64_t kstack_top(uint64_t slot);

void as_vmprint(const AddressSpace* as);

} // namespace capframe
