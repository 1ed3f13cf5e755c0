// The slots of mm's own capability table: which are free. Pure logic.
#pragma once

#include <cstdint>

#include "result.h"

namespace capframe::mm {

class SlotAllocator {
  public:
    static constexpr uint64_t kMax = uint64_t{64} << 12;

    // Slots [0, first_free) are taken (the kernel's boot capabilities).
    void init(uint64_t slots, uint64_t first_free);
    Result<uint32_t> alloc();
    void free(uint32_t i);
    uint64_t count() const { return count_; }
    uint64_t used() const { return used_; }

  private:
    uint64_t bits_[kMax / 64] = {};
    uint64_t count_ = 0, hint_ = 0, used_ = 0;
};

extern SlotAllocator g_slots;

} // namespace capframe::mm
