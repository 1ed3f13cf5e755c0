// SBI hart masks (SBI spec 3.0.1): a call names harts as a 64-bit mask and a
// base, bit i standing for hart id base + i. Harts whose ids lie far apart
// (more than 64) need one call per window of 64 ids; HartMasks groups them.
// Pure logic: the kernel builds it from its harts, tests/host checks it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace capframe {

struct HartMaskWindow {
    uint64_t base; // a multiple of 64
    uint64_t mask;
};

template <size_t N>
struct HartMasks {
    HartMaskWindow window[N] = {};
    size_t count = 0;

    // Adds hart id `id`; false (and nothing changed) if it needs a window
    // more than N.
    bool add(uint64_t id) {
        uint64_t base = id & ~uint64_t{63};
        uint64_t bit = uint64_t{1} << (id & 63);
        for (size_t i = 0; i < count; ++i) {
            if (window[i].base == base) {
                window[i].mask |= bit;
                return true;
            }
        }
        if (count == N) return false;
        window[count++] = HartMaskWindow{base, bit};
        return true;
    }
    bool empty() const { return count == 0; }
};

} // namespace capframe
