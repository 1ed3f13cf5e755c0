#include "vmops.h"

#include "arch/riscv64/csr.h"
#include "cap.h"
#include "console.h"
#include "hart.h"
#include "sv39.h"
#include "vm.h"
#include "vmprint.h"

namespace capframe {
namespace {

// User tables never allocate through the mapper: every table page is donated
// by the memory server (table_map), so alloc_table always says no and
// free_table is never reached (frame_unmap clears leaves itself).
struct DonatedTables {
    uint64_t* table(PhysAddr pa) { return reinterpret_cast<uint64_t*>(pa.value()); }
    Result<PhysAddr> alloc_table() { return Error::NeedTable; }
    void free_table(PhysAddr) {}
};
DonatedTables g_donated;

uint64_t* entries(uint64_t pa) {
    return reinterpret_cast<uint64_t*>(pa);
}

// The level-0 entry for va, or null with *missing = the level whose table is
// absent (1: no level-1 table under the root, 0: no level-0 table).
uint64_t* leaf_slot(uint64_t root, uint64_t va, int* missing) {
    uint64_t t = root;
    for (int level = 2; level > 0; --level) {
        Pte e(entries(t)[sv39::index(va, level)]);
        if (!e.valid()) {
            *missing = level - 1;
            return nullptr;
        }
        if (e.is_leaf()) { // a large leaf: not something user mappings make
            *missing = -1;
            return nullptr;
        }
        t = e.pa().value();
    }
    return &entries(t)[sv39::index(va, 0)];
}

Perm perm_of(uint8_t rights) {
    Perm p = Perm::U;
    if (rights & abi::kRightRead) p = p | Perm::R;
    if (rights & abi::kRightWrite) p = p | Perm::W;
    if (rights & abi::kRightExec) p = p | Perm::X;
    return p;
}

Result<void> check_rights(const Cap* frame, uint8_t rights) {
    uint8_t rwx = abi::kRightRead | abi::kRightWrite | abi::kRightExec;
    if (rights & ~rwx) return Error::InvalidArgument;
    if ((frame->rights & rights) != rights) return Error::Permission;
    return Sv39<DonatedTables>::check_perm(perm_of(rights)); // R or X; W needs R; never W+X
}

uint64_t run_bytes(const Cap* c) {
    return kPageSize << c->order;
}

// Kernel stack slots: all of them live in the level-0 table that already
// holds the trampoline, so installing one never needs a table page.
bool g_kstack_used[kKstackSlots];

} // namespace

void as_init(uint64_t pa) {
    uint64_t root = pa, l1 = pa + kPageSize, l0 = pa + 2 * kPageSize;
    entries(root)[sv39::index(kTrampolineVa, 2)] = Pte::table(PhysAddr(l1)).raw();
    entries(l1)[sv39::index(kTrampolineVa, 1)] = Pte::table(PhysAddr(l0)).raw();
    entries(l0)[sv39::index(kTrampolineVa, 0)] =
        Pte::leaf(KernelImage::current().trampoline, Perm::R | Perm::X).raw();
    AddressSpace* as = as_of(pa);
    as->root = root;
}

void as_clear(AddressSpace* as) {
    // Deletable means nothing mapped, no tables, no trapframe: only what
    // as_init wrote is left.
    uint64_t root = as->root, l1 = root + kPageSize, l0 = root + 2 * kPageSize;
    entries(root)[sv39::index(kTrampolineVa, 2)] = 0;
    entries(l1)[sv39::index(kTrampolineVa, 1)] = 0;
    entries(l0)[sv39::index(kTrampolineVa, 0)] = 0;
    *as = AddressSpace{};
}

Result<void> as_check_destroy(const AddressSpace* as) {
    if (as->bound_threads || as->tables || as->mapped_pages || as->trapframe_owner)
        return Error::Busy;
    return {};
}

Result<void> frame_map(Cap* frame, AddressSpace* as, uint64_t va, uint8_t rights, int* need_level) {
    if (!frame->has(abi::kRightMap)) return Error::Permission;
    TRY(check_rights(frame, rights));
    if (frame->flags & (abi::kCapMapped | abi::kCapDonated | abi::kCapSplit)) return Error::Busy;
    if (!is_aligned(va, kPageSize)) return Error::Misaligned;
    uint64_t size = run_bytes(frame);
    // User mappings end below the trapframe: the top two pages are the kernel's.
    if (va >= kTrapframeVa || size > kTrapframeVa - va) return Error::OutOfRange;
    for (uint64_t off = 0; off < size; off += kPageSize) {
        int missing = 0;
        uint64_t* slot = leaf_slot(as->root, va + off, &missing);
        if (!slot) {
            if (missing < 0) return Error::AlreadyMapped;
            *need_level = missing;
            return Error::NeedTable;
        }
        if (Pte(*slot).valid()) return Error::AlreadyMapped;
    }
    Perm p = perm_of(rights);
    for (uint64_t off = 0; off < size; off += kPageSize) {
        int missing = 0;
        *leaf_slot(as->root, va + off, &missing) =
            Pte::leaf(PhysAddr(frame->object + off), p).raw();
    }
    as->mapped_pages += size / kPageSize;
    frame->flags |= abi::kCapMapped;
    frame->zeroed = 0; // user code may write it
    frame->map_root = as->root;
    frame->map_va = va;
    if (rights & abi::kRightExec) note_code_mapped();
    // No fence: this hart flushes on its way back to user mode (the
    // trampoline); another hart in this table that cached the absence takes
    // a page fault, and its trap flushes.
    return {};
}

void frame_unmap(Cap* frame) {
    uint64_t size = run_bytes(frame);
    for (uint64_t off = 0; off < size; off += kPageSize) {
        int missing = 0;
        if (uint64_t* slot = leaf_slot(frame->map_root, frame->map_va + off, &missing)) *slot = 0;
    }
    AddressSpace* as = as_of(frame->map_root);
    as->mapped_pages -= size / kPageSize;
    frame->flags &= static_cast<uint8_t>(~abi::kCapMapped);
    frame->map_root = frame->map_va = 0;
    tlb_shootdown(as->root); // removed: harts running in it may cache it
}

Result<void> frame_unmap_checked(Cap* frame) {
    if (!(frame->flags & abi::kCapMapped)) return Error::NotMapped;
    frame_unmap(frame);
    return {};
}

Result<void> frame_protect(Cap* frame, uint8_t rights) {
    if (!(frame->flags & abi::kCapMapped)) return Error::NotMapped;
    TRY(check_rights(frame, rights));
    Perm p = perm_of(rights);
    for (uint64_t off = 0; off < run_bytes(frame); off += kPageSize) {
        int missing = 0;
        uint64_t* slot = leaf_slot(frame->map_root, frame->map_va + off, &missing);
        *slot = Pte(*slot).with_perm(p).raw();
    }
    if (rights & abi::kRightExec) note_code_mapped();
    tlb_shootdown(frame->map_root); // narrowed rights must reach every hart using it
    return {};
}

Result<void> frame_zero(Cap* frame) {
    if (!frame->has(abi::kRightWrite)) return Error::Permission;
    if (frame->order > abi::kFrameZeroMaxOrder) return Error::InvalidArgument;
    // Free for use: no mapping or copy can see it change (no TLB or icache
    // to keep in step) and no kernel object lives in it.
    if (!frame_free_for_use(frame)) return Error::Busy;
    frame_ensure_zero(frame); // (nothing to do if the kernel knows it is)
    return {};
}

Result<uint64_t> as_protect_range(AddressSpace* as, uint64_t va, uint64_t end) {
    if (!is_aligned(va, kPageSize) || !is_aligned(end, kPageSize) || va > end)
        return Error::InvalidArgument;
    if (end > kTrapframeVa) return Error::OutOfRange;
    constexpr uint64_t kL1Span = uint64_t{1} << 30, kL0Span = uint64_t{1} << 21;
    constexpr uint64_t kUserRw = Pte::kV | Pte::kU | Pte::kW;
    uint64_t steps = 0;
    bool changed = false;
    while (va < end && steps < abi::kProtectRangeSteps) {
        ++steps;
        Pte top(entries(as->root)[sv39::index(va, 2)]);
        if (!top.is_table()) {
            va = (va & ~(kL1Span - 1)) + kL1Span;
            continue;
        }
        Pte mid(entries(top.pa().value())[sv39::index(va, 1)]);
        uint64_t table_end = (va & ~(kL0Span - 1)) + kL0Span;
        if (!mid.is_table()) {
            va = table_end;
            continue;
        }
        uint64_t* leaf = entries(mid.pa().value());
        uint64_t stop = table_end < end ? table_end : end;
        for (; va < stop; va += kPageSize) {
            uint64_t& e = leaf[sv39::index(va, 0)];
            if ((e & kUserRw) == kUserRw) {
                e &= ~(Pte::kW | Pte::kD);
                changed = true;
            }
        }
        steps += sv39::kEntries - 1;
    }
    if (changed) tlb_shootdown(as->root); // narrowed: every hart using it
    return va < end ? va : end;
}

Result<int> table_map(Cap* frame, AddressSpace* as, uint64_t va) {
    if (!frame->has(abi::kRightDonate)) return Error::Permission;
    if (frame->order != 0) return Error::InvalidArgument;
    if (!frame_free_for_use(frame)) return Error::Busy;
    if (va >= kTrapframeVa) return Error::OutOfRange;
    int missing = 0;
    if (leaf_slot(as->root, va, &missing)) return Error::AlreadyMapped; // all tables present
    if (missing < 0) return Error::AlreadyMapped;
    // The table above the missing one exists: find its entry.
    uint64_t t = as->root;
    for (int level = 2; level > missing + 1; --level)
        t = Pte(entries(t)[sv39::index(va, level)]).pa().value();
    frame_zero_for_use(frame);
    entries(t)[sv39::index(va, missing + 1)] = Pte::table(PhysAddr(frame->object)).raw();
    frame->flags |= abi::kCapDonated;
    frame->donated_as = kDonatedTable;
    frame->table_level = static_cast<uint8_t>(missing);
    frame->map_root = as->root;
    frame->map_va = va;
    as->tables++;
    return missing;
}

#ifdef CAPFRAME_TEST_KERNEL
constexpr bool kTestKernel = true; // checks what the counts promise
#else
constexpr bool kTestKernel = false;
#endif

Result<void> table_unmap(Cap* frame) {
    if (!(frame->flags & abi::kCapDonated) || frame->donated_as != kDonatedTable)
        return Error::InvalidArgument;
    // Still holds mappings or tables? The address space's counts answer
    // without a look when they can: Map makes only 4 KiB leaves (counted in
    // mapped_pages), so a level-0 table holds leaves alone and a donated
    // level-1 table only the level-0 tables donated under it (counted, with
    // itself, in tables). At exit, after the pages, that is every table.
    const AddressSpace* as = as_of(frame->map_root);
    const bool known_empty = frame->table_level == 0 ? as->mapped_pages == 0 : as->tables == 1;
    // Otherwise, or to check the counts in a test kernel, the 512 entries
    // (eight a turn; a used table is found at once).
    if (!known_empty || kTestKernel) {
        const uint64_t* e = entries(frame->object);
        for (unsigned i = 0; i < sv39::kEntries; i += 8)
            if (e[i] | e[i + 1] | e[i + 2] | e[i + 3] | e[i + 4] | e[i + 5] | e[i + 6] | e[i + 7]) {
                if (known_empty)
                    panic("UnmapTable: the counts say the level-%u table at 0x%lx is empty; "
                          "entries %u-%u are not",
                          frame->table_level, frame->object, i, i + 7);
                return Error::Busy;
            }
    }
    table_release(frame);
    return {};
}

void table_release(Cap* frame) {
    uint64_t t = frame->map_root;
    for (int level = 2; level > frame->table_level + 1; --level)
        t = Pte(entries(t)[sv39::index(frame->map_va, level)]).pa().value();
    entries(t)[sv39::index(frame->map_va, frame->table_level + 1)] = 0;
    tlb_shootdown(frame->map_root);
    as_of(frame->map_root)->tables--;
    frame->flags &= static_cast<uint8_t>(~abi::kCapDonated);
    frame->donated_as = 0;
    frame->map_root = frame->map_va = 0;
    frame->zeroed = 1; // an empty table: every entry zero (table_unmap checked)
}

Result<void> as_check_trapframe(const AddressSpace* as, const Thread* t) {
    if (as->trapframe_owner && as->trapframe_owner != t) return Error::Busy;
    return {};
}

void as_bind_trapframe(AddressSpace* as, Thread* t) {
    uint64_t l0 = as->root + 2 * kPageSize;
    entries(l0)[sv39::index(kTrapframeVa, 0)] =
        Pte::leaf(PhysAddr(reinterpret_cast<uint64_t>(t)), Perm::R | Perm::W).raw();
    as->trapframe_owner = t;
    as->bound_threads++;
}

void as_unbind_trapframe(AddressSpace* as, Thread* t) {
    if (as->trapframe_owner == t) {
        entries(as->root + 2 * kPageSize)[sv39::index(kTrapframeVa, 0)] = 0;
        as->trapframe_owner = nullptr;
    }
    as->bound_threads--;
    tlb_shootdown(as->root);
}

Result<uint64_t> kstack_install(Cap* frame) {
    if (!frame->has(abi::kRightDonate)) return Error::Permission;
    if (frame->order != 0) return Error::InvalidArgument;
    if (!frame_free_for_use(frame)) return Error::Busy;
    uint64_t slot = kKstackSlots;
    for (uint64_t i = 0; i < kKstackSlots && slot == kKstackSlots; ++i)
        if (!g_kstack_used[i]) slot = i;
    if (slot == kKstackSlots) return Error::TooMany;
    frame_zero_for_use(frame);
    TRY(kernel_table().map(VirtAddr(kstack_bottom(slot)), PhysAddr(frame->object), kPageSize,
                           Perm::R | Perm::W, PageSizes::Only4K));
    g_kstack_used[slot] = true;
    frame->flags |= abi::kCapDonated;
    frame->donated_as = kDonatedKstack;
    frame->kstack_slot = static_cast<uint16_t>(slot);
    kernel_table_changed();
    return slot;
}

void kstack_remove(uint64_t slot) {
    // The level-0 table of the kernel stacks also holds the trampoline: it
    // stays, and is not scanned for emptiness.
    (void)kernel_table().unmap(VirtAddr(kstack_bottom(slot)), kPageSize, PageTable::Tables::Keep);
    g_kstack_used[slot] = false;
    kernel_table_changed();
}

uint64_t kstack_top(uint64_t slot) {
    return kstack_bottom(slot) + kPageSize;
}

void as_vmprint(const AddressSpace* as) {
    vmprint(console_sink(), g_donated, PhysAddr(as->root));
    vmprint_summary(console_sink(), g_donated, PhysAddr(as->root));
}

} // namespace capframe
