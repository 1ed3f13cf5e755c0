// A static RISC-V ELF64 executable written in memory, for the tests that need
// one: check_elf's host tests (elf_test.h) and mm's fake kernel
// (make_program). The ELF header at 0, the program headers at 64, and every
// byte after them a pattern of its file offset (i * 7 + 3).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace elf_writer {

using Bytes = std::vector<uint8_t>;

inline constexpr uint32_t PT_LOAD = 1, PT_DYNAMIC = 2, PT_INTERP = 3, PT_NOTE = 4, PT_PHDR = 6;
inline constexpr uint32_t PT_GNU_STACK = 0x6474e551, PT_RISCV_ATTRIBUTES = 0x70000003;
inline constexpr uint32_t R = 4, W = 2, X = 1;

struct Ph {
    uint32_t type = PT_LOAD, flags = R;
    uint64_t offset = 0, vaddr = 0, filesz = 0, memsz = 0, align = 0x1000;
};

// Little-endian `width` bytes of v at off.
inline void put(Bytes& b, size_t off, uint64_t v, int width) {
    for (int i = 0; i < width; ++i)
        b.at(off + size_t(i)) = uint8_t(v >> (8 * i));
}

// The file: at least `size` bytes, entry point `entry`, the program headers
// `phs` (p_paddr = p_vaddr).
inline Bytes build(uint64_t entry, const std::vector<Ph>& phs, size_t size) {
    size_t need = 64 + phs.size() * 56;
    Bytes b(std::max(size, need));
    for (size_t i = need; i < b.size(); ++i)
        b[i] = uint8_t(i * 7 + 3);
    const uint8_t ident[16] = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0};
    std::memcpy(b.data(), ident, sizeof ident);
    put(b, 16, 2, 2);   // ET_EXEC
    put(b, 18, 243, 2); // EM_RISCV
    put(b, 20, 1, 4);   // EV_CURRENT
    put(b, 24, entry, 8);
    put(b, 32, 64, 8); // e_phoff
    put(b, 40, 0, 8);  // e_shoff
    put(b, 48, 5, 4);  // e_flags: RVC | double-float ABI, ignored
    put(b, 52, 64, 2);
    put(b, 54, 56, 2);
    put(b, 56, phs.size(), 2);
    for (size_t i = 0; i < phs.size(); ++i) {
        size_t o = 64 + i * 56;
        put(b, o, phs[i].type, 4);
        put(b, o + 4, phs[i].flags, 4);
        put(b, o + 8, phs[i].offset, 8);
        put(b, o + 16, phs[i].vaddr, 8);
        put(b, o + 24, phs[i].vaddr, 8); // p_paddr
        put(b, o + 32, phs[i].filesz, 8);
        put(b, o + 40, phs[i].memsz, 8);
        put(b, o + 48, phs[i].align, 8);
    }
    return b;
}

} // namespace elf_writer
