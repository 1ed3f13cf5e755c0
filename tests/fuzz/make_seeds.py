#!/usr/bin/env python3
"""Writes the committed seed corpus of the fuzzers: tests/fuzz/corpus/TARGET/.

    python3 tests/fuzz/make_seeds.py [CORPUS_DIR]

Small valid inputs and edge cases, made here so that they can be read and
changed: device trees (a FDT writer; named *.fdt, as git ignores *.dtb), ELF
executables, cpio archives, and for the fuzzers that decode operation
sequences (buddy, captable, ranges, sv39) inputs encoded the way LLVM's
FuzzedDataProvider decodes them. Crash inputs a fuzzer
found are kept in the same directories under names starting "crash-" and are
not written by this script. The output is deterministic.
"""
import os
import struct
import sys

here = os.path.dirname(os.path.abspath(__file__))


def be32(v):
    return struct.pack('>I', v & 0xffffffff)


def cells(*vs):
    return b''.join(be32(v) for v in vs)


def strs(*ss):
    return b''.join(s.encode() + b'\0' for s in ss)


# ---- device trees ---------------------------------------------------------

class Fdt:
    """A flattened device tree writer (Devicetree Specification, chapter 5)."""

    def __init__(self):
        self.struct = bytearray()
        self.strings = bytearray()
        self.offsets = {}

    def _pad(self):
        self.struct += b'\0' * (-len(self.struct) % 4)

    def begin(self, name):
        self.struct += be32(1) + name.encode() + b'\0'
        self._pad()
        return self

    def prop(self, name, value=b''):
        if name not in self.offsets:
            self.offsets[name] = len(self.strings)
            self.strings += name.encode() + b'\0'
        self.struct += be32(3) + be32(len(value)) + be32(self.offsets[name]) + value
        self._pad()
        return self

    def end(self):
        self.struct += be32(2)
        return self

    def blob(self, reserve=(), version=17):
        rsv = b''.join(struct.pack('>QQ', a, s) for a, s in list(reserve) + [(0, 0)])
        off_rsv = 40
        off_struct = off_rsv + len(rsv)
        body = bytes(self.struct) + be32(9)
        off_strings = off_struct + len(body)
        total = off_strings + len(self.strings)
        header = cells(0xd00dfeed, total, off_struct, off_strings, off_rsv, version,
                       16, 0, len(self.strings), len(body))
        return header + rsv + body + bytes(self.strings)


def virt_tree(uart_shift=0, io_width=1, stdout='/soc/serial@10000000', status='okay'):
    t = Fdt().begin('')
    t.prop('#address-cells', cells(2)).prop('#size-cells', cells(2))
    t.prop('compatible', strs('riscv-virtio')).prop('model', strs('riscv-virtio,qemu'))
    t.begin('chosen').prop('bootargs', strs('init=hello vmprint=off -- a b'))
    t.prop('stdout-path', strs(stdout)).end()
    t.begin('aliases').prop('serial0', strs('/soc/serial@10000000')).end()
    t.begin('memory@80000000').prop('device_type', strs('memory'))
    t.prop('reg', cells(0, 0x80000000, 0, 0x8000000)).end()
    t.begin('reserved-memory').prop('#address-cells', cells(2)).prop('#size-cells', cells(2))
    t.prop('ranges').begin('mmode_resv0@80000000').prop('reg', cells(0, 0x80000000, 0, 0x40000))
    t.end().end()
    t.begin('cpus').prop('#address-cells', cells(1)).prop('#size-cells', cells(0))
    t.prop('timebase-frequency', cells(10000000))
    for hart in range(2):
        t.begin(f'cpu@{hart}').prop('device_type', strs('cpu')).prop('reg', cells(hart))
        t.prop('status', strs(status if hart else 'okay')).prop('mmu-type', strs('riscv,sv39'))
        t.prop('riscv,isa', strs('rv64imafdc'))
        t.begin('interrupt-controller').prop('compatible', strs('riscv,cpu-intc'))
        t.prop('phandle', cells(hart + 1)).end()
        t.end()
    t.end()
    t.begin('soc').prop('#address-cells', cells(2)).prop('#size-cells', cells(2))
    t.prop('compatible', strs('simple-bus')).prop('ranges')
    t.begin('serial@10000000').prop('compatible', strs('ns16550a'))
    t.prop('reg', cells(0, 0x10000000, 0, 0x100)).prop('clock-frequency', cells(3686400))
    t.prop('interrupts', cells(10)).prop('reg-shift', cells(uart_shift))
    t.prop('reg-io-width', cells(io_width)).end()
    t.begin('plic@c000000').prop('compatible', strs('sifive,plic-1.0.0', 'riscv,plic0'))
    t.prop('reg', cells(0, 0xc000000, 0, 0x600000)).prop('riscv,ndev', cells(95))
    t.prop('interrupts-extended', cells(1, 11, 1, 9, 2, 11, 2, 9)).end()
    t.begin('clint@2000000').prop('compatible', strs('sifive,clint0', 'riscv,clint0'))
    t.prop('reg', cells(0, 0x2000000, 0, 0x10000)).end()
    t.begin('virtio_mmio@10001000').prop('compatible', strs('virtio,mmio'))
    t.prop('reg', cells(0, 0x10001000, 0, 0x1000)).end()
    t.end()
    return t.end()


def translated_tree():
    """32-bit buses with ranges that move child addresses, an alias path."""
    t = Fdt().begin('').prop('#address-cells', cells(2)).prop('#size-cells', cells(2))
    t.begin('chosen').prop('stdout-path', strs('serial0:115200n8')).end()
    t.begin('aliases').prop('serial0', strs('/soc/bus@0/uart@100')).end()
    t.begin('memory@40000000').prop('device_type', strs('memory'))
    t.prop('reg', cells(0, 0x40000000, 0, 0x10000000, 1, 0, 0, 0x1000)).end()
    t.begin('cpus').prop('#address-cells', cells(1)).prop('#size-cells', cells(0))
    t.begin('cpu@0').prop('device_type', strs('cpu')).prop('reg', cells(0))
    t.prop('mmu-type', strs('riscv,sv48')).prop('timebase-frequency', cells(0, 4000000)).end()
    t.end()
    t.begin('soc').prop('compatible', strs('simple-bus')).prop('#address-cells', cells(1))
    t.prop('#size-cells', cells(1)).prop('ranges', cells(0, 0, 0x20000000, 0x1000000))
    t.begin('bus@0').prop('compatible', strs('simple-bus')).prop('#address-cells', cells(1))
    t.prop('#size-cells', cells(1)).prop('ranges', cells(0, 0x10000, 0x10000))
    t.begin('uart@100').prop('compatible', strs('snps,dw-apb-uart'))
    t.prop('reg', cells(0x100, 0x100)).prop('reg-shift', cells(2)).prop('reg-io-width', cells(4))
    t.prop('status', strs('ok')).end()
    t.end().end()
    return t.end()


def deep_tree(depth=16):
    t = Fdt().begin('')
    for i in range(depth - 1):
        t.begin(f'n{i}').prop('linux,phandle', cells(i + 1))
    for i in range(depth - 1):
        t.end()
    return t.end()


def duplicate_names_tree():
    """Two siblings of one name (not a valid tree, not rejected either): a
    path lookup finds the first, which lacks the second's child."""
    t = Fdt().begin('').begin('memory@0').prop('device_type', strs('memory'))
    t.prop('reg', cells(0, 0, 0, 0x1000000)).end()
    t.begin('cpus').prop('#address-cells', cells(1)).prop('#size-cells', cells(0))
    t.prop('timebase-frequency', cells(1000000))
    t.begin('cpu@0').prop('device_type', strs('cpu')).prop('reg', cells(0)).end()
    t.begin('cpu@0').prop('device_type', strs('cpu')).prop('reg', cells(1))
    t.begin('interrupt-controller').prop('compatible', strs('riscv,cpu-intc')).end().end()
    t.end()
    return t.end()


def fdt_seeds():
    out = {
        'virt.fdt': virt_tree().blob(reserve=[(0x80000000, 0x200000)]),
        'virt-v16.fdt': virt_tree().blob(version=16),
        'visionfive-uart.fdt': virt_tree(uart_shift=2, io_width=4).blob(),
        'bad-uart-width.fdt': virt_tree(io_width=2, status='disabled').blob(),
        'stdout-missing.fdt': virt_tree(stdout='/nowhere').blob(),
        'translated.fdt': translated_tree().blob(),
        'deep.fdt': deep_tree().blob(),
        'too-deep.fdt': deep_tree(17).blob(),
        'duplicate-names.fdt': duplicate_names_tree().blob(),
    }
    good = virt_tree().blob()
    out['truncated.fdt'] = good[:len(good) // 2]
    out['bootargs.txt'] = b'init=usertests vmprint=summary mmtest=1 -- -q fork\0'
    return out


# ---- ELF executables ------------------------------------------------------

PT_LOAD, PT_DYNAMIC, PT_INTERP, PT_NOTE = 1, 2, 3, 4
PT_GNU_STACK = 0x6474e551
R, W, X = 4, 2, 1


def elf(entry, phs, size=None, machine=243, etype=2):
    """phs: (type, flags, offset, vaddr, filesz, memsz, align) tuples."""
    need = 64 + 56 * len(phs)
    body = bytearray(max(size or 0, need))
    for i in range(need, len(body)):
        body[i] = (i * 7 + 3) & 0xff
    body[0:16] = b'\x7fELF\x02\x01\x01' + b'\0' * 9
    struct.pack_into('<HHIQQQIHHHHHH', body, 16, etype, machine, 1, entry, 64, 0, 5, 64, 56,
                     len(phs), 64, 0, 0)
    for i, (typ, flags, off, vaddr, filesz, memsz, align) in enumerate(phs):
        struct.pack_into('<IIQQQQQQ', body, 64 + 56 * i, typ, flags, off, vaddr, vaddr, filesz,
                         memsz, align)
    return bytes(body)


def elf_seeds():
    text = (PT_LOAD, R | X, 0x0, 0x10000, 0x200, 0x200, 0x1000)
    data = (PT_LOAD, R | W, 0x200, 0x11200, 0x40, 0x1000, 0x1000)
    return {
        'minimal': elf(0x10078, [text], 0x200),
        'text-data-bss': elf(0x10078, [text, data, (PT_GNU_STACK, R | W, 0, 0, 0, 0, 16)], 0x240),
        'empty-load-note': elf(0x10100, [(PT_LOAD, R, 0x123, 0, 0, 0, 0x1000), text,
                                         (PT_NOTE, R, 0x40, 0, 0x20, 0x20, 4)], 0x200),
        'eight-segments': elf(0x10000, [(PT_LOAD, R | X if i == 0 else R, 0x40 * i,
                                         0x10000 + 0x1000 * i, 0x40, 0x40, 0) for i in range(8)],
                              0x240),
        'nine-segments': elf(0x10000, [(PT_LOAD, R | X, 0, 0x10000 + 0x1000 * i, 0, 8, 0)
                                       for i in range(9)]),
        'wx': elf(0x10000, [(PT_LOAD, R | W | X, 0, 0x10000, 0x100, 0x100, 0x1000)], 0x200),
        'overlap': elf(0x10000, [text, (PT_LOAD, R, 0x200, 0x10200, 0x10, 0x10, 0)], 0x240),
        'wrap': elf(0x10000, [text, (PT_LOAD, R, 0, 0x20000, 0, 0xffffffffffff0000, 0)], 0x200),
        'near-top': elf(0x3fffffb000, [(PT_LOAD, R | X, 0, 0x3fffffb000, 0x100, 0x2000, 0x1000)],
                        0x200),
        'interp': elf(0x10078, [(PT_INTERP, R, 0x100, 0, 0x10, 0x10, 1), text], 0x200),
        'odd-entry': elf(0x10079, [text], 0x200),
        'wrong-machine': elf(0x10078, [text], 0x200, machine=62),
        'header-only': elf(0x10078, [text])[:64],
        'phdrs-past-end': elf(0x10078, [text, data])[:100],
    }


# ---- cpio archives --------------------------------------------------------

def cpio(entries, trailer=True):
    out = bytearray()

    def pad():
        out.extend(b'\0' * (-len(out) % 4))

    for ino, (name, mode, data) in enumerate(list(entries) + ([('TRAILER!!!', 0, b'')]
                                                               if trailer else []), 1):
        enc = name.encode() + b'\0'
        out += b'070701' + b''.join(b'%08X' % f for f in
                                    (ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(enc), 0))
        out += enc
        pad()
        out += data
        pad()
    return bytes(out)


def cpio_seeds():
    reg, dirm = 0o100755, 0o040755
    files = [('.', dirm, b''), ('init', reg, b'\x7fELF...'), ('./hello', reg, b'hi!\n'),
             ('abc', reg, b'12345'), ('dev', 0o020644, b'')]
    return {
        'archive': cpio(files),
        'no-trailer': cpio(files, trailer=False),
        'duplicate': cpio([('init', reg, b'a'), ('./init', reg, b'bb')]),
        'lowercase-hex': cpio(files).replace(b'000081ED', b'000081ed'),
        'crc-magic': cpio(files).replace(b'070701', b'070702', 1),
        'long-name': cpio([('n' * 255, reg, b'x'), ('m' * 256, reg, b'y')]),
        'truncated': cpio(files)[:200],
        'empty': b'',
    }


# ---- operation sequences (FuzzedDataProvider) -----------------------------

class Fdp:
    """Encodes values for FuzzedDataProvider::ConsumeIntegralInRange, which
    takes bytes from the end of the data, most significant first."""

    def __init__(self):
        self.tail = []

    def int(self, v, lo, hi, bits=64):
        assert lo <= v <= hi, (v, lo, hi)
        rng, x, n = hi - lo, v - lo, 0
        while n * 8 < bits and (rng >> (n * 8)) > 0:
            n += 1
        self.tail += [(x >> (8 * (n - 1 - i))) & 0xff for i in range(n)]
        return self

    def bool(self, b):
        return self.int(int(b), 0, 255, 8)

    def i8(self, v):
        return self.int(v, -128, 127, 8)

    def u64(self, v):
        return self.int(v, 0, 2**64 - 1)

    def data(self):
        return bytes(reversed(self.tail))


def buddy_seeds():
    def start(pages=64, base=0, cover=True):
        f = Fdp().int(pages, 1, 2048, 32).int(base, 0, 255, 8).bool(cover)
        return f

    def alloc(f, order, task=1, use=0):
        f.int(0, 0, 9, 32).int(order, 0, 28, 8).int(task, 0, 64, 32).int(use, 0, 4)

    def free(f, index, n):
        f.int(3, 0, 9, 32)
        if n > 1:
            f.int(index, 0, n - 1)

    out = {}
    f = start()
    for order in (0, 3, 6, 1, 0):
        alloc(f, order)
    free(f, 0, 4)
    free(f, 1, 3)
    alloc(f, 2, task=64, use=4)
    out['alloc-free'] = f.data()

    f = start(pages=48, base=8)
    f.int(7, 0, 9, 32).bool(True).int(2, 0, 8)  # the 2nd split fails
    alloc(f, 0)
    f.int(7, 0, 9, 32).bool(False).int(1, 0, 8)  # the next merge is refused
    alloc(f, 0)
    free(f, 0, 1)
    out['split-merge-failures'] = f.data()

    f = start(pages=100, cover=False).int(2, 1, 8, 32)
    f.int(10, 0, 100).int(50, 0, 90).int(64, 0, 100).int(36, 0, 36)
    f.int(6, 0, 9, 32).bool(True).int(0, 0, 100).int(3, 0, 30, 8)   # overlaps: AlreadyMapped
    f.int(6, 0, 9, 32).bool(False).u64(2**64 - 4096).int(0, 0, 30, 8)
    f.int(8, 0, 9, 32).int(1, 0, 4)                                 # injected alloc failure
    alloc(f, 0)
    out['roots'] = f.data()

    f = start(pages=16)
    alloc(f, 1)
    f.int(5, 0, 9, 32).int(1, 0, 5, 32).int(1, -128, 127, 8).bool(True)  # wrong slot
    f.int(5, 0, 9, 32).int(4, 0, 5, 32)                                   # a free block
    free(f, 0, 1)
    f.int(5, 0, 9, 32).int(0, 0, 5, 32)                                   # a double free
    out['forged-free'] = f.data()

    f = start(pages=1)
    for task, use, op, n in ((3, 0, 0, 7), (3, 0, 1, 8), (64, 4, 0, 2**64 - 1), (64, 4, 0, 1),
                             (65, 0, 0, 1), (3, 5, 0, 1), (3, 0, 2, 0)):
        f.int(9, 0, 9, 32).int(task, 0, 66, 32).int(use, 0, 5, 8)
        if n <= 64:
            f.bool(True).int(n, 0, 64)
        else:
            f.bool(False).u64(n)
        f.int(op, 0, 2, 32)
    out['accounting'] = f.data()
    return out


K4, M2, G1 = 4096, 2 << 20, 1 << 30


def sv39_seeds():
    va_bases = [0, 0x10000, G1, 2 * G1, (1 << 38) - G1, (1 << 38) - M2, (1 << 38) - 2 * K4,
                1 << 38, 2**64 - G1]
    pa_bases = [0x80000000, 0x80200000, 0x80001000, 4 * G1, (1 << 56) - G1, 1 << 56, 0]
    units = {M2: 0, G1: 1, K4: 2}

    def addr(f, bases, base, steps=0, unit=K4):
        f.int(bases.index(base), 0, len(bases) - 1).i8(steps).int(units[unit], 0, 3, 32)
        f.int(1, 0, 15, 32).int(1, 0, 31, 32)

    def size(f, n, unit=K4):
        f.int(n, 0, 8).int(units[unit], 0, 3, 32).int(1, 0, 15, 32).int(1, 0, 31, 32)

    def map_(f, va, pa, n, unit, perm=1, allowed=2, fail=None):
        f.int(0, 0, 6, 32)
        addr(f, va_bases, *va)
        addr(f, pa_bases, *pa)
        size(f, n, unit)
        f.bool(True).int(perm, 0, 4)
        f.int(allowed, 0, 2, 32)
        if fail is None:
            f.int(1, 0, 7, 32)
        else:
            f.int(0, 0, 7, 32).int(fail, 0, 3, 32)

    def unmap(f, va, n, unit, op=3):
        f.int(op, 0, 6, 32).bool(False)
        addr(f, va_bases, *va)
        size(f, n, unit)
        f.bool(True).int(0, 0, 4)

    out = {}
    f = Fdp()
    map_(f, (0x10000, 0), (0x80000000, 0), 3, K4)
    map_(f, (G1, 0), (0x80000000, 0), 2, M2)
    map_(f, (2 * G1, 0), (4 * G1, 0), 1, G1)
    unmap(f, (G1, 0), 1, M2)
    unmap(f, (G1, 0, M2), 1, M2, op=5)
    unmap(f, (2 * G1, 1, M2), 1, M2)  # would split the 1 GiB leaf
    f.int(6, 0, 6, 32).bool(False)
    addr(f, va_bases, 0x10000, 1)
    out['mixed-sizes'] = f.data()

    f = Fdp()
    map_(f, ((1 << 38) - 2 * K4, 0), (0x80000000, 0), 2, K4, perm=0)
    map_(f, ((1 << 38) - 2 * K4, 0), (0x80000000, 0), 3, K4)   # past MAXVA
    map_(f, (1 << 38, 0), (0x80000000, 0), 1, K4)               # at MAXVA
    map_(f, ((1 << 38) - G1, 0), ((1 << 56) - G1, 0), 1, G1)    # top of both spaces
    map_(f, (2**64 - G1, 0), (0x80000000, 0), 1, G1)            # wraps
    out['maxva-edges'] = f.data()

    f = Fdp()
    map_(f, (0, 0), (0x80200000, 0), 4, M2, allowed=0, fail=2)  # NoMemory, rolled back
    map_(f, (0, 0), (0x80200000, 0), 4, M2, allowed=1)
    map_(f, (0, 1), (0x80001000, 0), 4, K4, allowed=2, fail=0)
    out['alloc-failure'] = f.data()
    return out


def captable_seeds():
    def slot(f, n, forged=None):
        if forged is None:
            f.int(6, 0, 15, 32).int(n, 0, 15)
        elif forged == 'zero':
            f.int(0, 0, 15, 32)
        elif forged == 'past':
            f.int(1, 0, 15, 32).int(n, 0, 2)
        elif forged == 'huge':
            f.int(3, 0, 15, 32).int(n, 0, 63, 32)
        else:
            f.int(2, 0, 15, 32).u64(n)

    ops = dict(copy=0, delete=1, revoke=2, split=3, retype=4, map=5, unmap=6, maptable=7,
               unmaptable=8, busy=9, info=10)

    def call(f, op, a0=0, a1=0, a2=0, forged=(None, None, None)):
        f.int(ops[op], 0, 10, 8)
        for v, kind in zip((a0, a1, a2), forged):
            slot(f, v, kind)

    def copy(f, src, dst_table_own=True, dst=0, rights=31, badge=0, table=0):
        call(f, 'copy', src, table, dst)
        f.int(1 if dst_table_own else 0, 0, 3, 32)
        f.int(1, 0, 7, 32).int(rights, 0, 255, 8)
        f.int(0, 0, 3, 32) if badge else f.int(1, 0, 3, 32)
        if badge:
            f.int(badge, 1, 3, 32)

    def retype(f, frame, typ, dst=0):
        call(f, 'retype', frame, 0, dst)
        f.int(1, 0, 15, 32).int(typ, 0, 7, 32)

    out = {}
    # Full slots are numbered from 0 in slot order: the roots are 1..6.
    f = Fdp()
    copy(f, 0)                  # frame 1 -> slot 7
    retype(f, 6, 5)             # retype the copy as a CapTable: must be refused (Busy)
    retype(f, 1, 5)             # frame 2 (order 5) -> CapTable in slot 8
    copy(f, 3, dst_table_own=False, table=7, dst=3)  # frame 4 into that table
    call(f, 'busy', 7, 7)
    call(f, 'delete', 7)
    call(f, 'revoke', 1)
    out['copy-retype-captable'] = f.data()

    # Cap::zeroed: a deleted object leaves its frame known zero; a copy that
    # maps and writes it, or a split whose half does, must end that.
    f = Fdp()
    retype(f, 2, 2)             # frame 3 (order 2) -> AddressSpace in slot 7
    call(f, 'delete', 6)        # zeroed again: frame 3 is known zero
    copy(f, 2)                  # a copy of frame 3 in slot 7
    call(f, 'map', 6)           # mapped writable: written (frame 3 no longer known zero)
    call(f, 'retype', 2, 0, 1)  # refused: it has a copy
    out['zeroed-then-copied'] = f.data()

    f = Fdp()
    retype(f, 2, 2)             # frame 3 -> AddressSpace in slot 7, deleted: known zero
    call(f, 'delete', 6)
    call(f, 'split', 2, 0, 1)   # halves in 7 and 8 inherit it
    call(f, 'map', 6)           # the lower half written
    call(f, 'unmap', 6)
    call(f, 'delete', 7)
    call(f, 'delete', 6)        # frame 3 whole again: not known zero
    retype(f, 2, 2)
    out['zeroed-then-split'] = f.data()

    f = Fdp()
    call(f, 'split', 0, 0, 1)   # frame 1 -> halves in 7 and 8
    call(f, 'split', 6, 0, 1)
    call(f, 'map', 7)
    retype(f, 4, 4)             # frame 5 (order 0) -> Endpoint
    retype(f, 2, 2)             # frame 3 (order 2) -> AddressSpace
    call(f, 'maptable', 4)
    call(f, 'unmaptable', 4)
    call(f, 'revoke', 0)
    call(f, 'delete', 0)
    out['split-map-retype'] = f.data()

    f = Fdp()
    copy(f, 5, badge=2)         # the boot endpoint, badged
    copy(f, 6, badge=3)         # a badge on a badged endpoint: InvalidArgument
    call(f, 'delete', 0, forged=('zero', None, None))
    call(f, 'delete', 0, forged=('past', None, None))
    call(f, 'revoke', 63, forged=('huge', None, None))
    call(f, 'info', 2**64 - 1, forged=('any', None, None))
    call(f, 'map', 3)           # frame 4: R|W|Map
    call(f, 'map', 4)           # frame 5: no Map right
    call(f, 'unmap', 3)
    out['forged-slots'] = f.data()
    return out


def ranges_seeds():
    bases = [0, 0x1000, 0x80000000, 1 << 63, 2**64 - 1]

    def step(f, op, base, steps=0, page=True, n=1, size_page=True, size_kind=3):
        f.int(bases.index(base), 0, len(bases) - 1).i8(steps).bool(page).int(1, 0, 15, 32)
        f.int(size_kind, 0, 7, 32)
        if size_kind == 2:
            f.int(n, 0, 0x2000)
        elif size_kind >= 3:
            f.int(n, 1, 64).bool(size_page)
        f.int(op, 0, 5, 32)
        return f

    add, sub, trim, take, contains, overlaps = range(6)
    out = {}
    f = Fdp()
    step(f, add, 0x80000000, 0, n=64)
    step(f, add, 0x80000000, 100, n=8)
    step(f, add, 0x80000000, 64, n=36)             # bridges the gap
    step(f, sub, 0x80000000, 10, page=False, n=3, size_page=False)
    step(f, trim, 0, 0)
    step(f, take, 0x1000, 0, n=2).bool(True).int(14, 0, 63, 32)
    step(f, contains, 0x80000000, 20, n=4)
    step(f, overlaps, 0x80000000, -1, n=2)
    out['add-subtract-take'] = f.data()

    f = Fdp()
    step(f, add, 2**64 - 1, -16, n=15)             # ends one byte below 2^64
    step(f, add, 2**64 - 1, -16, n=16)             # wraps: OutOfRange
    step(f, sub, 1 << 63, 0, size_kind=2, n=0x10)  # huge: clamps at the top
    step(f, take, 0, 0, n=1).bool(False).u64(3)    # not a power of two
    out['top-of-space'] = f.data()
    return out


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, 'corpus')
    for target, seeds in (('fdt', fdt_seeds()), ('elf', elf_seeds()), ('cpio', cpio_seeds()),
                          ('buddy', buddy_seeds()), ('sv39', sv39_seeds()),
                          ('captable', captable_seeds()), ('ranges', ranges_seeds())):
        d = os.path.join(root, target)
        os.makedirs(d, exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(d, name), 'wb') as f:
                f.write(data)


if __name__ == '__main__':
    main()
