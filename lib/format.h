// The kernel's formatter: printf-shaped (so the compiler checks every call
// with -Wformat), writing to a Sink. Pure logic, host-tested.
//
// Conversions: %d %i %u %x %X %p %s %c %%; flags '-' '0'; a width; length
// modifiers l, ll, z. %p prints 0x and 16 hex digits. A null %s prints
// "(null)". Anything else is copied through literally.
#pragma once

#include <cstdarg>
#include <cstddef>

namespace capframe {

// Where formatted text goes. A plain function pointer plus context (no
// virtual call), so it works before relocation and in any address space.
struct Sink {
    void (*write)(void* ctx, const char* s, size_t n);
    void* ctx;
};

size_t vformat(Sink sink, const char* fmt, va_list ap);
size_t format(Sink sink, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// Formats into buf (always NUL-terminated when n > 0); returns the length
// the full output would have had, like snprintf.
size_t snformat(char* buf, size_t n, const char* fmt, ...) __attribute__((format(printf, 3, 4)));

} // namespace capframe
