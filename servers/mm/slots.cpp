#include "slots.h"

#include <array>

namespace capframe::mm {

SlotAllocator g_slots;

namespace {

// The index of the lowest set bit of x (x != 0) in constant time: x & -x
// isolates it, and multiplying by a de Bruijn sequence puts a distinct
// 6-bit pattern in the top bits for each of the 64 positions. (A loop over
// the bits cost 330 instructions per allocation in a fork of 8 MiB; RV64GC
// has no ctz instruction and the target build has no libgcc __ctzdi2.)
constexpr uint64_t kDeBruijn = 0x03f79d71b4cb0a89ull;
constexpr std::array<uint8_t, 64> kPosition = [] {
    std::array<uint8_t, 64> t{};
    for (unsigned i = 0; i < 64; ++i)
        t[((uint64_t{1} << i) * kDeBruijn) >> 58] = static_cast<uint8_t>(i);
    return t;
}();

unsigned lowest_set(uint64_t x) {
    return kPosition[((x & -x) * kDeBruijn) >> 58];
}

} // namespace

void SlotAllocator::set_full(uint64_t w, bool full) {
    uint64_t bit = uint64_t{1} << (w % 64);
    if (full)
        summary_[w / 64] |= bit;
    else
        summary_[w / 64] &= ~bit;
}

void SlotAllocator::init(void* books, uint64_t max_leaves, uint64_t boot_leaves,
                         uint64_t first_free) {
    auto* p = static_cast<uint64_t*>(books);
    words_ = std::span(p, max_leaves);
    books_ = std::span(reinterpret_cast<Leaf*>(p + max_leaves), max_leaves);
    summary_ = std::span(p + max_leaves + max_leaves * sizeof(Leaf) / sizeof(uint64_t),
                         (max_leaves + 63) / 64);
    leaves_ = boot_leaves_ = boot_leaves < max_leaves ? boot_leaves : max_leaves;
    used_ = hint_ = 0;
    for (uint64_t& s : summary_)
        s = ~uint64_t{0};
    for (uint64_t w = 0; w < max_leaves; ++w) {
        words_[w] = w < leaves_ ? 1 : 0; // bit 0: the leaf's header
        books_[w] = Leaf{};
    }
    for (uint64_t i = 1; i < first_free && i < leaves_ * kLeafSlots; ++i)
        if (i % kLeafSlots) {
            words_[i / kLeafSlots] |= uint64_t{1} << (i % kLeafSlots);
            ++used_;
        }
    for (uint64_t w = 0; w < leaves_; ++w)
        set_full(w, words_[w] == ~uint64_t{0});
}

Result<uint32_t> SlotAllocator::alloc() {
    for (uint64_t s = hint_; s < summary_.size(); ++s) {
        if (summary_[s] == ~uint64_t{0}) continue;
        hint_ = s;
        uint64_t w = s * 64 + lowest_set(~summary_[s]);
        uint64_t bit = lowest_set(~words_[w]); // bit 0 (the header) is always set
        words_[w] |= uint64_t{1} << bit;
        if (words_[w] == ~uint64_t{0}) set_full(w, true);
        ++used_;
        return static_cast<uint32_t>(w * kLeafSlots + bit);
    }
    hint_ = summary_.size();
    return Error::TooMany;
}

void SlotAllocator::free(uint32_t i) {
    uint64_t w = i / kLeafSlots;
    words_[w] &= ~(uint64_t{1} << (i % kLeafSlots));
    set_full(w, false);
    --used_;
    if (w / 64 < hint_) hint_ = w / 64;
}

void SlotAllocator::push_leaf(Leaf l) {
    books_[leaves_] = l;
    words_[leaves_] = 1;
    set_full(leaves_, false);
    if (leaves_ / 64 < hint_) hint_ = leaves_ / 64;
    ++leaves_;
}

bool SlotAllocator::top_leaf_empty() const {
    return leaves_ > boot_leaves_ && words_[leaves_ - 1] == 1;
}

void SlotAllocator::pop_leaf() {
    --leaves_;
    words_[leaves_] = 0;
    books_[leaves_] = Leaf{};
    set_full(leaves_, true);
}

} // namespace capframe::mm
