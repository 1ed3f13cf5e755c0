#!/usr/bin/env python3
"""The long hardening runs (`./capframe soak`): boots Capframe once per run
below, each with its own time limit, keeps every console log, and prints one
line per figure (docs/reliability.md):

  syscalls fuzzed, panics, frames lost, injected faults survived,
  exhaustion rounds, isolation attempts blocked, SMP soak, worst console
  gap, watchdog reports

Exits 0 only if every run passed and panics, frames lost and watchdog
reports are all 0. --quick scales every run down (a check of this script).
"""
import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def runs(quick):
    # (name, harts, memory, init and its arguments, time limit in seconds
    # [, under -icount: repeatable timing])
    q = quick
    return [
        ('fuzz-smp4', 4, '256M', f'fuzz -n {20000 if q else 1000000} -s 12 -j 4', 2400),
        ('failalloc-smp1', 1, '128M', f'stress failalloc {1 if q else 10}', 1200),
        ('failalloc-smp4', 4, '128M', f'stress failalloc {1 if q else 10}', 1200),
        ('isolation-smp1', 1, '128M', 'isolation', 600),
        ('isolation-smp4', 4, '128M', 'isolation', 600),
        ('smp-soak-smp4', 4, '128M', f'stress smp {20 if q else 120} 8', 1200),
        ('exhaust-smp1', 1, '48M', f'stress exhaust {2 if q else 100}', 3600),
        ('exhaust-smp4', 4, '48M', f'stress exhaust {2 if q else 100}', 3600),
        ('fuzz-smp1', 1, '256M', f'fuzz -n {20000 if q else 200000} -s 11 -j 1', 1200),
        # console writers against uptime(): the worst gap (tick + one chunk)
        ('console-gap-smp1', 1, '128M', f'kcheck gap {150 if q else 1000} 2', 1800, True),
        ('console-gap-smp4', 4, '128M', f'kcheck gap {500 if q else 5000} 3', 1800, False),
        # kills of busy processes running on other harts (issue 12.1)
        ('kill-busy-smp4', 4, '128M', f'kcheck kill {40 if q else 400}', 3600),
    ]


def boot(kernel, name, smp, mem, init, limit, logdir, icount=False):
    prog, _, args = init.partition(' ')
    append = f'init={prog} vmprint=off' + (f' -- {args}' if args else '')
    cmd = [sys.executable, os.path.join(HERE, 'qemu.py'), '--kernel', kernel, '--smp', str(smp),
           '--mem', mem, '--append', append] + (['--icount'] if icount else [])  # qemu.py exits with the guest's status
    log_path = os.path.join(logdir, name + '.log')
    t0 = time.time()
    with open(log_path, 'wb') as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            status = proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
            status = 'timeout'
    with open(log_path, 'rb') as f:
        text = f.read().replace(b'\0', b'').decode('utf-8', 'replace')
    return status, text, time.time() - t0, log_path


def number(pattern, text, group=1):
    return sum(int(m.group(group)) for m in re.finditer(pattern, text, re.M))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('--kernel', required=True)
    p.add_argument('--logs', required=True, help='directory for the console logs')
    p.add_argument('--quick', action='store_true', help='short forms (checks this script)')
    p.add_argument('--only', action='append', default=[], help='run only these (by name)')
    a = p.parse_args()
    os.makedirs(a.logs, exist_ok=True)

    fig = dict(calls=0, fuzz_seconds=0.0, panics=0, lost=0, injected=0, rounds=0, attempts=0,
               blocked=0, smp_seconds=0, watchdog=0, gaps=[], kills=0, bugs=0)
    failed = []
    for name, smp, mem, init, limit, *icount in runs(a.quick):
        if a.only and name not in a.only:
            continue
        icount = bool(icount and icount[0])
        print(f'soak: {name}: {smp} hart(s), {mem}, init={init}{" (-icount)" if icount else ""} ...',
              flush=True)
        status, text, took, log = boot(a.kernel, name, smp, mem, init, limit, a.logs, icount)
        fig['panics'] += len(re.findall(r'PANIC', text))
        fig['watchdog'] += len(re.findall(r'^watchdog: .*(stuck|holds it)', text, re.M))
        fig['bugs'] += len(re.findall(r'mm: BUG', text))
        fig['kills'] += number(r'^kcheck: kill: ([0-9]+) rounds', text)
        m = re.search(r'mm: init exited; free frames ([0-9]+), at start ([0-9]+)', text)
        lost = int(m.group(2)) - int(m.group(1)) if m else None
        if lost:
            fig['lost'] += lost
        m = re.search(r'^fuzz: syscalls fuzzed: ([0-9]+) in ([0-9]+) ms', text, re.M)
        if m:
            fig['calls'] += int(m.group(1))
            fig['fuzz_seconds'] += int(m.group(2)) / 1000
        fig['injected'] += number(r'^stress: injected faults survived: ([0-9]+)', text)
        fig['rounds'] += number(r'^stress: exhaustion rounds: ([0-9]+)', text)
        m = re.search(r'^isolation: ([0-9]+) attempts, ([0-9]+) blocked', text, re.M)
        if m:
            fig['attempts'] += int(m.group(1))
            fig['blocked'] += int(m.group(2))
        fig['smp_seconds'] += number(r'^stress: smp soak seconds: ([0-9]+)', text)
        m = re.search(r'^kcheck: console gap: worst ([0-9]+) us .* bound ([0-9]+) us', text, re.M)
        if m:
            fig['gaps'].append(f'{name} {m.group(1)} us (bound {m.group(2)} us)')
        ok = status == 0 and lost == 0
        why = ('' if ok else f' (status {status}' +
               (', frames lost ' + str(lost) if lost else '') +
               (', no final frame count' if lost is None else '') + ')')
        print(f'soak: {name}: {"pass" if ok else "FAIL"} in {took:.0f} s{why}; log {log}',
              flush=True)
        if not ok:
            failed.append(name)

    rate = fig['calls'] / fig['fuzz_seconds'] if fig['fuzz_seconds'] else 0
    print(f"soak: syscalls fuzzed: {fig['calls']} ({rate:.0f} calls/s in the guest)")
    print(f"soak: panics: {fig['panics']}")
    print(f"soak: frames lost: {fig['lost']}")
    print(f"soak: injected faults survived: {fig['injected']}")
    print(f"soak: exhaustion rounds: {fig['rounds']}")
    print(f"soak: isolation attempts blocked: {fig['blocked']} of {fig['attempts']}")
    print(f"soak: smp soak: {fig['smp_seconds']} s on 4 harts, 8 workers")
    print(f"soak: worst console gap: {'; '.join(fig['gaps']) or 'not run'}")
    print(f"soak: kills of busy processes on other harts: {fig['kills']}")
    print(f"soak: mm: BUG reports: {fig['bugs']}")
    print(f"soak: watchdog reports: {fig['watchdog']}")
    bad = failed or fig['panics'] or fig['lost'] or fig['watchdog'] or fig['bugs'] or \
        fig['blocked'] != fig['attempts']
    print(f"soak: result: {'FAIL (' + ', '.join(failed) + ')' if bad else 'pass'}")
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
