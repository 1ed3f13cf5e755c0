// Fuzzes the device-tree reader (lib/fdt.cpp), machine discovery
// (machine.cpp) and bootargs parsing (bootargs.cpp) with arbitrary bytes.
//
// The input is the blob, exactly `size` bytes (ASan catches any read past
// it). A blob Fdt::open() accepts is walked node by node and every lookup is
// cross-checked against another way of finding the same thing; then
// discover_machine() must either fail with a message or return a MachineInfo
// that keeps the promises of machine.h.
#include <cstdint>
#include <cstring>
#include <string>

#include "bootargs.h"
#include "fdt.h"
#include "fuzz.h"
#include "machine.h"

using namespace capframe;

namespace {

constexpr int kMaxNodesChecked = 512; // per-node checks cost O(tree): bound them

bool terminated(const char* s, size_t cap) {
    return std::memchr(s, 0, cap) != nullptr;
}

// The pointer lies inside the blob and the string ends there too.
bool string_in_blob(const Fdt& f, const char* s) {
    auto* p = reinterpret_cast<const uint8_t*>(s);
    if (p < f.data() || p >= f.data() + f.total_size()) return false;
    return std::memchr(p, 0, static_cast<size_t>(f.data() + f.total_size() - p)) != nullptr;
}

bool span_in_blob(const Fdt& f, std::span<const uint8_t> v) {
    if (v.empty()) return true;
    return v.data() >= f.data() && v.data() + v.size() <= f.data() + f.total_size();
}

void check_properties(const Fdt& f, FdtNode n) {
    for (size_t i = 0; i < 4096; ++i) {
        auto p = f.property_at(n, i);
        if (!p.ok()) {
            FUZZ_CHECK(p.error() == Error::NotFound);
            break;
        }
        FUZZ_CHECK(string_in_blob(f, p.value().name));
        FUZZ_CHECK(span_in_blob(f, p.value().value));
        // Lookup by name finds the first property of that name.
        auto byname = f.property(n, p.value().name);
        FUZZ_CHECK(byname.ok());
        size_t first = 0;
        while (std::strcmp(f.property_at(n, first).value().name, p.value().name) != 0)
            ++first;
        FUZZ_CHECK(first <= i);
        FUZZ_CHECK(byname.value().data() == f.property_at(n, first).value().value.data());
        FUZZ_CHECK(byname.value().size() == f.property_at(n, first).value().value.size());
    }
    (void)f.is_okay(n);
    (void)f.is_compatible(n, "ns16550a");
    (void)f.string_equals(n, "device_type", "memory");
    if (auto s = f.string(n, "compatible"); s.ok()) {
        FUZZ_CHECK(string_in_blob(f, s.value()));
        FUZZ_CHECK(f.is_compatible(n, s.value())); // the first string is in the list
    }
    if (auto v = f.u32(n, "#address-cells"); v.ok()) FUZZ_CHECK(f.cells(n).addr == v.value());
    if (auto v = f.u64(n, "clock-frequency"); !v.ok())
        FUZZ_CHECK(v.error() == Error::NotFound || v.error() == Error::BadFormat);
}

void check_reg(const Fdt& f, FdtNode n) {
    auto reg = f.reg(n);
    if (!reg.ok()) {
        FUZZ_CHECK(reg.error() == Error::NotFound || reg.error() == Error::BadFormat);
        return;
    }
    auto raw = f.property(n, "reg");
    FUZZ_CHECK(raw.ok());
    FdtCells c = f.cells(f.parent(n));
    FUZZ_CHECK(c.addr >= 1 && c.addr <= 2 && c.size <= 2);
    FUZZ_CHECK(reg.value().count() * 4 * (c.addr + c.size) == raw.value().size());
    for (size_t i = 0; i < reg.value().count() && i < 64; ++i)
        (void)reg.value()[i];
}

// Builds "/a/b/c" for n; false if some name cannot be part of a path.
bool path_of(const Fdt& f, FdtNode n, std::string& out) {
    FdtNode chain[kFdtMaxDepth];
    int d = f.path_nodes(n, chain);
    out.clear();
    for (int i = 1; i < d; ++i) {
        const char* nm = f.name(chain[i]);
        if (!*nm || std::strchr(nm, '/')) return false;
        out += '/';
        out += nm;
    }
    if (out.empty()) out = "/";
    return true;
}

void check_node(const Fdt& f, FdtNode n) {
    const char* nm = f.name(n);
    FUZZ_CHECK(string_in_blob(f, nm));
    FdtNode chain[kFdtMaxDepth];
    int d = f.path_nodes(n, chain);
    FUZZ_CHECK(d >= 1 && d <= kFdtMaxDepth);
    FUZZ_CHECK(chain[0] == f.root() && chain[d - 1] == n);
    FdtNode up = f.parent(n);
    FUZZ_CHECK(d == 1 ? !up.valid() : up == chain[d - 2]);

    // Every child names n as its parent; subnode() finds a child of that name.
    int children = 0;
    for (FdtNode c = f.first_child(n); c.valid() && children < 64; c = f.next_sibling(c)) {
        ++children;
        FUZZ_CHECK(f.parent(c) == n);
        const char* cn = f.name(c);
        FdtNode s = f.subnode(n, cn, std::strlen(cn));
        FUZZ_CHECK(s.valid() && std::strcmp(f.name(s), cn) == 0 && f.parent(s) == n);
    }

    // Its path leads back to it, unless an earlier sibling of it or of an
    // ancestor has the same name (not a valid tree, but not rejected either:
    // the lookup then takes the first).
    bool first_of_its_name = true;
    for (int i = 1; i < d; ++i) {
        const char* ni = f.name(chain[i]);
        first_of_its_name &= f.subnode(chain[i - 1], ni, std::strlen(ni)) == chain[i];
    }
    std::string path;
    if (path_of(f, n, path) && first_of_its_name) FUZZ_CHECK(f.find_node(path.c_str()) == n);

    if (uint32_t ph = f.phandle(n); ph != 0 && ph != 0xffffffff) {
        FdtNode p = f.find_phandle(ph);
        FUZZ_CHECK(p.valid() && f.phandle(p) == ph);
    }
    check_properties(f, n);
    check_reg(f, n);
}

bool disjoint(const PhysRange& a, const PhysRange& b) {
    return a.end() <= b.base.value() || b.end() <= a.base.value();
}

void check_machine(const Fdt& f) {
    static MachineInfo m; // 8 KiB: keep it off the stack
    char why[128];
    std::memset(why, 'x', sizeof why);
    auto r = discover_machine(f, m, why, sizeof why);
    FUZZ_CHECK(terminated(why, sizeof why));
    if (!r.ok()) {
        FUZZ_CHECK(why[0] != '\0'); // every error says what is wrong
        FUZZ_CHECK(r.error() == Error::BadFormat || r.error() == Error::TooMany);
        return;
    }
    FUZZ_CHECK(why[0] == '\0');
    FUZZ_CHECK(terminated(m.model, sizeof m.model) && terminated(m.bootargs, sizeof m.bootargs));
    // bootargs are whole or, when they do not fit, empty: never cut short.
    if (m.bootargs_len < sizeof m.bootargs)
        FUZZ_CHECK(std::strlen(m.bootargs) == m.bootargs_len);
    else
        FUZZ_CHECK(m.bootargs[0] == '\0');
    FUZZ_CHECK(m.memory_count >= 1 && m.memory_count <= kMaxMemoryRanges);
    for (int i = 0; i < m.memory_count; ++i)
        FUZZ_CHECK(m.memory[i].size && m.memory[i].end() > m.memory[i].base.value());
    FUZZ_CHECK(m.reserved_count >= 0 && m.reserved_count <= kMaxReserved);
    for (int i = 0; i < m.reserved_count; ++i)
        FUZZ_CHECK(m.reserved[i].size && m.reserved[i].end() > m.reserved[i].base.value());
    FUZZ_CHECK(m.hart_count >= 1 && m.hart_count <= kMaxHarts);
    FUZZ_CHECK(m.timebase_hz != 0);
    for (int i = 0; i < m.hart_count; ++i) {
        const HartInfo& h = m.harts[i];
        FUZZ_CHECK(m.find_hart(h.hart_id) != nullptr);
        FUZZ_CHECK(!h.sv39 || h.has_mmu);
        FUZZ_CHECK(h.plic_s_context >= -1);
    }
    const UartInfo& u = m.uart;
    FUZZ_CHECK(terminated(u.path, sizeof u.path) && terminated(u.note, sizeof u.note));
    if (u.kind != UartKind::None) {
        FUZZ_CHECK(u.note[0] == '\0');
        FUZZ_CHECK(u.reg_io_width == 1 || u.reg_io_width == 4);
        FUZZ_CHECK(u.reg_shift <= 3);
    } else {
        FUZZ_CHECK(u.note[0] != '\0'); // says why there is no UART
    }
    // MMIO: page-aligned, non-empty, pairwise disjoint, none on a page of
    // RAM (RAM is mapped and handed out in whole pages, rounded inwards).
    FUZZ_CHECK(m.mmio_count >= 0 && m.mmio_count <= kMaxMmio && m.mmio_dropped >= 0);
    for (int i = 0; i < m.mmio_count; ++i) {
        const PhysRange& a = m.mmio[i].range;
        FUZZ_CHECK(terminated(m.mmio[i].name, sizeof m.mmio[i].name));
        FUZZ_CHECK(a.size && a.base.is_page_aligned() && is_aligned(a.size, kPageSize));
        FUZZ_CHECK(a.end() > a.base.value());
        for (int j = 0; j < i; ++j)
            FUZZ_CHECK(disjoint(a, m.mmio[j].range));
        for (int j = 0; j < m.memory_count; ++j) {
            uint64_t lo = 0, hi = align_down(m.memory[j].end(), kPageSize);
            if (align_up(m.memory[j].base.value(), kPageSize, lo) && lo < hi)
                FUZZ_CHECK(disjoint(a, PhysRange{PhysAddr(lo), hi - lo}));
        }
    }
    // The devices the kernel drives come first (and always fit): each is
    // inside one of the first entries.
    auto covered = [&](const PhysRange& r) {
        if (!r.size) return true;
        for (int j = 0; j < m.memory_count; ++j)
            if (m.memory[j].overlaps(r)) return true; // in RAM: not MMIO
        for (int i = 0; i < m.mmio_count && i < 3; ++i)
            if (m.mmio[i].range.base.value() <= r.base.value() && r.end() <= m.mmio[i].range.end())
                return true;
        return false;
    };
    if (u.kind != UartKind::None) FUZZ_CHECK(covered(u.regs));
    FUZZ_CHECK(covered(m.plic));
    FUZZ_CHECK(covered(m.clint));
}

// A plain reference for find_bootarg: the first space-separated word that
// starts with "key=".
bool reference_bootarg(const char* args, const char* key, std::string& value) {
    std::string s(args), k = std::string(key) + "=";
    size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && s[i] == ' ')
            ++i;
        size_t end = s.find(' ', i);
        if (end == std::string::npos) end = s.size();
        if (end > i && s.compare(i, k.size(), k) == 0 && end - i >= k.size()) {
            value = s.substr(i + k.size(), end - i - k.size());
            return true;
        }
        i = end;
    }
    return false;
}

void check_bootargs(const char* args, const char* key) {
    std::string want;
    bool found = reference_bootarg(args, key, want);
    for (size_t cap : {size_t{1}, size_t{2}, size_t{8}, size_t{128}}) {
        char out[128];
        std::memset(out, 'x', sizeof out);
        bool got = find_bootarg(args, key, out, cap);
        FUZZ_CHECK(got == found);
        if (!got) continue;
        FUZZ_CHECK(terminated(out, cap));                  // NUL inside the buffer
        FUZZ_CHECK(want.substr(0, cap - 1) == out);        // the value, truncated
        if (cap < sizeof out) FUZZ_CHECK(out[cap] == 'x'); // nothing written past it
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // Bootargs: the input's first line as a bootargs string, with fixed keys
    // and with its own first word's key.
    {
        std::string args(reinterpret_cast<const char*>(data), std::min<size_t>(size, 160));
        args = args.substr(0, args.find_first_of(std::string("\n\0", 2)));
        for (const char* key : {"init", "vmprint", "mmtest", "console", "a"})
            check_bootargs(args.c_str(), key);
        size_t eq = args.find('=');
        std::string key = args.substr(0, eq == std::string::npos ? 0 : eq);
        key =
            key.substr(key.find_last_of(' ') == std::string::npos ? 0 : key.find_last_of(' ') + 1);
        if (!key.empty()) check_bootargs(args.c_str(), key.c_str());
        char out[8];
        FUZZ_CHECK(!find_bootarg(args.c_str(), "", out, sizeof out));
        FUZZ_CHECK(!find_bootarg(args.c_str(), "init", out, 0));
    }

    char why[96];
    std::memset(why, 'x', sizeof why);
    auto r = Fdt::open(data, size, why, sizeof why);
    FUZZ_CHECK(terminated(why, sizeof why));
    if (!r.ok()) {
        FUZZ_CHECK(why[0] != '\0');
        FUZZ_CHECK(r.error() == Error::BadFormat || r.error() == Error::Truncated);
        return 0;
    }
    FUZZ_CHECK(why[0] == '\0');
    const Fdt& f = r.value();
    FUZZ_CHECK(f.total_size() <= size && f.version() >= 16);
    FUZZ_CHECK(f.root().valid());
    for (size_t i = 0; i < f.reservation_count(); ++i)
        (void)f.reservation(i);

    int nodes = 0;
    for (FdtNode n = f.root(); n.valid() && nodes < kMaxNodesChecked; n = f.next_node(n), ++nodes) {
        FUZZ_CHECK(n.off < f.total_size());
        check_node(f, n);
    }
    // The document-order walk and find_compatible agree.
    FdtNode first = f.find_compatible("simple-bus");
    for (FdtNode n = f.root(); n.valid(); n = f.next_node(n)) {
        if (f.is_compatible(n, "simple-bus")) {
            FUZZ_CHECK(first == n);
            break;
        }
    }
    (void)f.find_node("serial0");
    (void)f.find_node("/chosen");

    check_machine(f);
    return 0;
}
