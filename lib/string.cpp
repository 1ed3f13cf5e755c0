// The few C library routines the compiler may call on its own
// (-ffreestanding still allows it to emit memcpy/memset/memmove/memcmp).
//
// Whole 64-bit words where the addresses allow (a misaligned access traps
// to the firmware on real harts), bytes for the rest. GCC must not turn
// these loops back into calls of themselves: the attribute below forbids
// the loop-to-library-call pattern.
#include <cstddef>
#include <cstdint>

#define CAPFRAME_NO_LIBCALLS __attribute__((optimize("no-tree-loop-distribute-patterns")))

namespace {

// Words that may alias any object (these routines copy objects of every type).
using Word = uint64_t __attribute__((may_alias));

constexpr bool aligned8(uintptr_t a) {
    return (a & 7) == 0;
}

// A byte pointer the caller has aligned, as words (through the integer, so
// that -Wcast-align knows the alignment was checked).
Word* words(uint8_t* p) {
    return reinterpret_cast<Word*>(reinterpret_cast<uintptr_t>(p));
}
const Word* words(const uint8_t* p) {
    return reinterpret_cast<const Word*>(reinterpret_cast<uintptr_t>(p));
}

} // namespace

extern "C" {

CAPFRAME_NO_LIBCALLS void* memset(void* dst, int c, size_t n) {
    auto* d = static_cast<uint8_t*>(dst);
    const auto byte = static_cast<uint8_t>(c);
    while (n && !aligned8(reinterpret_cast<uintptr_t>(d))) {
        *d++ = byte;
        --n;
    }
    const uint64_t word = byte * 0x0101010101010101ull;
    auto* w = words(d);
    // Zeroing pages is the common use: four cache lines a turn (the loop's
    // own three instructions are then a tenth of the work), then one.
    for (; n >= 256; n -= 256, w += 32)
#pragma GCC unroll 32
        for (int k = 0; k < 32; ++k)
            w[k] = word;
    for (; n >= 64; n -= 64, w += 8)
#pragma GCC unroll 8
        for (int k = 0; k < 8; ++k)
            w[k] = word;
    for (; n >= 8; n -= 8)
        *w++ = word;
    d = reinterpret_cast<uint8_t*>(w);
    while (n--)
        *d++ = byte;
    return dst;
}

CAPFRAME_NO_LIBCALLS void* memcpy(void* dst, const void* src, size_t n) {
    auto* d = static_cast<uint8_t*>(dst);
    auto* s = static_cast<const uint8_t*>(src);
    if (((reinterpret_cast<uintptr_t>(d) ^ reinterpret_cast<uintptr_t>(s)) & 7) == 0) {
        while (n && !aligned8(reinterpret_cast<uintptr_t>(d))) {
            *d++ = *s++;
            --n;
        }
        auto* wd = words(d);
        auto* ws = words(s);
        for (; n >= 32; n -= 32, wd += 4, ws += 4) {
            uint64_t a = ws[0], b = ws[1], x = ws[2], y = ws[3];
            wd[0] = a;
            wd[1] = b;
            wd[2] = x;
            wd[3] = y;
        }
        for (; n >= 8; n -= 8)
            *wd++ = *ws++;
        d = reinterpret_cast<uint8_t*>(wd);
        s = reinterpret_cast<const uint8_t*>(ws);
    }
    while (n--)
        *d++ = *s++;
    return dst;
}

CAPFRAME_NO_LIBCALLS void* memmove(void* dst, const void* src, size_t n) {
    auto* d = static_cast<uint8_t*>(dst);
    auto* s = static_cast<const uint8_t*>(src);
    if (d <= s || d >= s + n) return memcpy(dst, src, n); // copying forward is safe
    // Overlapping with dst above src: copy backwards.
    if (((reinterpret_cast<uintptr_t>(d) ^ reinterpret_cast<uintptr_t>(s)) & 7) == 0) {
        while (n && !aligned8(reinterpret_cast<uintptr_t>(d + n))) {
            --n;
            d[n] = s[n];
        }
        for (; n >= 8; n -= 8)
            *words(d + n - 8) = *words(s + n - 8);
    }
    while (n) {
        --n;
        d[n] = s[n];
    }
    return dst;
}

CAPFRAME_NO_LIBCALLS int memcmp(const void* a, const void* b, size_t n) {
    auto* x = static_cast<const uint8_t*>(a);
    auto* y = static_cast<const uint8_t*>(b);
    for (size_t i = 0; i < n; ++i)
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
}
}
