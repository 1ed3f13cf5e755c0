#include "vm.h"

#include "arch/riscv64/csr.h"
#include "bytes.h"
#include "console.h"
#include "vmprint.h"

#include <optional>

extern "C" char __kernel_start[], __text_end[], __rodata_end[], __kernel_end[];
extern "C" char __trampoline_start[];

namespace capframe {
namespace {

KernelMem g_kmem;
RangeSet g_free;
constinit std::optional<PageTable> g_ktable;
uint64_t g_kernel_satp = 0;

void zero_page(PhysAddr pa) {
    memset(reinterpret_cast<void*>(pa.value()), 0, kPageSize); // by words (lib/string.cpp)
}

void print_range(const char* what, PhysRange r) {
    kprintf("  %-10s [0x%016lx, 0x%016lx) %lu KiB\n", what, r.base.value(), r.end(), r.size / 1024);
}

void map_or_panic(PageTable& t, const char* what, VirtAddr va, PhysAddr pa, uint64_t size, Perm p) {
    if (size == 0) return;
    auto r = t.map(va, pa, size, p);
    if (!r.ok())
        panic("kernel page table: mapping %s [0x%lx, +0x%lx) failed: %s", what, va.value(), size,
              error_name(r.error()));
}

} // namespace

Result<PhysAddr> KernelMem::alloc_table() {
    return boot_frame();
}
void KernelMem::free_table(PhysAddr pa) {
    (void)g_free.add(PhysRange{pa, kPageSize});
}

KernelMem& kernel_mem() {
    return g_kmem;
}
RangeSet& boot_free_ram() {
    return g_free;
}

KernelImage KernelImage::current() {
    auto pa = [](char* p) { return PhysAddr(reinterpret_cast<uint64_t>(p)); };
    return KernelImage{pa(__kernel_start), pa(__text_end), pa(__rodata_end), pa(__kernel_end),
                       pa(__trampoline_start)};
}

void bootmem_init(const MachineInfo& m, const KernelImage& k, PhysRange dtb) {
    PhysRange kernel{k.start, k.end.value() - k.start.value()};
    RangeSet ram;
    for (int i = 0; i < m.memory_count; ++i)
        if (!ram.add(m.memory[i]).ok()) panic("bootmem: too many RAM ranges");
    if (!ram.contains(kernel))
        panic("the kernel image [0x%lx, 0x%lx) is not inside RAM: RAM too small or the kernel "
              "was loaded outside it",
              kernel.base.value(), kernel.end());
    for (int i = 0; i < m.reserved_count; ++i)
        if (m.reserved[i].overlaps(kernel))
            panic("reserved region [0x%lx, 0x%lx) overlaps the kernel image [0x%lx, 0x%lx)",
                  m.reserved[i].base.value(), m.reserved[i].end(), kernel.base.value(),
                  kernel.end());

    g_free = ram;
    // The first 2 MiB of RAM belong to the firmware on every supported board
    // (OpenSBI and what it reserves); the kernel's own default load address
    // is RAM + 2 MiB. Keep out of it even where /reserved-memory says less.
    PhysRange firmware_area{ram[0].base, kMegaPageSize};
    if (!g_free.subtract(firmware_area).ok()) panic("bootmem: too many free ranges");
    for (int i = 0; i < m.reserved_count; ++i)
        if (!g_free.subtract(m.reserved[i]).ok()) panic("bootmem: too many free ranges");
    if (!g_free.subtract(kernel).ok() || !g_free.subtract(dtb).ok())
        panic("bootmem: too many free ranges");
    g_free.trim_to_pages();

    kprintf("physical memory:\n");
    for (int i = 0; i < m.memory_count; ++i)
        print_range("ram", m.memory[i]);
    for (int i = 0; i < m.reserved_count; ++i)
        print_range("reserved", m.reserved[i]);
    print_range("firmware", firmware_area);
    print_range("kernel", kernel);
    print_range("devicetree", dtb);
    for (int i = 0; i < g_free.count(); ++i)
        print_range("free", g_free[i]);
    kprintf("  free RAM: %lu frames (%lu MiB) in %d range(s)\n", g_free.total_bytes() / kPageSize,
            g_free.total_bytes() >> 20, g_free.count());
}

bool g_boot_allocator_closed = false;
void close_boot_allocator() {
    g_boot_allocator_closed = true;
}

Result<PhysAddr> boot_frame() {
    // After boot the kernel allocates nothing: a path that gets here is a
    // kernel bug, and it gets an error instead of someone else's frame.
    if (g_boot_allocator_closed) return Error::NoMemory;
    PhysAddr pa = TRY(g_free.take(kPageSize, kPageSize));
    zero_page(pa);
    return pa;
}

PageTable& kvm_build(const MachineInfo& m, const KernelImage& k, VmPrint how) {
    auto created = PageTable::create(g_kmem);
    if (!created.ok()) panic("kernel page table: no frame for the root table");
    PageTable& t = g_ktable.emplace(created.release_value());
    auto id = [](PhysAddr pa) { return VirtAddr(pa.value()); };

    for (int i = 0; i < m.mmio_count; ++i)
        map_or_panic(t, m.mmio[i].name, id(m.mmio[i].range.base), m.mmio[i].range.base,
                     m.mmio[i].range.size, perm::kMmio);

    map_or_panic(t, "kernel text", id(k.start), k.start, k.text_end.value() - k.start.value(),
                 perm::kKernelText);
    map_or_panic(t, "kernel rodata", id(k.text_end), k.text_end,
                 k.rodata_end.value() - k.text_end.value(), perm::kKernelRodata);
    map_or_panic(t, "kernel data+bss", id(k.rodata_end), k.rodata_end,
                 k.end.value() - k.rodata_end.value(), perm::kKernelData);

    // The rest of RAM, minus firmware reservations and the kernel image
    // (mapped above with tighter permissions).
    RangeSet rest;
    for (int i = 0; i < m.memory_count; ++i)
        (void)rest.add(m.memory[i]);
    for (int i = 0; i < m.reserved_count; ++i)
        (void)rest.subtract(m.reserved[i]);
    (void)rest.subtract(PhysRange{k.start, k.end.value() - k.start.value()});
    rest.trim_to_pages();
    for (int i = 0; i < rest.count(); ++i)
        map_or_panic(t, "RAM", id(rest[i].base), rest[i].base, rest[i].size, perm::kKernelData);

    map_or_panic(t, "trampoline", VirtAddr(kTrampolineVa), k.trampoline, kPageSize,
                 perm::kTrampoline);

    if (how == VmPrint::Full) vmprint(console_sink(), g_kmem, t.root());
    if (how != VmPrint::Off) vmprint_summary(console_sink(), g_kmem, t.root());

    TableAudit a = audit_kernel_table(g_kmem, t.root(), k.trampoline);
    bool ok = a.wx_leaves == 0 && a.user_leaves == 0 && a.missing_ad == 0 && a.trampoline_ok;
    kprintf("kernel page table check: %s (%lu leaves, %lu W+X, %lu U, %lu without A/D, "
            "trampoline at 0x%010lx %s)\n",
            ok ? "ok" : "FAILED", a.leaves, a.wx_leaves, a.user_leaves, a.missing_ad, kTrampolineVa,
            a.trampoline_ok ? "R-X" : "MISSING");
    if (!ok)
        panic("the kernel page table failed its own check (first bad va 0x%lx)",
              a.first_bad.value());
    return t;
}

void kvm_enable_paging(PageTable& t) {
    g_kernel_satp = arch::make_satp_sv39(t.root().value());
    arch::sfence_vma_all();
    arch::write_satp(g_kernel_satp);
    arch::sfence_vma_all();
    arch::fence_i();
}

uint64_t kernel_satp() {
    return g_kernel_satp;
}

bool is_kstack_guard(uint64_t va, uint64_t& slot) {
    for (uint64_t i = 0; i < kKstackSlots; ++i) {
        uint64_t guard = kstack_bottom(i) - kPageSize;
        if (va >= guard && va < guard + kPageSize) {
            slot = i;
            return true;
        }
    }
    return false;
}

PageTable& kernel_table() {
    return *g_ktable;
}

void kernel_vmprint() {
    vmprint(console_sink(), g_kmem, g_ktable->root());
    vmprint_summary(console_sink(), g_kmem, g_ktable->root());
}

} // namespace capframe
