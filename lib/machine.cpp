#include "machine.h"

namespace capframe {
namespace {

// mip/mie bit of the supervisor external interrupt (privileged spec 3.1.9):
// the cell a hart's S-mode PLIC context carries in interrupts-extended.
constexpr uint32_t kSupervisorExternalIrq = 9;

bool str_eq(const char* a, const char* b) {
    while (*a && *a == *b)
        ++a, ++b;
    return *a == *b;
}

// Is `name` exactly `base` or `base@unit`?
bool name_has_base(const char* name, const char* base) {
    while (*base && *name == *base)
        ++name, ++base;
    return !*base && (!*name || *name == '@');
}

void copy_str(char* dst, size_t cap, const char* src) {
    size_t i = 0;
    for (; src && src[i] && i + 1 < cap; ++i)
        dst[i] = src[i];
    dst[i] = '\0';
}

// Compatible lists are spelled out as code, not as tables of pointers in
// static data, so they work before the kernel runs at its link address.
UartKind uart_kind(const Fdt& f, FdtNode n) {
    if (f.is_compatible(n, "ns16550a") || f.is_compatible(n, "ns16550") ||
        f.is_compatible(n, "ns8250") || f.is_compatible(n, "snps,dw-apb-uart") ||
        f.is_compatible(n, "starfive,jh7110-uart"))
        return UartKind::Ns16550;
    if (f.is_compatible(n, "sifive,uart0")) return UartKind::SifiveUart0;
    return UartKind::None;
}

bool is_plic(const Fdt& f, FdtNode n) {
    return f.is_compatible(n, "sifive,plic-1.0.0") || f.is_compatible(n, "riscv,plic0") ||
           f.is_compatible(n, "starfive,jh7110-plic");
}

bool is_clint(const Fdt& f, FdtNode n) {
    return f.is_compatible(n, "sifive,clint0") || f.is_compatible(n, "riscv,clint0") ||
           f.is_compatible(n, "starfive,jh7110-clint");
}

// One level of bus nesting: a node, the cells it gives its children, and the
// level above it (nullptr for the root, whose addresses are physical).
struct Bus {
    FdtNode node;
    FdtCells cells;
    const Bus* up = nullptr;
};

// Maps [addr, addr + size) from bus's child address space into its parent's
// through bus's ranges (spec 2.3.8): absent = not mapped, empty = identity,
// else (child-address, parent-address, length) triples.
bool translate_one(const Fdt& f, const Bus& bus, uint64_t& addr, uint64_t size) {
    auto r = f.property(bus.node, "ranges");
    if (!r.ok()) return false;
    auto v = r.value();
    if (v.empty()) return true;
    uint32_t ca = bus.cells.addr, pa = bus.up->cells.addr, cs = bus.cells.size;
    if (ca < 1 || ca > 2 || pa < 1 || pa > 2 || cs < 1 || cs > 2) return false;
    size_t stride = 4 * (ca + pa + cs);
    if (v.size() % stride) return false;
    for (size_t off = 0; off < v.size(); off += stride) {
        const uint8_t* p = v.data() + off;
        uint64_t child = fdt_cells(p, ca), parent = fdt_cells(p + 4 * ca, pa),
                 len = fdt_cells(p + 4 * (ca + pa), cs);
        if (addr < child || addr - child >= len || size > len - (addr - child)) continue;
        if (parent + (addr - child) < parent) return false;
        addr = parent + (addr - child);
        return true;
    }
    return false;
}

// A reg entry of a child of `bus`, as a physical range; false if some bus on
// the way up does not map it or it wraps around the address space.
bool to_phys(const Fdt& f, const Bus* bus, FdtRegEntry e, PhysRange& out) {
    for (; bus && bus->up; bus = bus->up)
        if (!translate_one(f, *bus, e.addr, e.size)) return false;
    if (e.addr + e.size < e.addr) return false;
    out = PhysRange{PhysAddr(e.addr), e.size};
    return true;
}

// reg entry `index` of any node as a physical range. NotFound: no such entry;
// BadFormat: reg does not fit the parent's cells; OutOfRange: not mapped by
// the ranges of some bus above the node.
Result<PhysRange> node_region(const Fdt& f, FdtNode n, size_t index) {
    FdtNode chain[kFdtMaxDepth];
    int d = f.path_nodes(n, chain);
    if (d < 2) return Error::NotFound;
    Bus levels[kFdtMaxDepth];
    for (int i = 0; i < d - 1; ++i)
        levels[i] = Bus{chain[i], f.cells(chain[i]), i ? &levels[i - 1] : nullptr};
    FdtReg reg = TRY(f.reg(n, levels[d - 2].cells));
    if (index >= reg.count()) return Error::NotFound;
    PhysRange r;
    if (!to_phys(f, &levels[d - 2], reg[index], r)) return Error::OutOfRange;
    return r;
}

const char* region_problem(Error e) {
    switch (e) {
    case Error::NotFound:
        return "no reg";
    case Error::BadFormat:
        return "reg does not match the parent's #address-cells/#size-cells";
    default:
        return "reg is not mapped by the ranges of the buses above it";
    }
}

struct Ctx {
    const Fdt& f;
    MachineInfo& m;
    MsgWriter w;
    FdtNode plic, clint; // for the names of their MMIO regions

    Error fail(Error e, FdtNode n, const char* what) {
        w.str("machine: ").str(n == f.root() ? "/" : f.name(n)).str(": ").str(what);
        return e;
    }
    Error fail(Error e, const char* what) {
        w.str("machine: ").str(what);
        return e;
    }
};

Result<void> add_range(Ctx& c, PhysRange* table, int& count, int max, FdtRegEntry e, FdtNode n,
                       const char* table_name) {
    if (!e.size) return {};
    if (e.addr + e.size < e.addr) return c.fail(Error::BadFormat, n, "range wraps around");
    if (count == max) {
        c.w.str("machine: more than ").dec(max).str(" ").str(table_name).str(" ranges");
        return Error::TooMany;
    }
    table[count++] = PhysRange{PhysAddr(e.addr), e.size};
    return {};
}

// Memory nodes are children of the root (spec 3.4).
Result<void> find_memory(Ctx& c) {
    FdtCells rc = c.f.cells(c.f.root());
    for (FdtNode n = c.f.first_child(c.f.root()); n.valid(); n = c.f.next_sibling(n)) {
        if (!c.f.string_equals(n, "device_type", "memory") || !c.f.is_okay(n)) continue;
        auto reg = c.f.reg(n, rc);
        if (reg.error() == Error::NotFound) continue;
        if (!reg.ok()) return c.fail(Error::BadFormat, n, region_problem(reg.error()));
        for (size_t i = 0; i < reg.value().count(); ++i)
            TRY(add_range(c, c.m.memory, c.m.memory_count, kMaxMemoryRanges, reg.value()[i], n,
                          "memory"));
    }
    if (!c.m.memory_count)
        return c.fail(Error::BadFormat, "no memory node (device_type \"memory\", okay, with reg)");
    return {};
}

// The memory-reservation block plus /reserved-memory children with a reg
// (children with only a size are placed by the OS and reserve nothing yet).
Result<void> find_reserved(Ctx& c) {
    for (size_t i = 0; i < c.f.reservation_count(); ++i)
        TRY(add_range(c, c.m.reserved, c.m.reserved_count, kMaxReserved, c.f.reservation(i),
                      c.f.root(), "reserved"));
    FdtNode rm = c.f.find_node("/reserved-memory");
    FdtCells rc = c.f.cells(rm);
    for (FdtNode n = c.f.first_child(rm); n.valid(); n = c.f.next_sibling(n)) {
        if (!c.f.is_okay(n)) continue;
        auto reg = c.f.reg(n, rc);
        if (reg.error() == Error::NotFound) continue;
        if (!reg.ok()) return c.fail(Error::BadFormat, n, region_problem(reg.error()));
        for (size_t i = 0; i < reg.value().count(); ++i)
            TRY(add_range(c, c.m.reserved, c.m.reserved_count, kMaxReserved, reg.value()[i], n,
                          "reserved"));
    }
    return {};
}

// Harts and the timebase (spec 3.7, 3.8). intc[i] receives the phandle of
// hart i's riscv,cpu-intc child (0 if none), for the PLIC context search.
Result<void> find_harts(Ctx& c, uint32_t (&intc)[kMaxHarts]) {
    FdtNode cpus = c.f.find_node("/cpus");
    if (!cpus.valid()) return c.fail(Error::BadFormat, "no /cpus node");
    FdtCells cc = c.f.cells(cpus);
    auto tb = c.f.u64(cpus, "timebase-frequency");
    for (FdtNode n = c.f.first_child(cpus); n.valid(); n = c.f.next_sibling(n)) {
        if (!c.f.string_equals(n, "device_type", "cpu")) continue;
        if (c.m.hart_count == kMaxHarts) {
            c.w.str("machine: more than ").dec(kMaxHarts).str(" cpu nodes in /cpus");
            return Error::TooMany;
        }
        auto reg = c.f.reg(n, cc);
        if (!reg.ok() || reg.value().count() < 1)
            return c.fail(Error::BadFormat, n, "no reg giving the hart id");
        uint64_t id = reg.value()[0].addr;
        if (id > 0xffffffff) return c.fail(Error::BadFormat, n, "hart id does not fit 32 bits");
        HartInfo& h = c.m.harts[c.m.hart_count];
        h.hart_id = static_cast<uint32_t>(id);
        h.enabled = c.f.is_okay(n);
        auto mmu = c.f.string(n, "mmu-type");
        h.has_mmu = mmu.ok() && !str_eq(mmu.value(), "riscv,none");
        h.sv39 =
            h.has_mmu && (str_eq(mmu.value(), "riscv,sv39") || str_eq(mmu.value(), "riscv,sv48") ||
                          str_eq(mmu.value(), "riscv,sv57"));
        h.s_mode = h.has_mmu;
        intc[c.m.hart_count] = 0;
        for (FdtNode ic = c.f.first_child(n); ic.valid(); ic = c.f.next_sibling(ic))
            if (c.f.is_compatible(ic, "riscv,cpu-intc")) intc[c.m.hart_count] = c.f.phandle(ic);
        ++c.m.hart_count;
        if (tb.error() == Error::NotFound) tb = c.f.u64(n, "timebase-frequency");
    }
    if (!c.m.hart_count) return c.fail(Error::BadFormat, cpus, "no cpu nodes");
    if (tb.error() == Error::NotFound)
        return c.fail(Error::BadFormat, "no timebase-frequency in /cpus or a cpu node");
    if (!tb.ok()) return c.fail(Error::BadFormat, "timebase-frequency is not 1 or 2 cells");
    if (!tb.value()) return c.fail(Error::BadFormat, "timebase-frequency is 0");
    c.m.timebase_hz = tb.value();
    return {};
}

// PLIC and CLINT. A hart's S-mode PLIC context is the index of the
// (phandle, 9) pair naming its cpu-intc in the PLIC's interrupts-extended;
// pairs whose phandle OpenSBI replaced by 0xffffffff still count.
Result<void> find_irq_controllers(Ctx& c, const uint32_t (&intc)[kMaxHarts]) {
    FdtNode plic = c.f.root();
    while (plic.valid() && !(is_plic(c.f, plic) && c.f.is_okay(plic)))
        plic = c.f.next_node(plic);
    if (plic.valid()) {
        auto r = node_region(c.f, plic, 0);
        if (!r.ok()) return c.fail(Error::BadFormat, plic, region_problem(r.error()));
        c.m.plic = r.value();
        c.plic = plic;
        if (auto nd = c.f.u32(plic, "riscv,ndev"); nd.ok()) c.m.plic_ndev = nd.value();
        if (auto ie = c.f.property(plic, "interrupts-extended"); ie.ok()) {
            auto v = ie.value();
            if (v.size() % 8)
                return c.fail(Error::BadFormat, plic,
                              "interrupts-extended is not a list of (phandle, irq) pairs");
            for (size_t i = 0; i < v.size() / 8; ++i) {
                uint32_t ph = fdt_be32(v.data() + 8 * i), irq = fdt_be32(v.data() + 8 * i + 4);
                if (irq != kSupervisorExternalIrq || ph == 0 || ph == 0xffffffff) continue;
                for (int h = 0; h < c.m.hart_count; ++h)
                    if (intc[h] == ph && c.m.harts[h].plic_s_context < 0)
                        c.m.harts[h].plic_s_context = static_cast<int32_t>(i);
            }
        }
    }
    FdtNode clint = c.f.root();
    while (clint.valid() && !(is_clint(c.f, clint) && c.f.is_okay(clint)))
        clint = c.f.next_node(clint);
    if (clint.valid()) {
        auto r = node_region(c.f, clint, 0);
        if (!r.ok()) return c.fail(Error::BadFormat, clint, region_problem(r.error()));
        c.m.clint = r.value();
        c.clint = clint;
    }
    return {};
}

// Fills m.uart from node n, or leaves kind None with a note.
void use_uart(Ctx& c, FdtNode n) {
    UartInfo& u = c.m.uart;
    MsgWriter note(u.note, sizeof u.note);
    copy_str(u.path, sizeof u.path, c.f.name(n));
    UartKind kind = uart_kind(c.f, n);
    if (kind == UartKind::None) {
        note.str(u.path).str(": not a supported UART (compatible)");
        return;
    }
    if (!c.f.is_okay(n)) {
        note.str(u.path).str(": status is not okay");
        return;
    }
    auto r = node_region(c.f, n, 0);
    if (!r.ok()) {
        note.str(u.path).str(": ").str(region_problem(r.error()));
        return;
    }
    u.regs = r.value();
    if (auto v = c.f.u32(n, "reg-shift"); v.ok()) u.reg_shift = v.value();
    if (auto v = c.f.u32(n, "reg-io-width"); v.ok()) u.reg_io_width = v.value();
    if (auto v = c.f.u64(n, "clock-frequency"); v.ok())
        u.clock_hz = static_cast<uint32_t>(v.value());
    if (auto v = c.f.property(n, "interrupts"); v.ok() && v.value().size() >= 4)
        u.irq = fdt_be32(v.value().data());
    if (u.reg_io_width != 1 && u.reg_io_width != 4) {
        note.str(u.path).str(": unsupported reg-io-width ").dec(u.reg_io_width);
        return;
    }
    if (u.reg_shift > 3) {
        note.str(u.path).str(": unsupported reg-shift ").dec(u.reg_shift);
        return;
    }
    u.kind = kind;
}

// The console: /chosen stdout-path (spec 3.6; ":options" stripped, aliases
// resolved), else the first okay node with a UART compatible. If
// stdout-path names a node we cannot drive, no other UART is guessed: the
// SBI console reaches the right one.
void find_uart(Ctx& c) {
    FdtNode chosen = c.f.find_node("/chosen");
    auto sp = c.f.string(chosen, "stdout-path");
    if (!sp.ok()) sp = c.f.string(chosen, "linux,stdout-path");
    if (sp.ok()) {
        const char* p = sp.value();
        size_t len = 0;
        while (p[len] && p[len] != ':')
            ++len;
        FdtNode n = c.f.find_node(p, len);
        if (!n.valid()) {
            MsgWriter(c.m.uart.note, sizeof c.m.uart.note)
                .str("stdout-path \"")
                .str(p, len)
                .str("\" not found");
            return;
        }
        use_uart(c, n);
        return;
    }
    for (FdtNode n = c.f.root(); n.valid(); n = c.f.next_node(n)) {
        if (uart_kind(c.f, n) != UartKind::None && c.f.is_okay(n)) {
            use_uart(c, n);
            return;
        }
    }
    copy_str(c.m.uart.note, sizeof c.m.uart.note, "no UART node found");
}

// Adds r page-rounded, merging with any region it overlaps; regions inside
// RAM are not MMIO and are skipped.
void add_mmio(MachineInfo& m, PhysRange r, const char* name) {
    if (!r.size) return;
    for (int i = 0; i < m.memory_count; ++i)
        if (m.memory[i].overlaps(r)) return;
    uint64_t base = align_down(r.base.value(), kPageSize), end;
    if (!align_up(r.end(), kPageSize, end) || end <= base) return;
    PhysRange pr{PhysAddr(base), end - base};
    int hit = -1;
    for (int i = 0; i < m.mmio_count && hit < 0; ++i)
        if (m.mmio[i].range.overlaps(pr)) hit = i;
    if (hit < 0) {
        if (m.mmio_count == kMaxMmio) {
            ++m.mmio_dropped;
            return;
        }
        m.mmio[m.mmio_count].range = pr;
        copy_str(m.mmio[m.mmio_count++].name, kMaxNameLen, name);
        return;
    }
    // The first overlapping entry grows to the union; later entries it now
    // overlaps are folded into it. Entries before `hit` cannot overlap.
    PhysRange& h = m.mmio[hit].range;
    uint64_t hb = h.base.value() < base ? h.base.value() : base;
    uint64_t he = h.end() > end ? h.end() : end;
    h = PhysRange{PhysAddr(hb), he - hb};
    for (int j = hit + 1; j < m.mmio_count;) {
        if (!m.mmio[j].range.overlaps(h)) {
            ++j;
            continue;
        }
        hb = h.base.value() < m.mmio[j].range.base.value() ? h.base.value()
                                                           : m.mmio[j].range.base.value();
        he = h.end() > m.mmio[j].range.end() ? h.end() : m.mmio[j].range.end();
        h = PhysRange{PhysAddr(hb), he - hb};
        for (int k = j; k + 1 < m.mmio_count; ++k)
            m.mmio[k] = m.mmio[k + 1];
        --m.mmio_count;
    }
}

// Every okay node with reg at the root or below simple-buses (spec 4.5),
// translated through the buses' ranges.
void walk_mmio(Ctx& c, const Bus& bus) {
    for (FdtNode n = c.f.first_child(bus.node); n.valid(); n = c.f.next_sibling(n)) {
        const char* nm = c.f.name(n);
        if (!bus.up && (name_has_base(nm, "cpus") || name_has_base(nm, "memory") ||
                        name_has_base(nm, "reserved-memory") || name_has_base(nm, "chosen") ||
                        name_has_base(nm, "aliases")))
            continue;
        if (!c.f.is_okay(n) || c.f.string_equals(n, "device_type", "memory")) continue;
        if (auto reg = c.f.reg(n, bus.cells); reg.ok()) {
            for (size_t i = 0; i < reg.value().count(); ++i) {
                PhysRange r;
                if (to_phys(c.f, &bus, reg.value()[i], r)) add_mmio(c.m, r, nm);
            }
        }
        // A bus without ranges does not map its children into ours.
        if (c.f.is_compatible(n, "simple-bus") && c.f.has_property(n, "ranges")) {
            Bus sub{n, c.f.cells(n), &bus};
            walk_mmio(c, sub);
        }
    }
}

} // namespace

Result<void> discover_machine(const Fdt& fdt, MachineInfo& out, char* why, size_t why_len) {
    out = MachineInfo{};
    Ctx c{fdt, out, MsgWriter(why, why_len), {}, {}};
    if (!fdt.root().valid()) return c.fail(Error::InvalidArgument, "no device tree opened");

    if (auto model = fdt.string(fdt.root(), "model"); model.ok())
        copy_str(out.model, sizeof out.model, model.value());
    TRY(find_memory(c));
    TRY(find_reserved(c));
    uint32_t intc[kMaxHarts] = {};
    TRY(find_harts(c, intc));
    TRY(find_irq_controllers(c, intc));
    find_uart(c);

    // The devices the kernel itself drives go first so they always fit.
    if (out.uart.kind != UartKind::None) add_mmio(out, out.uart.regs, out.uart.path);
    if (out.plic.size) add_mmio(out, out.plic, fdt.name(c.plic));
    if (out.clint.size) add_mmio(out, out.clint, fdt.name(c.clint));
    Bus root{fdt.root(), fdt.cells(fdt.root())};
    walk_mmio(c, root);

    if (auto args = fdt.string(fdt.find_node("/chosen"), "bootargs"); args.ok()) {
        const char* a = args.value();
        while (a[out.bootargs_len])
            ++out.bootargs_len;
        if (out.bootargs_len < sizeof out.bootargs) copy_str(out.bootargs, sizeof out.bootargs, a);
    }
    return {};
}

} // namespace capframe
