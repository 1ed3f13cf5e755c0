#!/usr/bin/env python3
"""In-QEMU test of an interactive run's exit status (TAP):

    exit_status.py [--input TEXT] STATUS TIMEOUT QEMU.PY-ARGS...

runs tools/qemu.py the way ./capframe run does (not --tap), with TEXT piped
to it (or stdin closed), and checks it ends within TIMEOUT seconds with exit
status STATUS. TIMEOUT is seconds of CPU time, as qemu.py's --timeout."""
import os
import sys

argv = sys.argv[1:]
text = None
if argv[0] == '--input':
    text, argv = argv[1].encode(), argv[2:]
status, timeout, args = int(argv[0]), float(argv[1]), argv[2:]
tools = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tools')
sys.path.insert(0, tools)
import qemu  # noqa: E402

cmd = [sys.executable, os.path.join(tools, 'qemu.py')] + args
print('# ' + ' '.join(cmd))
out, rc, finished = qemu.run_budgeted(cmd, timeout, text)
for line in out.decode('utf-8', 'replace').replace('\r', '').splitlines():
    print('# | ' + line)
print(f'{"ok" if finished else "not ok"} 1 - QEMU ended within {timeout:g} s of CPU time')
print(f'{"ok" if rc == status else "not ok"} 2 - exit status {rc}, expected {status}')
print('1..2')
sys.exit(0 if finished and rc == status else 1)
