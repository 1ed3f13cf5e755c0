#!/usr/bin/env python3
"""In-QEMU test of an interactive run's exit status (TAP):

    exit_status.py STATUS TIMEOUT QEMU.PY-ARGS...

runs tools/qemu.py the way ./capframe run does (not --tap; stdin closed) and
checks it ends within TIMEOUT seconds with exit status STATUS."""
import os
import subprocess
import sys

status, timeout, args = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3:]
qemu_py = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tools', 'qemu.py')
cmd = [sys.executable, qemu_py] + args
print('# ' + ' '.join(cmd))
try:
    run = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, timeout=timeout)
    out, rc, finished = run.stdout, run.returncode, True
except subprocess.TimeoutExpired as e:
    out, rc, finished = e.stdout or b'', None, False
for line in out.decode('utf-8', 'replace').replace('\r', '').splitlines():
    print('# | ' + line)
print(f'{"ok" if finished else "not ok"} 1 - QEMU ended within {timeout:g}s')
print(f'{"ok" if rc == status else "not ok"} 2 - exit status {rc}, expected {status}')
print('1..2')
sys.exit(0 if finished and rc == status else 1)
