#!/usr/bin/env python3
"""Side-by-side benchmark: recur vs PyTorch on the char-level Moby-Dick LM.

Runs, one after the other, with the same settings (LSTM 2x128, one-hot input,
seq 64, batch 32, Adam 2e-3, global-norm clip 5, validation every 200 steps):

  (a) recur:   build/recur train --task lm ... --save TMP/model.safetensors,
               timed as a whole process; its log lines
                 step 200/2000 | lr 0.002 | train loss 2.1234 |
                 valid loss 1.9876 nats, 2.8675 bits * | 75000 tokens/s
               give the validation losses and tokens/s (recur times each
               logging interval without its validation; the overall rate is
               total tokens / the sum of the intervals' times). Then
               build/recur generate --model ... --length 20000 --seed 1,
               timed as a whole process -> symbols/s.
  (b) PyTorch: bench/torch_lm_bench.py (Debian's /usr/bin/python3) with the
               same settings and --threads 1 (also 2 threads with
               OMP_WAIT_POLICY=PASSIVE when --both-threads is given), and
               --sample 20000 to match recur's generate length.

Prints a markdown table (training wall time, training tokens/s, validation
loss final and best, sampling symbols/s at batch 1) and the ratios.

Usage (from the repository root):
  /usr/bin/python3 bench/lm_bench.py --quick      # smoke test: 100 steps
  /usr/bin/python3 bench/lm_bench.py              # full: 2000 steps
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
TRAIN = os.path.join(ROOT, "data/external/moby_dick.train.txt")
VALID = os.path.join(ROOT, "data/external/moby_dick.valid.txt")
GEN_LENGTH = 20000

LOG_RE = re.compile(
    r"^step (\d+)/(\d+) \| lr \S+ \| train loss ([\d.naif+-]+)"
    r"(?: \| valid loss ([\d.naif+-]+) nats, \S+ bits( \*)?)? \| ([\d.]+) tokens/s")


def common_args(steps, eval_every):
    """Settings shared by both implementations (flag names are the same)."""
    return ["--cell", "lstm", "--layers", "2", "--hidden", "128", "--seq-len", "64", "--batch", "32",
            "--lr", "2e-3", "--steps", str(steps), "--eval-every", str(eval_every)]


def run_recur(recur, steps, eval_every, tmp, seed=1):
    model = os.path.join(tmp, "model.safetensors")
    cmd = [recur, "train", "--task", "lm", "--text", TRAIN, "--valid-text", VALID,
           *common_args(steps, eval_every), "--optimizer", "adam", "--clip", "0", "--clip-norm", "5",
           "--seed", str(seed), "--save", model]
    print("+ " + " ".join(cmd), file=sys.stderr)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stdout:  # echo the log as it comes
        sys.stderr.write("recur: " + line)
        lines.append(line.rstrip("\n"))
    if proc.wait() != 0:
        sys.exit(f"recur train failed (exit {proc.returncode})")
    wall = time.perf_counter() - t0

    valid_log, intervals, prev_step, train_loss = [], [], 0, None
    for line in lines:
        m = LOG_RE.match(line)
        if not m:
            continue
        step = int(m.group(1))
        train_loss = float(m.group(3))
        if m.group(4) is not None:
            valid_log.append([step, float(m.group(4))])
        intervals.append((step - prev_step, float(m.group(6))))
        prev_step = step
    if not valid_log:
        sys.exit("no validation lines in recur's log:\n" + "\n".join(lines))
    tokens_per_step = 64 * 32
    tokens = sum(n for n, _ in intervals) * tokens_per_step
    secs = sum(n * tokens_per_step / r for n, r in intervals if r > 0)

    gen = [recur, "generate", "--model", model, "--length", str(GEN_LENGTH), "--seed", "1"]
    print("+ " + " ".join(gen) + " > /dev/null", file=sys.stderr)
    t0 = time.perf_counter()
    subprocess.run(gen, stdout=subprocess.DEVNULL, check=True)
    gen_wall = time.perf_counter() - t0
    return {
        "impl": "recur",
        "wall": wall,
        "tokens_per_s": tokens / secs if secs > 0 else float("nan"),
        "final_train_loss": train_loss,
        "valid_loss_final": valid_log[-1][1],
        "valid_loss_best": min(v for _, v in valid_log),
        "valid_log": valid_log,
        "sample_symbols_per_s": GEN_LENGTH / gen_wall,
    }


def run_torch(steps, eval_every, threads, seed=1):
    cmd = [sys.executable, os.path.join(HERE, "torch_lm_bench.py"), "--text", TRAIN, "--valid-text", VALID,
           *common_args(steps, eval_every), "--clip-norm", "5", "--threads", str(threads),
           "--sample", str(GEN_LENGTH), "--seed", str(seed)]
    env = dict(os.environ)
    if threads > 1:
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    print(("+ OMP_WAIT_POLICY=PASSIVE " if threads > 1 else "+ ") + " ".join(cmd), file=sys.stderr)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env, check=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    r["process_wall"] = time.perf_counter() - t0  # includes import, data, sampling: for reference only
    r["wall"] = r["train_seconds"] + r["valid_seconds"]
    return r


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--eval-every", type=int, default=200)
    p.add_argument("--recur", default=os.path.join(ROOT, "build/recur"))
    p.add_argument("--quick", action="store_true", help="smoke test: 100 steps, validation every 50")
    p.add_argument("--both-threads", action="store_true", help="also run PyTorch with 2 threads")
    p.add_argument("--seeds", type=int, default=1,
                   help="also train both with seeds 2..N (different initial weights) and compare the "
                        "final validation losses seed by seed and on average")
    a = p.parse_args()
    if a.quick:
        a.steps, a.eval_every = 100, 50
    print(f"machine: {cpu()}; OpenBLAS kernels {same_blas_kernels()} for recur and PyTorch")
    for f in (TRAIN, VALID):
        if not os.path.exists(f):
            sys.exit(f"{f} is missing: run `bash scripts/fetch-data.sh`")

    with tempfile.TemporaryDirectory(prefix="lm_bench_") as tmp:
        rec = run_recur(a.recur, a.steps, a.eval_every, tmp)
    torches = [run_torch(a.steps, a.eval_every, 1)]
    if a.both_threads:
        torches.append(run_torch(a.steps, a.eval_every, 2))

    print(f"\n### Char-level LM on Moby-Dick: LSTM 2x128, seq 64, batch 32, Adam 2e-3, {a.steps} steps\n")
    print("| | training wall time (s) | training tokens/s | valid loss final (nats/char) "
          "| valid loss best (nats/char) | sampling symbols/s (batch 1) |")
    print("|---|---:|---:|---:|---:|---:|")
    rows = [("recur", rec)] + [(f"PyTorch ({t['threads']} thread{'s' if t['threads'] > 1 else ''})", t)
                               for t in torches]
    for name, r in rows:
        print(f"| {name} | {r['wall']:.1f} | {r['tokens_per_s']:.0f} | {r['valid_loss_final']:.4f} "
              f"| {r['valid_loss_best']:.4f} | {r['sample_symbols_per_s']:.0f} |")
    print()
    for t in torches:
        label = f"PyTorch {t['threads']}T"
        print(f"- recur vs {label} (speed ratios recur/PyTorch, >1 = recur faster): "
              f"training wall time x{t['wall'] / rec['wall']:.2f}, "
              f"tokens/s x{rec['tokens_per_s'] / t['tokens_per_s']:.2f}, "
              f"sampling x{rec['sample_symbols_per_s'] / t['sample_symbols_per_s']:.2f}; "
              f"valid loss recur - PyTorch: final {rec['valid_loss_final'] - t['valid_loss_final']:+.4f}, "
              f"best {rec['valid_loss_best'] - t['valid_loss_best']:+.4f} nats/char")
    print(f"\nNotes: recur's wall time is the whole `recur train` process (reading data, training, "
          f"validation, saving); PyTorch's is train_seconds + valid_seconds inside the script "
          f"(without Python/torch start-up; its whole process took "
          + ", ".join(f"{t['process_wall']:.1f} s" for t in torches)
          + f" including sampling {GEN_LENGTH} symbols). Tokens/s exclude validation on both sides. "
          f"recur's sampling rate is the whole `recur generate --length {GEN_LENGTH}` process "
          f"(loading the model included); PyTorch's times the sampling loop only. "
          f"recur's saved (and sampled) model is the best validated one; PyTorch samples from the final one. "
          f"recur runs with OpenBLAS's thread count "
          f"(OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset: all cores')}).")
    print("\nvalid_log recur:   " + json.dumps(rec["valid_log"]))
    for t in torches:
        print(f"valid_log torch {t['threads']}T: " + json.dumps(t["valid_log"]))

    if a.seeds > 1:  # the loss comparison over several initialisations
        rec_losses, torch_losses = [rec["valid_loss_final"]], [torches[0]["valid_loss_final"]]
        for seed in range(2, a.seeds + 1):
            with tempfile.TemporaryDirectory(prefix="lm_bench_") as tmp:
                rec_losses.append(run_recur(a.recur, a.steps, a.eval_every, tmp, seed)["valid_loss_final"])
            torch_losses.append(run_torch(a.steps, a.eval_every, 1, seed)["valid_loss_final"])
        mean = lambda xs: sum(xs) / len(xs)
        print(f"\n| seed | recur valid loss | PyTorch valid loss |\n|---|---:|---:|")
        for i, (r, t) in enumerate(zip(rec_losses, torch_losses)):
            print(f"| {i + 1} | {r:.4f} | {t:.4f} |")
        print(f"| mean | {mean(rec_losses):.4f} | {mean(torch_losses):.4f} |")


if __name__ == "__main__":
    main()
