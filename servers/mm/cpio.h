// A strict reader of `cpio -H newc` archives (the Linux initramfs format),
// the boot archive mm loads programs from. Pure logic: no OS, no heap, no
// exceptions; every offset and size is checked against the archive's bounds
// (overflow-safe) before use.
//
// Entry layout, offsets relative to the start of `archive`, each entry
// starting 4-byte aligned:
//   "070701", then 13 fields of exactly 8 hex digits (either case):
//   ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor
//   rdevminor namesize check; then namesize bytes of name ending in its only
//   NUL; zero padding to a multiple of 4; filesize bytes of data; zero
//   padding to a multiple of 4. The archive ends with an entry named
//   "TRAILER!!!". Only "070701" is accepted (not the CRC variant "070702" or
//   the old binary / odc formats); padding must lie inside the archive, its
//   contents are not checked; `check` is not checked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "result.h"

namespace capframe::mm {

inline constexpr uint32_t kCpioTypeMask = 0170000, kCpioRegular = 0100000;
inline constexpr size_t kCpioMaxName = 255;

struct CpioEntry {
    const char* name = nullptr; // points into the archive, NUL-terminated
    size_t name_len = 0;        // without the NUL
    uint32_t mode = 0;
    std::span<const uint8_t> data; // filesize bytes inside the archive
};

// Reads the entry at `offset`, advancing it to the next one (past the data's
// padding). The name is returned as stored (a "./" prefix is kept). On any
// error, `offset` and `out` are left unchanged. Errors:
//   NotFound         the entry is the (complete) trailer "TRAILER!!!"
//   InvalidArgument  offset not a multiple of 4 or past the end
//   Truncated        the header, the name, the data or a padding runs past the
//                    end (also offset == size: the trailer is missing)
//   BadFormat        wrong magic, a field that is not 8 hex digits,
//                    namesize 0, a NUL before namesize-1 or none there
Result<void> cpio_next(std::span<const uint8_t> archive, size_t& offset, CpioEntry& out);

// Finds the regular file ((mode & 0170000) == 0100000) named exactly `name`;
// one "./" prefix on archive names is ignored, and `out.name` points past it.
// Reads the whole archive up to its trailer, so a corrupt archive gives its
// cpio_next error even after a match, and a second regular file of the same
// name is BadFormat (ambiguous). `out` is written only on success. Errors:
// InvalidArgument for a null, empty or longer than kCpioMaxName name;
// NotFound if there is no such regular file; else as cpio_next.
Result<void> cpio_find(std::span<const uint8_t> archive, const char* name, CpioEntry& out);

} // namespace capframe::mm
