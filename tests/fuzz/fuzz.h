// Shared by the libFuzzer targets in tests/fuzz/ (see docs/testing.md).
// FUZZ_CHECK reports a broken invariant as a crash, which libFuzzer saves as
// crash-<sha1> with the input that caused it.
#pragma once

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <initializer_list>

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, #cond);    \
            std::fflush(stderr);                                                                   \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

// A weighted choice among weights.size() actions: action i comes up weights[i]
// times in sum(weights). It reads the input as ConsumeIntegralInRange(0,
// sum - 1) does, the values counted off in order.
inline int choose(FuzzedDataProvider& in, std::initializer_list<int> weights) {
    int sum = 0;
    for (int w : weights)
        sum += w;
    int v = in.ConsumeIntegralInRange(0, sum - 1), i = 0;
    for (int w : weights) {
        if (v < w) return i;
        v -= w;
        ++i;
    }
    return i - 1; // not reached
}

// The entry point of a fuzzer whose Harness is made on the input and run:
//   extern "C" int LLVMFuzzerTestOneInput(const uint8_t* d, size_t n) {
//       return run_harness<Harness>(d, n);
//   }
template <class Harness>
int run_harness(const uint8_t* data, size_t size) {
    FuzzedDataProvider in(data, size);
    Harness h(in);
    h.run();
    return 0;
}
