#include "boot_mm.h"

#include "arch/riscv64/csr.h"
#include "cap.h"
#include "capframe/abi.h"
#include "console.h"
#include "mm_sizing.h"
#include "thread.h"
#include "vmops.h"

extern "C" char __boot_archive_start[], __boot_archive_end[];

namespace capframe {
namespace {

// mm's image as tools/embed_user.py writes it (offsets relative to it).
struct EmbeddedSegment {
    uint64_t vaddr, filesz, memsz, flags, data_offset;
};
struct EmbeddedImage {
    uint64_t entry, segment_count;
    EmbeddedSegment segments[4];
};
static_assert(sizeof(EmbeddedImage) == 16 + 4 * 40);
extern "C" const EmbeddedImage mm_image;

constexpr uint64_t kFirstFrameSlot = 8;

Perm elf_perm(uint64_t flags) {
    Perm p = Perm::U;
    if (flags & 4) p = p | Perm::R;
    if (flags & 2) p = p | Perm::W;
    if (flags & 1) p = p | Perm::X;
    return p;
}

PhysAddr must(Result<PhysAddr> r, const char* what) {
    if (!r.ok()) panic("building mm: no boot memory for %s", what);
    return r.value();
}

void must(Result<void> r, const char* what) {
    if (!r.ok()) panic("building mm: %s failed: %s", what, error_name(r.error()));
}

void set_root_cap(Cap* c, ObjType type, uint8_t order, uint64_t object) {
    c->type = type;
    c->rights = abi::kRightsAll;
    c->order = order;
    c->object = object;
    mdb_insert_root(c);
}

// At most 1 GiB (order 18) per frame capability.
uint8_t largest_order(uint64_t base, uint64_t size) {
    return largest_aligned_order(base, size, 18);
}

// Frame capabilities the free RAM makes as naturally aligned runs.
uint64_t frame_cap_count(const RangeSet& ram) {
    uint64_t n = 0;
    for (int i = 0; i < ram.count(); ++i)
        for (uint64_t b = ram[i].base.value(), e = ram[i].end(); b < e; ++n)
            b += kPageSize << largest_order(b, e - b);
    return n;
}

// A one-page leaf of mm's space at directory index `index`.
void make_leaf(uint64_t pa, uint64_t* dir, uint64_t index) {
    zero_frames(pa, 1);
    auto* h = phys_to<CapTableHeader>(pa);
    h->slot_count = kLeafSlots;
    h->attached_to = reinterpret_cast<uint64_t>(dir);
    h->attached_index = static_cast<uint32_t>(index);
    h->boot_leaf = 1;
    dir[index] = pa;
}

} // namespace

Thread* build_memory_server(const MachineInfo& m, uint64_t free_at_boot, uint64_t kernel_frames) {
    const EmbeddedImage* prog = &mm_image;
    if (prog->segment_count == 0 || prog->segment_count > 4)
        panic("the boot image's mm has %lu segments", prog->segment_count);

    RangeSet& ram = boot_free_ram();
    KernelMem& kmem = kernel_mem();
    uint64_t before = ram.total_bytes() / kPageSize;
    if (ram.count() == 0) panic("no free RAM left for the memory server");
    // Table order, metadata window and bytes: lib/mm_sizing.h (host-tested
    // per board in tests/host/boards_test.cpp).
    const MmSizing sizing = mm_sizing(ram);
    uint64_t window_base = sizing.window_base;
    uint64_t window_frames = sizing.window_frames;
    uint64_t meta_bytes = sizing.meta_bytes;

    // The capability space: a directory for as many leaves as this RAM
    // could need, and its root (leaf 0, one page). More boot leaves for the
    // frame capabilities come last, when the free RAM is final.
    PhysAddr dir_pa = must(ram.take(sizing.dir_bytes, kPageSize), "the capability directory");
    zero_frames(dir_pa.value(), sizing.dir_bytes / kPageSize);
    auto* dir = phys_to<uint64_t>(dir_pa.value());
    PhysAddr table_pa = must(boot_frame(), "the capability table");
    make_leaf(table_pa.value(), dir, 0);
    CapTableRef table{phys_to<Cap>(table_pa.value()), sizing.dir_entries << kLeafShift, dir};
    table.header()->dir_entries = static_cast<uint32_t>(sizing.dir_entries);
    table.header()->dir = dir_pa.value();

    PhysAddr as_pa = must(ram.take(4 * kPageSize, 4 * kPageSize), "the address space");
    zero_frames(as_pa.value(), 4);
    as_init(as_pa.value());
    AddressSpace* as = as_of(as_pa.value());
    PhysAddr thread_pa = must(boot_frame(), "the thread");
    Thread* thread = phys_to<Thread>(thread_pa.value());
    thread_init(thread);
    PhysAddr kstack_pa = must(boot_frame(), "the kernel stack");

    set_root_cap(table.slot(abi::kSlotSelfCapTable), ObjType::CapTable, 0, table_pa.value());
    set_root_cap(table.slot(abi::kSlotSelfAs), ObjType::AddressSpace, 2, as_pa.value());
    set_root_cap(table.slot(abi::kSlotSelfThread), ObjType::Thread, 0, thread_pa.value());
    set_root_cap(table.slot(abi::kSlotControl), ObjType::Control, 0, 0);
    Cap* kstack_cap = table.slot(5);
    set_root_cap(kstack_cap, ObjType::Frame, 0, kstack_pa.value());

    // mm's program and stack, mapped with boot table pages.
    Sv39<KernelMem> user(kmem, PhysAddr(as->root));
    const auto* base = reinterpret_cast<const uint8_t*>(&mm_image);
    for (uint64_t s = 0; s < prog->segment_count; ++s) {
        const EmbeddedSegment& seg = prog->segments[s];
        for (uint64_t off = 0; off < seg.memsz; off += kPageSize) {
            PhysAddr frame = must(boot_frame(), "mm's image");
            auto* dst = reinterpret_cast<uint8_t*>(frame.value());
            for (uint64_t b = 0; b < kPageSize && off + b < seg.filesz; ++b)
                dst[b] = base[seg.data_offset + off + b];
            must(user.map(VirtAddr(seg.vaddr + off), frame, kPageSize, elf_perm(seg.flags)),
                 "mapping mm's image");
        }
    }
    arch::fence_i(); // program text was written through the data side
    for (uint64_t i = 1; i <= abi::kUserStackPages; ++i)
        must(user.map(VirtAddr(abi::kUserStackTop - i * kPageSize),
                      must(boot_frame(), "mm's stack"), kPageSize, Perm::R | Perm::W | Perm::U),
             "mapping mm's stack");

    // The boot archive (cpio newc), read-only, so mm can exec programs from it.
    PhysAddr images(reinterpret_cast<uint64_t>(__boot_archive_start));
    uint64_t image_bytes = reinterpret_cast<uint64_t>(__boot_archive_end) - images.value();
    uint64_t mapped_bytes = 0;
    (void)align_up(image_bytes, kPageSize, mapped_bytes);
    if (image_bytes)
        must(user.map(VirtAddr(abi::kBootImageVa), images, mapped_bytes, Perm::R | Perm::U,
                      PageSizes::Only4K),
             "mapping the boot archive");

    // The allocator's per-frame metadata (the boot-time cost of mm's free
    // list), then mm's books for the leaves of its capability space. One
    // contiguous run when RAM has one: zeroed by words and mapped by one
    // walk, with 2 MiB pages where aligned (page by page, these were the
    // largest boot cost that grows with RAM: ~540 instructions a page to
    // map); else page by page.
    uint64_t book_bytes = 0;
    (void)align_up(meta_bytes + sizing.slot_book_bytes, kPageSize, book_bytes);
    if (auto run = ram.take(book_bytes, kMegaPageSize); run.ok()) {
        // Zeroed: the metadata's first part and the leaf books; the mapping
        // records (half the metadata) are taken from a high-water mark and
        // never read before written.
        zero_frames(run.value().value(), sizing.meta_zeroed_bytes / kPageSize);
        zero_frames(run.value().value() + meta_bytes, (book_bytes - meta_bytes) / kPageSize);
        must(user.map(VirtAddr(abi::kFrameMetaVa), run.value(), book_bytes,
                      Perm::R | Perm::W | Perm::U, PageSizes::Upto2M),
             "mapping frame metadata");
    } else {
        for (uint64_t off = 0; off < book_bytes; off += kPageSize)
            must(user.map(VirtAddr(abi::kFrameMetaVa + off), must(boot_frame(), "frame metadata"),
                          kPageSize, Perm::R | Perm::W | Perm::U),
                 "mapping frame metadata");
    }

    PhysAddr info_pa = must(boot_frame(), "BootInfo");
    must(user.map(VirtAddr(abi::kBootInfoVa), info_pa, kPageSize, Perm::R | Perm::U),
         "mapping BootInfo");
    auto* info = phys_to<abi::BootInfo>(info_pa.value());

    // Thread set-up: kernel stack, trapframe, registers.
    uint64_t slot = 0;
    {
        auto r = kstack_install(kstack_cap);
        if (!r.ok()) panic("building mm: kernel stack: %s", error_name(r.error()));
        slot = r.value();
    }
    thread->kstack_cap = kstack_cap;
    thread->kstack_slot = slot;
    must(thread_configure(thread, as, table, nullptr, 0), "configuring mm's thread");
    thread->tf.epc = prog->entry;
    thread->tf.regs[arch::sp] = abi::kUserStackTop;
    thread->tf.regs[arch::a0] = abi::kBootInfoVa;

    // Boot leaves: enough for every frame capability (taking them can cut
    // a run in two: a margin) and kMmBootSpareSlots more.
    uint64_t slots_needed = kFirstFrameSlot + frame_cap_count(ram) + 64 + kMmBootSpareSlots;
    uint64_t leaves = (slots_needed + kLeafSlots - 2) / (kLeafSlots - 1);
    if (leaves > sizing.dir_entries) panic("building mm: %lu boot leaves", leaves);
    for (uint64_t i = 1; i < leaves; ++i)
        make_leaf(must(boot_frame(), "a capability leaf").value(), dir, i);

    // Every frame left goes to mm, as naturally aligned power-of-two runs.
    uint64_t mm_frames = before - ram.total_bytes() / kPageSize;
    uint64_t next = kFirstFrameSlot, frames = 0;
    for (int i = 0; i < ram.count(); ++i) {
        uint64_t b = ram[i].base.value(), e = ram[i].end();
        while (b < e) {
            uint8_t order = largest_order(b, e - b);
            if ((next & (kLeafSlots - 1)) == 0) ++next; // a leaf's header
            Cap* c = table.slot(next++);
            if (!c) panic("building mm: too many frame capabilities");
            set_root_cap(c, ObjType::Frame, order, b);
            b += kPageSize << order;
            frames += uint64_t{1} << order;
        }
    }
    close_boot_allocator();

    info->magic = abi::kBootInfoMagic;
    info->total_frames = free_at_boot;
    info->kernel_boot_frames = kernel_frames;
    info->mm_frames = mm_frames;
    info->mm_captable_slots = table.count;
    info->first_frame_slot = kFirstFrameSlot;
    info->frame_slot_count = next - kFirstFrameSlot;
    info->first_free_slot = next;
    info->image_bytes = image_bytes;
    info->window_base = window_base;
    info->window_frames = window_frames;
    info->meta_bytes = meta_bytes;
    info->meta_zeroed_bytes = sizing.meta_zeroed_bytes;
    info->cap_dir_entries = sizing.dir_entries;
    info->boot_leaves = leaves;
    info->slot_book_bytes = sizing.slot_book_bytes;
    static_assert(sizeof info->bootargs == sizeof m.bootargs, "bootargs fit mm's BootInfo");
    for (size_t i = 0; i + 1 < sizeof info->bootargs && m.bootargs[i]; ++i)
        info->bootargs[i] = m.bootargs[i];

    kprintf("kernel: mm built from the boot image: %lu frames (image, stack, objects, tables)\n",
            mm_frames);
    kprintf("kernel: handing %lu free frames (%lu MiB) to mm in %lu frame capabilities\n", frames,
            frames >> 8, next - kFirstFrameSlot);
    kprintf("kernel: mm's capability space: %lu boot leaves, a directory of %lu leaves (%lu "
            "frames)\n",
            leaves, sizing.dir_entries, sizing.dir_bytes / kPageSize);
    return thread;
}

} // namespace capframe
