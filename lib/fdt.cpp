#include "fdt.h"

namespace capframe {
namespace {

// Structure block tokens (spec 5.4.1).
constexpr uint32_t kBeginNode = 1;
constexpr uint32_t kEndNode = 2;
constexpr uint32_t kProp = 3;
constexpr uint32_t kNop = 4;
constexpr uint32_t kEnd = 9;

// Header layout (spec 5.2): ten big-endian u32 fields.
constexpr uint32_t kHeaderV17 = 40; // v16 lacks size_dt_struct
constexpr uint32_t kHeaderV16 = 36;
constexpr uint32_t kRsvEntry = 16; // two u64s (spec 5.3.2)

constexpr uint64_t align4(uint64_t v) {
    return (v + 3) & ~uint64_t{3};
}

size_t cstr_len(const char* s) {
    size_t n = 0;
    while (s[n])
        ++n;
    return n;
}

bool cstr_eq(const char* a, const char* b) {
    while (*a && *a == *b)
        ++a, ++b;
    return *a == *b;
}

// Does name (NUL-terminated) equal the n chars at s?
bool name_is(const char* name, const char* s, size_t n) {
    for (size_t i = 0; i < n; ++i)
        if (name[i] != s[i] || !name[i]) return false;
    return name[n] == '\0';
}

// Is `name` "s@unit-address" for the n chars at s?
bool name_is_base(const char* name, const char* s, size_t n) {
    for (size_t i = 0; i < n; ++i)
        if (name[i] != s[i] || !name[i]) return false;
    return name[n] == '@';
}

// Index of the first NUL in [p, p + n), or n if there is none.
size_t find_nul(const uint8_t* p, size_t n) {
    size_t i = 0;
    while (i < n && p[i])
        ++i;
    return i;
}

} // namespace

// ---- MsgWriter ----

void MsgWriter::put(char c) {
    if (pos_ + 1 >= len_) return;
    buf_[pos_++] = c;
    buf_[pos_] = '\0';
}

MsgWriter& MsgWriter::str(const char* s) {
    while (s && *s)
        put(*s++);
    return *this;
}

MsgWriter& MsgWriter::str(const char* s, size_t n) {
    for (size_t i = 0; s && i < n && s[i]; ++i)
        put(s[i]);
    return *this;
}

MsgWriter& MsgWriter::hex(uint64_t v) {
    put('0');
    put('x');
    int shift = 60;
    while (shift > 0 && ((v >> shift) & 0xf) == 0)
        shift -= 4;
    for (; shift >= 0; shift -= 4)
        put("0123456789abcdef"[(v >> shift) & 0xf]);
    return *this;
}

MsgWriter& MsgWriter::dec(uint64_t v) {
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        put(tmp[--n]);
    return *this;
}

// ---- FdtReg ----

FdtRegEntry FdtReg::operator[](size_t i) const {
    const uint8_t* p = bytes_.data() + i * stride_;
    FdtRegEntry e;
    e.addr = fdt_cells(p, cells_.addr);
    if (cells_.size) e.size = fdt_cells(p + 4 * cells_.addr, cells_.size);
    return e;
}

// ---- open(): header, reservation map, one full structure pass ----

Result<Fdt> Fdt::open(const void* blob, size_t available, char* why, size_t why_len) {
    MsgWriter w(why, why_len);
    if (!blob) {
        w.str("fdt: null blob pointer");
        return Error::InvalidArgument;
    }
    const auto* b = static_cast<const uint8_t*>(blob);
    if (available < kHeaderV17) {
        w.str("fdt: only ").dec(available).str(" bytes readable, the header alone needs 40");
        return Error::Truncated;
    }
    uint32_t magic = fdt_be32(b);
    if (magic != kFdtMagic) {
        w.str("fdt: bad magic ").hex(magic).str(" (want 0xd00dfeed)");
        return Error::BadFormat;
    }
    uint32_t total = fdt_be32(b + 4), off_struct = fdt_be32(b + 8), off_strings = fdt_be32(b + 12),
             off_rsv = fdt_be32(b + 16), version = fdt_be32(b + 20), last_comp = fdt_be32(b + 24),
             size_strings = fdt_be32(b + 32), size_struct = fdt_be32(b + 36);
    if (version < 16) {
        w.str("fdt: version ").dec(version).str(" is older than 16");
        return Error::BadFormat;
    }
    if (last_comp > 17) {
        w.str("fdt: last_comp_version ").dec(last_comp).str(" > 17, this reader knows 16 and 17");
        return Error::BadFormat;
    }
    uint32_t hdr = version >= 17 ? kHeaderV17 : kHeaderV16;
    if (total < hdr) {
        w.str("fdt: totalsize ")
            .hex(total)
            .str(" is smaller than the ")
            .dec(hdr)
            .str("-byte header");
        return Error::BadFormat;
    }
    if (total > available) {
        w.str("fdt: totalsize ").hex(total).str(" exceeds the ").hex(available);
        w.str(" bytes available");
        return Error::Truncated;
    }
    // Each block lies after the header and inside totalsize (spec 5.2); the
    // sums are 64-bit so a huge offset cannot wrap around.
    auto block_ok = [&](const char* what, uint32_t off, uint64_t size, uint32_t align) {
        uint64_t end = off + size;
        if (off % align == 0 && off >= hdr && end <= total) return true;
        w.str("fdt: ").str(what).str(" [").hex(off).str(", ").hex(end).str(") ");
        if (off % align)
            w.str("is not ").dec(align).str("-byte aligned");
        else if (off < hdr)
            w.str("overlaps the header");
        else
            w.str("exceeds totalsize ").hex(total);
        return false;
    };
    if (version < 17) size_struct = off_struct <= total ? total - off_struct : 0;
    if (!block_ok("memory reservation block", off_rsv, kRsvEntry, 8) ||
        !block_ok("struct block", off_struct, size_struct, 4) ||
        !block_ok("strings block", off_strings, size_strings, 1))
        return Error::BadFormat;

    Fdt f;
    f.blob_ = b;
    f.total_ = total;
    f.version_ = version;
    f.boot_cpuid_ = fdt_be32(b + 28);
    f.struct_off_ = off_struct;
    f.struct_end_ = off_struct + size_struct;
    f.strings_off_ = off_strings;
    f.strings_end_ = off_strings + size_strings;
    f.rsv_off_ = off_rsv;

    // Reservation entries run until (0, 0), which must come before the
    // structure block if that follows the map (spec 5.3.2), else before the end.
    uint32_t rsv_limit = off_struct > off_rsv ? off_struct : total;
    uint32_t p = off_rsv;
    for (;; p += kRsvEntry) {
        if (uint64_t{p} + kRsvEntry > rsv_limit) {
            w.str("fdt: memory reservation block at ").hex(off_rsv);
            w.str(" has no (0, 0) terminator before ").hex(rsv_limit);
            return Error::BadFormat;
        }
        if (fdt_be64(b + p) == 0 && fdt_be64(b + p + 8) == 0) break;
        ++f.rsv_count_;
    }

    // One pass over the structure block (spec 5.4.2): a single root node,
    // properties before subnodes, balanced BEGIN/END_NODE, then FDT_END.
    bool has_child[kFdtMaxDepth + 1] = {};
    int depth = 0;
    bool root_done = false;
    for (uint32_t off = off_struct;;) {
        Token t;
        if (!f.token(off, t, &w)) return Error::BadFormat;
        switch (t.tag) {
        case kBeginNode:
            if (root_done) {
                w.str("fdt: second root node at ").hex(off);
                return Error::BadFormat;
            }
            if (depth == kFdtMaxDepth) {
                w.str("fdt: node at ").hex(off).str(" nested deeper than ").dec(kFdtMaxDepth);
                return Error::BadFormat;
            }
            if (depth == 0) f.root_ = off;
            has_child[depth] = true;
            has_child[++depth] = false;
            break;
        case kEndNode:
            if (depth == 0) {
                w.str("fdt: FDT_END_NODE at ").hex(off).str(" closes no node");
                return Error::BadFormat;
            }
            if (--depth == 0) root_done = true;
            break;
        case kProp:
            if (depth == 0 || has_child[depth]) {
                w.str("fdt: property at ").hex(off);
                w.str(depth ? " follows a subnode" : " is outside any node");
                return Error::BadFormat;
            }
            break;
        case kNop:
            break;
        case kEnd:
            if (!root_done) {
                w.str("fdt: FDT_END at ").hex(off);
                w.str(depth ? " inside an open node" : " before any root node");
                return Error::BadFormat;
            }
            if (version < 17) f.struct_end_ = t.next; // now we know where it ends
            return f;
        }
        off = t.next;
    }
}

// Decodes the token at `off`, checking that it and everything it refers to
// lies inside its block. With err, says what is wrong.
bool Fdt::token(uint32_t off, Token& t, MsgWriter* err) const {
    MsgWriter dummy(nullptr, 0);
    MsgWriter& w = err ? *err : dummy;
    if (off < struct_off_ || off >= struct_end_ || struct_end_ - off < 4) {
        w.str("fdt: struct block ends at ").hex(struct_end_).str(" without FDT_END");
        return false;
    }
    t = Token{};
    t.tag = fdt_be32(blob_ + off);
    t.next = off + 4;
    switch (t.tag) {
    case kBeginNode: {
        t.name = off + 4;
        t.len = static_cast<uint32_t>(find_nul(blob_ + t.name, struct_end_ - t.name));
        uint64_t next = t.name + align4(uint64_t{t.len} + 1);
        if (t.name + t.len >= struct_end_ || next > struct_end_) {
            w.str("fdt: name of node at ")
                .hex(off)
                .str(" is not NUL-terminated in the struct block");
            return false;
        }
        t.next = static_cast<uint32_t>(next);
        return true;
    }
    case kProp: {
        if (struct_end_ - off < 12) {
            w.str("fdt: property header at ").hex(off).str(" runs past the struct block");
            return false;
        }
        t.len = fdt_be32(blob_ + off + 4);
        uint32_t nameoff = fdt_be32(blob_ + off + 8);
        t.value = off + 12;
        uint64_t next = t.value + align4(t.len);
        if (uint64_t{t.value} + t.len > struct_end_ || next > struct_end_) {
            w.str("fdt: property at ").hex(off).str(": value of ").dec(t.len);
            w.str(" bytes runs past the struct block end ").hex(struct_end_);
            return false;
        }
        if (nameoff >= strings_end_ - strings_off_) {
            w.str("fdt: property at ").hex(off).str(": name offset ").hex(nameoff);
            w.str(" is outside the strings block (size ").hex(strings_end_ - strings_off_).str(")");
            return false;
        }
        t.name = strings_off_ + nameoff;
        if (find_nul(blob_ + t.name, strings_end_ - t.name) == strings_end_ - t.name) {
            w.str("fdt: property at ").hex(off).str(": name at strings offset ").hex(nameoff);
            w.str(" is not NUL-terminated in the strings block");
            return false;
        }
        t.next = static_cast<uint32_t>(next);
        return true;
    }
    case kEndNode:
    case kNop:
    case kEnd:
        return true;
    default:
        w.str("fdt: unknown token ").hex(t.tag).str(" at ").hex(off);
        return false;
    }
}

FdtRegEntry Fdt::reservation(size_t i) const {
    if (i >= rsv_count_) return {};
    const uint8_t* p = blob_ + rsv_off_ + i * kRsvEntry;
    return FdtRegEntry{fdt_be64(p), fdt_be64(p + 8)};
}

// ---- navigation ----

// Sets `after` to the offset just past the END_NODE closing the node at off.
bool Fdt::skip_subtree(uint32_t off, uint32_t& after) const {
    int depth = 0;
    for (Token t; token(off, t, nullptr); off = t.next) {
        if (t.tag == kBeginNode) ++depth;
        if (t.tag == kEndNode && --depth == 0) {
            after = t.next;
            return true;
        }
        if (t.tag == kEnd || depth <= 0) return false;
    }
    return false;
}

FdtNode Fdt::first_child(FdtNode n) const {
    Token t;
    if (!n.valid() || !token(n.off, t, nullptr) || t.tag != kBeginNode) return {};
    for (uint32_t off = t.next; token(off, t, nullptr); off = t.next) {
        if (t.tag == kBeginNode) return FdtNode{off};
        if (t.tag != kProp && t.tag != kNop) break;
    }
    return {};
}

FdtNode Fdt::next_sibling(FdtNode n) const {
    uint32_t off;
    if (!n.valid() || n.off == root_ || !skip_subtree(n.off, off)) return {};
    for (Token t; token(off, t, nullptr); off = t.next) {
        if (t.tag == kBeginNode) return FdtNode{off};
        if (t.tag != kNop) break;
    }
    return {};
}

FdtNode Fdt::next_node(FdtNode n) const {
    Token t;
    if (!n.valid() || !token(n.off, t, nullptr) || t.tag != kBeginNode) return {};
    for (uint32_t off = t.next; token(off, t, nullptr); off = t.next) {
        if (t.tag == kBeginNode) return FdtNode{off};
        if (t.tag == kEnd) break;
    }
    return {};
}

int Fdt::path_nodes(FdtNode n, FdtNode (&out)[kFdtMaxDepth]) const {
    int depth = 0;
    uint32_t off = root_;
    for (Token t; n.valid() && token(off, t, nullptr); off = t.next) {
        if (t.tag == kBeginNode) {
            if (depth == kFdtMaxDepth) return 0;
            out[depth++] = FdtNode{off};
            if (off == n.off) return depth;
        } else if (t.tag == kEndNode) {
            if (--depth <= 0) return 0;
        } else if (t.tag == kEnd) {
            return 0;
        }
    }
    return 0;
}

FdtNode Fdt::parent(FdtNode n) const {
    FdtNode chain[kFdtMaxDepth];
    int d = path_nodes(n, chain);
    return d >= 2 ? chain[d - 2] : FdtNode{};
}

const char* Fdt::name(FdtNode n) const {
    Token t;
    if (!n.valid() || !token(n.off, t, nullptr) || t.tag != kBeginNode) return "";
    return str_at(t.name);
}

FdtNode Fdt::subnode(FdtNode parent, const char* s, size_t len) const {
    for (FdtNode c = first_child(parent); c.valid(); c = next_sibling(c))
        if (name_is(name(c), s, len)) return c;
    for (size_t i = 0; i < len; ++i)
        if (s[i] == '@') return {}; // a unit address was given: exact match only
    for (FdtNode c = first_child(parent); c.valid(); c = next_sibling(c))
        if (name_is_base(name(c), s, len)) return c;
    return {};
}

FdtNode Fdt::find_node(const char* path) const {
    return path ? find_node(path, cstr_len(path)) : FdtNode{};
}

FdtNode Fdt::find_node(const char* path, size_t len) const {
    if (!path || len == 0) return {};
    FdtNode n = root();
    size_t i = 0;
    if (path[0] != '/') {
        // Leading alias (spec 3.3): its value is an absolute path.
        while (i < len && path[i] != '/')
            ++i;
        auto alias = property(find_node("/aliases", 8), path, i);
        if (!alias.ok()) return {};
        auto v = alias.value();
        size_t vlen = find_nul(v.data(), v.size());
        if (vlen == v.size() || vlen == 0 || v[0] != '/') return {};
        n = find_node(reinterpret_cast<const char*>(v.data()), vlen);
    }
    while (n.valid() && i < len) {
        while (i < len && path[i] == '/')
            ++i;
        size_t start = i;
        while (i < len && path[i] != '/')
            ++i;
        if (i > start) n = subnode(n, path + start, i - start);
    }
    return n;
}

FdtNode Fdt::find_phandle(uint32_t ph) const {
    if (ph == 0 || ph == 0xffffffff) return {}; // never valid phandles
    for (FdtNode n = root(); n.valid(); n = next_node(n))
        if (phandle(n) == ph) return n;
    return {};
}

FdtNode Fdt::find_compatible(const char* compat, FdtNode after) const {
    for (FdtNode n = after.valid() ? next_node(after) : root(); n.valid(); n = next_node(n))
        if (is_compatible(n, compat)) return n;
    return {};
}

// ---- properties ----

Result<std::span<const uint8_t>> Fdt::property(FdtNode n, const char* pname) const {
    return property(n, pname, pname ? cstr_len(pname) : 0);
}

Result<std::span<const uint8_t>> Fdt::property(FdtNode n, const char* pname, size_t len) const {
    Token t;
    if (!n.valid() || !token(n.off, t, nullptr) || t.tag != kBeginNode) return Error::NotFound;
    for (uint32_t off = t.next; token(off, t, nullptr); off = t.next) {
        if (t.tag == kProp && name_is(str_at(t.name), pname, len))
            return std::span<const uint8_t>(blob_ + t.value, t.len);
        if (t.tag != kProp && t.tag != kNop) break;
    }
    return Error::NotFound;
}

Result<FdtProp> Fdt::property_at(FdtNode n, size_t index) const {
    Token t;
    if (!n.valid() || !token(n.off, t, nullptr) || t.tag != kBeginNode) return Error::NotFound;
    for (uint32_t off = t.next; token(off, t, nullptr); off = t.next) {
        if (t.tag == kProp && index-- == 0)
            return FdtProp{str_at(t.name), std::span<const uint8_t>(blob_ + t.value, t.len)};
        if (t.tag != kProp && t.tag != kNop) break;
    }
    return Error::NotFound;
}

Result<uint32_t> Fdt::u32(FdtNode n, const char* pname) const {
    auto v = TRY(property(n, pname));
    if (v.size() != 4) return Error::BadFormat;
    return fdt_be32(v.data());
}

Result<uint64_t> Fdt::u64(FdtNode n, const char* pname) const {
    auto v = TRY(property(n, pname));
    if (v.size() != 4 && v.size() != 8) return Error::BadFormat;
    return fdt_cells(v.data(), static_cast<uint32_t>(v.size() / 4));
}

Result<const char*> Fdt::string(FdtNode n, const char* pname) const {
    auto v = TRY(property(n, pname));
    if (find_nul(v.data(), v.size()) == v.size()) return Error::BadFormat;
    return reinterpret_cast<const char*>(v.data());
}

bool Fdt::string_equals(FdtNode n, const char* pname, const char* s) const {
    auto v = string(n, pname);
    return v.ok() && cstr_eq(v.value(), s);
}

bool Fdt::stringlist_contains(FdtNode n, const char* pname, const char* s) const {
    auto v = property(n, pname);
    if (!v.ok()) return false;
    auto bytes = v.value();
    size_t slen = cstr_len(s);
    for (size_t i = 0; i < bytes.size();) {
        size_t len = find_nul(bytes.data() + i, bytes.size() - i);
        if (i + len == bytes.size()) break; // unterminated tail: not a string
        if (len == slen && name_is(reinterpret_cast<const char*>(bytes.data() + i), s, slen))
            return true;
        i += len + 1;
    }
    return false;
}

bool Fdt::is_okay(FdtNode n) const {
    auto s = string(n, "status");
    if (s.error() == Error::NotFound) return true;
    return s.ok() && (cstr_eq(s.value(), "okay") || cstr_eq(s.value(), "ok"));
}

uint32_t Fdt::phandle(FdtNode n) const {
    auto p = u32(n, "phandle");
    if (!p.ok()) p = u32(n, "linux,phandle");
    return p.ok() ? p.value() : 0;
}

FdtCells Fdt::cells(FdtNode bus) const {
    FdtCells c;
    if (auto a = u32(bus, "#address-cells"); a.ok()) c.addr = a.value();
    if (auto s = u32(bus, "#size-cells"); s.ok()) c.size = s.value();
    return c;
}

Result<FdtReg> Fdt::reg(FdtNode n, FdtCells pc) const {
    auto v = TRY(property(n, "reg"));
    if (pc.addr < 1 || pc.addr > 2 || pc.size > 2) return Error::BadFormat;
    FdtReg r;
    r.bytes_ = v;
    r.cells_ = pc;
    r.stride_ = 4 * (pc.addr + pc.size);
    if (v.size() % r.stride_) return Error::BadFormat;
    return r;
}

} // namespace capframe
