// The kernel's side of the buddy allocator's frame capabilities (its
// FrameCapOps), for the buddy host tests (buddy_test.h) and the buddy
// fuzzer: fresh slot numbers, every split and merge checked as the kernel
// would require (a misuse is reported through Report::bad(what) and
// refused), and the n-th split or merge refused on request, as the kernel
// refuses one when it is out of slots (TooMany) or a half is in use (Busy).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>

#include "buddy.h"

namespace capframe::test {

template <class Report>
class FakeFrameCaps {
  public:
    static constexpr uint32_t kNone = ~0u;
    struct Cap {
        uint64_t pa;
        uint8_t order;
        uint32_t parent;
        uint32_t lower = kNone, upper = kNone; // set while split
    };
    static constexpr uint64_t kPage = 4096;

    uint32_t make_root(uint64_t pa, uint8_t order) {
        caps_[next_] = Cap{pa, order, kNone};
        return next_++;
    }

    Result<mm::SplitSlots> split(uint32_t slot, uint8_t order) {
        ++splits;
        if (fail_split_ && --fail_split_ == 0) return Error::TooMany;
        auto it = caps_.find(slot);
        if (it == caps_.end() || it->second.lower != kNone || it->second.order != order ||
            order == 0) {
            Report::bad("a split of a slot that is not an unsplit cap of that order");
            return Error::InvalidArgument;
        }
        Cap& c = it->second;
        const uint32_t lo = next_++, up = next_++;
        const uint8_t k = order - 1;
        caps_[lo] = Cap{c.pa, k, slot};
        caps_[up] = Cap{c.pa + (kPage << k), k, slot};
        c.lower = lo;
        c.upper = up;
        return mm::SplitSlots{lo, up};
    }

    Result<void> merge(uint32_t parent, uint32_t lower, uint32_t upper) {
        ++merges;
        if (fail_merge_ && --fail_merge_ == 0) {
            ++merges_refused;
            return Error::Busy;
        }
        auto it = caps_.find(parent);
        if (it == caps_.end() || it->second.lower != lower || it->second.upper != upper ||
            caps_.at(lower).lower != kNone || caps_.at(upper).lower != kNone) {
            Report::bad("a merge of caps that are not the two unsplit halves of the parent");
            return Error::InvalidArgument;
        }
        caps_.erase(lower);
        caps_.erase(upper);
        it->second.lower = it->second.upper = kNone;
        return {};
    }

    // The n-th split or merge from now (1-based) is refused; 0: none.
    void fail_nth_split(uint64_t n) { fail_split_ = n; }
    void fail_nth_merge(uint64_t n) { fail_merge_ = n; }

    // Caps made by a split, not yet merged away.
    size_t live_children() const {
        size_t n = 0;
        for (auto& kv : caps_)
            n += kv.second.parent != kNone;
        return n;
    }
    // Caps not split: what the allocator holds.
    size_t leaves() const {
        size_t n = 0;
        for (auto& kv : caps_)
            n += kv.second.lower == kNone;
        return n;
    }
    // b names a live, unsplit cap of exactly that extent.
    bool is_leaf(const mm::Block& b) const {
        auto it = caps_.find(b.slot);
        return it != caps_.end() && it->second.lower == kNone && it->second.pa == b.pa &&
               it->second.order == b.order;
    }

    uint64_t splits = 0, merges = 0, merges_refused = 0;

  private:
    std::map<uint32_t, Cap> caps_;
    uint32_t next_ = 100;
    uint64_t fail_split_ = 0, fail_merge_ = 0;
};

} // namespace capframe::test
