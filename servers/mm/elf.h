// Checking a static RISC-V ELF64 executable before mm maps it (exec).
// Pure logic: no OS, no heap, no exceptions; every field is read with byte
// loads (the file may sit at any alignment) and every sum is overflow-checked
// (sizes may be 0xffffffffffffffff), so a hostile file gives an error, never
// a read outside `file` or a segment outside user space.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "result.h"

namespace capframe::mm {

inline constexpr int kMaxElfSegments = 8;

inline constexpr uint32_t kPfX = 1, kPfW = 2, kPfR = 4;

struct ElfSegment {
    uint64_t vaddr = 0, memsz = 0, offset = 0, filesz = 0;
    uint32_t flags = 0; // PF_X=1, PF_W=2, PF_R=4 (other p_flags bits are dropped)
};

struct ElfImage {
    uint64_t entry = 0;
    int segment_count = 0;
    ElfSegment segments[kMaxElfSegments]; // the PT_LOADs, sorted by vaddr
};

// Checks an ELF64 executable for user space [lowest_va, top_va) and fills
// `out` (written only on success). On success: 1..kMaxElfSegments segments,
// sorted by vaddr, each with 0 < memsz, filesz <= memsz, offset + filesz <=
// file.size(), its pages [floor4k(vaddr), ceil4k(vaddr + memsz)) inside
// [lowest_va, top_va) and disjoint from every other segment's pages, never
// both W and X; entry is 2-byte aligned inside an executable segment.
//
// Errors (the header is checked first, then each program header in file
// order, then overlap and entry; the first failure is returned):
//   InvalidArgument  lowest_va/top_va not page aligned or lowest_va >= top_va
//   Truncated        file shorter than the 64-byte header; program headers or
//                    a PT_LOAD's file bytes [offset, offset+filesz) past the end
//   BadFormat        not ELF (magic), not ELFCLASS64 / little endian /
//                    EV_CURRENT, not ET_EXEC, not EM_RISCV, e_ehsize != 64,
//                    e_phentsize != 56, e_phnum == 0; PT_INTERP or PT_DYNAMIC
//                    (not a static executable); no non-empty PT_LOAD; a
//                    PT_LOAD with filesz > memsz, p_align not 0 or a power
//                    of two, or p_align >= 4096 with vaddr % 4096 != offset % 4096
//   TooMany          more than kMaxElfSegments PT_LOADs
//   OutOfRange       a PT_LOAD's pages not inside [lowest_va, top_va),
//                    including vaddr + memsz wrapping around 2^64
//   InvalidArgument  a PT_LOAD both writable and executable; two PT_LOADs
//                    sharing a page; entry odd or in no executable segment
// Other program header types (PT_NOTE, PT_PHDR, PT_GNU_STACK,
// PT_RISCV_ATTRIBUTES, ...) are ignored, and so is a PT_LOAD with memsz ==
// filesz == 0 (GNU ld emits one, at vaddr 0 with an arbitrary offset, for a
// PHDRS segment that got no sections: user/user.ld's data segment in a
// program without data; tools/embed_user.py skipped them too). Section
// headers are not read.
Result<void> check_elf(std::span<const uint8_t> file, uint64_t lowest_va, uint64_t top_va,
                       ElfImage& out);

} // namespace capframe::mm
