// Flattened device tree (DTB) reader: Devicetree Specification v0.4, chapter 5.
//
// Fdt::open() validates the header, the memory-reservation block and the whole
// structure block once; every later lookup still reads through bounds-checked
// helpers, but may treat anything odd as "not found". The blob may sit at any
// alignment: all multi-byte values are read byte by byte. Nodes are handles
// holding the offset of their FDT_BEGIN_NODE token. No heap, no globals.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "result.h"

namespace capframe {

inline constexpr uint32_t kFdtMagic = 0xd00dfeed;
inline constexpr int kFdtMaxDepth = 16; // the root node is depth 1

// Big-endian reads (spec 5.1: all header and structure values are big-endian).
inline uint32_t fdt_be32(const uint8_t* p) {
    return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}
inline uint64_t fdt_be64(const uint8_t* p) {
    return uint64_t{fdt_be32(p)} << 32 | fdt_be32(p + 4);
}
// A 1- or 2-cell number (spec 2.3.5); the caller has checked ncells and bounds.
inline uint64_t fdt_cells(const uint8_t* p, uint32_t ncells) {
    return ncells == 2 ? fdt_be64(p) : fdt_be32(p);
}

// Appends text to a caller buffer, always NUL-terminated, silently truncating.
// Used for the human-readable `why` messages of the parsers.
class MsgWriter {
  public:
    MsgWriter(char* buf, size_t len) : buf_(buf), len_(buf ? len : 0) {
        if (len_) buf_[0] = '\0';
    }
    MsgWriter& str(const char* s);
    MsgWriter& str(const char* s, size_t n); // at most n chars, stops at NUL
    MsgWriter& hex(uint64_t v);              // "0x1f"
    MsgWriter& dec(uint64_t v);

  private:
    void put(char c);
    char* buf_;
    size_t len_;
    size_t pos_ = 0;
};

struct FdtNode {
    static constexpr uint32_t kInvalid = ~uint32_t{0};
    uint32_t off = kInvalid; // blob offset of the node's FDT_BEGIN_NODE token
    constexpr bool valid() const { return off != kInvalid; }
    constexpr bool operator==(const FdtNode&) const = default;
};

// What a node's #address-cells / #size-cells say about its children's reg.
struct FdtCells {
    uint32_t addr = 2; // spec 2.3.5 defaults
    uint32_t size = 1;
};

struct FdtProp {
    const char* name = "";
    std::span<const uint8_t> value;
};

struct FdtRegEntry {
    uint64_t addr = 0;
    uint64_t size = 0;
};

// A decoded reg property: (address, size) tuples. Built by Fdt::reg(), which
// has checked the cell counts (address 1-2, size 0-2) and the length.
class FdtReg {
  public:
    size_t count() const { return stride_ ? bytes_.size() / stride_ : 0; }
    FdtRegEntry operator[](size_t i) const; // 0 <= i < count()

  private:
    friend class Fdt;
    std::span<const uint8_t> bytes_;
    FdtCells cells_{};
    size_t stride_ = 0;
};

class Fdt {
  public:
    // Validates a blob of which `available` bytes may be read. On error the
    // Result holds InvalidArgument (null blob), Truncated (blob larger than
    // available) or BadFormat, and `why` says what exactly was wrong.
    static Result<Fdt> open(const void* blob, size_t available, char* why, size_t why_len);

    const uint8_t* data() const { return blob_; }
    uint32_t total_size() const { return total_; }
    uint32_t version() const { return version_; }
    uint32_t boot_cpuid() const { return boot_cpuid_; }

    // Memory-reservation block (spec 5.3), without its (0, 0) terminator.
    size_t reservation_count() const { return rsv_count_; }
    FdtRegEntry reservation(size_t i) const; // 0 <= i < reservation_count()

    // Navigation. Anything given an invalid node returns an invalid node.
    FdtNode root() const { return FdtNode{root_}; }
    FdtNode first_child(FdtNode n) const;
    FdtNode next_sibling(FdtNode n) const;
    FdtNode parent(FdtNode n) const;    // a walk from the root: O(tree)
    FdtNode next_node(FdtNode n) const; // depth-first, document order
    // Writes root..n into out (out[count-1] == n); returns that count, 0 if
    // n is not a node of this tree.
    int path_nodes(FdtNode n, FdtNode (&out)[kFdtMaxDepth]) const;
    const char* name(FdtNode n) const; // "" for the root (or an invalid node)

    // A child by name; "name" also matches "name@unit" if no child is
    // called exactly "name" (spec 2.2.3).
    FdtNode subnode(FdtNode parent, const char* name, size_t len) const;
    // "/soc/serial@10000000", or a path starting with an alias name
    // ("serial0", "serial0/sub"), resolved through /aliases (spec 3.3).
    FdtNode find_node(const char* path) const;
    FdtNode find_node(const char* path, size_t len) const;
    FdtNode find_phandle(uint32_t phandle) const;
    // The first node after `after` (from the root if invalid) whose
    // compatible list contains compat.
    FdtNode find_compatible(const char* compat, FdtNode after = {}) const;

    // Properties. NotFound if absent; BadFormat if present but mis-sized.
    Result<std::span<const uint8_t>> property(FdtNode n, const char* name) const;
    Result<std::span<const uint8_t>> property(FdtNode n, const char* name, size_t len) const;
    bool has_property(FdtNode n, const char* name) const { return property(n, name).ok(); }
    Result<FdtProp> property_at(FdtNode n, size_t index) const;    // in blob order
    Result<uint32_t> u32(FdtNode n, const char* name) const;       // exactly one cell
    Result<uint64_t> u64(FdtNode n, const char* name) const;       // one or two cells
    Result<const char*> string(FdtNode n, const char* name) const; // first string
    bool string_equals(FdtNode n, const char* prop, const char* s) const;
    bool stringlist_contains(FdtNode n, const char* prop, const char* s) const;
    bool is_compatible(FdtNode n, const char* compat) const {
        return stringlist_contains(n, "compatible", compat);
    }
    bool is_okay(FdtNode n) const;     // status absent, "okay" or legacy "ok" (spec 2.3.4)
    uint32_t phandle(FdtNode n) const; // phandle or linux,phandle; 0 if none

    FdtCells cells(FdtNode bus) const; // #address-cells/#size-cells, defaults 2/1
    Result<FdtReg> reg(FdtNode n, FdtCells parent_cells) const;
    Result<FdtReg> reg(FdtNode n) const { return reg(n, cells(parent(n))); }

  private:
    struct Token {
        uint32_t tag = 0;
        uint32_t next = 0;  // offset of the following token
        uint32_t name = 0;  // BEGIN_NODE: node name; PROP: name in strings block
        uint32_t len = 0;   // BEGIN_NODE: name length; PROP: value length
        uint32_t value = 0; // PROP: offset of the value
    };
    bool token(uint32_t off, Token& t, MsgWriter* err) const;
    bool skip_subtree(uint32_t off, uint32_t& after) const;
    const char* str_at(uint32_t off) const { return reinterpret_cast<const char*>(blob_ + off); }

    const uint8_t* blob_ = nullptr;
    uint32_t total_ = 0;
    uint32_t version_ = 0;
    uint32_t boot_cpuid_ = 0;
    uint32_t rsv_off_ = 0;
    uint32_t rsv_count_ = 0;
    uint32_t struct_off_ = 0;
    uint32_t struct_end_ = 0;
    uint32_t strings_off_ = 0;
    uint32_t strings_end_ = 0;
    uint32_t root_ = FdtNode::kInvalid;
};

} // namespace capframe
