#!/usr/bin/env python3
"""How a language model's cost grows: with the size of the text, and with the
model's hidden size, sequence length and batch.

1. Texts of 10 MB, 100 MB and 1 GB (--sizes), built in bench/out/ by repeating
   the corpora `make data` fetched (Moby Dick and the UCI sentences). For each,
   `recur train --task lm` (the language-model defaults: LSTM 2x128, batch 32,
   sequence 64, Adam) for --steps steps, as a whole process under
   /usr/bin/time: the wall time, the training rate recur logs (tokens/s over
   its steps), the start-up (wall minus training) and the peak resident memory.
2. bench/train_bench (recur's engine on synthetic batches, LSTM, one-hot 80,
   Adam) over hidden 128 -> 1024, sequence 16 -> 256 and batch 1 -> 128, each
   varied alone from H=256, T=64, B=32: tokens/s and microseconds per token.

Usage (from the repository root, after `make build data`):
  /usr/bin/python3 bench/lm_scale.py [--sizes 10,100,1000] [--steps 200]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

from machine import cpu, same_blas_kernels  # bench/machine.py

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
EXT = os.path.join(ROOT, "data", "external")
OUT = os.path.join(ROOT, "bench", "out")
SOURCES = ["moby_dick.txt", "sentiment_all.tsv"]


def build_text(mb):
    path = os.path.join(OUT, f"lm_scale_{mb}mb.txt")
    want = mb * 1000 * 1000
    if os.path.exists(path) and os.path.getsize(path) >= want:
        return path
    pieces = []
    for name in SOURCES:
        with open(os.path.join(EXT, name), encoding="utf-8") as f:
            pieces.append(f.read())
    block = "\n".join(pieces).encode("utf-8")
    os.makedirs(OUT, exist_ok=True)
    with open(path, "wb") as f:
        written = 0
        while written < want:
            f.write(block)
            written += len(block)
    return path


def time_v(cmd):
    """(wall seconds, peak RSS MB, output) of a command run under /usr/bin/time -v."""
    r = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stderr[-2000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", r.stderr).group(1)
    parts = [float(p) for p in wall.split(":")]
    secs = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr).group(1)) / 1024
    return secs, rss, r.stdout + r.stderr


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recur", default=os.path.join(ROOT, "build", "recur"))
    ap.add_argument("--train-bench", default=os.path.join(ROOT, "build", "bench", "train_bench"))
    ap.add_argument("--sizes", default="10,100,1000", help="text sizes in MB")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--parts", default="size,shape", help="which tables: size (text size), shape (model shape)")
    a = ap.parse_args()
    for name in SOURCES:
        if not os.path.exists(os.path.join(EXT, name)):
            sys.exit(f"{os.path.join(EXT, name)} is missing: run `make data` first")
    print(f"machine: {cpu()}; OpenBLAS kernels {same_blas_kernels()}", flush=True)

    parts = a.parts.split(",")
    if "size" in parts:
        text_sizes(a)
    if "shape" in parts:
        model_shapes(a)


def text_sizes(a):
    print(f"\n### Text size: recur train --task lm (LSTM 2x128, B=32, T=64, Adam), {a.steps} steps\n")
    print("| text | tokens | wall s | start-up s | training tokens/s | us/token | peak RSS MB | RSS / text |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for mb in (int(x) for x in a.sizes.split(",") if x):
        text = build_text(mb)
        size = os.path.getsize(text)
        with tempfile.TemporaryDirectory(prefix="lm_scale_") as tmp:
            wall, rss, out = time_v([a.recur, "train", "--task", "lm", "--text", text, "--steps", str(a.steps),
                                     "--eval-every", str(a.steps), "--save", os.path.join(tmp, "m.safetensors")])
        tokens = int(re.search(r"(\d+) training tokens", out).group(1))
        rate = float(re.findall(r"([0-9.]+) tokens/s", out)[-1])
        train_s = a.steps * 32 * 64 / rate
        print(f"| {size / 1e6:,.0f} MB | {tokens:,} | {wall:.1f} | {wall - train_s:.1f} | {rate:,.0f} | "
              f"{1e6 / rate:.2f} | {rss:,.0f} | {rss / (size / 2 ** 20):.1f} |", flush=True)


def model_shapes(a):
    print("\n### Model shape: bench/train_bench (LSTM, one-hot 80, Adam), one thing varied at a time\n")
    print("| hidden | sequence | batch | tokens/s | us/token |")
    print("|---:|---:|---:|---:|---:|")
    grid = [(h, 64, 32) for h in (128, 256, 512, 1024)] + [(256, t, 32) for t in (16, 256)] + \
           [(256, 64, b) for b in (1, 8, 128)]
    for h, t, b in grid:
        steps = max(3, int(375e3 * (128 / h) ** 2 / (b * t)))  # about 2-5 s each here
        out = subprocess.run([a.train_bench, "--cell", "lstm", "--hidden", str(h), "--seq-len", str(t), "--batch",
                              str(b), "--steps", str(steps), "--warmup", "2"],
                             check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(f"| {h} | {t} | {b} | {r['tokens_per_s']:,.0f} | {1e6 / r['tokens_per_s']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
