#!/usr/bin/env python3
"""In-QEMU test of ./capframe memmap (TAP):

    memmap_test.py TIMEOUT QEMU.PY-ARGS...

boots with qemu.py as ./capframe memmap does, then draws the frame map with
tools/memmap.py, which checks the runs add up to mm's frame count."""
import os
import re
import subprocess
import sys
import tempfile

timeout, args = float(sys.argv[1]), sys.argv[2:]
tools = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tools')
sys.path.insert(0, tools)
import qemu  # noqa: E402

cmd = [sys.executable, os.path.join(tools, 'qemu.py')] + args
print('# ' + ' '.join(cmd))
out, rc, _ = qemu.run_budgeted(cmd, timeout)  # TIMEOUT: seconds of CPU time, as qemu.py's
log = out.decode('utf-8', 'replace').replace('\r', '')
results = [(rc == 0, f'the memmap program exited with status 0 (QEMU run: {rc})')]
with tempfile.TemporaryDirectory() as d:
    with open(os.path.join(d, 'console.log'), 'w') as f:
        f.write(log)
    draw = subprocess.run([sys.executable, os.path.join(tools, 'memmap.py'),
                           os.path.join(d, 'console.log'), os.path.join(d, 'memmap.svg')],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in (log.splitlines() + draw.stdout.splitlines()):
        print('# | ' + line)
    results.append((draw.returncode == 0, 'memmap.py read the runs and they add up'))
    picture = open(os.path.join(d, 'memmap.svg')).read() if draw.returncode == 0 else ''
# Three children hold 64, 128 and 256 heap pages; the first one's child
# shares its 64 copy-on-write. Which pids they get depends on whether the
# first child forks before its parent's next fork: matched by size, each
# holder once.
holders = [(int(m.group(1)), int(m.group(2)), m.group(3)) for m in
           re.finditer(r'^memmap: +([0-9]+) frames  pid ([0-9]+) \(memmap\) (\w+)$',
                       draw.stdout, re.M)]
used = set()
for kind, least in [('user', 256), ('user', 128), ('shared', 64)]:
    found = next((pid for n, pid, k in holders
                  if k == kind and n >= least and pid not in used), None)
    if found is not None:
        used.add(found)
    results.append((found is not None,
                    f'a child holds at least {least} {kind} frames' +
                    (f' (pid {found})' if found is not None else '')))
results.append((picture.startswith('<svg') and picture.count('<rect') > 10,
                'the SVG has the frames drawn'))
results.append(('every frame came back' in log, 'every frame came back'))
for i, (ok, what) in enumerate(results, 1):
    print(f'{"ok" if ok else "not ok"} {i} - {what}')
print(f'1..{len(results)}')
sys.exit(0 if all(ok for ok, _ in results) else 1)
