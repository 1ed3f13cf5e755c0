#!/usr/bin/env python3
"""In-QEMU test of an interactive run's exit status (TAP):

    exit_status.py [--input TEXT] STATUS TIMEOUT QEMU.PY-ARGS...

runs tools/qemu.py the way ./capframe run does (not --tap), with TEXT piped
to it (or stdin closed), and checks it ends within TIMEOUT seconds with exit
status STATUS."""
import os
import subprocess
import sys

argv = sys.argv[1:]
text = None
if argv[0] == '--input':
    text, argv = argv[1].encode(), argv[2:]
status, timeout, args = int(argv[0]), float(argv[1]), argv[2:]
qemu_py = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tools', 'qemu.py')
cmd = [sys.executable, qemu_py] + args
print('# ' + ' '.join(cmd))
try:
    run = subprocess.run(cmd, input=text, stdin=None if text is not None else subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    out, rc, finished = run.stdout, run.returncode, True
except subprocess.TimeoutExpired as e:
    out, rc, finished = e.stdout or b'', None, False
for line in out.decode('utf-8', 'replace').replace('\r', '').splitlines():
    print('# | ' + line)
print(f'{"ok" if finished else "not ok"} 1 - QEMU ended within {timeout:g}s')
print(f'{"ok" if rc == status else "not ok"} 2 - exit status {rc}, expected {status}')
print('1..2')
sys.exit(0 if finished and rc == status else 1)
