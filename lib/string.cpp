// The few C library routines the compiler may call on its own
// (-ffreestanding still allows it to emit memcpy/memset/memmove/memcmp).
#include <cstddef>
#include <cstdint>

extern "C" {

void* memset(void* dst, int c, size_t n) {
    auto* d = static_cast<volatile uint8_t*>(dst); // volatile: not turned back into memset()
    for (size_t i = 0; i < n; ++i)
        d[i] = static_cast<uint8_t>(c);
    return dst;
}

void* memcpy(void* dst, const void* src, size_t n) {
    auto* d = static_cast<volatile uint8_t*>(dst);
    auto* s = static_cast<const uint8_t*>(src);
    for (size_t i = 0; i < n; ++i)
        d[i] = s[i];
    return dst;
}

void* memmove(void* dst, const void* src, size_t n) {
    auto* d = static_cast<volatile uint8_t*>(dst);
    auto* s = static_cast<const uint8_t*>(src);
    if (d < s) {
        for (size_t i = 0; i < n; ++i)
            d[i] = s[i];
    } else {
        for (size_t i = n; i > 0; --i)
            d[i - 1] = s[i - 1];
    }
    return dst;
}

int memcmp(const void* a, const void* b, size_t n) {
    auto* x = static_cast<const uint8_t*>(a);
    auto* y = static_cast<const uint8_t*>(b);
    for (size_t i = 0; i < n; ++i)
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
}
}
