#!/usr/bin/env python3
"""Builds the boot archive: every user program (NAME.elf is stored as NAME)
plus the malformed-ELF corpus from mkbadelf.py (stored as bad-CASE), packed
by mkcpio.py into one cpio newc archive.

Programs are stored stripped (debug information stays in the build tree),
which keeps the boot image small enough to load below the kernel's link
address (tests/qemu: below-link-address-virt).

Usage: mkarchive.py STRIP OUTPUT.cpio CORPUS_BASE.elf PROGRAM.elf...
"""
import shutil
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))


def main():
    strip, out, base, progs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    bad_dir, stripped_dir = out + '.bad', out + '.stripped'
    os.makedirs(bad_dir, exist_ok=True)
    os.makedirs(stripped_dir, exist_ok=True)
    members = []
    for path in progs:
        name = os.path.basename(path)
        if name.endswith('.elf'):
            name = name[:-4]
        dst = os.path.join(stripped_dir, name)
        shutil.copyfile(path, dst)
        subprocess.run([strip, '--strip-all', dst], check=True)
        members.append(f'{name}={dst}')
        if os.path.abspath(path) == os.path.abspath(base):
            base = dst
    subprocess.run([sys.executable, os.path.join(here, 'mkbadelf.py'), base, bad_dir], check=True)
    with open(os.path.join(bad_dir, 'list.txt')) as f:
        for line in f:
            name = line.strip()
            if name:
                members.append(f'{name}={os.path.join(bad_dir, name)}')
    subprocess.run([sys.executable, os.path.join(here, 'mkcpio.py'), out] + members, check=True)


if __name__ == '__main__':
    main()
