#!/usr/bin/env python3
"""Checks a RISC-V Linux Image header (as U-Boot's booti does) and can write
a copy with another text_offset: the same kernel, loaded by booti at another
RAM offset, which is how the tests prove the kernel runs wherever it lands.

Usage: image_tool.py check IMAGE
       image_tool.py rebase IMAGE OUTPUT TEXT_OFFSET
       image_tool.py jumpstub OUTPUT DELTA
           writes 8 bytes of RISC-V code (auipc t0, DELTA; jr t0) that jump
           DELTA bytes (a multiple of 4096) from where they are loaded: put at
           fw_jump's entry, it starts an Image loaded elsewhere.
"""
import struct
import sys


def header(data):
    if len(data) < 64:
        sys.exit('image_tool: shorter than the 64-byte Image header')
    code0, code1, text_offset, image_size, flags, version = struct.unpack_from('<IIQQQI', data, 0)
    magic, magic2 = data[0x30:0x38], data[0x38:0x3c]
    if magic2 != b'RSC\x05' or magic != b'RISCV\0\0\0':
        sys.exit('image_tool: bad magic (not a RISC-V Image)')
    if image_size < len(data) or image_size == 0:
        sys.exit(f'image_tool: image_size {image_size:#x} is smaller than the file ({len(data):#x})')
    if version != 2 or flags != 0:
        sys.exit(f'image_tool: version {version:#x} flags {flags:#x}: expected 0x2 and 0')
    return text_offset, image_size


def main():
    if len(sys.argv) == 3 and sys.argv[1] == 'check':
        text_offset, image_size = header(open(sys.argv[2], 'rb').read())
        print(f'{sys.argv[2]}: RISC-V Image, text_offset {text_offset:#x}, image_size {image_size:#x}')
    elif len(sys.argv) == 5 and sys.argv[1] == 'rebase':
        data = bytearray(open(sys.argv[2], 'rb').read())
        header(data)
        offset = int(sys.argv[4], 0)
        if offset % 0x200000:
            sys.exit('image_tool: text_offset must be a multiple of 2 MiB')
        struct.pack_into('<Q', data, 8, offset)
        open(sys.argv[3], 'wb').write(data)
    elif len(sys.argv) == 4 and sys.argv[1] == 'jumpstub':
        delta = int(sys.argv[3], 0)
        if delta % 4096 or not -(1 << 31) <= delta < (1 << 31):
            sys.exit('image_tool: DELTA must be a multiple of 4096 within +-2 GiB')
        auipc = ((delta >> 12) & 0xfffff) << 12 | 5 << 7 | 0x17  # auipc t0, delta
        jr = 0 << 20 | 5 << 15 | 0 << 7 | 0x67                   # jalr x0, 0(t0)
        open(sys.argv[2], 'wb').write(struct.pack('<II', auipc, jr))
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main()
