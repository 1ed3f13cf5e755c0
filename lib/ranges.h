// A small sorted set of disjoint physical ranges: boot-time frame
// bookkeeping (free RAM = RAM - reservations - kernel image - device tree)
// and the boot allocator that takes page-table pages from it. Pure logic.
#pragma once

#include <cstdint>

#include "addr.h"
#include "result.h"

namespace capframe {

class RangeSet {
  public:
    static constexpr int kCapacity = 32;

    // Adds [base, base+size), merging with neighbours. TooMany if full,
    // OutOfRange if it wraps past 2^64. Nothing changes on error.
    Result<void> add(PhysRange r);
    // Removes [base, base+size) wherever it overlaps; a split that would
    // overflow the table gives TooMany and changes nothing.
    Result<void> subtract(PhysRange r);
    // Keeps only whole pages: every range shrinks inward to page bounds.
    void trim_to_pages();
    // Takes `size` bytes aligned to `align` (a power of two) from the lowest
    // range that can give them. A run from the middle of a range splits it,
    // which a full table cannot record: such a range cannot give. NoMemory
    // if none can; InvalidArgument for size 0 or a bad alignment.
    Result<PhysAddr> take(uint64_t size, uint64_t align);

    int count() const { return n_; }
    const PhysRange& operator[](int i) const { return r_[i]; }
    uint64_t total_bytes() const;
    bool contains(PhysRange r) const; // wholly inside one range
    bool overlaps(PhysRange r) const;

  private:
    void erase(int i);
    Result<void> insert(int i, PhysRange r);
    PhysRange r_[kCapacity];
    int n_ = 0;
};

} // namespace capframe
