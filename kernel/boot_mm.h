#pragma once

#include "machine.h"
#include "object.h"
#include "vm.h"

namespace capframe {

// Builds the memory server from the boot image: its capability table,
// address space, thread and kernel stack in boot frames, its program, a
// BootInfo page, then hands it every remaining free frame as Frame
// capabilities and closes the boot allocator. Returns mm's thread, not yet
// started (kmain starts it once every hart is up).
Thread* build_memory_server(const MachineInfo& m, uint64_t free_at_boot, uint64_t kernel_frames);

} // namespace capframe
