// The C library routines lib/string.cpp defines (by words where the
// addresses allow), for kernel code that calls them by name.
#pragma once

#include <cstddef>

extern "C" {
void* memset(void* dst, int c, size_t n);
void* memcpy(void* dst, const void* src, size_t n);
void* memmove(void* dst, const void* src, size_t n);
int memcmp(const void* a, const void* b, size_t n);
}
