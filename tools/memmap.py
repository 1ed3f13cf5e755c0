#!/usr/bin/env python3
"""Draws mm's frame map (./capframe memmap) as an SVG.

    memmap.py CONSOLE.LOG OUT.svg

Reads the "memmap: PA COUNT KIND PID NAME" lines mm prints for the memmap
request (between "memmap: begin, N frames, F free" and "memmap: end, R
runs"), checks they add up, and draws every frame as a cell, row by row in
address order, coloured by who holds it: free, mm, or a process (hue per
pid; darker for its page tables, kernel stack and kernel objects, lighter
for pages it shares copy-on-write). Gaps between runs (the kernel, mm's
image, firmware) stay grey. Prints one line per holder; exits 1 if the
lines are missing or do not add up."""
import colorsys
import re
import sys

COLUMNS = 256  # frames per row: 1 MiB
CELL = 3  # pixels per frame

RUN = re.compile(r'^memmap: 0x([0-9a-f]+) ([0-9]+) (free|user|shared|ptable|kobj|kstack|mm) '
                 r'(-?[0-9]+) (\S+)$', re.M)
BEGIN = re.compile(r'^memmap: begin, ([0-9]+) frames, ([0-9]+) free$', re.M)
END = re.compile(r'^memmap: end, ([0-9]+) runs$', re.M)

# Lightness by kind: a process's own pages in its hue, the kernel's view of
# it (tables, stack, objects) darker, shared pages lighter.
LIGHTNESS = {'user': 0.55, 'shared': 0.78, 'ptable': 0.35, 'kobj': 0.25, 'kstack': 0.3}


def parse(text):
    begin, end = BEGIN.search(text), END.search(text)
    if not begin or not end:
        raise ValueError('no "memmap: begin" / "memmap: end" lines: did the memmap program run?')
    runs = [(int(pa, 16), int(n), kind, int(pid), name)
            for pa, n, kind, pid, name in RUN.findall(text[begin.end():end.start()])]
    total, free = int(begin.group(1)), int(begin.group(2))
    problems = []
    if len(runs) != int(end.group(1)):
        problems.append(f'{len(runs)} runs read, mm printed {end.group(1)}')
    if sum(r[1] for r in runs) != total:
        problems.append(f'runs hold {sum(r[1] for r in runs)} frames, mm has {total}')
    if sum(r[1] for r in runs if r[2] == 'free') != free:
        problems.append(f'free runs hold {sum(r[1] for r in runs if r[2] == "free")}, mm has {free}')
    for a, b in zip(runs, runs[1:]):
        if b[0] < a[0] + a[1] * 4096:
            problems.append(f'runs at {a[0]:#x} and {b[0]:#x} overlap or are out of order')
    if problems:
        raise ValueError('; '.join(problems))
    return runs, total, free


def colour(kind, pid):
    if kind == 'free':
        return '#f4f4f4'
    if kind == 'mm':
        return '#222222'
    hue = (pid * 0.618033988749895) % 1.0  # golden ratio: neighbours differ
    r, g, b = colorsys.hls_to_rgb(hue, LIGHTNESS[kind], 0.65)
    return f'#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}'


def svg(runs):
    base = runs[0][0] & ~(COLUMNS * 4096 - 1)
    last = runs[-1][0] + runs[-1][1] * 4096
    rows = (last - base + COLUMNS * 4096 - 1) // (COLUMNS * 4096)
    legend = {}
    for pa, n, kind, pid, name in runs:
        label = 'free' if kind == 'free' else 'mm' if kind == 'mm' else f'pid {pid} ({name}) {kind}'
        legend.setdefault(label, [colour(kind, pid), 0])[1] += n
    width = COLUMNS * CELL + 120
    top = 20
    height = top + rows * CELL + 20 + 16 * len(legend)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="monospace" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="0" y="12">physical frames from {base:#x}, {COLUMNS} per row (1 MiB)</text>',
           f'<rect x="0" y="{top}" width="{COLUMNS * CELL}" height="{rows * CELL}" fill="#bbbbbb"/>']
    for row in range(rows):
        addr = base + row * COLUMNS * 4096
        if row % 16 == 0:
            out.append(f'<text x="{COLUMNS * CELL + 6}" y="{top + row * CELL + 9}">{addr:#x}</text>')
    for pa, n, kind, pid, name in runs:
        first = (pa - base) // 4096
        while n:
            row, col = divmod(first, COLUMNS)
            take = min(n, COLUMNS - col)
            out.append(f'<rect x="{col * CELL}" y="{top + row * CELL}" width="{take * CELL}" '
                       f'height="{CELL}" fill="{colour(kind, pid)}"/>')
            first, n = first + take, n - take
    y = top + rows * CELL + 20
    for label, (fill, frames) in sorted(legend.items(), key=lambda kv: -kv[1][1]):
        out.append(f'<rect x="0" y="{y - 9}" width="10" height="10" fill="{fill}" stroke="#888"/>')
        out.append(f'<text x="16" y="{y}">{label}: {frames} frames</text>')
        y += 16
    out.append('</svg>')
    return '\n'.join(out) + '\n', legend


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    text = open(sys.argv[1], encoding='utf-8', errors='replace').read().replace('\r', '')
    try:
        runs, total, free = parse(text)
    except ValueError as e:
        print(f'memmap.py: {e}', file=sys.stderr)
        return 1
    picture, legend = svg(runs)
    with open(sys.argv[2], 'w') as f:
        f.write(picture)
    for label, (_, frames) in sorted(legend.items(), key=lambda kv: -kv[1][1]):
        print(f'memmap: {frames:7d} frames  {label}')
    print(f'memmap: {total} frames, {free} free, {len(runs)} runs; picture in {sys.argv[2]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
