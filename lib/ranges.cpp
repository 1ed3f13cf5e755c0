#include "ranges.h"

namespace capframe {

void RangeSet::erase(int i) {
    for (int j = i; j + 1 < n_; ++j)
        r_[j] = r_[j + 1];
    --n_;
}

Result<void> RangeSet::insert(int i, PhysRange r) {
    if (n_ == kCapacity) return Error::TooMany;
    for (int j = n_; j > i; --j)
        r_[j] = r_[j - 1];
    r_[i] = r;
    ++n_;
    return {};
}

Result<void> RangeSet::add(PhysRange r) {
    if (r.size == 0) return {};
    if (r.base.value() + r.size < r.base.value()) return Error::OutOfRange;
    uint64_t lo = r.base.value(), hi = r.end();
    // Ranges that touch or overlap [lo, hi) merge into it.
    int first = 0;
    while (first < n_ && r_[first].end() < lo)
        ++first;
    int last = first;
    while (last < n_ && r_[last].base.value() <= hi) {
        if (r_[last].base.value() < lo) lo = r_[last].base.value();
        if (r_[last].end() > hi) hi = r_[last].end();
        ++last;
    }
    if (last == first) return insert(first, PhysRange{PhysAddr(lo), hi - lo});
    r_[first] = PhysRange{PhysAddr(lo), hi - lo};
    for (int k = first + 1; k < last; ++k)
        erase(first + 1);
    return {};
}

Result<void> RangeSet::subtract(PhysRange r) {
    if (r.size == 0) return {};
    uint64_t lo = r.base.value();
    uint64_t hi = r.end() < lo ? ~uint64_t{0} : r.end();
    // A range strictly containing [lo, hi) splits in two: check room first.
    for (int i = 0; i < n_; ++i)
        if (r_[i].base.value() < lo && r_[i].end() > hi && n_ == kCapacity) return Error::TooMany;
    for (int i = 0; i < n_;) {
        uint64_t b = r_[i].base.value(), e = r_[i].end();
        if (e <= lo || b >= hi) {
            ++i;
            continue;
        }
        if (b < lo && e > hi) {
            r_[i].size = lo - b;
            (void)insert(i + 1, PhysRange{PhysAddr(hi), e - hi}); // room checked above
            return {};
        }
        if (b < lo) {
            r_[i].size = lo - b;
            ++i;
        } else if (e > hi) {
            r_[i] = PhysRange{PhysAddr(hi), e - hi};
            ++i;
        } else {
            erase(i);
        }
    }
    return {};
}

void RangeSet::trim_to_pages() {
    for (int i = 0; i < n_;) {
        uint64_t b = 0, e = align_down(r_[i].end(), kPageSize);
        if (!align_up(r_[i].base.value(), kPageSize, b) || e <= b) {
            erase(i);
            continue;
        }
        r_[i] = PhysRange{PhysAddr(b), e - b};
        ++i;
    }
}

Result<PhysAddr> RangeSet::take(uint64_t size, uint64_t align) {
    if (size == 0 || align == 0 || (align & (align - 1))) return Error::InvalidArgument;
    for (int i = 0; i < n_; ++i) {
        uint64_t b = 0;
        if (!align_up(r_[i].base.value(), align, b)) continue;
        if (b + size < b || b + size > r_[i].end()) continue;
        // A run from the middle splits the range in two: with the table
        // full that cannot be recorded, so look further (found by fuzzing:
        // this used to fail with TooMany though a later range could give).
        if (b > r_[i].base.value() && b + size < r_[i].end() && n_ == kCapacity) continue;
        (void)subtract(PhysRange{PhysAddr(b), size}); // cannot fail: room checked
        return PhysAddr(b);
    }
    return Error::NoMemory;
}

uint64_t RangeSet::total_bytes() const {
    uint64_t t = 0;
    for (int i = 0; i < n_; ++i)
        t += r_[i].size;
    return t;
}

bool RangeSet::contains(PhysRange r) const {
    for (int i = 0; i < n_; ++i)
        if (r.base >= r_[i].base && r.end() <= r_[i].end() && r.end() >= r.base.value())
            return true;
    return false;
}

bool RangeSet::overlaps(PhysRange r) const {
    for (int i = 0; i < n_; ++i)
        if (r_[i].overlaps(r)) return true;
    return false;
}

} // namespace capframe
