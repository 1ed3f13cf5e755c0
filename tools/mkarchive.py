#!/usr/bin/env python3
"""Builds the boot archive: every user program (NAME.elf is stored as NAME)
plus the malformed-ELF corpus from mkbadelf.py (stored as bad-CASE), packed
by mkcpio.py into one cpio newc archive.

Usage: mkarchive.py OUTPUT.cpio CORPUS_BASE.elf PROGRAM.elf...
"""
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))


def main():
    out, base, progs = sys.argv[1], sys.argv[2], sys.argv[3:]
    bad_dir = out + '.bad'
    os.makedirs(bad_dir, exist_ok=True)
    subprocess.run([sys.executable, os.path.join(here, 'mkbadelf.py'), base, bad_dir], check=True)
    members = []
    for path in progs:
        name = os.path.basename(path)
        if name.endswith('.elf'):
            name = name[:-4]
        members.append(f'{name}={path}')
    with open(os.path.join(bad_dir, 'list.txt')) as f:
        for line in f:
            name = line.strip()
            if name:
                members.append(f'{name}={os.path.join(bad_dir, name)}')
    subprocess.run([sys.executable, os.path.join(here, 'mkcpio.py'), out] + members, check=True)


if __name__ == '__main__':
    main()
