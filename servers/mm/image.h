// Reading the boot image's program table (written by tools/embed_user.py and
// mapped read-only into mm). Every offset and size is checked against the
// table's bounds before use: a corrupt table gives BadFormat, never a wild
// read. (The cpio boot archive replaces this table in a later issue.)
#pragma once

#include <cstdint>
#include <span>

#include "result.h"

namespace capframe::mm {

inline constexpr int kMaxSegments = 4;

struct SegmentView {
    uint64_t vaddr = 0, memsz = 0, flags = 0; // flags: ELF PF_X=1, PF_W=2, PF_R=4
    std::span<const uint8_t> data;            // the file bytes (filesz <= memsz)
};

struct ProgramView {
    char name[24] = {};
    uint64_t entry = 0;
    int segment_count = 0;
    SegmentView segments[kMaxSegments];
};

// Finds `name`. NotFound if absent; BadFormat if the table is inconsistent
// (counts, offsets or sizes out of bounds, W+X, segments outside user space
// or overlapping, entry outside an executable segment).
Result<void> find_program(std::span<const uint8_t> table, const char* name, ProgramView& out);
// Number of programs and the i-th name (for listing); 0 / nullptr if corrupt.
uint64_t program_count(std::span<const uint8_t> table);
const char* program_name(std::span<const uint8_t> table, uint64_t i);

} // namespace capframe::mm
