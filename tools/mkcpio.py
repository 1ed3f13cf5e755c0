#!/usr/bin/env python3
"""Write a `cpio -H newc` archive (the Linux initramfs format) for the boot.

    mkcpio.py OUTPUT NAME=PATH [NAME=PATH ...]

Each PATH is stored as a regular file NAME (mode 0100755). The output is
reproducible: inodes count up from 1 in argument order, nlink 1, mtime,
uid and gid 0, device numbers 0, check 0. Header + name and the data are
each padded to a multiple of 4 bytes, and the archive ends with the
"TRAILER!!!" entry (servers/mm/cpio.h reads it).
"""

import os
import sys

MAGIC = b"070701"
TRAILER = "TRAILER!!!"
MAX_NAME = 255  # cpio_find's limit


def pad4(buf):
    buf.extend(b"\0" * (-len(buf) % 4))


def entry(buf, ino, mode, name, data):
    encoded = name.encode() + b"\0"
    fields = [
        ino,  # c_ino
        mode,  # c_mode
        0,  # c_uid
        0,  # c_gid
        1,  # c_nlink
        0,  # c_mtime
        len(data),  # c_filesize
        0,  # c_devmajor
        0,  # c_devminor
        0,  # c_rdevmajor
        0,  # c_rdevminor
        len(encoded),  # c_namesize (with the NUL)
        0,  # c_check
    ]
    buf.extend(MAGIC)
    for f in fields:
        buf.extend(b"%08X" % f)
    buf.extend(encoded)
    pad4(buf)
    buf.extend(data)
    pad4(buf)


def main(argv):
    if len(argv) < 3:
        sys.exit("usage: mkcpio.py OUTPUT NAME=PATH [NAME=PATH ...]")
    output, specs = argv[1], argv[2:]
    buf = bytearray()
    seen = set()
    for ino, spec in enumerate(specs, start=1):
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            sys.exit(f"mkcpio.py: {spec!r}: expected NAME=PATH")
        if "\0" in name or len(name.encode()) > MAX_NAME or name in (TRAILER, "./" + TRAILER):
            sys.exit(f"mkcpio.py: {name!r}: not a usable name")
        key = name[2:] if name.startswith("./") else name
        if key in seen:
            sys.exit(f"mkcpio.py: {name!r}: given twice")
        seen.add(key)
        with open(path, "rb") as f:
            data = f.read()
        if len(data) > 0xFFFFFFFF:
            sys.exit(f"mkcpio.py: {path}: too large for newc (4 GiB)")
        entry(buf, ino, 0o100755, name, data)
    entry(buf, 0, 0, TRAILER, b"")
    tmp = output + ".tmp"
    with open(tmp, "wb") as f:
        f.write(buf)
    os.replace(tmp, output)


if __name__ == "__main__":
    main(sys.argv)
