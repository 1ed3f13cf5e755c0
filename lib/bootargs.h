// "key=value" options in a bootargs string (the device tree's
// /chosen/bootargs; QEMU's -append), read by the kernel and by mm.
#pragma once

#include <cstddef>

namespace capframe {

// Finds the word "key=value" (words are separated by spaces) and copies
// value into out (truncated to out_len - 1, always NUL-terminated).
bool find_bootarg(const char* args, const char* key, char* out, size_t out_len);

} // namespace capframe
