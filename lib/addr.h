// Physical and virtual addresses as distinct types: converting between them
// is explicit (identity_virt(), ...), never an accident of two uint64_t.
#pragma once

#include <compare>
#include <cstdint>

namespace capframe {

inline constexpr uint64_t kPageShift = 12;
inline constexpr uint64_t kPageSize = uint64_t{1} << kPageShift;
inline constexpr uint64_t kMegaPageSize = uint64_t{1} << 21; // Sv39 level-1 leaf
inline constexpr uint64_t kGigaPageSize = uint64_t{1} << 30; // Sv39 level-2 leaf

constexpr uint64_t align_down(uint64_t v, uint64_t a) {
    return v & ~(a - 1);
}
constexpr bool is_aligned(uint64_t v, uint64_t a) {
    return (v & (a - 1)) == 0;
}
// Rounds up; returns false (and leaves out untouched) if that overflows.
constexpr bool align_up(uint64_t v, uint64_t a, uint64_t& out) {
    uint64_t r = (v + (a - 1)) & ~(a - 1);
    if (r < v) return false;
    out = r;
    return true;
}

// [off, off + len) lies inside a buffer of `size` bytes, computed without
// overflow: the bounds check of the parsers of untrusted images (mm's ELF and
// cpio readers).
constexpr bool in_bounds(uint64_t size, uint64_t off, uint64_t len) {
    return off <= size && len <= size - off;
}
static_assert(in_bounds(16, 8, 8) && !in_bounds(16, 8, 9) && !in_bounds(16, 17, 0));
static_assert(!in_bounds(16, 8, ~uint64_t{0})); // off + len would wrap

// The largest order k <= max_order for which the 2^k pages at `base` (page
// aligned) are naturally aligned and fit in `size` bytes: how a run of free
// RAM is cut into frame capabilities (the kernel at boot; mm's buddy tests
// and fuzzer cover their windows the same way).
constexpr uint8_t largest_aligned_order(uint64_t base, uint64_t size, uint8_t max_order) {
    uint8_t k = 0;
    while (k < max_order && is_aligned(base, kPageSize << (k + 1)) &&
           (kPageSize << (k + 1)) <= size)
        ++k;
    return k;
}
static_assert(largest_aligned_order(0x80200000, uint64_t{1} << 30, 26) == 9); // 2 MiB aligned
static_assert(largest_aligned_order(0x80000000, uint64_t{1} << 30, 26) == 18);
static_assert(largest_aligned_order(0x80000000, uint64_t{1} << 30, 10) == 10);
static_assert(largest_aligned_order(0x80000000, 3 * kPageSize, 26) == 1);
static_assert(largest_aligned_order(0x80001000, uint64_t{1} << 30, 26) == 0);

template <class Tag>
class Address {
  public:
    constexpr Address() = default;
    constexpr explicit Address(uint64_t v) : v_(v) {}
    constexpr uint64_t value() const { return v_; }
    constexpr Address page_base() const { return Address(align_down(v_, kPageSize)); }
    constexpr uint64_t page_offset() const { return v_ & (kPageSize - 1); }
    constexpr bool is_page_aligned() const { return is_aligned(v_, kPageSize); }
    // Offset by n bytes; the caller has checked for overflow (see checked_add).
    constexpr Address offset(uint64_t n) const { return Address(v_ + n); }
    constexpr bool checked_add(uint64_t n, Address& out) const {
        if (v_ + n < v_) return false;
        out = Address(v_ + n);
        return true;
    }
    constexpr auto operator<=>(const Address&) const = default;

  private:
    uint64_t v_ = 0;
};

struct PhysTag;
struct VirtTag;
using PhysAddr = Address<PhysTag>;
using VirtAddr = Address<VirtTag>;

// Physical page number, as stored in a PTE.
class Pfn {
  public:
    constexpr explicit Pfn(uint64_t n) : n_(n) {}
    constexpr static Pfn of(PhysAddr pa) { return Pfn(pa.value() >> kPageShift); }
    constexpr uint64_t value() const { return n_; }
    constexpr PhysAddr addr() const { return PhysAddr(n_ << kPageShift); }

  private:
    uint64_t n_;
};

// A half-open physical range [base, base + size).
struct PhysRange {
    PhysAddr base;
    uint64_t size = 0;
    constexpr uint64_t end() const { return base.value() + size; }
    constexpr bool contains(PhysAddr a) const { return a >= base && a.value() < end(); }
    constexpr bool overlaps(const PhysRange& o) const {
        return size && o.size && base.value() < o.end() && o.base.value() < end();
    }
};

} // namespace capframe
