// kmain: from OpenSBI's hand-off to the first user program.
#include <cstdint>

#include "arch/riscv64/csr.h"
#include "arch/riscv64/sbi.h"
#include "boot_mm.h"
#include "bootargs.h"
#include "cap.h"
#include "console.h"
#include "fdt.h"
#include "hart.h"
#include "machine.h"
#include "thread.h"
#include "trap.h"
#include "vm.h"

namespace capframe {
namespace {

MachineInfo g_machine;

extern "C" char __rela_start[], __rela_end[];
uint64_t relocation_count() {
    return static_cast<uint64_t>(__rela_end - __rela_start) / 24; // Elf64_Rela
}

// The device tree's totalsize, read byte by byte (big-endian, any alignment).
uint32_t fdt_total_size(const uint8_t* p) {
    return uint32_t{p[4]} << 24 | uint32_t{p[5]} << 16 | uint32_t{p[6]} << 8 | p[7];
}

// The PLIC powers up with sources enabled on some boards (JH7110): disable
// every source for each usable hart's S-mode context until drivers exist.
void plic_disable_s_contexts(const MachineInfo& m) {
    if (!m.plic.size) return;
    uint64_t words = (uint64_t{m.plic_ndev} + 1 + 31) / 32;
    int done = 0;
    for (int i = 0; i < m.hart_count; ++i) {
        int32_t ctx = m.harts[i].plic_s_context;
        if (!m.harts[i].usable() || ctx < 0) continue;
        uint64_t enable = 0x2000 + uint64_t(ctx) * 0x80;
        if (enable + words * 4 > m.plic.size) {
            kprintf("plic: S-context %d lies outside the PLIC's registers; left alone\n", ctx);
            continue;
        }
        for (uint64_t w = 0; w < words; ++w)
            *reinterpret_cast<volatile uint32_t*>(m.plic.base.value() + enable + 4 * w) = 0;
        ++done;
    }
    kprintf("plic: all %u sources disabled for %d S-mode context(s)\n", m.plic_ndev, done);
}

bool streq(const char* a, const char* b) {
    while (*a && *a == *b)
        ++a, ++b;
    return *a == *b;
}

const char* uart_kind_name(UartKind k) {
    switch (k) {
    case UartKind::Ns16550:
        return "ns16550a (8250)";
    case UartKind::SifiveUart0:
        return "sifive,uart0";
    case UartKind::None:
        break;
    }
    return "none";
}

void print_machine(const MachineInfo& m, uint32_t boot_hart) {
    kprintf("machine: %s\n", m.model[0] ? m.model : "(no model)");
    kprintf("  timebase %lu Hz\n", m.timebase_hz);
    for (int i = 0; i < m.hart_count; ++i) {
        const HartInfo& h = m.harts[i];
        kprintf("  hart %u: %s%s%s", h.hart_id, h.enabled ? "okay" : "disabled",
                h.has_mmu ? (h.sv39 ? ", MMU with Sv39" : ", MMU without Sv39") : ", no MMU",
                h.usable() ? ", usable" : ", not used");
        if (h.plic_s_context >= 0) kprintf(", PLIC S-context %d", h.plic_s_context);
        kprintf("%s\n", h.hart_id == boot_hart ? " (boot hart)" : "");
    }
    if (m.uart.kind != UartKind::None)
        kprintf("  console %s at 0x%lx (%s, reg-shift %u, reg-io-width %u)\n", m.uart.path,
                m.uart.regs.base.value(), uart_kind_name(m.uart.kind), m.uart.reg_shift,
                m.uart.reg_io_width);
    else
        kprintf("  console: no usable UART (%s); using the SBI console\n", m.uart.note);
    if (m.plic.size) kprintf("  plic at 0x%lx, %u sources\n", m.plic.base.value(), m.plic_ndev);
    if (m.clint.size) kprintf("  clint at 0x%lx\n", m.clint.base.value());
    kprintf("  %d MMIO region(s) to map", m.mmio_count);
    if (m.mmio_dropped) kprintf(" (%d more not mapped: table full)", m.mmio_dropped);
    kprintf("\n");
    if (m.bootargs[0]) kprintf("  bootargs \"%s\"\n", m.bootargs);
}

} // namespace

extern "C" [[noreturn]] void kmain(uint64_t hart_id, uint64_t dtb_pa, uint64_t reloc_delta) {
    trap_init_hart(0);
    harts_init_boot(static_cast<uint32_t>(hart_id));
    kprintf("\nCapframe booting on hart %lu, device tree at 0x%lx\n", hart_id, dtb_pa);
    kprintf("sbi: spec version %lu.%lu, implementation %lu\n", sbi::spec_version() >> 24,
            sbi::spec_version() & 0xffffff, sbi::impl_id());

    if (dtb_pa == 0 || (dtb_pa & 7))
        panic("no usable device tree: a1 = 0x%lx (must be a non-zero, 8-byte aligned address)",
              dtb_pa);
    const auto* blob = reinterpret_cast<const uint8_t*>(dtb_pa);
    // Read no more than the header says, and never more than 2 MiB.
    size_t available = fdt_total_size(blob);
    if (available > (2u << 20)) available = 2u << 20;
    char why[160] = {};
    auto fdt = Fdt::open(blob, available, why, sizeof why);
    if (!fdt.ok()) panic("bad device tree at 0x%lx: %s", dtb_pa, why);
    if (!discover_machine(fdt.value(), g_machine, why, sizeof why).ok())
        panic("device tree at 0x%lx: %s", dtb_pa, why);
    const MachineInfo& m = g_machine;

    char arg[32];
    if (find_bootarg(m.bootargs, "console", arg, sizeof arg) && streq(arg, "sbi"))
        kprintf("console: the SBI console, as the bootargs ask\n");
    else
        console_use_uart(m.uart);
    kprintf("console: %s\n", console_name());
    if (m.bootargs_len >= sizeof m.bootargs) {
        kprintf("kernel: the bootargs are %lu bytes, at most %lu fit; shutting down\n",
                m.bootargs_len, sizeof m.bootargs - 1);
        shutdown(true);
    }
    print_machine(m, static_cast<uint32_t>(hart_id));
    const HartInfo* boot = m.find_hart(static_cast<uint32_t>(hart_id));
    if (!boot) panic("the boot hart %lu is not in the device tree's /cpus", hart_id);
    if (!boot->usable()) panic("the boot hart %lu has no Sv39 MMU per the device tree", hart_id);

    KernelImage k = KernelImage::current();
    kprintf("kernel: loaded at 0x%lx (linked at 0x%lx), %lu relocations applied\n", k.start.value(),
            k.start.value() - reloc_delta, relocation_count());
    kprintf("kernel: text [0x%lx, 0x%lx) rodata [.., 0x%lx) data+bss [.., 0x%lx)\n",
            k.start.value(), k.text_end.value(), k.rodata_end.value(), k.end.value());
    PhysRange dtb{PhysAddr(align_down(dtb_pa, kPageSize)), 0};
    uint64_t dtb_end = 0;
    (void)align_up(dtb_pa + fdt_total_size(blob), kPageSize, dtb_end);
    dtb.size = dtb_end - dtb.base.value();
    bootmem_init(m, k, dtb);
    uint64_t free_at_boot = boot_free_ram().total_bytes() / kPageSize;

    VmPrint how = VmPrint::Full;
    if (find_bootarg(m.bootargs, "vmprint", arg, sizeof arg))
        how = streq(arg, "off")       ? VmPrint::Off
              : streq(arg, "summary") ? VmPrint::Summary
                                      : VmPrint::Full;
    PageTable& kt = kvm_build(m, k, how);
    kvm_enable_paging(kt);
    kprintf("paging: Sv39 on, satp 0x%016lx\n", kernel_satp());

    uint64_t kernel_frames = free_at_boot - boot_free_ram().total_bytes() / kPageSize;
    kprintf("kernel: %lu frames for its own page tables\n", kernel_frames);

    mdb_init();
    Thread* mm = build_memory_server(m, free_at_boot, kernel_frames);
    timer_init(m.timebase_hz);
    plic_disable_s_contexts(m);
    kprintf("asid: %u bits (Capframe uses ASID 0 and flushes everything on a switch)\n",
            probe_asid_bits());
    watchdog_calibrate();
    harts_start_others(m);
    // Instructions retired since reset, firmware included: the boot's cost
    // (exact under -icount; plain TCG ties instret to the host clock).
    kprintf("kernel: starting mm (%lu instructions since reset; exact under -icount)\n",
            arch::read_instret());
    kernel_lock(); // the other harts' schedulers already look at the run queue
    if (!thread_start(mm).ok()) panic("mm's thread would not start");
    kernel_unlock();
    scheduler();
}

} // namespace capframe
