#include "slots.h"

namespace capframe::mm {

SlotAllocator g_slots;

void SlotAllocator::init(uint64_t slots, uint64_t first_free) {
    count_ = slots > kMax ? kMax : slots;
    for (uint64_t& w : bits_)
        w = 0;
    for (uint64_t i = 0; i < first_free && i < count_; ++i)
        bits_[i / 64] |= uint64_t{1} << (i % 64);
    used_ = first_free < count_ ? first_free : count_;
    hint_ = count_ ? (first_free / 64) % (count_ / 64 ? count_ / 64 : 1) : 0;
}

Result<uint32_t> SlotAllocator::alloc() {
    uint64_t words = count_ / 64;
    for (uint64_t n = 0; n < words; ++n) {
        uint64_t w = (hint_ + n) % words;
        if (bits_[w] == ~uint64_t{0}) continue;
        uint64_t bit = 0; // (no libgcc ctz: the kernel's lp64 build has none)
        while (bits_[w] & (uint64_t{1} << bit))
            ++bit;
        bits_[w] |= uint64_t{1} << bit;
        hint_ = w;
        ++used_;
        return static_cast<uint32_t>(w * 64 + bit);
    }
    return Error::TooMany;
}

void SlotAllocator::free(uint32_t i) {
    bits_[i / 64] &= ~(uint64_t{1} << (i % 64));
    --used_;
}

} // namespace capframe::mm
