// Sv39 page tables: a generic mapper over an abstract physical memory, so the
// same code runs in the kernel (identity-mapped RAM) and in host tests
// (simulated pages). Pure logic: no CSRs, no sfence.vma (the caller flushes).
//
// Layout (RISC-V privileged spec, 4.4 "Sv39"):
//
//   virtual address   38      30 29      21 20      12 11        0
//                    | VPN[2]   | VPN[1]   | VPN[0]   |  offset   |
//
//   PTE   63  62-61  60-54  53       10  9-8  7 6 5 4 3 2 1 0
//        | N | PBMT | rsvd |  PPN (44)  | RSW |D|A|G|U|X|W|R|V|
//
// Translation starts at the root table (level 2, satp.PPN) and indexes level
// i with VPN[i]. V=0 is invalid; V=1 with R=W=X=0 points to the next-level
// table at PPN<<12; anything else is a leaf mapping 1 GiB at level 2, 2 MiB at
// level 1 or 4 KiB at level 0. A large leaf's PPN must be aligned to its size
// and W=1,R=0 is reserved: the hardware page-faults on both (4.3.2).
//
// Hardware wants bits 63..39 of a VA to equal bit 38. Like xv6, Capframe only
// uses [0, kMaxVa) with kMaxVa = 2^38, so no VA ever needs sign extension; the
// trampoline and trap frame sit in the last two pages below kMaxVa.
#pragma once

#include <compare> // addr.h defaults operator<=> but does not include it
#include <concepts>
#include <cstdint>
#include <type_traits>

#include "addr.h"
#include "capframe/abi.h"
#include "result.h"

namespace capframe {

// The top of the user address space is the ABI's (capframe/layout.h): one
// definition for the kernel, its assembly, mm, libsys and the tests.
inline constexpr uint64_t kMaxVa = abi::kMaxVa;
inline constexpr uint64_t kTrampolineVa = abi::kTrampolineVa;
inline constexpr uint64_t kTrapframeVa = abi::kTrapframeVa;
static_assert(kPageSize == CAPFRAME_PAGE_SIZE);
inline constexpr uint64_t kMaxPa = uint64_t{1} << 56; // 44-bit PPN + 12-bit offset

// Geometry of the three levels.
namespace sv39 {
inline constexpr int kLevels = 3;
inline constexpr unsigned kEntries = 512;
constexpr unsigned shift(int level) {
    return unsigned(kPageShift) + 9u * unsigned(level);
}
constexpr uint64_t span(int level) {
    return uint64_t{1} << shift(level);
}
constexpr unsigned index(uint64_t va, int level) {
    return (va >> shift(level)) & (kEntries - 1);
}
} // namespace sv39

// Permissions a caller may ask for. The values are the PTE bit positions, so
// converting is a mask.
enum class Perm : uint8_t { None = 0, R = 1 << 1, W = 1 << 2, X = 1 << 3, U = 1 << 4, G = 1 << 5 };

constexpr Perm operator|(Perm a, Perm b) {
    return Perm(uint8_t(a) | uint8_t(b));
}
constexpr Perm operator&(Perm a, Perm b) {
    return Perm(uint8_t(a) & uint8_t(b));
}
// True if every bit of `bits` is in `set`.
constexpr bool has(Perm set, Perm bits) {
    return (set & bits) == bits;
}

namespace perm {
inline constexpr Perm kKernelText = Perm::R | Perm::X;
inline constexpr Perm kKernelRodata = Perm::R;
inline constexpr Perm kKernelData = Perm::R | Perm::W;
inline constexpr Perm kMmio = Perm::R | Perm::W;
inline constexpr Perm kTrampoline = Perm::R | Perm::X; // never U: the CPU is in S-mode there
inline constexpr Perm kUserText = Perm::R | Perm::X | Perm::U;
inline constexpr Perm kUserRodata = Perm::R | Perm::U;
inline constexpr Perm kUserData = Perm::R | Perm::W | Perm::U;
} // namespace perm

class Pte {
  public:
    static constexpr uint64_t kV = 1 << 0, kR = 1 << 1, kW = 1 << 2, kX = 1 << 3, kU = 1 << 4,
                              kG = 1 << 5, kA = 1 << 6, kD = 1 << 7;
    static constexpr unsigned kPpnShift = 10;
    static constexpr uint64_t kPpnMask = ((uint64_t{1} << 44) - 1) << kPpnShift;
    static constexpr uint64_t kPermMask = kR | kW | kX | kU | kG;

    constexpr Pte() = default;
    constexpr explicit Pte(uint64_t raw) : raw_(raw) {}

    // Non-leaf: only V. D, A and U are reserved on non-leaf PTEs and G would
    // make the whole subtree global (4.4.1), so none of them is set.
    static constexpr Pte table(PhysAddr pa) { return Pte(ppn_bits(pa) | kV); }
    static constexpr Pte leaf(PhysAddr pa, Perm p) { return Pte(ppn_bits(pa) | kV).with_perm(p); }

    // Same PPN and other bits, new permissions. A is always set and D iff
    // writable: the spec lets hardware fault instead of setting them (Svade),
    // and the VisionFive 2's U74 cores do exactly that.
    constexpr Pte with_perm(Perm p) const {
        uint64_t r = (raw_ & ~(kPermMask | kA | kD)) | uint64_t(p) | kA;
        return Pte(has(p, Perm::W) ? r | kD : r);
    }

    constexpr uint64_t raw() const { return raw_; }
    constexpr bool valid() const { return raw_ & kV; }
    constexpr bool is_leaf() const { return valid() && (raw_ & (kR | kW | kX)); }
    constexpr bool is_table() const { return valid() && !(raw_ & (kR | kW | kX)); }
    constexpr bool readable() const { return raw_ & kR; }
    constexpr bool writable() const { return raw_ & kW; }
    constexpr bool executable() const { return raw_ & kX; }
    constexpr bool user() const { return raw_ & kU; }
    constexpr bool global() const { return raw_ & kG; }
    constexpr bool accessed() const { return raw_ & kA; }
    constexpr bool dirty() const { return raw_ & kD; }
    constexpr Perm perm() const { return Perm(raw_ & kPermMask); }
    constexpr PhysAddr pa() const { return Pfn((raw_ & kPpnMask) >> kPpnShift).addr(); }

  private:
    static constexpr uint64_t ppn_bits(PhysAddr pa) {
        return (Pfn::of(pa).value() << kPpnShift) & kPpnMask;
    }
    uint64_t raw_ = 0;
};

// Where the page-table pages live. table() returns the 512 entries of the
// page at pa; alloc_table() returns a zeroed page or Error::NoMemory.
template <class M>
concept PageTableMemory = requires(M& m, PhysAddr pa) {
    { m.table(pa) } -> std::same_as<uint64_t*>;
    { m.alloc_table() } -> std::same_as<Result<PhysAddr>>;
    m.free_table(pa);
};

// Which leaf sizes map() may use.
enum class PageSizes : uint8_t { Only4K, Upto2M, All };

struct Translation {
    PhysAddr pa;            // the address va translates to (offset included)
    Perm perm = Perm::None; // the leaf's R/W/X/U/G
    uint64_t page_size = 0; // 4 KiB, 2 MiB or 1 GiB
    Pte pte;                // the raw leaf
};

// A handle on one Sv39 tree. Every operation checks everything before it
// changes anything: an error leaves the tree exactly as it was.
//
// Sharing subtrees between trees (kernel half of user tables) is not
// supported yet: destroy() and unmap() assume every table belongs to this tree.
template <class Mem>
class Sv39 {
    static_assert(PageTableMemory<Mem>,
                  "Sv39<Mem>: Mem needs table(), alloc_table(), free_table()");

  public:
    Sv39() = default; // an empty handle (Result<Sv39> needs one)
    Sv39(Mem& mem, PhysAddr root) : mem_(&mem), root_(root) {}

    static Result<Sv39> create(Mem& mem) {
        PhysAddr root = TRY(mem.alloc_table());
        return Sv39(mem, root);
    }

    PhysAddr root() const { return root_; }

    // Capframe's rules: readable or executable, W only with R, never W+X.
    static Result<void> check_perm(Perm p) {
        if (!has(p, Perm::R) && !has(p, Perm::X)) return Error::InvalidArgument;
        if (has(p, Perm::W) && (!has(p, Perm::R) || has(p, Perm::X))) return Error::InvalidArgument;
        return {};
    }

    // Maps [va, va+size) to [pa, pa+size), with the largest leaves `allowed`
    // where va and pa are both aligned and enough of the range is left.
    Result<void> map(VirtAddr va, PhysAddr pa, uint64_t size, Perm p,
                     PageSizes allowed = PageSizes::All) {
        TRY(check_range(va, size));
        if (!pa.is_page_aligned()) return Error::Misaligned;
        if (pa.value() + size < pa.value() || pa.value() + size > kMaxPa) return Error::OutOfRange;
        TRY(check_perm(p));
        // Two passes of the same walk: the first only checks and counts the
        // table pages needed, which are then allocated up front so the second
        // cannot fail. A failed allocation therefore has nothing to undo.
        MapArgs args{va.value() + size, p, allowed, nullptr};
        uint64_t needed = TRY(map_walk(2, entries(root_), va.value(), pa.value(), args));
        Pool pool;
        TRY(fill(pool, needed));
        args.pool = &pool;
        (void)map_walk(2, entries(root_), va.value(), pa.value(), args);
        return {};
    }

    // Removes every leaf of [va, va+size), which must be fully mapped and not
    // cut through a large leaf, and frees tables left empty (never the root).
    // Tables::Keep leaves every table in place (no scan for empty ones): for
    // a region whose tables serve again, as the kernel stacks' do.
    enum class Tables { Free, Keep };
    Result<void> unmap(VirtAddr va, uint64_t size, Tables tables = Tables::Free) {
        TRY(check_range(va, size));
        TRY(check_mapped(2, entries(root_), va.value(), va.value() + size));
        edit(2, entries(root_), va.value(), va.value() + size, nullptr, tables == Tables::Free);
        return {};
    }

    // Gives every leaf of [va, va+size) the permissions p (same checks as
    // unmap plus check_perm).
    Result<void> protect(VirtAddr va, uint64_t size, Perm p) {
        TRY(check_range(va, size));
        TRY(check_perm(p));
        TRY(check_mapped(2, entries(root_), va.value(), va.value() + size));
        edit(2, entries(root_), va.value(), va.value() + size, &p);
        return {};
    }

    // What the hardware would do with va (NotMapped wherever it would fault
    // for lack of a valid leaf).
    Result<Translation> translate(VirtAddr va) const {
        if (va.value() >= kMaxVa) return Error::OutOfRange;
        PhysAddr t = root_;
        for (int level = 2; level >= 0; --level) {
            Pte e(entries(t)[sv39::index(va.value(), level)]);
            if (!e.valid() || (e.writable() && !e.readable())) return Error::NotMapped;
            if (e.is_leaf()) {
                uint64_t size = sv39::span(level);
                if (!is_aligned(e.pa().value(), size))
                    return Error::NotMapped; // misaligned superpage
                return Translation{e.pa().offset(va.value() & (size - 1)), e.perm(), size, e};
            }
            t = e.pa();
        }
        return Error::NotMapped; // a table pointer at level 0
    }

    // Calls f(VirtAddr, PhysAddr, uint64_t page_size, Pte) for every leaf in
    // VA order. If f returns bool, false stops the walk.
    template <class F>
    void for_each_leaf(F&& f) const {
        visit(2, root_, 0, f);
    }

    // Frees every table page, the root included (not the frames leaves map).
    // The handle is empty afterwards.
    void destroy() {
        free_tree(2, root_);
        root_ = PhysAddr();
    }

    uint64_t count_tables() const { return count_tree(2, root_); }

  private:
    // Table pages allocated before the install pass, chained through their
    // first word (the pages are zeroed, so clearing the link restores that).
    struct Pool {
        PhysAddr head;
        uint64_t count = 0;
    };
    struct MapArgs {
        uint64_t end;
        Perm perm;
        PageSizes allowed;
        Pool* pool; // nullptr: the counting pass
    };

    uint64_t* entries(PhysAddr pa) const { return mem_->table(pa); }

    static Result<void> check_range(VirtAddr va, uint64_t size) {
        if (size == 0) return Error::InvalidArgument;
        if (!va.is_page_aligned() || !is_aligned(size, kPageSize)) return Error::Misaligned;
        if (va.value() + size < va.value() || va.value() + size > kMaxVa) return Error::OutOfRange;
        return {};
    }

    // The end of the level-`level` slot holding va, clipped to end.
    static uint64_t slot_end(uint64_t va, int level, uint64_t end) {
        uint64_t e = align_down(va, sv39::span(level)) + sv39::span(level);
        return e < end ? e : end;
    }

    static bool leaf_fits(int level, uint64_t va, uint64_t pa, const MapArgs& a) {
        if (level == 0) return true;
        if (level == 1 && a.allowed == PageSizes::Only4K) return false;
        if (level == 2 && a.allowed != PageSizes::All) return false;
        uint64_t s = sv39::span(level);
        return is_aligned(va, s) && is_aligned(pa, s) && a.end - va >= s;
    }

    static bool is_empty(const uint64_t* t) {
        for (unsigned i = 0; i < sv39::kEntries; ++i)
            if (Pte(t[i]).valid()) return false;
        return true;
    }

    Result<void> fill(Pool& pool, uint64_t n) {
        while (pool.count < n) {
            Result<PhysAddr> page = mem_->alloc_table();
            if (!page) {
                while (pool.count)
                    mem_->free_table(take(pool));
                return Error::NoMemory;
            }
            entries(page.value())[0] = pool.head.value();
            pool.head = page.value();
            ++pool.count;
        }
        return {};
    }

    PhysAddr take(Pool& pool) {
        PhysAddr page = pool.head;
        uint64_t* t = entries(page);
        pool.head = PhysAddr(t[0]);
        t[0] = 0;
        --pool.count;
        return page;
    }

    // Maps [va, a.end) below one table and returns the number of table pages
    // that takes. Counting pass (a.pool == nullptr): changes nothing, `t` may
    // be nullptr for a table that does not exist yet, reports AlreadyMapped.
    // Install pass: the same decisions, with new tables taken from the pool.
    Result<uint64_t> map_walk(int level, uint64_t* t, uint64_t va, uint64_t pa, const MapArgs& a) {
        uint64_t needed = 0;
        uint64_t end = a.end;
        for (uint64_t next; va < end; pa += next - va, va = next) {
            next = slot_end(va, level, end);
            uint64_t* slot = t ? &t[sv39::index(va, level)] : nullptr;
            Pte e = slot ? Pte(*slot) : Pte();
            if (e.valid() && (e.is_leaf() || level == 0)) return Error::AlreadyMapped;
            MapArgs sub = a;
            sub.end = next;
            if (e.valid()) {
                needed += TRY(map_walk(level - 1, entries(e.pa()), va, pa, sub));
            } else if (leaf_fits(level, va, pa, a)) {
                if (a.pool) *slot = Pte::leaf(PhysAddr(pa), a.perm).raw();
            } else {
                uint64_t* child = nullptr;
                if (a.pool) {
                    PhysAddr page = take(*a.pool);
                    *slot = Pte::table(page).raw();
                    child = entries(page);
                }
                needed += 1 + TRY(map_walk(level - 1, child, va, pa, sub));
            }
        }
        return needed;
    }

    // Every page of [va, end) is mapped and no large leaf sticks out of it.
    Result<void> check_mapped(int level, const uint64_t* t, uint64_t va, uint64_t end) const {
        for (uint64_t next; va < end; va = next) {
            next = slot_end(va, level, end);
            Pte e(t[sv39::index(va, level)]);
            if (!e.valid() || (level == 0 && !e.is_leaf())) return Error::NotMapped;
            if (e.is_leaf()) {
                if (next - va != sv39::span(level)) return Error::WouldSplitLargePage;
            } else {
                TRY(check_mapped(level - 1, entries(e.pa()), va, next));
            }
        }
        return {};
    }

    // After check_mapped(): gives each leaf of [va, end) the permissions *p,
    // or with p == nullptr clears it and frees the tables that empties.
    void edit(int level, uint64_t* t, uint64_t va, uint64_t end, const Perm* p,
              bool free_empty = true) {
        for (uint64_t next; va < end; va = next) {
            next = slot_end(va, level, end);
            uint64_t& slot = t[sv39::index(va, level)];
            Pte e(slot);
            if (e.is_leaf()) {
                slot = p ? e.with_perm(*p).raw() : 0;
                continue;
            }
            uint64_t* child = entries(e.pa());
            edit(level - 1, child, va, next, p, free_empty);
            if (!p && free_empty && is_empty(child)) {
                slot = 0;
                mem_->free_table(e.pa());
            }
        }
    }

    template <class F>
    bool visit(int level, PhysAddr table_pa, uint64_t base, F& f) const {
        const uint64_t* t = entries(table_pa);
        for (unsigned i = 0; i < sv39::kEntries; ++i) {
            Pte e(t[i]);
            uint64_t va = base + (uint64_t{i} << sv39::shift(level));
            if (e.is_leaf()) {
                uint64_t size = sv39::span(level);
                if constexpr (std::is_same_v<decltype(f(VirtAddr(), PhysAddr(), size, e)), bool>) {
                    if (!f(VirtAddr(va), e.pa(), size, e)) return false;
                } else {
                    f(VirtAddr(va), e.pa(), size, e);
                }
            } else if (e.is_table() && level > 0 && !visit(level - 1, e.pa(), va, f)) {
                return false;
            }
        }
        return true;
    }

    void free_tree(int level, PhysAddr table_pa) {
        const uint64_t* t = entries(table_pa);
        for (unsigned i = 0; level > 0 && i < sv39::kEntries; ++i)
            if (Pte(t[i]).is_table()) free_tree(level - 1, Pte(t[i]).pa());
        mem_->free_table(table_pa);
    }

    uint64_t count_tree(int level, PhysAddr table_pa) const {
        const uint64_t* t = entries(table_pa);
        uint64_t n = 1;
        for (unsigned i = 0; level > 0 && i < sv39::kEntries; ++i)
            if (Pte(t[i]).is_table()) n += count_tree(level - 1, Pte(t[i]).pa());
        return n;
    }

    Mem* mem_ = nullptr;
    PhysAddr root_;
};

} // namespace capframe
