#!/usr/bin/env python3
"""Host test of tools/qemu.py (TAP): the log checks (the watchdog pairing of
--watchdog-recovers) and the depth of the pipe the guest's console writes to."""
import importlib.util
import pathlib
import sys

tools = pathlib.Path(__file__).resolve().parents[2] / 'tools' / 'qemu.py'
spec = importlib.util.spec_from_file_location('capframe_qemu', tools)
q = importlib.util.module_from_spec(spec)
spec.loader.exec_module(q)

WAIT = ('watchdog: hart 3 has waited 4008 ms for the kernel lock; hart 0 holds it with '
        'interrupts off (thread 1)')
LETS_GO = 'watchdog: hart 0 lets the kernel lock go'
NO_TICK = ('watchdog: hart 1 has taken no timer tick for 7994 ms: stuck with interrupts off '
           '(thread 931; kernel lock held by another hart)')
TICKS = 'watchdog: hart 1 takes timer ticks again'

cases = [
    ('no report', '', True),
    ('a stall that ends (host load)', '\n'.join([WAIT, LETS_GO, NO_TICK, TICKS]), True),
    ('a hold that never ends', WAIT, False),
    ('another hart lets go', WAIT + '\nwatchdog: hart 1 lets the kernel lock go', False),
    ('the recovery before the report', LETS_GO + '\n' + WAIT, False),
    ('no tick, never again', NO_TICK, False),
    ('a report of another kind', 'watchdog: hart 0 is on fire', False),
]
n = 0
failed = 0
for name, log, want in cases:
    n += 1
    got, what = q.watchdog_recovers(log)
    ok = got == want and (got or 'not for' in what)
    failed += not ok
    print(f'{"ok" if ok else "not ok"} {n} - watchdog_recovers: {name}')
# QEMU 7.2's SiFive UART drops what a full pipe cannot take: the pipe must
# hold a whole boot log (about 127 KiB on sifive_u) while the reader lags.
n += 1
probe = [sys.executable, '-c', 'import fcntl; print(fcntl.fcntl(1, fcntl.F_GETPIPE_SZ))']
out, rc, _, _ = q.run_guest(probe, 10)
depth = int(out.split()[0]) if rc == 0 and out.split() else 0
ok = depth >= 512 * 1024
failed += not ok
print(f'{"ok" if ok else "not ok"} {n} - the console pipe holds {depth} bytes (>= 512 KiB)')
print(f'1..{n}')
sys.exit(1 if failed else 0)
