#!/usr/bin/env python3
"""PyTorch side of the recur character-level language-model benchmark.

Trains the same char-level LM as `recur train --task lm` and reports speed and
validation loss, so that bench/lm_bench.py can put the two side by side.

What is mirrored from recur (src/lm.cpp, include/recur/lm.hpp):
  * Vocabulary: the distinct code points of the training text, sorted, then
    `<unk>` last; unknown validation characters map to `<unk>`. Files are read
    as UTF-8 with a leading BOM dropped and line endings left as they are.
  * Model: one-hot input -> nn.LSTM/GRU/RNN(V, H, num_layers=L) (time-major)
    -> nn.Linear(H, V) on every step (PyTorch's default init and two biases,
    which are recur's LM defaults: --init pytorch --bias-hh).
  * Batches: B streams over the training ids, span = (N-1)//B, stream b reads
    ids[b*span : b*span+span+1]; span//T steps per pass; the state is zeroed
    at the start of each pass and otherwise carried (detached) between steps.
  * Loss: mean cross-entropy over the T*B predictions; Adam; global-norm
    gradient clipping (clip_grad_norm_) before every step.
  * Validation: the whole validation text as one stream in chunks of 256
    symbols, state carried; mean nats over len(valid)-1 predictions; every
    --eval-every steps and after the last step.
  * final_train_loss is the mean training loss since the previous
    validation, as recur's log line shows it.

Timing: train_seconds counts the training steps only; valid_seconds the
validations. Sampling (--sample N symbols at batch 1, one step at a time:
one-hot, cell step, linear, softmax, torch.multinomial) is timed separately.

Output: one JSON line on stdout; progress on stderr.

Usage:
  /usr/bin/python3 bench/torch_lm_bench.py \
      --text data/external/moby_dick.train.txt \
      --valid-text data/external/moby_dick.valid.txt --steps 2000 --threads 1
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_common import make_rnn  # noqa: E402

UNK = "<unk>"


def read_text(path):
    # utf-8-sig drops a BOM as recur does; newline="" keeps \r\n untouched.
    with open(path, encoding="utf-8-sig", newline="") as f:
        return f.read()


class CharLM(nn.Module):
    def __init__(self, cell, V, H, L):
        super().__init__()
        self.rnn = make_rnn(cell, V, H, L)
        self.head = nn.Linear(H, V)
        self.V = V

    def forward(self, ids, state=None):
        """ids: (T, B) int64 -> logits (T, B, V), final state."""
        x = F.one_hot(ids, self.V).float()
        out, state = self.rnn(x, state)
        return self.head(out), state


def detach(state):
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


@torch.no_grad()
def evaluate(model, valid_ids, chunk=256):
    """Mean nats per predicted token over the whole validation stream."""
    model.eval()
    state, total, n = None, 0.0, 0
    ids = valid_ids
    for start in range(0, len(ids) - 1, chunk):
        length = min(chunk, len(ids) - 1 - start)
        x = ids[start:start + length].view(length, 1)
        y = ids[start + 1:start + length + 1]
        logits, state = model(x, state)
        total += F.cross_entropy(logits.view(length, -1), y, reduction="sum").item()
        n += length
    model.train()
    return total / max(n, 1)


@torch.no_grad()
def sample(model, n, V, first=0):
    """Generate n symbols at batch 1, one step at a time; returns the ids."""
    model.eval()
    state = None
    idx = torch.tensor([[first]], dtype=torch.long)
    out = []
    for _ in range(n):
        x = F.one_hot(idx, V).float()  # (1, 1, V)
        h, state = model.rnn(x, state)
        logits = model.head(h[-1, 0])
        probs = torch.softmax(logits, dim=-1)
        nxt = torch.multinomial(probs, 1)
        out.append(nxt.item())
        idx = nxt.view(1, 1)
    model.train()
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--text", required=True, help="training text (UTF-8)")
    p.add_argument("--valid-text", required=True, help="validation text (UTF-8)")
    p.add_argument("--cell", default="lstm", choices=["rnn", "gru", "lstm"])
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--clip-norm", type=float, default=5.0)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--eval-every", type=int, default=200)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--sample", type=int, default=2000, help="symbols to sample for the speed test (0 = skip)")
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    train_text, valid_text = read_text(a.text), read_text(a.valid_text)
    chars = sorted(set(train_text))
    vocab = {c: i for i, c in enumerate(chars)}
    unk = len(chars)
    V = unk + 1  # <unk> last
    train_ids = torch.tensor([vocab[c] for c in train_text], dtype=torch.long)
    valid_ids = torch.tensor([vocab.get(c, unk) for c in valid_text], dtype=torch.long)
    n_unknown = sum(1 for c in valid_text if c not in vocab)
    N, B, T = len(train_ids), a.batch, a.seq_len
    span = (N - 1) // B
    per_pass = span // T
    if per_pass < 1:
        sys.exit(f"the training text ({N} tokens) is too short for {B} streams of {T}")
    print(f"torch: {N} training tokens, {len(valid_ids)} validation tokens ({n_unknown} unknown), "
          f"vocabulary {V}, {per_pass} steps per pass, {a.threads} thread(s)", file=sys.stderr)

    # Stream b's window: ids[b*span + p*T + t] for p < per_pass, t <= T.
    starts = torch.arange(B) * span  # (B,)
    offs = torch.arange(T + 1)  # (T+1,)

    model = CharLM(a.cell, V, a.hidden, a.layers)
    params = list(model.parameters())
    opt = torch.optim.Adam(params, lr=a.lr)

    train_seconds = valid_seconds = 0.0
    valid_log = []
    loss_sum, since_log, last_train = 0.0, 0, float("nan")
    state = None
    t0 = time.perf_counter()
    for step in range(1, a.steps + 1):
        j = (step - 1) % per_pass
        if j == 0:
            state = None  # a new pass: every stream starts from zeros
        window = train_ids[(starts.view(1, B) + j * T + offs.view(T + 1, 1))]  # (T+1, B)
        x, y = window[:-1], window[1:]
        logits, state = model(x, state)
        loss = F.cross_entropy(logits.view(T * B, V), y.reshape(T * B))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if a.clip_norm > 0:
            torch.nn.utils.clip_grad_norm_(params, a.clip_norm)
        opt.step()
        state = detach(state)
        loss_sum += loss.item()
        since_log += 1

        if step % max(1, a.eval_every) == 0 or step == a.steps:
            train_seconds += time.perf_counter() - t0
            last_train = loss_sum / since_log
            tv = time.perf_counter()
            vl = evaluate(model, valid_ids)
            valid_seconds += time.perf_counter() - tv
            valid_log.append([step, vl])
            print(f"torch: step {step}/{a.steps} | train loss {last_train:.4f} | valid loss {vl:.4f} nats"
                  f" | {step * T * B / train_seconds:.0f} tokens/s (cumulative)", file=sys.stderr)
            loss_sum, since_log = 0.0, 0
            t0 = time.perf_counter()

    sps = None
    if a.sample > 0:
        ts = time.perf_counter()
        sample(model, a.sample, V)
        sps = a.sample / (time.perf_counter() - ts)
        print(f"torch: sampled {a.sample} symbols, {sps:.0f} symbols/s", file=sys.stderr)

    print(json.dumps({
        "impl": "torch",
        "steps": a.steps,
        "train_seconds": round(train_seconds, 3),
        "valid_seconds": round(valid_seconds, 3),
        "tokens_per_s": round(a.steps * T * B / train_seconds, 1),
        "final_train_loss": round(last_train, 5),
        "valid_loss_final": round(valid_log[-1][1], 5),
        "valid_loss_best": round(min(v for _, v in valid_log), 5),
        "valid_log": [[s, round(v, 5)] for s, v in valid_log],
        "sample_symbols_per_s": None if sps is None else round(sps, 1),
        "threads": a.threads,
    }))


if __name__ == "__main__":
    main()
