// The fake kernel's own files (fake_kernel.cpp: set-up, queries and kernel.h;
// fake_kernel_caps.cpp: capabilities; fake_kernel_vm.cpp: address spaces,
// batches and threads) share these.
#pragma once

#include "fake_kernel.h"

#include <cstdint>

namespace fakek {

using abi::Errno;
using abi::ObjType;
using capframe::Msg;

// An error as the kernel returns it (a negated Errno).
inline int64_t e(Errno n) {
    return abi::error_return(n);
}

inline constexpr uint64_t kPage = 4096;

} // namespace fakek
