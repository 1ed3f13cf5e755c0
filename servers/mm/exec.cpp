// exec: a new image from the boot archive, built beside the old one in a
// Building process slot with its own address space; the old image goes only
// once the new one is complete.
#include "archive.h"
#include "batch.h"
#include "cpio.h"
#include "elf.h"
#include "errors.h"
#include "frames.h"
#include "kernel.h"
#include "mappings.h"
#include "pages.h"
#include "server.h"
#include "slots.h"

namespace capframe::mm {

bool Args::add(const char* s, uint64_t n) {
    if (argc == abi::kMaxArgs || bytes + n + 1 > abi::kMaxArgBytes) return false;
    offsets[argc++] = static_cast<uint16_t>(bytes);
    for (uint64_t k = 0; k < n; ++k)
        strings[bytes++] = s[k];
    strings[bytes++] = 0;
    return true;
}

namespace {

// The new image's address space and the page tables its segments need, in
// one batch (FreshTables, pages.h; the stack's are the address space
// object's own): the Retype, then the MapTables. Before, the first Map of
// the image found each table missing and the batch ran again for it.
Result<uint32_t> make_space(Proc* img, const ElfImage& elf) {
    FreshTables tables;
    for (int s = 0; s < elf.segment_count; ++s) {
        const auto& seg = elf.segments[s];
        tables.cover(seg.vaddr & ~(kPage - 1), (seg.vaddr + seg.memsz + kPage - 1) & ~(kPage - 1));
    }
    Block block = TRY(alloc_frames(img, Use::KernelObject, 2));
    auto slot = g_slots.alloc();
    auto undo = [&](Error e) -> Error {
        if (slot.ok()) g_slots.free(slot.value());
        free_frames(img, Use::KernelObject, block);
        return e;
    };
    if (!slot.ok()) return undo(Error::NoMemory);
    if (auto r = tables.allocate(img); !r.ok()) return undo(r.error());
    flush_deferred_merges(1 + tables.n); // (none: the batch is ours)
    g_batch.add(abi::Sys::Retype, block.slot, static_cast<uint64_t>(abi::ObjType::AddressSpace),
                slot.value());
    tables.queue(img, slot.value());
    const uint64_t done = g_batch.run(img).done;
    tables.ran(img, done); // (none made without the space)
    if (done == 0) return undo(Error::NoMemory);
    img->as_block = block;
    return slot.value();
}

// The new image in `img`: segments and a stack with argv.
Result<uint64_t> build_image(Proc* img, const ElfImage& elf, std::span<const uint8_t> file,
                             const Args& args, uint64_t& sp_out, uint64_t& argv_out) {
    uint64_t top = 0;
    PageFiller pages(img);
    uint64_t count = 1; // the stack's page
    for (int s = 0; s < elf.segment_count; ++s) {
        const auto& seg = elf.segments[s];
        count += ((seg.vaddr + seg.memsz + kPage - 1) >> kPageShift) - (seg.vaddr >> kPageShift);
    }
    pages.expect(count);
    for (int s = 0; s < elf.segment_count; ++s) {
        const auto& seg = elf.segments[s];
        uint64_t flags = (seg.flags & 2 ? kMapW : 0) | (seg.flags & 1 ? kMapX : 0);
        uint64_t start = seg.vaddr & ~(kPage - 1);
        uint64_t end = (seg.vaddr + seg.memsz + kPage - 1) & ~(kPage - 1);
        for (uint64_t va = start; va < end; va += kPage) {
            // File bytes of this page: [seg.vaddr, seg.vaddr + filesz) ∩ page.
            uint64_t lo = va > seg.vaddr ? va : seg.vaddr;
            uint64_t file_end = seg.vaddr + seg.filesz;
            uint64_t hi = va + kPage < file_end ? va + kPage : file_end;
            const uint8_t* src = nullptr;
            uint64_t len = 0;
            if (hi > lo) {
                src = file.data() + seg.offset + (lo - seg.vaddr);
                len = hi - lo;
            }
            TRY(pages.add(va, flags, src, len, lo - va));
        }
        if (end > top) top = end;
    }
    // The stack's top page: the strings, then argv[] (16-byte aligned).
    static uint8_t page[kPage];
    for (uint8_t& c : page)
        c = 0;
    uint64_t str_base = kPage - ((args.bytes + 15) & ~uint64_t{15});
    for (uint64_t k = 0; k < args.bytes; ++k)
        page[str_base + k] = static_cast<uint8_t>(args.strings[k]);
    uint64_t vec = (str_base - (args.argc + 1) * 8) & ~uint64_t{15};
    uint64_t page_va = abi::kUserStackTop - kPage;
    for (uint64_t k = 0; k < args.argc; ++k) {
        uint64_t ptr = page_va + str_base + args.offsets[k];
        for (int b = 0; b < 8; ++b)
            page[vec + k * 8 + b] = static_cast<uint8_t>(ptr >> (8 * b));
    }
    TRY(pages.add(page_va, kMapW, page, kPage));
    TRY(pages.finish());
    sp_out = page_va + vec;
    argv_out = page_va + vec;
    return top;
}

Result<void> find_program(const char* name, ElfImage& elf, std::span<const uint8_t>& file) {
    const CpioEntry* e = TRY(archive_find(name));
    TRY(check_elf(e->data, abi::kUserTextBase, kHeapTop, elf));
    file = e->data;
    return {};
}

} // namespace

Result<void> exec_into(Proc* p, const char* name, const Args& args, bool fresh) {
    ElfImage elf;
    std::span<const uint8_t> file;
    TRY(find_program(name, elf, file));

    Proc* img = new_proc(State::Building);
    if (!img) return Error::NoMemory;
    img->pid = p->pid;
    img->group = p->group;
    group_get(img->group);
    auto fail = [&](Error e) -> Error {
        teardown(img);
        img->state = State::Free;
        return e;
    };
    auto as = make_space(img, elf);
    if (!as.ok()) return fail(as.error());
    img->as_obj = as.value();
    uint64_t sp = 0, argv = 0;
    auto top = build_image(img, elf, file, args, sp, argv);
    if (!top.ok()) return fail(top.error());

    // Point of no return: switch the thread over, then drop the old image.
    if (!fresh) (void)kernel::thread_suspend(p->thread_obj);
    ThreadSetup setup;
    setup.write_regs = true;
    setup.pc = elf.entry, setup.sp = sp, setup.a0 = args.argc, setup.a1 = argv;
    // Started in the same kernel call: it runs on the new address space
    // only, and whatever it asks of mm (a request, a fault) waits until
    // this request is done and the books below are the new image's.
    setup.start = true;
    if (!configure_thread(p, img->as_obj, setup, true).ok())
        return fail(Error::InvalidArgument); // cannot happen: p stays stopped
    begin_deferred_merges();                 // the old image's frames merge in batches
    drop_at_once(p, kDropAs);                // (all in one kernel call when it fits)
    drop_image(p);
    drop_tables(p);
    if (p->as_obj) (void)delete_object(p, p->as_obj, p->as_block, Use::KernelObject);
    end_deferred_merges();
    rekey(img, p);
    p->as_obj = img->as_obj, p->as_block = img->as_block;
    img->as_obj = 0;
    group_put(img->group);
    img->group = -1;
    img->state = State::Free;
    set_name(p, name);
    p->heap_base = p->brk = top.value();
    return {};
}

Result<Proc*> spawn_init(const char* name, const Args& args) {
    Proc* p = new_proc(State::Running);
    if (!p) return Error::NoMemory;
    p->pid = g_pt.next_pid++;
    set_name(p, name);
    auto fail = [&](Error e) -> Error {
        teardown(p);
        p->state = State::Free;
        return e;
    };
    if (auto r = make_process_objects(p); !r.ok()) return fail(r.error());
    if (auto r = exec_into(p, name, args, true); !r.ok()) return fail(r.error());
    g_pt.init_pid = p->pid;
    return p;
}

bool init_args(const char* bootargs, const char* name, Args& args) {
    const char* rest = nullptr;
    for (const char* s = bootargs; *s; ++s)
        if (s[0] == '-' && s[1] == '-' && (s == bootargs || s[-1] == ' ') &&
            (s[2] == ' ' || s[2] == 0)) {
            rest = s + 2;
            break;
        }
    args.argc = args.bytes = 0;
    uint64_t len = 0;
    while (name[len])
        ++len;
    bool ok = args.add(name, len);
    while (rest && *rest) {
        while (*rest == ' ')
            ++rest;
        const char* w = rest;
        while (*rest && *rest != ' ')
            ++rest;
        if (rest > w && !args.add(w, static_cast<uint64_t>(rest - w))) ok = false;
    }
    return ok;
}

} // namespace capframe::mm
