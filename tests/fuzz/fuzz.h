// Shared by the libFuzzer targets in tests/fuzz/ (see docs/testing.md).
// FUZZ_CHECK reports a broken invariant as a crash, which libFuzzer saves as
// crash-<sha1> with the input that caused it.
#pragma once

#include <cstdio>

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, #cond);    \
            std::fflush(stderr);                                                                   \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)
