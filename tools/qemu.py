#!/usr/bin/env python3
"""Boots Capframe in QEMU. One place that knows the command line for each
machine, used by `./capframe run`, `./capframe gdb` and the in-QEMU tests.

Interactive:  qemu.py --kernel build/kernel/capframe.elf [--machine virt] [--smp N]
Test (TAP):   qemu.py --kernel ... --tap --timeout 60 --expect REGEX ... [--forbid REGEX]
              Guest lines "ok - ..." / "not ok - ..." become numbered TAP
              results; each --expect / --forbid adds one more result about
              the console log. Prints the plan last; exits 1 on any failure.

The timeout is a budget of the CPU time QEMU gets (user + system, all its
threads), not of the wall clock: on a host busy with other work a guest gets
the same budget for the same work, so a test does not fail because the host
is loaded, and a guest that spins forever still ends at its budget. A guest
that hangs idle (every hart waiting, QEMU using no CPU) ends at
WALL_FACTOR times the timeout on the wall clock.
"""
import argparse
import fcntl
import os
import re
import select
import shutil
import subprocess
import sys
import time

FIRMWARE = '/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin'
UBOOT = '/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin'
UBOOT_LOAD = 0x84000000  # where QEMU's loader puts the Image for U-Boot
WALL_FACTOR = 6  # an idle hung guest: the wall-clock limit, in timeouts
# QEMU 7.2's SiFive UART model drops a character its console cannot take at
# once (the 16550 model waits for the pipe instead): with a 64 KiB pipe and a
# reader slowed by host load, sifive_u lost the end of a boot log (the kernel
# page table dump alone is about 120 KiB). The guest's output pipe is made
# this large, so the reader can fall behind by a whole boot log.
PIPE_BYTES = 1 << 20

MACHINES = {
    # name: (qemu -machine value, default RAM, extra arguments)
    'virt': ('virt', '256M', []),
    'sifive_u': ('sifive_u', '256M', []),
    # PolarFire SoC: QEMU 7.2 makes no device tree for it (tests/fixtures/
    # icicle-kit.dts is ours); the console is MMUART1, QEMU's second serial.
    'icicle': ('microchip-icicle-kit', '2G', ['-serial', 'null', '-serial', 'mon:stdio']),
}


def output_pipe():
    """A pipe for QEMU's console: (read end, write end), PIPE_BYTES deep where
    the host allows it (Linux caps it at /proc/sys/fs/pipe-max-size)."""
    r, w = os.pipe()
    try:
        fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except OSError:
        pass
    return r, w


def qemu_command(a):
    machine, mem, extra = MACHINES[a.machine]
    cmd = ['qemu-system-riscv64', '-machine', machine, '-smp', str(a.smp),
           '-m', a.mem or mem, '-nographic', '-bios', FIRMWARE] + extra
    if a.dtb:
        cmd += ['-dtb', a.dtb]
    if a.boot == 'uboot':
        # The VisionFive 2 path: OpenSBI -> S-mode U-Boot -> booti Image.
        cmd += ['-kernel', UBOOT, '-device', f'loader,file={a.kernel},addr={a.uboot_load:#x}']
    else:
        cmd += ['-kernel', a.kernel]
        if a.append:
            cmd += ['-append', a.append]
    if a.icount:
        cmd += ['-icount', 'shift=0']
    if a.gdb:
        cmd += ['-s', '-S']
    return cmd + a.extra


def uboot_commands(a):
    # What an owner types at the board's U-Boot prompt (docs/visionfive2.md).
    go = a.uboot_go
    if go:
        return f'go {go}\n'.encode()
    args = f'setenv bootargs {a.append}; ' if a.append else 'setenv bootargs; '
    return (args + f'booti {a.uboot_load:#x} - ${{fdtcontroladdr}}\n').encode()


class UbootDriver:
    """Stops U-Boot's autoboot and types the boot command at its prompt."""

    def __init__(self, a):
        self.a, self.state = a, 0

    def feed(self, out, stdin):
        if self.state == 0 and b'Hit any key to stop autoboot' in out:
            stdin.write(b'\n')
            stdin.flush()
            self.state = 1
        elif self.state == 1 and out.rstrip().endswith(b'=>'):
            stdin.write(uboot_commands(self.a))
            stdin.flush()
            self.state = 2


class ShellDriver:
    """Types one line at each new shell prompt ("$ " at the end of output)."""

    def __init__(self, lines):
        self.lines, self.prompts = list(lines), 0

    def feed(self, out, stdin):
        n = out.replace(b'\r', b'').count(b'\n$ ') + out.startswith(b'$ ')
        if n > self.prompts and out.endswith(b'$ ') and self.lines:
            self.prompts = n
            stdin.write(self.lines.pop(0).encode() + b'\n')
            stdin.flush()


def cpu_seconds(pid):
    """CPU time (user + system) a process has had so far, all its threads."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            fields = f.read().rsplit(')', 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')
    except (OSError, IndexError, ValueError):
        return 0.0  # not on Linux, or QEMU already gone: the wall limit still holds


def tree_cpu_seconds(pid):
    """CPU time of a process and every process under it (qemu.py run
    interactively starts QEMU as its child)."""
    children = {}
    for d in os.listdir('/proc'):
        if d.isdigit():
            try:
                with open(f'/proc/{d}/stat') as f:
                    ppid = int(f.read().rsplit(')', 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += cpu_seconds(p)
        todo += children.get(p, [])
    return total


def run_guest(cmd, timeout, stdin_data=None, interactive=False, on_output=None, tree=False):
    """Runs cmd until it ends, on_output(out, stdin) returns True, or it has
    had `timeout` seconds of CPU time (with tree: it and every process under
    it) or WALL_FACTOR times that of wall clock (an idle hang); the budget is
    checked on every turn, output or not. stdin is a pipe when stdin_data is
    given (written, then closed) or interactive (left open for on_output).
    Returns (output, exit status or None if killed for its budget, CPU
    seconds, wall seconds)."""
    start = time.monotonic()
    piped = stdin_data is not None or interactive
    out_r, out_w = output_pipe()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE if piped else subprocess.DEVNULL,
                            stdout=out_w, stderr=subprocess.STDOUT,
                            start_new_session=tree)
    os.close(out_w)

    def kill():  # with tree, cmd leads its own group: end the whole tree
        if tree:
            os.killpg(proc.pid, 9)
        else:
            proc.kill()

    if stdin_data is not None:
        proc.stdin.write(stdin_data)
        proc.stdin.close()
    out, finished, cpu = b'', True, 0.0
    while True:
        cpu = (tree_cpu_seconds(proc.pid) if tree else cpu_seconds(proc.pid)) or cpu
        if cpu >= timeout or time.monotonic() - start >= timeout * WALL_FACTOR:
            finished = False
            kill()
            break
        ready, _, _ = select.select([out_r], [], [], 0.5)
        if not ready:
            continue
        chunk = os.read(out_r, 1 << 20)
        if not chunk:
            break
        out += chunk
        if on_output and on_output(out, proc.stdin):
            time.sleep(0.2)  # let the last lines arrive
            try:
                out += os.read(out_r, 1 << 20) if select.select(
                    [out_r], [], [], 0)[0] else b''
            except OSError:
                pass
            kill()
            break
    rc = proc.wait()
    os.close(out_r)
    return out, (rc if finished else None), cpu, time.monotonic() - start


def run_budgeted(cmd, timeout, stdin_data=None):
    """run_guest for callers that need only the output and status: returns
    (output, exit status or None, finished)."""
    out, rc, _, _ = run_guest(cmd, timeout, stdin_data, tree=True)
    return out, rc, rc is not None


def run_tap(cmd, a):
    uboot = UbootDriver(a) if a.boot == 'uboot' else None
    shell = ShellDriver(a.type) if a.type else None

    until = re.compile(a.until.encode(), re.M) if a.until else None
    scanned = 0  # the --until search has read out[:scanned] (whole lines)

    def on_output(out, stdin):
        nonlocal scanned
        if uboot:
            uboot.feed(out, stdin)
        if shell:
            shell.feed(out, stdin)
        # Only whole lines count: a half-received line must not end the run.
        # Each line is searched once, so a long log costs linear time.
        end = out.rfind(b'\n') + 1
        found = bool(until and end > scanned and until.search(out, scanned, end))
        scanned = end
        return found

    out, rc, cpu, wall = run_guest(cmd, a.timeout, interactive=bool(uboot or shell),
                                   on_output=on_output)
    timed_out = rc is None
    # NUL bytes are not text (the syscall fuzzer writes some to the console)
    log = out.decode('utf-8', 'replace').replace('\r', '').replace('\0', '')
    sys.stdout.write('# ' + ' '.join(cmd) + '\n')
    for line in log.splitlines():
        sys.stdout.write('# | ' + line + '\n')

    results = []
    for line in log.splitlines():
        m = re.match(r'^(not ok|ok)\b(?:\s+\d+)?\s*-?\s*(.*)$', line)
        if m:
            results.append((m.group(1) == 'ok', 'guest: ' + m.group(2)))
    results.append((not timed_out, f'guest finished within {a.timeout:g} s of QEMU CPU time '
                                   f'({cpu:.1f} s CPU, {wall:.1f} s wall)'))
    for rx in a.expect:
        results.append((re.search(rx, log, re.M) is not None, f'console shows /{rx}/'))
    for rx in a.forbid:
        results.append((re.search(rx, log, re.M) is None, f'console never shows /{rx}/'))
    if a.watchdog_recovers:
        results.append(watchdog_recovers(log))
    if a.all_harts_online:
        results.append(all_harts_online(log))
    if a.min_guest_results:
        n = sum(1 for _ in re.finditer(r'^(?:not ok|ok)\b', log, re.M))
        results.append((n >= a.min_guest_results,
                        f'guest reported at least {a.min_guest_results} results (got {n})'))
    failed = 0
    for i, (ok, what) in enumerate(results, 1):
        failed += not ok
        # One line each: a pattern with a newline in it is shown as \n.
        print(f'{"ok" if ok else "not ok"} {i} - {what}'.replace('\n', '\\n'))
    print(f'1..{len(results)}')
    return 1 if failed else 0


WATCHDOG_PAIRS = [
    # (report, recovery), both naming the hart that must recover
    (r'^watchdog: hart \d+ has waited \d+ ms for the kernel lock; hart (\d+) holds it',
     r'^watchdog: hart {} lets the kernel lock go'),
    (r'^watchdog: hart (\d+) has taken no timer tick for \d+ ms',
     r'^watchdog: hart {} takes timer ticks again'),
]


def watchdog_recovers(log):
    """Every watchdog report is followed by its recovery line, and there is
    no other kind. On plain TCG the watchdog measures host time: on a loaded
    host a hart's thread can be descheduled for seconds while another
    spins, which reads as a long hold (a stall that ends). A hold that never
    ends, or a report of another kind, fails; how long holds are in guest
    instructions is measured under -icount (bench, bigmem), not here."""
    lines = log.splitlines()
    bad = []
    for i, line in enumerate(lines):
        if not line.startswith('watchdog: '):
            continue
        if any(re.match(rec.format(r'\d+'), line) for _, rec in WATCHDOG_PAIRS):
            continue
        for report, recovery in WATCHDOG_PAIRS:
            m = re.match(report, line)
            if m:
                rx = recovery.format(m.group(1))
                if not any(re.match(rx, later) for later in lines[i + 1:]):
                    bad.append(line)
                break
        else:
            bad.append(line)
    what = 'every watchdog report is followed by its recovery (host load may stall a hart)'
    if bad:
        what += ': not for ' + ' | '.join(bad[:3])
    return (not bad, what)


def all_harts_online(log):
    """Every hart the kernel found usable came online, whichever one the
    firmware made the boot hart (OpenSBI may pick any; the boot hart prints
    no "online" line)."""
    usable = {int(h) for h in re.findall(r'^  hart ([0-9]+): okay, MMU with Sv39, usable', log, re.M)}
    boot = {int(h) for h in re.findall(r'^Capframe booting on hart ([0-9]+)', log, re.M)}
    online = [int(h) for h in re.findall(r'^hart ([0-9]+): online', log, re.M)]
    count = re.findall(r'^harts: ([0-9]+) online', log, re.M)
    ok = (len(boot) == 1 and boot <= usable and not boot & set(online) and
          len(online) == len(set(online)) and set(online) | boot == usable and
          count == [str(len(usable))])
    return ok, (f'every usable hart {sorted(usable)} online: boot hart {sorted(boot)}, '
                f'then {online}, "harts: {"/".join(count)} online"')


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('--kernel', required=True)
    p.add_argument('--machine', choices=sorted(MACHINES), default='virt')
    p.add_argument('--smp', type=int, default=1)
    p.add_argument('--mem')
    p.add_argument('--append', default='', help='kernel bootargs (/chosen/bootargs)')
    p.add_argument('--dtb', help='a device tree for machines QEMU makes none for (icicle)')
    p.add_argument('--icount', action='store_true', help='-icount shift=0: repeatable counts')
    p.add_argument('--gdb', action='store_true', help='start halted, gdb stub on :1234')
    p.add_argument('--boot', choices=['direct', 'uboot'], default='direct',
                   help='direct: OpenSBI jumps to the kernel; uboot: OpenSBI, U-Boot, booti '
                        '(--kernel is then the flat Image)')
    p.add_argument('--uboot-load', type=lambda v: int(v, 0), default=UBOOT_LOAD,
                   help='where the Image is placed for U-Boot (default %(default)#x)')
    p.add_argument('--uboot-go', help='tests: U-Boot "go ADDR" instead of booti')
    p.add_argument('--print', action='store_true', help='print the command, do not run it')
    p.add_argument('--tap', action='store_true')
    p.add_argument('--timeout', type=float, default=60,
                   help='tests: seconds of QEMU CPU time (the wall-clock limit is '
                        f'{WALL_FACTOR} times this)')
    p.add_argument('--expect', action='append', default=[])
    p.add_argument('--forbid', action='append', default=[])
    p.add_argument('--until', default=r'^kernel: .*halted',
                   help='stop QEMU once the console matches (a guest that halts instead of '
                        'powering off: no SBI reset on sifive_u)')
    p.add_argument('--min-guest-results', type=int, default=0)
    p.add_argument('--watchdog-recovers', action='store_true',
                   help='tests: every watchdog report is followed by its recovery line')
    p.add_argument('--all-harts-online', action='store_true',
                   help='tests: every usable hart is the boot hart or printed "hart N: online"')
    p.add_argument('--type', action='append', default=[],
                   help='tests: a line to type at the next shell prompt (repeatable)')
    p.add_argument('--exit-status', action='store_true',
                   help="(the default now: an interactive run exits with the guest's status)")
    p.add_argument('extra', nargs='*', help='extra QEMU arguments (after --)')
    a = p.parse_args()
    if a.machine in ('sifive_u', 'icicle') and a.smp < 2:
        sys.exit(f'qemu.py: {a.machine} needs --smp 2 or more (hart 0 has no MMU)')
    if a.machine == 'icicle' and not a.dtb:
        sys.exit('qemu.py: icicle needs --dtb (build/tests/icicle-kit.dtb)')
    if not shutil.which('qemu-system-riscv64'):
        sys.exit('qemu.py: qemu-system-riscv64 not found (install qemu-system-misc)')
    cmd = qemu_command(a)
    if a.print:
        print(' '.join(cmd))
        return 0
    if a.tap:
        return run_tap(cmd, a)
    if a.gdb:
        os.execvp(cmd[0], cmd)  # QEMU waits for gdb; the console is all it shows
    return run_interactive(cmd, a)


STARTED = b'mm: started pid '  # the first process runs: the console takes input
STATUS = re.compile(rb'kernel: shutdown requested with status (-?[0-9]+)')
# The kernel's last words where SBI cannot power off (sifive_u, icicle).
HALTED = re.compile(rb'kernel: .*halted')


class Terminal:
    """Puts a terminal on stdin into raw mode (every key, Ctrl-A X included,
    goes to QEMU as typed; the guest does the echoing) and back."""

    def __init__(self, fd):
        self.fd, self.saved = fd, None
        if os.isatty(fd):
            import termios
            import tty
            self.saved = termios.tcgetattr(fd)
            tty.setraw(fd)  # the guest ends its lines with "\r\n" itself

    def restore(self):
        if self.saved is not None:
            import termios
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)
            self.saved = None


def run_interactive(cmd, a):
    """Runs QEMU with the keyboard (or a piped script) passed through raw and
    the console copied out; types U-Boot's boot command for --boot uboot.
    Returns the guest's shutdown status: the kernel prints it before it
    powers off, or halts where the firmware cannot power off (then QEMU is
    ended here). At the end of piped input the guest gets ^D, the shell's
    end of input, so a script that ends cannot leave QEMU waiting. Piped
    input waits until the first process has started."""
    out, out_w = output_pipe()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=out_w, stderr=subprocess.STDOUT)
    os.close(out_w)
    uboot = UbootDriver(a) if a.boot == 'uboot' else None
    keys = sys.stdin.fileno()
    term = Terminal(keys)
    status, seen, halted, pending = None, b'', False, b''
    started = term.saved is not None  # keys from a terminal go at once (Ctrl-A X!)
    reading = [out, keys]
    try:
        while True:
            ready, _, _ = select.select(reading, [], [])
            if keys in ready:
                data = os.read(keys, 4096)
                if not data:
                    reading.remove(keys)
                    data = b'\x04'  # end of input
                pending += data
            if out in ready:
                chunk = os.read(out, 4096)
                if not chunk:
                    break
                try:
                    os.write(sys.stdout.fileno(), chunk)
                except BrokenPipeError:  # e.g. piped into head: nobody reads on
                    break
                seen = (seen + chunk)[-4096:]
                if uboot and uboot.state < 2:
                    uboot.feed(seen, proc.stdin)
                # The kernel resets the UART at boot: what comes earlier is lost.
                started = started or STARTED in seen
                for m in STATUS.finditer(seen):
                    status = int(m.group(1)) & 0xff
                if HALTED.search(seen):
                    halted = True  # a panic halts too: status 1 then
                    break
            if pending and started:
                try:  # keys typed before the kernel took its console go after it
                    proc.stdin.write(pending)
                    proc.stdin.flush()
                except BrokenPipeError:
                    pass
                pending = b''
    except KeyboardInterrupt:
        pass
    finally:
        term.restore()
        if proc.poll() is None:
            if halted:
                time.sleep(0.1)
            proc.kill()
        rc = proc.wait()
    if status is not None:
        return status
    return 1 if halted or rc < 0 else rc


if __name__ == '__main__':
    sys.exit(main())
