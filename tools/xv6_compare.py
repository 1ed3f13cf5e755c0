#!/usr/bin/env python3
"""The wall-clock yardstick of issue 14: Capframe against xv6-riscv on this
host, the same workload on both (300 x fork+exec(true)+wait, then 50 x
fork+exit+wait of a process with 8 MiB of touched heap), plain TCG, 1 hart,
128 MiB, the two run alternately ROUNDS times.

    tools/xv6_compare.py --xv6 PATH-TO-XV6-RISCV-CHECKOUT [--rounds 5] [--build build]

It writes two small programs of ours into the xv6 tree (user/cfwall.c, the
workload, and user/cftrue.c, which exits 0), builds xv6 with them in
UPROGS (TOOLPREFIX riscv64-linux-gnu- unless --toolprefix), and times each run
on the host from the workload's start line to its done line (boot is not
counted; both print the lines themselves). Prints each round, then the paired
ratio Capframe/xv6: the median and the spread (min-max). Capframe must be
built first (./capframe build). Not part of CI: it needs an xv6 checkout.
"""
import argparse
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

# Our workload for xv6 (xv6's user API: fork, exec, wait, sbrk, uptime).
XV6_WALL = r'''// Capframe's issue-14 wall-clock workload, for xv6 (written by Capframe's
// tools/xv6_compare.py).
#include "kernel/types.h"
#include "user/user.h"

int main(void) {
  char *argv[] = {"cftrue", 0};
  int st;
  printf("bench-wall: start\n");
  int t0 = uptime();
  for (int k = 0; k < 300; k++) {
    int pid = fork();
    if (pid == 0) {
      exec("cftrue", argv);
      exit(1);
    }
    wait(&st);
  }
  int t1 = uptime();
  char *heap = sbrk(8 << 20);
  if (heap == (char *)-1) {
    printf("bench-wall: sbrk of 8 MiB failed\n");
    exit(1);
  }
  for (int off = 0; off < (8 << 20); off += 4096)
    heap[off] = 1;
  for (int k = 0; k < 50; k++) {
    int pid = fork();
    if (pid == 0)
      exit(0);
    wait(&st);
  }
  int t2 = uptime();
  printf("bench-wall: done: guest uptime %d ticks (%d + %d)\n", t2 - t0, t1 - t0, t2 - t1);
  exit(0);
}
'''
XV6_TRUE = '''// Exits 0 (Capframe's tools/xv6_compare.py).
#include "kernel/types.h"
#include "user/user.h"

int main(void) { exit(0); }
'''


def build_xv6(xv6, prefix):
    for name, text in (('cfwall.c', XV6_WALL), ('cftrue.c', XV6_TRUE)):
        path = os.path.join(xv6, 'user', name)
        if not os.path.exists(path) or open(path).read() != text:
            with open(path, 'w') as f:
                f.write(text)
    uprogs = 'UPROGS=' + ' '.join(f'user/_{p}' for p in ('init', 'sh', 'cfwall', 'cftrue'))
    make = ['make', '-C', xv6, f'TOOLPREFIX={prefix}', 'CPUS=1', uprogs]
    # fs.img depends on the program list only through its files: rebuild it.
    img = os.path.join(xv6, 'fs.img')
    if os.path.exists(img):
        os.unlink(img)
    subprocess.run(make + ['kernel/kernel', 'fs.img'], check=True, stdout=subprocess.DEVNULL)
    # The QEMU command line is xv6's own (its Makefile's QEMUOPTS).
    out = subprocess.run(make + ['-s', '-n', 'qemu'], check=True, capture_output=True,
                         text=True).stdout
    line = [ln for ln in out.splitlines() if ln.startswith('qemu-system-riscv64')][-1]
    return line.split()


def xv6_run(cmd, xv6):
    t = bench.Timed(cmd, b'bench-wall: start', rb'bench-wall: done[^\n]*\n', prompt=b'$ ',
                    typed=b'cfwall\n', kill_at_done=True)
    old = os.getcwd()
    os.chdir(xv6)
    try:
        text, host, _ = t.run()
    finally:
        os.chdir(old)
    return host, text


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('--xv6', required=True, help='an xv6-riscv checkout (two files are added to user/)')
    p.add_argument('--rounds', type=int, default=5)
    p.add_argument('--build', default=os.environ.get('CAPFRAME_BUILD', 'build'))
    p.add_argument('--toolprefix', default='riscv64-linux-gnu-')
    a = p.parse_args()
    xv6 = os.path.abspath(a.xv6)
    kernel = os.path.join(a.build, 'kernel', 'capframe.elf')
    if not os.path.exists(kernel):
        sys.exit(f'xv6_compare.py: {kernel} not built (./capframe build)')
    xcmd = build_xv6(xv6, a.toolprefix)
    ccmd = ['--kernel', kernel, '--machine', 'virt', '--smp', '1', '--mem', '128M',
            '--append', 'init=bench vmprint=off -- wall']
    ratios = []
    print(f'# {a.rounds} rounds, Capframe then xv6 in each; host seconds from start to done line')
    for r in range(1, a.rounds + 1):
        c, guest, _, _ = bench.capframe_wall(ccmd)
        x, text = xv6_run(xcmd, xv6)
        ratios.append(c / x)
        print(f'round {r}: Capframe {c:6.2f} s (guest rdtime {guest:6.2f} s)   xv6 {x:6.2f} s   '
              f'ratio {c / x:5.2f}', flush=True)
    med = statistics.median(ratios)
    print(f'bench: wall clock Capframe/xv6, paired ratio (median of {len(ratios)})  {med:.2f}  '
          f'(spread {min(ratios):.2f}-{max(ratios):.2f})')
    print(f'bench: target wall clock Capframe/xv6  now {med:.2f}  target <= 0.5  '
          f'{"met" if med <= 0.5 else "missed"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
