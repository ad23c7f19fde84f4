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
the waits to --max-wait each, and past --budget seconds (each model its
share) no more rounds start (--quick: a smoke test).

Usage: bench/mpi_bench.py [--bench build/bench/mpi_bench] [--repeats 5] [--quick] [--save runs.json]
       bench/mpi_bench.py --load runs1.json runs2.json     (the tables of saved runs, merged)
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
    ap.add_argument('--repeats', type=int, default=5)
    ap.add_argument('--quick', action='store_true')
    ap.add_argument('--idle-below', type=float, default=0.25, help='wait for the CPUs to be this idle before a run')
    ap.add_argument('--max-wait', type=float, default=5, help='seconds to wait for that, at most, per run')
    ap.add_argument('--budget', type=float, default=1200,
                    help='seconds: past them, each model gets no more repeats than it has (at least one round)')
    ap.add_argument('--save', help='write every run\'s numbers here (JSON)')
    ap.add_argument('--load', nargs='+', help='print the tables of runs saved with --save, merged (runs nothing)')
    args = ap.parse_args()
    t_start = time.time()
    if args.load:  # several files: runs at several times of day, the best of all
        runs, busy_seen = {}, []
        for path in args.load:
            with open(path) as f:
                saved = json.load(f)
            for label, configs in saved['runs'].items():
                for name, rs in configs.items():
                    runs.setdefault(label, {}).setdefault(name, []).extend(rs)
            busy_seen += saved['busy']
        args.repeats = max(len(rs) for c in runs.values() for rs in c.values())
    else:
        runs, busy_seen = {}, []
        for i, (label, cell, layers, hidden, steps) in enumerate(MODELS):
            if args.quick:
                steps = max(2, steps // 4)
            model = [args.bench, '--cell', cell, '--layers', str(layers), '--hidden', str(hidden), '--steps', str(steps)]
            runs[label] = {'one': [], 'weak': [], 'strong': []}
            for rep in range(1 if args.quick else args.repeats):
                if rep > 0 and time.time() - t_start > args.budget * (i + 1) / len(MODELS):
                    break  # this model's share of the time budget is spent
                configs = [('one', []), ('weak', mpirun(2)), ('strong', mpirun(2))]
                if rep % 2:
                    configs.reverse()  # alternate the order: a busy moment of the machine hits each in turn
                for name, pre in configs:
                    busy = wait_idle(args.idle_below, 0 if args.quick else args.max_wait)
                    busy_seen.append(busy)
                    r = run(pre + model + ['--batch', '16' if name == 'strong' else '32'])
                    r['busy_before'] = busy
                    runs[label][name].append(r)
                    print(f'  {label} {name}: {r["tokens_per_s"]:.0f} tok/s, compute '
                          f'{r["compute_cpu_s_per_step"] * 1e3:.1f} ms CPU a step (machine {busy:.0%} busy before)',
                          file=sys.stderr)
        if args.save:
            with open(args.save, 'w') as f:
                json.dump({'runs': runs, 'busy': busy_seen}, f)
    tables(runs, busy_seen, args.repeats)
    print(f'\n({time.time() - t_start:.0f} s)', file=sys.stderr)


def tables(runs, busy_seen, repeats):
    def fastest(rs):  # the least disturbed run: most tokens/s
        return max(rs, key=lambda r: r['tokens_per_s'])

    def cheapest(rs, key):
        return min(r[key] for r in rs)

    labels = list(runs)
    print(f'\nWall clock: one BLAS thread per process, the fastest of {repeats} alternating runs '
          f'(the machine was {min(busy_seen):.0%}-{max(busy_seen):.0%} busy before the runs).\n')
    print('| model | P (gradient bytes) | 1 process tokens/s | 2 processes, --batch 32 each | efficiency | '
          '2 processes x 16 (same step as 1 x 32) | efficiency |')
    print('|---|---|---|---|---|---|---|')
    for label in labels:
        one, weak, strong = (fastest(runs[label][k]) for k in ('one', 'weak', 'strong'))
        print(f'| {label} | {one["params"]:,} ({one["gradient_bytes"] / 1e6:.2f} MB) | {one["tokens_per_s"]:,.0f} | '
              f'{weak["tokens_per_s"]:,.0f} ({weak["tokens_per_s"] / one["tokens_per_s"]:.2f}x) | '
              f'{weak["tokens_per_s"] / one["tokens_per_s"] / 2:.0%} | '
              f'{strong["tokens_per_s"]:,.0f} ({strong["tokens_per_s"] / one["tokens_per_s"]:.2f}x) | '
              f'{strong["tokens_per_s"] / one["tokens_per_s"] / 2:.0%} |')

    print('\nCPU time: the computation of a step (CPU seconds, the slowest rank, the least of the runs), the bare '
          'sum of the gradient buffer (the least of the runs\' medians), and the tokens/s they make when every '
          'process has its core: N b T / (compute + sum).\n')
    print('| model | compute, 1 x 32 | compute, 2 x 32 (per rank) | compute, 2 x 16 | bare sum, polled (the trainer) | '
          'bare MPI_Allreduce (blocking) | 1 x 32 tokens/s | 2 x 32: tokens/s, efficiency | 2 x 16: tokens/s, efficiency |')
    print('|---|---|---|---|---|---|---|---|---|')
    for label in labels:
        r = runs[label]
        c1, cw, cs = (cheapest(r[k], 'compute_cpu_s_per_step') for k in ('one', 'weak', 'strong'))
        sw = cheapest(r['weak'], 'allreduce_polled_s')
        ss = cheapest(r['strong'], 'allreduce_polled_s')
        bw = cheapest(r['weak'], 'allreduce_blocking_s')
        T = r['one'][0]['seq_len']
        t1 = 32 * T / c1
        tw = 2 * 32 * T / (cw + sw)
        ts = 2 * 16 * T / (cs + ss)
        print(f'| {label} | {c1 * 1e3:.1f} ms | {cw * 1e3:.1f} ms | {cs * 1e3:.1f} ms | {sw * 1e3:.3f} ms | '
              f'{bw * 1e3:.3f} ms | {t1:,.0f} | {tw:,.0f} ({tw / t1 / 2:.0%}) | {ts:,.0f} ({ts / t1 / 2:.0%}) |')

    Ns = [2, 16, 256]
    for link, bw, lat in LINKS:
        print(f'\nRing allreduce over {link} (latency {lat * 1e6:.0f} us per ring step); each machine computes a step '
              f'of 32 sequences in t_step (the CPU time above, one thread), or 16x faster (a 16-core machine at '
              f'the same efficiency):\n')
        print('| model | t_step | t_comm N=2 / 16 / 256 | efficiency N=2 / 16 / 256 | N where efficiency < 50% | '
              '--accumulate K for 90% at N=256 | 16x faster: N < 50% | 16x faster: K for 90% at N=256 |')
        print('|---|---|---|---|---|---|---|---|')
        for label in labels:
            P = runs[label]['one'][0]['params']
            ts = cheapest(runs[label]['one'], 'compute_cpu_s_per_step')

            def half(t):
                return next((N for N in range(2, 1000001) if t / (t + t_comm(P, N, bw, lat)) < 0.5), None)

            comm = ' / '.join(f'{t_comm(P, N, bw, lat) * 1e3:.2f}' for N in Ns)
            eff = ' / '.join(f'{ts / (ts + t_comm(P, N, bw, lat)):.0%}' for N in Ns)
            K = max(1, math.ceil(9 * t_comm(P, 256, bw, lat) / ts))
            K16 = max(1, math.ceil(9 * t_comm(P, 256, bw, lat) / (ts / 16)))
            h, h16 = half(ts), half(ts / 16)
            print(f'| {label} | {ts * 1e3:.1f} ms | {comm} ms | {eff} | {h or "> 10^6"} | {K} | '
                  f'{h16 or "> 10^6"} | {K16} |')


if __name__ == '__main__':
    main()
