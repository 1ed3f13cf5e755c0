// Boot-time memory: the free-RAM bookkeeping, the kernel's Sv39 table and
// the pieces of a user address space the kernel builds before the memory
// server exists.
#pragma once

#include "addr.h"
#include "machine.h"
#include "ranges.h"
#include "result.h"
#include "sv39.h"

namespace capframe {

// Page-table memory for the kernel: tables are reached through the identity
// map (valid with the MMU off and on), new ones come from the boot free RAM.
struct KernelMem {
    uint64_t* table(PhysAddr pa) { return reinterpret_cast<uint64_t*>(pa.value()); }
    Result<PhysAddr> alloc_table();
    void free_table(PhysAddr pa);
};
using PageTable = Sv39<KernelMem>;

// The kernel image as linked (boot/kernel.ld), at the address it runs at.
struct KernelImage {
    PhysAddr start, text_end, rodata_end, end, trampoline;
    static KernelImage current();
};

KernelMem& kernel_mem();
RangeSet& boot_free_ram();

// Computes free RAM (RAM - reservations - kernel - device tree). Panics with
// a clear message when the kernel does not fit in RAM or a reservation
// overlaps it.
void bootmem_init(const MachineInfo& m, const KernelImage& k, PhysRange dtb);
// A zeroed 4 KiB frame from the boot free RAM (the kernel's own boot-time
// needs; after boot every frame belongs to the memory server).
Result<PhysAddr> boot_frame();
// After this every boot allocation fails: the free frames belong to mm.
void close_boot_allocator();
// Prints the kernel table (the Control capability's VmPrint).
void kernel_vmprint();

// Builds the identity-mapped kernel table, prints and audits it.
enum class VmPrint { Full, Summary, Off };
PageTable& kvm_build(const MachineInfo& m, const KernelImage& k, VmPrint how);
void kvm_enable_paging(PageTable& t);
uint64_t kernel_satp();

PageTable& kernel_table();

// Kernel stacks live below the trampoline, each with an unmapped guard page
// under it: slot i occupies [kstack_bottom(i), kstack_bottom(i) + 4096).
// All 254 slots fall in the level-0 table that maps the trampoline, so a
// stack never needs a new table page after boot.
inline constexpr uint64_t kKstackSlots = 254;
constexpr uint64_t kstack_bottom(uint64_t slot) {
    return kTrampolineVa - (slot + 1) * 2 * kPageSize;
}
bool is_kstack_guard(uint64_t va, uint64_t& slot);

} // namespace capframe
