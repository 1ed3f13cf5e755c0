#!/usr/bin/env python3
"""Runs one libFuzzer target for a bounded time and prints one summary line.

    run.py --fuzzer PATH --name NAME --work DIR --seconds N [--seeds PATH]...

The corpus lives in DIR/corpus: every --seeds file (or the files of a --seeds
directory) is copied there first, named by content hash like libFuzzer's own
finds, so the source tree is never written and repeated runs build on what
earlier runs found. Crash inputs go to DIR/artifacts/, the fuzzer's output to
DIR/log.txt, the summary line also to DIR/summary.txt:

    fuzz: NAME: RUNS runs in T s, COV coverage (ft FT, corpus N), 0 crashes

Exit status 0 unless the fuzzer found a crash (or failed to run); then the
line names the input that reproduces it: `FUZZER INPUT` runs it once.
"""
import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time


def copy_seeds(seeds, corpus):
    files = []
    for s in seeds:
        if os.path.isdir(s):
            files += [os.path.join(s, f) for f in sorted(os.listdir(s))
                      if os.path.isfile(os.path.join(s, f))]
        elif os.path.isfile(s):
            files.append(s)
        else:
            sys.exit(f'run.py: no seed file or directory {s}')
    for f in files:
        with open(f, 'rb') as fh:
            data = fh.read()
        dst = os.path.join(corpus, hashlib.sha1(data).hexdigest())
        if not os.path.exists(dst):
            with open(dst, 'wb') as fh:
                fh.write(data)
    return len(files)


def last_int(pattern, text, default=0):
    found = re.findall(pattern, text)
    return int(found[-1]) if found else default


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--fuzzer', required=True)
    ap.add_argument('--name', required=True)
    ap.add_argument('--work', required=True)
    ap.add_argument('--seconds', type=int, default=10)
    ap.add_argument('--seeds', action='append', default=[])
    args = ap.parse_args()

    corpus = os.path.join(args.work, 'corpus')
    artifacts = os.path.join(args.work, 'artifacts')
    os.makedirs(corpus, exist_ok=True)
    os.makedirs(artifacts, exist_ok=True)
    summary = os.path.join(args.work, 'summary.txt')
    if os.path.exists(summary):
        os.remove(summary)
    copy_seeds(args.seeds, corpus)

    cmd = [os.path.abspath(args.fuzzer), corpus,
           f'-max_total_time={args.seconds}', '-timeout=20', '-rss_limit_mb=2048',
           '-print_final_stats=1', f'-artifact_prefix={artifacts}/']
    env = dict(os.environ)
    env.setdefault('ASAN_OPTIONS', 'abort_on_error=0:detect_stack_use_after_return=1')
    env.setdefault('UBSAN_OPTIONS', 'print_stacktrace=1:halt_on_error=1')
    log_path = os.path.join(args.work, 'log.txt')
    start = time.monotonic()
    with open(log_path, 'wb') as log:
        try:
            rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                timeout=args.seconds + 300).returncode
        except subprocess.TimeoutExpired:
            rc = 'hung'
    elapsed = time.monotonic() - start
    with open(log_path, 'r', errors='replace') as log:
        text = log.read()

    runs = last_int(r'stat::number_of_executed_units:\s*(\d+)', text,
                    last_int(r'Done (\d+) runs', text))
    cov = last_int(r'\bcov: (\d+)', text)
    ft = last_int(r'\bft: (\d+)', text)
    corp = last_int(r'\bcorp: (\d+)/', text)
    crash = re.findall(r'Test unit written to (\S+)', text)
    ok = rc == 0 and not crash
    line = (f'fuzz: {args.name}: {runs} runs in {elapsed:.0f} s, {cov} coverage '
            f'(ft {ft}, corpus {corp}), {0 if ok else 1} crashes')
    if not ok:
        if crash:
            line += f' -- reproduce: {os.path.abspath(args.fuzzer)} {crash[-1]}'
        else:
            line += f' -- the fuzzer failed (exit {rc}), see {log_path}'
        print('\n'.join(text.splitlines()[-60:]), file=sys.stderr)
    print(line)
    with open(summary, 'w') as f:
        f.write(line + '\n')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
