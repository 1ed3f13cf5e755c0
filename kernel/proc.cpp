#include "proc.h"

#include "arch/riscv64/csr.h"
#include "console.h"

namespace capframe {
namespace {

// Layout written by tools/embed_user.py (offsets relative to the table).
struct EmbeddedSegment {
    uint64_t vaddr, filesz, memsz, flags, data_offset;
};
struct EmbeddedProgram {
    char name[24];
    uint64_t entry, segment_count;
    EmbeddedSegment segments[4];
};
struct EmbeddedTable {
    uint64_t count;
    EmbeddedProgram programs[];
};
static_assert(sizeof(EmbeddedProgram) == 24 + 16 + 4 * 40);

Process g_first;
Process* g_current = nullptr;

bool same(const char* a, const char* b) {
    while (*a && *a == *b)
        ++a, ++b;
    return *a == *b;
}

Perm elf_perm(uint64_t flags) {
    Perm p = Perm::U;
    if (flags & 4) p = p | Perm::R;
    if (flags & 2) p = p | Perm::W;
    if (flags & 1) p = p | Perm::X;
    return p;
}

} // namespace

extern "C" const EmbeddedTable user_image_table;

int embedded_program_count() {
    return static_cast<int>(user_image_table.count);
}
const char* embedded_program_name(int i) {
    return user_image_table.programs[i].name;
}

Result<Process*> create_first_process(PageTable& kernel, const char* name) {
    const EmbeddedProgram* prog = nullptr;
    for (uint64_t i = 0; i < user_image_table.count; ++i)
        if (same(user_image_table.programs[i].name, name)) prog = &user_image_table.programs[i];
    if (!prog) return Error::NotFound;

    Process& p = g_first;
    p.pid = 1;
    for (size_t i = 0; i < sizeof p.name - 1 && name[i]; ++i)
        p.name[i] = name[i];

    auto& mem = kernel_mem();
    PageTable user = TRY(PageTable::create(mem));
    p.root = user.root();

    // The trampoline at the same VA as in the kernel table (not U: user code
    // cannot read it, only the trap path runs it), and the trapframe below.
    TRY(user.map(VirtAddr(kTrampolineVa), KernelImage::current().trampoline, kPageSize,
                 Perm::R | Perm::X));
    p.trapframe_pa = TRY(boot_frame());
    TRY(user.map(VirtAddr(kTrapframeVa), p.trapframe_pa, kPageSize, Perm::R | Perm::W));

    const auto* base = reinterpret_cast<const uint8_t*>(&user_image_table);
    for (uint64_t s = 0; s < prog->segment_count; ++s) {
        const EmbeddedSegment& seg = prog->segments[s];
        uint64_t pages = (seg.memsz + kPageSize - 1) / kPageSize;
        for (uint64_t i = 0; i < pages; ++i) {
            PhysAddr frame = TRY(boot_frame());
            auto* dst = reinterpret_cast<uint8_t*>(frame.value());
            for (uint64_t b = 0; b < kPageSize; ++b) {
                uint64_t off = i * kPageSize + b;
                if (off < seg.filesz) dst[b] = base[seg.data_offset + off];
            }
            TRY(user.map(VirtAddr(seg.vaddr + i * kPageSize), frame, kPageSize,
                         elf_perm(seg.flags)));
        }
    }
    // Program text was written through the data side: make the instruction
    // fetch side see it before the program runs (a no-op on QEMU).
    arch::fence_i();

    // User stack below the trapframe, with an unmapped guard page under it
    // and one unmapped page between its top and the trapframe.
    for (uint64_t i = 1; i <= abi::kUserStackPages; ++i) {
        PhysAddr frame = TRY(boot_frame());
        TRY(user.map(VirtAddr(abi::kUserStackTop - i * kPageSize), frame, kPageSize,
                     Perm::R | Perm::W | Perm::U));
    }

    // The kernel stack, in the kernel table's stack area with its guard page.
    p.kstack_slot = 0;
    PhysAddr kstack = TRY(boot_frame());
    TRY(kernel.map(VirtAddr(kstack_bottom(p.kstack_slot)), kstack, kPageSize, Perm::R | Perm::W));
    arch::sfence_vma_all();

    arch::TrapFrame* tf = p.trapframe();
    tf->epc = prog->entry;
    tf->regs[arch::sp] = abi::kUserStackTop;
    p.running = true;
    g_current = &p;
    return &p;
}

Process* current_process() {
    return g_current;
}

Result<void> check_user_readable(const Process& p, uint64_t va, size_t n) {
    uint64_t end = va + n;
    if (end < va || end > kMaxVa) return Error::Fault;
    PageTable t(kernel_mem(), p.root);
    for (uint64_t page = align_down(va, kPageSize); page < end; page += kPageSize) {
        auto tr = t.translate(VirtAddr(page));
        if (!tr.ok() || !has(tr.value().perm, Perm::U) || !has(tr.value().perm, Perm::R))
            return Error::Fault;
    }
    return {};
}

Result<void> copy_from_user(const Process& p, void* dst, uint64_t src_va, size_t n) {
    if (n == 0) return {};
    TRY(check_user_readable(p, src_va, n)); // so that a fault copies nothing
    uint64_t end = src_va + n;
    PageTable t(kernel_mem(), p.root);
    auto* out = static_cast<uint8_t*>(dst);
    for (uint64_t va = src_va; va < end;) {
        auto tr = t.translate(VirtAddr(va));
        uint64_t chunk = kPageSize - (va & (kPageSize - 1));
        if (chunk > end - va) chunk = end - va;
        const auto* src = reinterpret_cast<const uint8_t*>(tr.value().pa.value());
        for (uint64_t i = 0; i < chunk; ++i)
            out[i] = src[i];
        out += chunk;
        va += chunk;
    }
    return {};
}

} // namespace capframe
