// The boot archive's programs, read once: mm indexes the cpio archive at
// start (every header checked by cpio.cpp) instead of scanning and
// hex-parsing it on every exec.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "cpio.h"
#include "result.h"

namespace capframe::mm {

inline constexpr size_t kMaxPrograms = 128;

// Indexes the regular files of `archive`; TooMany past kMaxPrograms (the
// rest are left out), BadFormat/Truncated if the archive is broken (what was
// read before stays usable).
Result<void> archive_index(std::span<const uint8_t> archive);
// The regular file called `name`; NotFound if there is none.
Result<const CpioEntry*> archive_find(const char* name);
// The index-th regular file in archive order, or null past the end.
const CpioEntry* archive_at(size_t index);

} // namespace capframe::mm
