#!/usr/bin/env python3
"""A minimal character-level language model in plain numpy, batch 1.

The reference for `recur train --task lm --preset min-char-rnn`, written here
from the well-known description of the minimal character RNN: one-hot
characters in, a vanilla tanh RNN of 100 units, a softmax over the characters
out, truncated BPTT over 25 characters with the hidden state carried from one
piece of the text to the next (reset at the text's end), every gradient element
clipped to [-5, 5], and Adagrad with learning rate 0.1. Weights are drawn
randn * 0.01, biases zero.

It trains for --steps updates and reports the wall time of the training loop
and the loss (nats/char) on --valid, read as one stream with carried state.
bench/min_char_rnn_bench.sh times it against recur on the same text and
number of updates.

Usage: min_char_rnn.py --text FILE [--valid FILE] [--steps N] [--seed N]
"""
import argparse
import json
import time

import numpy as np

HIDDEN, SEQ, LR, CLIP = 100, 25, 0.1, 5.0


def read(path):
    with open(path, encoding='utf-8') as f:
        return f.read()


def loss_and_grads(params, inputs, targets, hprev):
    Wxh, Whh, Why, bh, by = params
    xs, hs, ps = {}, {-1: np.copy(hprev)}, {}
    loss = 0.0
    V = Wxh.shape[1]
    for t in range(len(inputs)):
        xs[t] = np.zeros((V, 1))
        xs[t][inputs[t]] = 1
        hs[t] = np.tanh(Wxh @ xs[t] + Whh @ hs[t - 1] + bh)
        y = Why @ hs[t] + by
        e = np.exp(y - np.max(y))
        ps[t] = e / np.sum(e)
        loss += -np.log(ps[t][targets[t], 0])
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dhnext = np.zeros_like(hs[0])
    for t in reversed(range(len(inputs))):
        dy = np.copy(ps[t])
        dy[targets[t]] -= 1
        dWhy += dy @ hs[t].T
        dby += dy
        dh = Why.T @ dy + dhnext
        dz = (1 - hs[t] * hs[t]) * dh
        dbh += dz
        dWxh += dz @ xs[t].T
        dWhh += dz @ hs[t - 1].T
        dhnext = Whh.T @ dz
    grads = [dWxh, dWhh, dWhy, dbh, dby]
    for g in grads:
        np.clip(g, -CLIP, CLIP, out=g)
    return loss, grads, hs[len(inputs) - 1]


def stream_loss(params, ids):
    """Mean cross-entropy of predicting each next character of ids, one pass."""
    Wxh, Whh, Why, bh, by = params
    h = np.zeros((Whh.shape[0], 1))
    total = 0.0
    for t in range(len(ids) - 1):
        h = np.tanh(Wxh[:, ids[t]:ids[t] + 1] + Whh @ h + bh)
        y = Why @ h + by
        m = np.max(y)
        total += m + np.log(np.sum(np.exp(y - m))) - y[ids[t + 1], 0]
    return total / max(1, len(ids) - 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--text', required=True)
    ap.add_argument('--valid')
    ap.add_argument('--steps', type=int, default=2000)
    ap.add_argument('--seed', type=int, default=1)
    a = ap.parse_args()

    data = read(a.text)
    chars = sorted(set(data))
    index = {c: i for i, c in enumerate(chars)}
    ids = [index[c] for c in data]
    V = len(chars)
    rng = np.random.RandomState(a.seed)
    Wxh = rng.randn(HIDDEN, V) * 0.01
    Whh = rng.randn(HIDDEN, HIDDEN) * 0.01
    Why = rng.randn(V, HIDDEN) * 0.01
    bh, by = np.zeros((HIDDEN, 1)), np.zeros((V, 1))
    params = [Wxh, Whh, Why, bh, by]
    memory = [np.zeros_like(p) for p in params]

    p, hprev = 0, np.zeros((HIDDEN, 1))
    losses = []
    t0 = time.perf_counter()
    for n in range(a.steps):
        if p + SEQ + 1 >= len(ids):  # the end of the text: from its start, with a zero state
            p, hprev = 0, np.zeros((HIDDEN, 1))
        loss, grads, hprev = loss_and_grads(params, ids[p:p + SEQ], ids[p + 1:p + SEQ + 1], hprev)
        losses.append(loss / SEQ)
        for w, g, m in zip(params, grads, memory):
            m += g * g
            w += -LR * g / np.sqrt(m + 1e-8)
        p += SEQ
    seconds = time.perf_counter() - t0

    out = {'steps': a.steps, 'seconds': seconds, 'vocab': V,
           'train_loss_last_200': float(np.mean(losses[-200:]))}
    if a.valid:
        valid = [index[c] for c in read(a.valid) if c in index]
        out['valid_loss'] = stream_loss(params, valid)
    print(json.dumps(out))


if __name__ == '__main__':
    main()
