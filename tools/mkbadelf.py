#!/usr/bin/env python3
"""Write a corpus of malformed ELF files for mm's ELF checker.

    mkbadelf.py GOOD_ELF OUTDIR

GOOD_ELF is a static RISC-V ELF64 executable (e.g. a user program). Each
case is written to OUTDIR/bad-<case>; OUTDIR/list.txt names them, one per
line. Every file must be refused by check_elf (servers/mm/elf.h) with
lowest_va = 0x10000 and top_va = 0x3fffffd000; tests/host/elf_corpus_test.cpp
builds the same cases from a synthetic file, and checks a directory written
by this tool when CAPFRAME_BADELF_DIR names it.
"""

import os
import random
import struct
import sys

EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
PHDR = struct.Struct("<IIQQQQQQ")
PT_LOAD = 1
PF_X, PF_W, PF_R = 1, 2, 4
PAGE = 4096
TOP_VA = 0x3FFFFFD000
TRAPFRAME_VA = 0x3FFFFFE000
KERNEL_VA = 0xFFFFFFC000000000
U64 = 1 << 64

# Field offsets in the ELF header / a program header.
E_MACHINE, E_ENTRY, E_PHOFF, E_PHNUM = 18, 24, 32, 56
P_FLAGS, P_OFFSET, P_VADDR, P_FILESZ, P_MEMSZ = 4, 8, 16, 32, 40


class Elf:
    def __init__(self, data):
        self.data = bytes(data)
        if len(data) < EHDR.size or data[:4] != b"\x7fELF":
            sys.exit("mkbadelf.py: not an ELF file")
        if data[4] != 2 or data[5] != 1:
            sys.exit("mkbadelf.py: not a little-endian ELF64 file")
        h = EHDR.unpack_from(data)
        self.entry, self.phoff, self.phentsize, self.phnum = h[4], h[5], h[9], h[10]
        if h[1] != 2 or h[2] != 243 or self.phentsize != PHDR.size:
            sys.exit("mkbadelf.py: not a RISC-V executable (ET_EXEC, EM_RISCV)")
        if self.phoff + self.phnum * PHDR.size > len(data):
            sys.exit("mkbadelf.py: program headers past the end of the file")
        self.loads = []  # (index, type, flags, offset, vaddr, paddr, filesz, memsz, align)
        for i in range(self.phnum):
            ph = PHDR.unpack_from(data, self.ph_at(i))
            if ph[0] == PT_LOAD and ph[6] > 0:  # empty ones are skipped by check_elf
                self.loads.append((i,) + ph)
        if not self.loads:
            sys.exit("mkbadelf.py: no PT_LOAD segment")
        self.text = next((s for s in self.loads if s[2] & PF_X), None)
        if self.text is None:
            sys.exit("mkbadelf.py: no executable segment")
        self.table_end = self.phoff + self.phnum * PHDR.size

    def ph_at(self, i):
        return self.phoff + i * PHDR.size

    def free_va(self):
        """A page above every segment (even, user space)."""
        end = max(s[4] + s[7] for s in self.loads)
        va = (end + PAGE - 1) // PAGE * PAGE + PAGE
        if va >= TOP_VA:
            sys.exit("mkbadelf.py: no free page above the segments")
        return va


def put(buf, off, fmt, value):
    struct.pack_into("<" + fmt, buf, off, value % U64 if fmt == "Q" else value)


def with_extra_phdr(elf, ph):
    """The file with its program headers copied to the end plus `ph` (a tuple
    for PHDR), e_phoff / e_phnum updated."""
    buf = bytearray(elf.data)
    buf.extend(b"\0" * (-len(buf) % 8))
    new_phoff = len(buf)
    buf.extend(elf.data[elf.phoff : elf.table_end])
    buf.extend(PHDR.pack(*ph))
    put(buf, E_PHOFF, "Q", new_phoff)
    put(buf, E_PHNUM, "H", elf.phnum + 1)
    return buf


def cases(elf):
    good = elf.data
    first = elf.loads[0]
    text = elf.text

    def patched(*edits):
        buf = bytearray(good)
        for off, fmt, value in edits:
            put(buf, off, fmt, value)
        return buf

    def ph_field(seg, field):
        return elf.ph_at(seg[0]) + field

    out = {}
    # Cut inside the last program header.
    out["truncated"] = good[: elf.table_end - PHDR.size // 2]
    # Cut in the middle of the PT_LOAD whose file bytes end last.
    with_data = [s for s in elf.loads if s[6] > 0]
    if not with_data:
        sys.exit("mkbadelf.py: no PT_LOAD with file bytes")
    last = max(with_data, key=lambda s: s[3] + s[6])
    cut = max(last[3] + last[6] // 2, elf.table_end)
    if cut >= last[3] + last[6]:
        cut = last[3] + last[6] - 1
    out["truncated-segment"] = good[:cut]
    out["huge-filesz"] = patched((ph_field(first, P_FILESZ), "Q", 1 << 63))
    out["huge-memsz"] = patched((ph_field(first, P_MEMSZ), "Q", 1 << 63))
    out["phoff-wild"] = patched((E_PHOFF, "Q", 0xFFFFFFFFFFFFF000))
    out["phnum-huge"] = patched((E_PHNUM, "H", 0xFFFF))
    # A second, read-only PT_LOAD on the text's first page.
    size = max(1, min(16, text[6]))
    out["overlap"] = with_extra_phdr(
        elf, (PT_LOAD, PF_R, text[3], text[4], text[4], size, size, PAGE)
    )
    out["entry-outside"] = patched((E_ENTRY, "Q", elf.free_va()))
    data_seg = next((s for s in elf.loads if not s[2] & PF_X), None)
    if data_seg is not None:
        out["entry-data"] = patched((E_ENTRY, "Q", data_seg[4] & ~1))
    else:  # add a read-only segment and point the entry there
        va = elf.free_va() + (text[3] % PAGE)
        buf = with_extra_phdr(elf, (PT_LOAD, PF_R, text[3], va, va, 16, 16, PAGE))
        put(buf, E_ENTRY, "Q", va & ~1)
        out["entry-data"] = buf
    # Segment addresses keep vaddr % 4096 == offset % 4096, so only the
    # address check can refuse them.
    high = max(elf.loads, key=lambda s: s[4])
    in_page = high[3] % PAGE
    out["kernel-address-trapframe"] = patched((ph_field(high, P_VADDR), "Q", TRAPFRAME_VA + in_page))
    out["kernel-address-high"] = patched((ph_field(high, P_VADDR), "Q", KERNEL_VA + in_page))
    out["wx"] = patched((ph_field(text, P_FLAGS), "I", PF_R | PF_W | PF_X))
    out["wrong-machine"] = patched((E_MACHINE, "H", 62))  # EM_X86_64
    elf32 = bytearray(good)
    elf32[4] = 1  # ELFCLASS32
    out["elf32"] = elf32
    rng = random.Random(20240611)
    noise = bytearray(rng.getrandbits(8) for _ in range(max(len(good), 4096)))
    noise[0] = 0x00  # never the ELF magic
    out["not-elf"] = noise
    out["empty"] = b""
    # vaddr + memsz = 2^64 + one page.
    out["wrap"] = patched((ph_field(high, P_MEMSZ), "Q", U64 - high[4] + PAGE))
    return out


def main(argv):
    if len(argv) != 3:
        sys.exit("usage: mkbadelf.py GOOD_ELF OUTDIR")
    with open(argv[1], "rb") as f:
        elf = Elf(f.read())
    outdir = argv[2]
    os.makedirs(outdir, exist_ok=True)
    names = []
    for case, data in cases(elf).items():
        name = "bad-" + case
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)
        names.append(name)
    with open(os.path.join(outdir, "list.txt"), "w") as f:
        f.write("".join(n + "\n" for n in names))


if __name__ == "__main__":
    main(sys.argv)
