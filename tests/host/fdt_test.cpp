// Host tests for the FDT reader: the real QEMU trees and hand-made fixtures,
// then blobs broken on purpose (built by a tiny writer below or mutated from
// a real one). Every blob under test lives in an exactly-sized heap buffer so
// AddressSanitizer catches any read past `available`.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "fdt.h"

using namespace capframe;

namespace {

using Bytes = std::vector<uint8_t>;

Bytes load(const char* name) {
    std::string path = std::string(FIXTURE_DIR) + "/" + name + ".dtb";
    Bytes b;
    if (FILE* f = std::fopen(path.c_str(), "rb")) {
        uint8_t buf[4096];
        for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;)
            b.insert(b.end(), buf, buf + n);
        std::fclose(f);
    }
    EXPECT_FALSE(b.empty()) << "cannot read " << path;
    return b;
}

// A copy of b at `misalign` bytes past a fresh allocation of exactly that size.
struct Buffer {
    std::unique_ptr<uint8_t[]> mem;
    uint8_t* data;
    size_t size;
    Buffer(const Bytes& b, size_t misalign = 0)
        : mem(new uint8_t[b.size() + misalign]), data(mem.get() + misalign), size(b.size()) {
        if (!b.empty()) std::memcpy(data, b.data(), b.size());
    }
};

uint32_t get32(const Bytes& b, size_t off) {
    return uint32_t{b[off]} << 24 | uint32_t{b[off + 1]} << 16 | uint32_t{b[off + 2]} << 8 |
           b[off + 3];
}
void put32(Bytes& b, size_t off, uint32_t v) {
    for (int i = 0; i < 4; ++i)
        b[off + i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}

// Header field offsets (spec 5.2).
enum : size_t {
    kTotal = 4,
    kOffStruct = 8,
    kOffStrings = 12,
    kOffRsv = 16,
    kVersion = 20,
    kLastComp = 24,
    kSizeStrings = 32,
    kSizeStruct = 36,
};

struct Opened {
    Result<Fdt> result;
    std::string why;
    std::unique_ptr<Buffer> keep; // the blob the Fdt points into
};

Opened try_open(const Buffer& buf, size_t available) {
    char why[160];
    std::memset(why, 'X', sizeof why);
    auto r = Fdt::open(buf.data, available, why, sizeof why);
    return Opened{r, why, nullptr};
}
Opened try_open(const Bytes& b) {
    auto buf = std::make_unique<Buffer>(b);
    Opened o = try_open(*buf, buf->size);
    o.keep = std::move(buf);
    return o;
}

// Minimal FDT writer for malformed structure blocks. Tokens are appended raw,
// so nothing stops a test from writing nonsense.
class Writer {
  public:
    Writer& tok(uint32_t v) {
        for (int i = 0; i < 4; ++i)
            st_.push_back(static_cast<uint8_t>(v >> (24 - 8 * i)));
        return *this;
    }
    Writer& begin(const char* name) {
        tok(1);
        size_t n = std::strlen(name) + 1;
        st_.insert(st_.end(), name, name + n);
        while (st_.size() % 4)
            st_.push_back(0);
        return *this;
    }
    Writer& end() { return tok(2); }
    Writer& prop_raw(uint32_t nameoff, uint32_t len, const Bytes& value) {
        tok(3).tok(len).tok(nameoff);
        st_.insert(st_.end(), value.begin(), value.end());
        while (st_.size() % 4)
            st_.push_back(0);
        return *this;
    }
    Writer& prop(const char* name, const Bytes& value) {
        uint32_t off = static_cast<uint32_t>(strs_.size());
        strs_.insert(strs_.end(), name, name + std::strlen(name) + 1);
        return prop_raw(off, static_cast<uint32_t>(value.size()), value);
    }
    Writer& finish() { return tok(9); }
    Writer& rsv(uint64_t addr, uint64_t size) {
        rsv_.push_back({addr, size});
        return *this;
    }
    Bytes build(bool rsv_terminator = true) const {
        Bytes b(40, 0);
        auto push64 = [&](uint64_t v) {
            for (int i = 0; i < 8; ++i)
                b.push_back(static_cast<uint8_t>(v >> (56 - 8 * i)));
        };
        for (auto [a, s] : rsv_)
            push64(a), push64(s);
        if (rsv_terminator) push64(0), push64(0);
        size_t off_struct = b.size();
        b.insert(b.end(), st_.begin(), st_.end());
        size_t off_strings = b.size();
        b.insert(b.end(), strs_.begin(), strs_.end());
        put32(b, 0, kFdtMagic);
        put32(b, kTotal, static_cast<uint32_t>(b.size()));
        put32(b, kOffStruct, static_cast<uint32_t>(off_struct));
        put32(b, kOffStrings, static_cast<uint32_t>(off_strings));
        put32(b, kOffRsv, 40);
        put32(b, kVersion, 17);
        put32(b, kLastComp, 16);
        put32(b, kSizeStrings, static_cast<uint32_t>(strs_.size()));
        put32(b, kSizeStruct, static_cast<uint32_t>(st_.size()));
        return b;
    }

  private:
    Bytes st_, strs_;
    std::vector<std::pair<uint64_t, uint64_t>> rsv_;
};

// root { a = <1>; child { }; };
Writer small_tree() {
    Writer w;
    w.begin("").prop("a", {0, 0, 0, 1}).begin("child").end().end().finish();
    return w;
}

Fdt open_fixture(const Bytes& b) {
    char why[160] = "";
    auto r = Fdt::open(b.data(), b.size(), why, sizeof why);
    EXPECT_TRUE(r.ok()) << why;
    return r.ok() ? r.value() : Fdt{};
}

std::string name_of(const Fdt& f, FdtNode n) {
    return f.name(n);
}

} // namespace

// ---- valid trees ----

TEST(Fdt, OpensEveryFixture) {
    for (const char* name : {"virt-smp1", "virt-smp2", "virt-opensbi", "sifive_u-smp2",
                             "jh7110-visionfive2", "edge-cases", "mmio-overflow"}) {
        Bytes b = load(name);
        auto o = try_open(b);
        ASSERT_TRUE(o.result.ok()) << name << ": " << o.why;
        EXPECT_EQ(o.why, "") << name;
        const Fdt& f = o.result.value();
        EXPECT_EQ(f.total_size(), b.size());
        EXPECT_EQ(f.version(), 17u);
        EXPECT_EQ(f.boot_cpuid(), 0u);
        EXPECT_EQ(name_of(f, f.root()), "");
    }
}

TEST(Fdt, FindNodeByPath) {
    Bytes b = load("virt-smp2");
    Fdt f = open_fixture(b);
    EXPECT_EQ(f.find_node("/"), f.root());
    EXPECT_EQ(name_of(f, f.find_node("/cpus")), "cpus");
    EXPECT_EQ(name_of(f, f.find_node("/soc/serial@10000000")), "serial@10000000");
    EXPECT_EQ(name_of(f, f.find_node("/memory")), "memory@80000000"); // unit address optional
    EXPECT_EQ(name_of(f, f.find_node("/cpus/cpu@1/interrupt-controller")), "interrupt-controller");
    EXPECT_EQ(name_of(f, f.find_node("//soc//plic/")), "plic@c000000");
    EXPECT_FALSE(f.find_node("/soc/serial@1").valid()); // a unit address must match exactly
    EXPECT_FALSE(f.find_node("/soc/seria").valid());
    EXPECT_FALSE(f.find_node("/nonexistent").valid());
    EXPECT_FALSE(f.find_node("").valid());
    EXPECT_FALSE(f.find_node(nullptr).valid());
    // Length-limited: only the first 5 characters count.
    EXPECT_EQ(name_of(f, f.find_node("/cpus/cpu@0", 5)), "cpus");
}

TEST(Fdt, UnitAddressFallbackPicksFirstMatch) {
    Bytes b = load("sifive_u-smp2");
    Fdt f = open_fixture(b);
    EXPECT_EQ(name_of(f, f.find_node("/soc/serial")), "serial@10010000");
    EXPECT_EQ(name_of(f, f.find_node("/soc/serial@10011000")), "serial@10011000");
}

TEST(Fdt, Aliases) {
    Bytes b = load("jh7110-visionfive2");
    Fdt f = open_fixture(b);
    EXPECT_EQ(f.find_node("serial0"), f.find_node("/soc/serial@10000000"));
    EXPECT_EQ(name_of(f, f.find_node("serial1")), "serial@10010000");
    EXPECT_FALSE(f.find_node("serial").valid()); // aliases match whole names only
    EXPECT_FALSE(f.find_node("serial2").valid());
    EXPECT_EQ(name_of(f, f.find_node("serial0:115200n8", 7)), "serial@10000000");

    Bytes s = load("sifive_u-smp2");
    Fdt g = open_fixture(s);
    EXPECT_EQ(name_of(g, g.find_node("ethernet0")), "ethernet@10090000");
    // An alias followed by a relative path.
    EXPECT_EQ(name_of(g, g.find_node("ethernet0/ethernet-phy@0")), "ethernet-phy@0");
}

TEST(Fdt, Iteration) {
    Bytes b = load("virt-smp2");
    Fdt f = open_fixture(b);
    FdtNode cpus = f.find_node("/cpus");
    std::vector<std::string> names;
    for (FdtNode c = f.first_child(cpus); c.valid(); c = f.next_sibling(c)) {
        names.push_back(f.name(c));
        EXPECT_EQ(f.parent(c), cpus);
    }
    EXPECT_EQ(names, (std::vector<std::string>{"cpu@0", "cpu@1", "cpu-map"}));
    EXPECT_FALSE(f.parent(f.root()).valid());
    EXPECT_FALSE(f.next_sibling(f.root()).valid());
    EXPECT_FALSE(f.first_child(FdtNode{}).valid());
    EXPECT_FALSE(f.first_child(f.find_node("/soc/serial@10000000")).valid()); // a leaf

    // Every node, in document order; each one's path agrees with parent().
    int count = 0;
    for (FdtNode n = f.root(); n.valid(); n = f.next_node(n)) {
        ++count;
        FdtNode chain[kFdtMaxDepth];
        int d = f.path_nodes(n, chain);
        ASSERT_GE(d, 1);
        EXPECT_EQ(chain[d - 1], n);
        EXPECT_EQ(chain[0], f.root());
        if (d >= 2) {
            EXPECT_EQ(f.parent(n), chain[d - 2]);
        }
    }
    FdtNode none[kFdtMaxDepth];
    EXPECT_EQ(f.path_nodes(FdtNode{12345}, none), 0);
    EXPECT_EQ(count, 33); // virt-smp1 has 30; smp2 adds cpu@1, its interrupt-controller, core1
}

TEST(Fdt, Properties) {
    Bytes b = load("virt-opensbi");
    Fdt f = open_fixture(b);
    FdtNode root = f.root(), plic = f.find_node("/soc/plic@c000000");
    EXPECT_EQ(f.u32(root, "#address-cells").value(), 2u);
    EXPECT_EQ(f.u32(plic, "riscv,ndev").value(), 0x60u);
    EXPECT_EQ(f.u32(root, "model").error(), Error::BadFormat); // not one cell
    EXPECT_EQ(f.u32(root, "nope").error(), Error::NotFound);
    EXPECT_STREQ(f.string(root, "model").value(), "riscv-virtio,qemu");
    EXPECT_TRUE(f.string_equals(root, "model", "riscv-virtio,qemu"));
    EXPECT_FALSE(f.string_equals(root, "model", "riscv-virtio"));
    EXPECT_EQ(f.string(f.find_node("/fw-cfg@10100000"), "dma-coherent").error(),
              Error::BadFormat); // empty: no string
    EXPECT_TRUE(f.has_property(plic, "interrupt-controller"));
    EXPECT_EQ(f.property(plic, "interrupt-controller").value().size(), 0u);
    EXPECT_EQ(f.property(plic, "interrupts-extended").value().size(), 32u);
    EXPECT_EQ(f.u64(f.find_node("/cpus"), "timebase-frequency").value(), 10000000u);
    EXPECT_EQ(f.u64(f.find_node("/soc/serial@10000000"), "clock-frequency").value(), 0x384000u);

    EXPECT_TRUE(f.is_compatible(plic, "sifive,plic-1.0.0"));
    EXPECT_TRUE(f.is_compatible(plic, "riscv,plic0"));
    EXPECT_FALSE(f.is_compatible(plic, "riscv,plic"));   // prefix of an entry
    EXPECT_FALSE(f.is_compatible(plic, "plic-1.0.0"));   // suffix of an entry
    EXPECT_FALSE(f.is_compatible(plic, "riscv,plic0x")); // longer than an entry
    EXPECT_TRUE(f.stringlist_contains(f.find_node("/soc/test@100000"), "compatible", "syscon"));
    EXPECT_TRUE(f.is_okay(f.find_node("/cpus/cpu@0")));
    EXPECT_TRUE(f.is_okay(plic)); // no status

    EXPECT_EQ(f.phandle(plic), 5u);
    EXPECT_EQ(f.find_phandle(5), plic);
    EXPECT_EQ(name_of(f, f.find_phandle(4)), "interrupt-controller");
    EXPECT_FALSE(f.find_phandle(0).valid());
    EXPECT_FALSE(f.find_phandle(0xffffffff).valid());
    EXPECT_FALSE(f.find_phandle(99).valid());

    std::vector<std::string> props;
    for (size_t i = 0; f.property_at(plic, i).ok(); ++i)
        props.push_back(f.property_at(plic, i).value().name);
    EXPECT_EQ(props,
              (std::vector<std::string>{"phandle", "riscv,ndev", "reg", "interrupts-extended",
                                        "interrupt-controller", "compatible", "#address-cells",
                                        "#interrupt-cells"}));
    EXPECT_EQ(f.property_at(plic, 1).value().value.size(), 4u);
    EXPECT_EQ(f.property_at(FdtNode{}, 0).error(), Error::NotFound);

    int virtio = 0;
    for (FdtNode n = f.find_compatible("virtio,mmio"); n.valid();
         n = f.find_compatible("virtio,mmio", n))
        ++virtio;
    EXPECT_EQ(virtio, 8);
}

TEST(Fdt, StatusAndLinuxPhandle) {
    Bytes b = load("edge-cases");
    Fdt f = open_fixture(b);
    EXPECT_FALSE(f.is_okay(f.find_node("/memory@c0000000")));
    EXPECT_TRUE(f.is_okay(f.find_node("/mem2")));
    EXPECT_FALSE(f.is_okay(f.find_node("/cpus/cpu@7"))); // "fail"
    FdtNode intc = f.find_phandle(0x55);
    EXPECT_EQ(f.parent(intc), f.find_node("/cpus/cpu@5"));
    EXPECT_EQ(f.u64(f.find_node("/cpus/cpu@0"), "timebase-frequency").value(), 0x2540be400u);
}

TEST(Fdt, Reg) {
    Bytes b = load("virt-smp1");
    Fdt f = open_fixture(b);
    auto mem = f.reg(f.find_node("/memory"));
    ASSERT_TRUE(mem.ok());
    ASSERT_EQ(mem.value().count(), 1u);
    EXPECT_EQ(mem.value()[0].addr, 0x80000000u);
    EXPECT_EQ(mem.value()[0].size, 0x8000000u);
    auto flash = f.reg(f.find_node("/flash"));
    ASSERT_EQ(flash.value().count(), 2u);
    EXPECT_EQ(flash.value()[1].addr, 0x22000000u);
    EXPECT_EQ(flash.value()[1].size, 0x2000000u);
    auto cpu = f.reg(f.find_node("/cpus/cpu@0")); // #size-cells = 0
    ASSERT_EQ(cpu.value().count(), 1u);
    EXPECT_EQ(cpu.value()[0].addr, 0u);
    EXPECT_EQ(cpu.value()[0].size, 0u);
    EXPECT_EQ(f.reg(f.root()).error(), Error::NotFound);
    // Cells the reg does not fit, or cell counts this reader refuses.
    FdtNode serial = f.find_node("/soc/serial@10000000");
    EXPECT_EQ(f.reg(serial, FdtCells{3, 2}).error(), Error::BadFormat);
    EXPECT_EQ(f.reg(serial, FdtCells{0, 1}).error(), Error::BadFormat);
    EXPECT_EQ(f.reg(serial, FdtCells{2, 3}).error(), Error::BadFormat);
    EXPECT_EQ(f.reg(serial, FdtCells{1, 2}).error(), Error::BadFormat); // 16 % 12 != 0
    auto as_1_1 = f.reg(serial, FdtCells{1, 1});
    ASSERT_EQ(as_1_1.value().count(), 2u);
    EXPECT_EQ(as_1_1.value()[0].size, 0x10000000u);

    Bytes e = load("edge-cases"); // #address-cells = #size-cells = 1
    Fdt g = open_fixture(e);
    auto m = g.reg(g.find_node("/memory@80000000"));
    ASSERT_EQ(m.value().count(), 2u);
    EXPECT_EQ(m.value()[1].addr, 0x88000000u);
    EXPECT_EQ(m.value()[1].size, 0x4000000u);
    FdtCells c = g.cells(g.find_node("/cpus"));
    EXPECT_EQ(c.addr, 1u);
    EXPECT_EQ(c.size, 0u);
    FdtCells d = g.cells(g.find_node("/chosen")); // spec defaults
    EXPECT_EQ(d.addr, 2u);
    EXPECT_EQ(d.size, 1u);
}

TEST(Fdt, ReservationMap) {
    Bytes e = load("edge-cases");
    Fdt g = open_fixture(e);
    ASSERT_EQ(g.reservation_count(), 2u);
    EXPECT_EQ(g.reservation(0).addr, 0x80000000u);
    EXPECT_EQ(g.reservation(0).size, 0x10000u);
    EXPECT_EQ(g.reservation(1).addr, 0x87ff0000u);
    EXPECT_EQ(g.reservation(2).size, 0u); // out of range: empty
    Bytes v = load("virt-opensbi");
    EXPECT_EQ(open_fixture(v).reservation_count(), 0u);
}

TEST(Fdt, AnyAlignment) {
    Bytes b = load("virt-opensbi");
    for (size_t mis : {1, 2, 3, 5, 7}) {
        Buffer buf(b, mis);
        auto o = try_open(buf, buf.size);
        ASSERT_TRUE(o.result.ok()) << o.why;
        const Fdt& f = o.result.value();
        FdtNode mem = f.find_node("/memory");
        EXPECT_EQ(f.reg(mem).value()[0].size, 0x10000000u);
        EXPECT_EQ(f.u32(f.find_node("/soc/plic"), "riscv,ndev").value(), 0x60u);
    }
}

TEST(Fdt, HandWrittenTreeAndVersion16) {
    Bytes b = small_tree().build();
    auto o = try_open(b);
    ASSERT_TRUE(o.result.ok()) << o.why;
    EXPECT_EQ(name_of(o.result.value(), o.result.value().find_node("/child")), "child");
    // Version 16 has no size_dt_struct: the reader finds FDT_END itself.
    put32(b, kVersion, 16);
    put32(b, kSizeStruct, 0xdeadbeef);
    auto v16 = try_open(b);
    ASSERT_TRUE(v16.result.ok()) << v16.why;
    EXPECT_EQ(v16.result.value().u32(v16.result.value().root(), "a").value(), 1u);
}

// ---- broken blobs: each must fail with a message ----

namespace {

struct Broken {
    const char* what;
    Bytes blob;
    size_t available; // 0: the blob's size
    Error error;
    const char* says; // a substring of the message
};

void expect_rejected(const Broken& c) {
    Buffer buf(c.blob);
    auto o = try_open(buf, c.available ? c.available : buf.size);
    ASSERT_FALSE(o.result.ok()) << c.what;
    EXPECT_EQ(o.result.error(), c.error) << c.what << ": " << o.why;
    EXPECT_NE(o.why, "") << c.what;
    EXPECT_NE(o.why.find(c.says), std::string::npos) << c.what << ": " << o.why;
    if (getenv("SHOW_WHY")) printf("%-28s %s\n", c.what, o.why.c_str());
}

} // namespace

TEST(FdtBroken, Header) {
    Bytes v = load("virt-smp1");
    auto with = [&](size_t off, uint32_t val) {
        Bytes b = v;
        put32(b, off, val);
        return b;
    };
    const uint32_t total = get32(v, kTotal), os = get32(v, kOffStruct),
                   ostr = get32(v, kOffStrings);
    Broken cases[] = {
        {"bad magic", with(0, 0xd00dfeee), 0, Error::BadFormat, "magic 0xd00dfeee"},
        {"version 15", with(kVersion, 15), 0, Error::BadFormat, "version 15"},
        {"last_comp 18", with(kLastComp, 18), 0, Error::BadFormat, "last_comp_version 18"},
        {"totalsize > available", v, v.size() - 1, Error::Truncated, "exceeds"},
        {"tiny available", v, 39, Error::Truncated, "39 bytes"},
        {"totalsize < header", with(kTotal, 39), 0, Error::BadFormat, "smaller than the 40"},
        {"totalsize > buffer", with(kTotal, total + 1), 0, Error::Truncated, "totalsize"},
        {"rsvmap misaligned", with(kOffRsv, 44), 0, Error::BadFormat, "8-byte aligned"},
        {"rsvmap outside", with(kOffRsv, total & ~7u), 0, Error::BadFormat, "exceeds totalsize"},
        {"rsvmap in header", with(kOffRsv, 8), 0, Error::BadFormat, "overlaps the header"},
        {"struct past end", with(kSizeStruct, total), 0, Error::BadFormat, "struct block ["},
        {"struct misaligned", with(kOffStruct, os + 2), 0, Error::BadFormat, "4-byte aligned"},
        {"struct offset wraps", with(kOffStruct, 0xfffffff0), 0, Error::BadFormat,
         "exceeds totalsize"},
        {"strings past end", with(kSizeStrings, total), 0, Error::BadFormat, "strings block ["},
        {"strings offset wraps", with(kOffStrings, 0xffffffff), 0, Error::BadFormat,
         "strings block"},
        {"strings size wraps", with(kSizeStrings, 0xffffffff - ostr + 2), 0, Error::BadFormat,
         "strings block"},
    };
    for (const auto& c : cases)
        expect_rejected(c);

    char why[80];
    auto null = Fdt::open(nullptr, 100, why, sizeof why);
    EXPECT_EQ(null.error(), Error::InvalidArgument);
    EXPECT_STRNE(why, "");
}

TEST(FdtBroken, Structure) {
    const Bytes one = {0, 0, 0, 1};
    Bytes deep;
    {
        Writer w;
        for (int i = 0; i < 100; ++i)
            w.begin("n");
        for (int i = 0; i < 100; ++i)
            w.end();
        deep = w.finish().build();
    }
    Bytes unterminated;
    {
        Writer w;
        w.begin("").tok(1).tok(0x61626364); // BEGIN_NODE "abcd" without NUL, then the end
        unterminated = w.build();
    }
    Bytes bad_nameoff;
    {
        Writer w;
        w.begin("").prop("a", one).prop_raw(2, 4, one).end().finish(); // strings size is 2
        bad_nameoff = w.build();
    }
    Bytes bad_nameoff_far;
    {
        Writer w;
        w.begin("").prop("a", one).prop_raw(0x7fffffff, 4, one).end().finish();
        bad_nameoff_far = w.build();
    }
    Bytes name_unterminated;
    {
        Writer w;
        w.begin("").prop("a", one).end().finish();
        name_unterminated = w.build();
        name_unterminated.back() = 'x'; // the strings block's only NUL
    }
    Bytes long_value;
    {
        Writer w;
        w.begin("").prop("a", one).end().finish();
        long_value = w.build();
        put32(long_value, get32(long_value, kOffStruct) + 12, 0x1000); // the prop's len
    }
    Bytes huge_value;
    {
        Writer w;
        w.begin("").prop("a", one).end().finish();
        huge_value = w.build();
        put32(huge_value, get32(huge_value, kOffStruct) + 12, 0xfffffffe);
    }
    Bytes truncated_prop;
    {
        Writer w;
        w.begin("").tok(3).tok(0); // FDT_PROP and len, but no nameoff
        truncated_prop = w.build();
    }

    Broken cases[] = {
        {"missing FDT_END", Writer(small_tree()).build(), 0, Error::BadFormat, ""},
        {"no FDT_END",
         [] {
             Writer w;
             w.begin("").end();
             return w.build();
         }(),
         0, Error::BadFormat, "without FDT_END"},
        {"empty struct block", Writer().build(), 0, Error::BadFormat, "without FDT_END"},
        {"only FDT_END", Writer().finish().build(), 0, Error::BadFormat, "before any root"},
        {"unclosed root",
         [] {
             Writer w;
             w.begin("").begin("x").end().finish();
             return w.build();
         }(),
         0, Error::BadFormat, "inside an open node"},
        {"extra END_NODE",
         [] {
             Writer w;
             w.begin("").end().end().finish();
             return w.build();
         }(),
         0, Error::BadFormat, "closes no node"},
        {"second root",
         [] {
             Writer w;
             w.begin("").end().begin("").end().finish();
             return w.build();
         }(),
         0, Error::BadFormat, "second root"},
        {"property outside nodes",
         [&] {
             Writer w;
             w.prop("a", one).begin("").end().finish();
             return w.build();
         }(),
         0, Error::BadFormat, "outside any node"},
        {"property after subnode",
         [&] {
             Writer w;
             w.begin("").begin("c").end().prop("a", one).end().finish();
             return w.build();
         }(),
         0, Error::BadFormat, "follows a subnode"},
        {"unknown token",
         [] {
             Writer w;
             w.begin("").tok(7).end().finish();
             return w.build();
         }(),
         0, Error::BadFormat, "unknown token 0x7"},
        {"nesting 100 deep", deep, 0, Error::BadFormat, "nested deeper than 16"},
        {"unterminated node name", unterminated, 0, Error::BadFormat, "not NUL-terminated"},
        {"name offset outside strings", bad_nameoff, 0, Error::BadFormat,
         "outside the strings block"},
        {"name offset far outside", bad_nameoff_far, 0, Error::BadFormat, "name offset 0x7fffffff"},
        {"name not NUL-terminated", name_unterminated, 0, Error::BadFormat, "not NUL-terminated"},
        {"value past struct block", long_value, 0, Error::BadFormat, "value of 4096 bytes"},
        {"value length wraps", huge_value, 0, Error::BadFormat, "runs past"},
        {"property header cut", truncated_prop, 0, Error::BadFormat, "runs past"},
        {"rsvmap without terminator",
         [] {
             Writer w = small_tree();
             w.rsv(0x80000000, 0x1000).rsv(0x90000000, 0x1000);
             return w.build(false);
         }(),
         0, Error::BadFormat, "no (0, 0) terminator"},
    };
    // The "missing FDT_END" case: drop the final token by shrinking the block.
    Bytes& missing_end = cases[0].blob;
    put32(missing_end, kSizeStruct, get32(missing_end, kSizeStruct) - 4);
    for (const auto& c : cases)
        expect_rejected(c);

    // Nesting exactly to the limit is fine.
    Writer w;
    for (int i = 0; i < kFdtMaxDepth; ++i)
        w.begin("n");
    for (int i = 0; i < kFdtMaxDepth; ++i)
        w.end();
    auto ok = try_open(w.finish().build());
    EXPECT_TRUE(ok.result.ok()) << ok.why;
}

TEST(FdtBroken, NopsAreSkipped) {
    Writer w;
    w.tok(4).begin("").tok(4).prop("a", {0, 0, 0, 7}).tok(4).begin("c").tok(4).end().tok(4);
    w.begin("d").end().end().tok(4).finish();
    auto o = try_open(w.build());
    ASSERT_TRUE(o.result.ok()) << o.why;
    const Fdt& f = o.result.value();
    EXPECT_EQ(f.u32(f.root(), "a").value(), 7u);
    EXPECT_EQ(name_of(f, f.first_child(f.root())), "c");
    EXPECT_EQ(name_of(f, f.next_sibling(f.find_node("/c"))), "d");
    EXPECT_EQ(f.parent(f.find_node("/d")), f.root());
}

TEST(FdtBroken, MessageFitsSmallBuffers) {
    Bytes v = load("virt-smp1");
    put32(v, 0, 0x12345678);
    Buffer buf(v);
    char why[8];
    std::memset(why, 'X', sizeof why);
    auto r = Fdt::open(buf.data, buf.size, why, sizeof why);
    EXPECT_FALSE(r.ok());
    EXPECT_STREQ(why, "fdt: ba"); // truncated, NUL-terminated
    EXPECT_FALSE(Fdt::open(buf.data, buf.size, nullptr, 0).ok());
}

TEST(MsgWriter, Formats) {
    char buf[64];
    MsgWriter(buf, sizeof buf).str("a").hex(0).str(" ").hex(0x1f).str(" ").dec(0).str(" ");
    EXPECT_STREQ(buf, "a0x0 0x1f 0 ");
    MsgWriter(buf, sizeof buf).hex(~uint64_t{0}).str(" ").dec(18446744073709551615u);
    EXPECT_STREQ(buf, "0xffffffffffffffff 18446744073709551615");
    MsgWriter(buf, sizeof buf).str("abcdef", 3).str(nullptr);
    EXPECT_STREQ(buf, "abc");
}
