#!/usr/bin/env python3
"""PyTorch side of the recur training-speed benchmark.

Measures training throughput (tokens/s) of a one-hot-input RNN/LSTM/GRU
classifier on synthetic data: nn.RNN/LSTM/GRU(V, H, L) -> Linear(H, C) on
h_n[-1] -> cross_entropy -> Adam. Each timed step does zero_grad, one-hot
encoding, forward, loss, backward and optimizer.step(). The same model and
shapes are trained by build/bench/train_bench (C++); both print one line of
JSON with the same keys to stdout.

Usage:
  /usr/bin/python3 bench/torch_train_bench.py --cell lstm --layers 2 \
      --hidden 128 --steps 50 --threads 1
"""
import argparse
import json
import os
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_common import make_rnn  # noqa: E402


class Model(nn.Module):
    def __init__(self, cell, V, H, L, C):
        super().__init__()
        self.rnn = make_rnn(cell, V, H, L)
        self.head = nn.Linear(H, C)
        self.V = V

    def forward(self, ids):
        x = F.one_hot(ids, self.V).float()  # (T, B, V)
        _, h_n = self.rnn(x)
        if isinstance(h_n, tuple):  # LSTM: (h_n, c_n)
            h_n = h_n[0]
        return self.head(h_n[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cell", required=True, choices=["rnn", "lstm", "gru"])
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--vocab", type=int, default=80)
    p.add_argument("--classes", type=int, default=2)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--batches", type=int, default=8)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.set_flush_denormal(True)  # as recur's training does (FlushDenormals): neither pays for denormals
    torch.set_num_interop_threads(1)
    torch.manual_seed(a.seed)

    T, B = a.seq_len, a.batch
    data = [(torch.randint(0, a.vocab, (T, B), dtype=torch.long),
             torch.randint(0, a.classes, (B,), dtype=torch.long))
            for _ in range(a.batches)]

    model = Model(a.cell, a.vocab, a.hidden, a.layers, a.classes)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)

    def step(i):
        ids, y = data[i % len(data)]
        opt.zero_grad()
        loss = F.cross_entropy(model(ids), y)
        loss.backward()
        opt.step()
        return loss

    for i in range(a.warmup):
        step(i)
    loss = None
    t0 = time.perf_counter()
    for i in range(a.steps):
        loss = step(a.warmup + i)
    seconds = time.perf_counter() - t0

    print(json.dumps({
        "impl": "torch",
        "torch": torch.__version__,
        "cell": a.cell,
        "layers": a.layers,
        "hidden": a.hidden,
        "vocab": a.vocab,
        "batch": B,
        "seq_len": T,
        "steps": a.steps,
        "threads": a.threads,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
        "seconds": seconds,
        "tokens_per_s": B * T * a.steps / seconds if seconds > 0 else 0.0,
        "final_loss": float(loss) if loss is not None else None,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
