#!/usr/bin/env python3
"""Batch 1: `recur train --preset min-char-rnn` against the numpy original.

Both train the minimal character RNN (vanilla tanh RNN of 100, one-hot
characters, 25 characters a step, state carried, Adagrad 0.1, every gradient
element clipped to [-5, 5]) for the same number of updates on the same text:

  numpy  bench/reference/min_char_rnn.py (its training loop's own time, without
         start-up or reading the text), best of one OpenBLAS thread and the
         default, each the best of --runs
  recur  `recur train`: its training loop (the rate it logs over its steps) and
         the whole process (start-up, reading the text, saving), best of --runs

and then reports each model's loss on the validation text (nats/char, read as
one stream) so the speed is compared at equal quality. Prints the machine, the
times, two ratios (loop against loop, and recur's whole process against
numpy's loop) and the losses.

Usage (from the repository root, after `make data`):
  /usr/bin/python3 bench/min_char_rnn_bench.py [--steps 20000] [--runs 3]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

from machine import cpu, same_blas_kernels  # bench/machine.py

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TRAIN = os.path.join(ROOT, "data", "external", "moby_dick.train.txt")
VALID = os.path.join(ROOT, "data", "external", "moby_dick.valid.txt")
SEQ = 25  # characters an update reads (the preset's --seq-len, the reference's SEQ)


def numpy_run(steps, threads, valid):
    env = dict(os.environ)
    if threads:
        env["OPENBLAS_NUM_THREADS"] = str(threads)
    else:
        env.pop("OPENBLAS_NUM_THREADS", None)
    cmd = [sys.executable, os.path.join(HERE, "reference", "min_char_rnn.py"), "--text", TRAIN, "--steps", str(steps)]
    if valid:
        cmd += ["--valid", VALID]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def recur_run(recur, steps, model):
    """(whole process seconds, training loop seconds): the loop's from the
    tokens/s recur logs over its steps (no validation runs in between)."""
    t0 = time.perf_counter()
    r = subprocess.run([recur, "train", "--task", "lm", "--preset", "min-char-rnn", "--text", TRAIN, "--steps",
                        str(steps), "--eval-every", str(steps), "--save", model],
                       check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    rate = float(re.findall(r"([0-9.]+) tokens/s", r.stdout + r.stderr)[-1])
    return wall, steps * SEQ / rate


def recur_valid_loss(recur, model):
    out = subprocess.run([recur, "eval", "--model", model, "--text", VALID, "--format", "json"], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)["loss"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recur", default=os.path.join(ROOT, "build", "recur"))
    ap.add_argument("--steps", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    for f in (TRAIN, VALID):
        if not os.path.exists(f):
            sys.exit(f"{f} is missing: run `make data` first")

    print(f"machine: {cpu()}; OpenBLAS kernels {same_blas_kernels()} for recur and numpy", flush=True)
    numpy = {}
    for threads in (1, None):  # None: OpenBLAS's default (every core)
        runs = [numpy_run(a.steps, threads, valid=(i == 0 and threads == 1)) for i in range(a.runs)]
        numpy[threads] = min(r["seconds"] for r in runs)
        if threads == 1:
            np_valid = runs[0]["valid_loss"]
    np_best = min(numpy.values())
    with tempfile.TemporaryDirectory(prefix="min_char_rnn_") as tmp:
        model = os.path.join(tmp, "m.safetensors")
        runs = [recur_run(a.recur, a.steps, model) for _ in range(a.runs)]
        rc, rc_loop = min(w for w, _ in runs), min(l for _, l in runs)
        rc_valid = recur_valid_loss(a.recur, model)

    tokens = a.steps * SEQ
    print(f"\n### min-char-rnn, batch 1: {a.steps} updates of {SEQ} characters on Moby Dick\n")
    print("| | training seconds | characters/s | validation loss (nats/char) |")
    print("|---|---:|---:|---:|")
    print(f"| numpy, 1 OpenBLAS thread | {numpy[1]:.2f} | {tokens / numpy[1]:,.0f} | {np_valid:.4f} |")
    print(f"| numpy, OpenBLAS default threads | {numpy[None]:.2f} | {tokens / numpy[None]:,.0f} | |")
    print(f"| recur, training loop | {rc_loop:.2f} | {tokens / rc_loop:,.0f} | {rc_valid:.4f} |")
    print(f"| recur, whole process (start-up, reading the text, saving) | {rc:.2f} | {tokens / rc:,.0f} | |")
    print(f"\nrecur / numpy (numpy's faster setting), training loop against training loop: {np_best / rc_loop:.1f}x; "
          f"recur's whole process against numpy's loop: {np_best / rc:.1f}x")


if __name__ == "__main__":
    main()
