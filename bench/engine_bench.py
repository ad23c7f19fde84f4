#!/usr/bin/env python3
"""Training throughput of recur against PyTorch, side by side, on the same models.

For each model (one-hot input over 80 symbols, batch 32, sequence length 64,
Adam, a linear head on the last state) it runs bench/torch_train_bench.py with
PyTorch's best CPU settings here — 1 thread, and 2 threads with
OMP_WAIT_POLICY=PASSIVE (PyTorch's default spin-waiting is several times slower
on 2 cores) — and build/bench/train_bench (recur) at its best of two settings:
OpenBLAS's two threads, and two ranks on threads (`recur train --threads 2`:
each half of every batch, one BLAS thread each) — and
prints tokens/s, the ratio, the GFLOP/s recur reaches, its fraction of this
machine's matrix-multiply peak (measured here with numpy, float32 2048x2048,
both cores), and peak RSS of each process.

The vendor reference: build/bench/onednn_bench (bench/onednn_bench.cpp, built
when Debian's libdnnl-dev is there) runs oneDNN's recurrent layers alone on the
same shapes (forward training + backward; no head, loss or optimizer; weights
in its own layouts once; dense input), best of 1 thread, 2 threads and 2
threads with OMP_WAIT_POLICY=PASSIVE; the table sets recur's whole step
against it.

Every setting of every side runs --tries times (default 2) and keeps its best:
single runs of the same binary here vary by about 5%, and a side with more
settings would otherwise get more draws.

Usage: bench/engine_bench.py [--recur build/bench/train_bench] [--onednn build/bench/onednn_bench] [--tries N] [--quick]
"""
import argparse
import json
import os
import subprocess
import sys
import time

from machine import cpu, same_blas_kernels  # bench/machine.py

HERE = os.path.dirname(os.path.abspath(__file__))
PY = '/usr/bin/python3'

# (label, cell, layers, hidden, timed steps, target ratio against PyTorch)
MODELS = [
    ('RNN H=128', 'rnn', 1, 128, 200, 2.5),
    ('LSTM 2x128', 'lstm', 2, 128, 40, 2.5),
    ('GRU H=256', 'gru', 1, 256, 40, 2.5),
    ('LSTM 2x512', 'lstm', 2, 512, 8, 2.5),
]
COMMON = ['--vocab', '80', '--batch', '32', '--seq-len', '64', '--warmup', '2']


def run_json(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


TRIES = 2  # (--tries)


def best_of(cmd, env=None):
    """The run with the most tokens/s of TRIES runs of the same command."""
    return max((run_json(cmd, env) for _ in range(TRIES)), key=lambda r: r['tokens_per_s'])


def matmul_peak():
    import numpy as np
    n = 2048
    a = np.random.rand(n, n).astype(np.float32)
    b = np.random.rand(n, n).astype(np.float32)
    a @ b
    best = 1e9
    for _ in range(5):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best / 1e9


def train_flops_per_token(cell, layers, hidden, vocab=80, classes=2):
    """Multiply-adds of one token's forward pass, times 6 for training (forward
    2 FLOP per multiply-add, backward twice the forward). One-hot input to the
    first layer is a column lookup and counted as free."""
    g = {'rnn': 1, 'gru': 3, 'lstm': 4}[cell] * hidden
    macs = 0
    for k in range(layers):
        macs += g * hidden + (g * hidden if k > 0 else 0)
    return 6 * macs + 0 * vocab + 0 * classes  # the head runs once per sequence: negligible


def main():
    global TRIES
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--recur', default=os.path.join(HERE, '..', 'build', 'bench', 'train_bench'))
    ap.add_argument('--onednn', default=os.path.join(HERE, '..', 'build', 'bench', 'onednn_bench'))
    ap.add_argument('--tries', type=int, default=TRIES, help='runs of each setting, the best kept (default 2)')
    ap.add_argument('--quick', action='store_true', help='fewer steps (a smoke test, not a measurement)')
    args = ap.parse_args()
    TRIES = max(1, args.tries)
    onednn = os.path.exists(args.onednn)
    if not onednn:
        print(f'(no oneDNN column: {args.onednn} is not built; apt install libdnnl-dev, then make build)')

    print(f'machine: {cpu()}; OpenBLAS kernels {same_blas_kernels()} for recur and the references')
    # An AVX2 machine emulated on an AVX-512 one: recur built with -DRECUR_ARCH=x86-64-v3,
    # OpenBLAS (recur's and numpy's) and PyTorch's own kernels held to AVX2 by these.
    for var in ('ATEN_CPU_CAPABILITY', 'DNNL_MAX_CPU_ISA'):  # (DNNL_MAX_CPU_ISA=AVX2: oneDNN's likewise)
        if os.environ.get(var):
            print(f'{var}={os.environ[var]}')
    peak = matmul_peak()
    print(f'matrix-multiply peak (numpy float32 2048^2, {os.cpu_count()} cores): {peak:.0f} GFLOP/s')
    rows = []
    for label, cell, layers, hidden, steps, target in MODELS:
        if args.quick:
            steps = max(2, steps // 10)
        model = ['--cell', cell, '--layers', str(layers), '--hidden', str(hidden), '--steps', str(steps)] + COMMON
        torch_runs = []
        for threads, policy in ((1, None), (2, 'PASSIVE')):
            env = dict(os.environ)
            if policy:
                env['OMP_WAIT_POLICY'] = policy
            r = best_of([PY, os.path.join(HERE, 'torch_train_bench.py'), '--threads', str(threads)] + model, env)
            torch_runs.append((r['tokens_per_s'], f'{threads} thread' + ('s, PASSIVE' if policy else ''), r))
        t_tps, t_setting, t = max(torch_runs, key=lambda x: x[0])
        d_tps, d_setting, d_isa = 0, '', ''
        if onednn:
            for threads, policy in ((1, None), (2, None), (2, 'PASSIVE')):
                env = dict(os.environ, OMP_NUM_THREADS=str(threads))
                if policy:
                    env['OMP_WAIT_POLICY'] = policy
                d = best_of([args.onednn, '--cell', cell, '--layers', str(layers), '--hidden', str(hidden),
                              '--steps', str(steps), '--vocab', '80', '--batch', '32', '--seq-len', '64'], env)
                d_isa = d['isa']
                if d['tokens_per_s'] > d_tps:
                    d_tps, d_setting = d['tokens_per_s'], f'{threads} thread' + ('s, PASSIVE' if policy else '') \
                        + ('s' if threads > 1 and not policy else '')
        # recur at its best setting too: OpenBLAS's two threads, or two ranks on threads
        # (recur train --threads 2: each rank half of every batch, one BLAS thread each).
        r = max((best_of([args.recur] + model + ['--threads', str(n)]) for n in (1, 2)),
                key=lambda x: x['tokens_per_s'])
        r_setting = '--threads 2' if r['threads'] == 2 else 'BLAS threads'
        flops = train_flops_per_token(cell, layers, hidden) * r['tokens_per_s'] / 1e9
        rows.append((label, r['tokens_per_s'], t_tps, t_setting, r['tokens_per_s'] / t_tps, target, flops,
                     flops / peak, r['peak_rss_mb'], t['peak_rss_mb'],
                     train_flops_per_token(cell, layers, hidden) * t_tps / 1e9, d_tps, d_setting, r_setting))
        print(f'{label}: recur {r["tokens_per_s"]:.0f} tok/s ({r_setting}), torch {t_tps:.0f} tok/s ({t_setting}) '
              f'-> {r["tokens_per_s"] / t_tps:.2f}x' +
              (f'; oneDNN {d_tps:.0f} tok/s ({d_setting}, {d_isa}) -> {r["tokens_per_s"] / d_tps:.2f}'
               if d_tps else ''),
              file=sys.stderr)

    print()
    print('| model (B=32, T=64, one-hot 80, Adam) | recur tokens/s (best setting) | PyTorch tokens/s (best setting) | '
          'ratio | target | recur GFLOP/s | of peak | PyTorch GFLOP/s | RSS recur / PyTorch (MB) |')
    print('|---|---|---|---|---|---|---|---|---|')
    for (label, rt, tt, ts, ratio, target, gf, frac, rss_r, rss_t, tgf, _, _, rs) in rows:
        print(f'| {label} | {rt:,.0f} ({rs}) | {tt:,.0f} ({ts}) | {ratio:.2f}x | >= {target}x | {gf:.0f} | '
              f'{frac:.0%} | {tgf:.0f} | {rss_r:.0f} / {rss_t:.0f} |')
    if onednn:
        print()
        print('| model | recur whole step, tokens/s | oneDNN recurrent layers only, tokens/s (best setting) | '
              'recur / oneDNN | target |')
        print('|---|---|---|---|---|')
        for (label, rt, *_, d_tps, d_setting, _) in rows:
            print(f'| {label} | {rt:,.0f} | {d_tps:,.0f} ({d_setting}) | {rt / d_tps:.2f} | >= 1 |')


if __name__ == '__main__':
    main()
