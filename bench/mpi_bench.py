#!/usr/bin/env python3
"""Data-parallel training: 1 process against `mpirun -np 2`, on the engine
benchmark's four models (one-hot over 80 symbols, T=64, Adam, head on the last
state), every process one BLAS thread (OPENBLAS_NUM_THREADS=1). Prints tables
for docs/distributed.md:

  weak scaling    every process --batch 32 (the job's step: 32 x N sequences)
  strong scaling  the job's step 32 sequences (2 processes x 16): the same
                  training as one process with --batch 32 (tests/mpi_test.cpp)

with the job's tokens/s, speedup and efficiency (speedup / N), the time of a
step and of its gradient sum on rank 0 (which includes waiting for the slower
rank), and the bare sum of the model's gradient buffer (P floats): polled
nonblocking, as the trainer does it, and MPI's blocking MPI_Allreduce. Then a
model of N machines joined by a ring allreduce on 10 and 100 Gbit/s links:

  t_comm(N) = 2 (N-1)/N * 4P / bandwidth + 2 (N-1) * latency
  efficiency(N) = t_step / (t_step + t_comm(N))       (no overlap)

with t_step the measured 1-process step, and what --accumulate K buys:
K t_step / (K t_step + t_comm).

The machine may be shared: before each run the script waits (up to --max-wait
seconds) until the other processes use less than --idle-below of the CPUs
(read from /proc/stat over half a second); each configuration runs --repeats
times, alternating 1 and 2 processes, and the best run of each counts.
Bounded in time: the step counts below keep each run to a few seconds here,
and the waits to --max-wait each (--quick: a smoke test).

Usage: bench/mpi_bench.py [--bench build/bench/mpi_bench] [--repeats 3] [--quick]
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# (label, cell, layers, hidden, timed steps)
MODELS = [
    ('RNN H=128', 'rnn', 1, 128, 150),
    ('LSTM 2x128', 'lstm', 2, 128, 16),
    ('GRU H=256', 'gru', 1, 256, 16),
    ('LSTM 2x512', 'lstm', 2, 512, 4),
]
LINKS = [('10 Gbit/s', 10e9 / 8, 20e-6), ('100 Gbit/s', 100e9 / 8, 5e-6)]  # bytes/s, latency per ring step


def busy_fraction(seconds=0.5):
    """The fraction of all CPUs busy over `seconds` (from /proc/stat)."""
    def sample():
        with open('/proc/stat') as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + v[4]  # idle + iowait
        return sum(v), idle
    t0, i0 = sample()
    time.sleep(seconds)
    t1, i1 = sample()
    return 1 - (i1 - i0) / max(1, t1 - t0)


def wait_idle(below, max_wait):
    """Waits until the machine is nearly idle (or max_wait passed); returns the busy fraction seen."""
    t0 = time.time()
    while True:
        b = busy_fraction()
        if b < below or time.time() - t0 > max_wait:
            return b


def run(cmd):
    env = dict(os.environ, OPENBLAS_NUM_THREADS='1')
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env, timeout=600).stdout
    return json.loads(out.strip().splitlines()[-1])


def mpirun(n):
    c = [shutil.which('mpirun') or 'mpirun', '-np', str(n), '-x', 'OPENBLAS_NUM_THREADS=1', '--bind-to', 'core']
    if os.geteuid() == 0:
        c.append('--allow-run-as-root')
    return c


def t_comm(P, N, bw, lat):
    return 2 * (N - 1) / N * 4 * P / bw + 2 * (N - 1) * lat


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--bench', default=os.path.join(HERE, '..', 'build', 'bench', 'mpi_bench'))
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--quick', action='store_true')
    ap.add_argument('--idle-below', type=float, default=0.25, help='wait for the CPUs to be this idle before a run')
    ap.add_argument('--max-wait', type=float, default=60, help='seconds to wait for that, at most, per run')
    args = ap.parse_args()
    t_start = time.time()
    rows = []
    for label, cell, layers, hidden, steps in MODELS:
        if args.quick:
            steps = max(2, steps // 4)
        model = [args.bench, '--cell', cell, '--layers', str(layers), '--hidden', str(hidden), '--steps', str(steps)]
        best = {}
        for rep in range(1 if args.quick else args.repeats):
            configs = [('one', []), ('weak', mpirun(2)), ('strong', mpirun(2))]
            if rep % 2:
                configs.reverse()  # alternate the order: a busy moment of the machine hits each in turn
            for name, pre in configs:
                busy = wait_idle(args.idle_below, 0 if args.quick else args.max_wait)
                r = run(pre + model + ['--batch', '16' if name == 'strong' else '32'])
                print(f'  {label} {name}: {r["tokens_per_s"]:.0f} tok/s (machine {busy:.0%} busy before)',
                      file=sys.stderr)
                if name not in best or r['tokens_per_s'] > best[name]['tokens_per_s']:
                    best[name] = r
        rows.append((label, best))
        print(f'{label}: 1 process {best["one"]["tokens_per_s"]:.0f} tok/s, 2 processes '
              f'{best["weak"]["tokens_per_s"]:.0f} (weak), {best["strong"]["tokens_per_s"]:.0f} (strong)',
              file=sys.stderr)

    print(f'\nOne BLAS thread per process, best of {args.repeats} alternating runs.\n')
    print('| model | P (gradient bytes) | 1 process tokens/s | 2 processes, --batch 32 each | efficiency | '
          '2 processes x 16 (same step as 1 x 32) | efficiency |')
    print('|---|---|---|---|---|---|---|')
    for label, b in rows:
        one, weak, strong = b['one'], b['weak'], b['strong']
        print(f'| {label} | {one["params"]:,} ({one["gradient_bytes"] / 1e6:.2f} MB) | {one["tokens_per_s"]:,.0f} | '
              f'{weak["tokens_per_s"]:,.0f} ({weak["tokens_per_s"] / one["tokens_per_s"]:.2f}x) | '
              f'{weak["tokens_per_s"] / one["tokens_per_s"] / 2:.0%} | '
              f'{strong["tokens_per_s"]:,.0f} ({strong["tokens_per_s"] / one["tokens_per_s"]:.2f}x) | '
              f'{strong["tokens_per_s"] / one["tokens_per_s"] / 2:.0%} |')

    print('\nThe gradient sum per step (2 processes, shared memory):\n')
    print('| model | bytes summed | step (1 process) | step, 2 x 32 | sum in the step, 2 x 32 (rank 0, with waiting) | '
          'bare sum, polled (the trainer) | bare MPI_Allreduce (blocking) |')
    print('|---|---|---|---|---|---|---|')
    for label, b in rows:
        one, weak = b['one'], b['weak']
        print(f'| {label} | {one["gradient_bytes"] / 1e6:.2f} MB | {one["step_s"] * 1e3:.1f} ms | '
              f'{weak["step_s"] * 1e3:.1f} ms | {weak["sum_s_per_step"] * 1e3:.2f} ms | '
              f'{weak["allreduce_polled_s"] * 1e3:.3f} ms | {weak["allreduce_blocking_s"] * 1e3:.3f} ms |')

    Ns = [2, 4, 8, 16, 32, 64, 128, 256, 1024]
    for link, bw, lat in LINKS:
        print(f'\nRing allreduce over {link} (latency {lat * 1e6:.0f} us per ring step), each machine a step of '
              f'32 sequences as measured here (1 thread):\n')
        print('| model | t_step | t_comm N=2 | N=16 | N=256 | efficiency N=2 | N=16 | N=256 | '
              'N where efficiency < 50% | --accumulate K for 90% at N=256 |')
        print('|---|---|---|---|---|---|---|---|---|---|')
        for label, b in rows:
            P, ts = b['one']['params'], b['one']['step_s']
            eff = {N: ts / (ts + t_comm(P, N, bw, lat)) for N in Ns}
            half = next((N for N in range(2, 100001) if ts / (ts + t_comm(P, N, bw, lat)) < 0.5), None)
            K = max(1, math.ceil(9 * t_comm(P, 256, bw, lat) / ts))
            print(f'| {label} | {ts * 1e3:.1f} ms | {t_comm(P, 2, bw, lat) * 1e3:.2f} ms | '
                  f'{t_comm(P, 16, bw, lat) * 1e3:.2f} ms | {t_comm(P, 256, bw, lat) * 1e3:.2f} ms | '
                  f'{eff[2]:.0%} | {eff[16]:.0%} | {eff[256]:.0%} | {half if half else "> 100000"} | {K} |')
    print(f'\n({time.time() - t_start:.0f} s)', file=sys.stderr)


if __name__ == '__main__':
    main()
