#!/usr/bin/env python3
"""Grapheme-to-phoneme on the CMU Pronouncing Dictionary: recur's --preset g2p,
its quality on the test words, and its speed beside PyTorch (make bench-g2p).

Three parts, one after the other (nothing else should run on the machine):

  1. quality: build/recur train --preset g2p on data/external/cmudict.train.tsv
     (validation on cmudict.valid.tsv; with --with-valid, on both files
     together, 5% of their words held out for validation), timed as a whole
     process, then
     build/recur eval --beam 5 (and greedy) on cmudict.test.tsv: word error rate
     (a word is right when the output is any of its pronunciations) and phoneme
     error rate (edit distance to the closest pronunciation / its length).
     --model FILE skips the training and evaluates FILE.
  2. training speed: one epoch of the preset's model on the first --speed-pairs
     pairs of a seeded shuffle of the training data, by recur (its log's target
     symbols/s, validation not counted) and by a PyTorch encoder-decoder of the
     same sizes, attention and input feeding built from torch.nn modules
     (packed bi-LSTM encoder, tanh bridge, decoder LSTM stepped with input
     feeding, Luong general attention, dropout where recur has it, Adam 2e-3,
     global-norm clip 5, batches of 64 pairs of similar source length, the
     cross-entropy of the real target symbols): target symbols (with <eos>) per
     second of training.
  3. decoding speed: beam 5, 64 words at a time, on the first --decode-words test
     words: build/recur translate --beam 5 timed as a whole process, and the
     PyTorch model holding the weights of recur's model (read from its file)
     decoding the same words with a batched beam search (the same scores:
     log-probability over (length + 1)) — words/s, and how many outputs agree.

Both sides use --threads threads (recur: OPENBLAS_NUM_THREADS, and recur
translate --threads, which decodes chunks of 32 words side by side; PyTorch:
torch.set_num_threads). Prints the CPU, OpenBLAS's kernels, a markdown table and
the ratios.

Usage (from the repository root, after make data):
  /usr/bin/python3 bench/g2p_bench.py                 # everything (about 45 minutes)
  /usr/bin/python3 bench/g2p_bench.py --with-valid    # the same, trained on train + valid
  /usr/bin/python3 bench/g2p_bench.py --model M.st    # 2 and 3 only, with a trained model
  /usr/bin/python3 bench/g2p_bench.py --quick         # smoke: tiny sizes

bench/g2p_nbest_combine.py scores several models' n-best lists together.
"""
import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time

from machine import cpu, same_blas_kernels  # bench/machine.py

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = os.path.join(ROOT, "data", "external")
RECUR = os.path.join(ROOT, "build", "recur")
sys.path.insert(0, os.path.join(ROOT, "tests"))


def read_pairs(path, limit=None):
    pairs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            src, tgt = line.rstrip("\n").split("\t")
            pairs.append((src.lower(), tgt.split()))
    return pairs[:limit] if limit else pairs


def run(cmd, env=None):
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"g2p_bench: {' '.join(cmd)} failed:\n{r.stderr}")
    return r, wall


# ---- the PyTorch model ------------------------------------------------------------

def torch_model(V_src, V_tgt, H_enc, H_dec, embed, dropout, enc_layers=1):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Seq2Seq(nn.Module):
        """recur's --preset g2p network under recur's tensor names (docs/model-format.md)."""

        def __init__(self):
            super().__init__()
            width = 2 * H_enc
            self.encoder = nn.Module()
            self.encoder.embedding = nn.Embedding(V_src, embed)
            # dropout between the encoder's layers, as recur's stack has it
            self.encoder.rnn = nn.LSTM(embed, H_enc, num_layers=enc_layers, bidirectional=True,
                                       dropout=dropout if enc_layers > 1 else 0.0)
            self.bridge = nn.Module()
            lin = nn.Linear(width, H_dec)
            self.bridge.weight_l0, self.bridge.bias_l0 = lin.weight, lin.bias
            self.decoder = nn.Module()
            self.decoder.embedding = nn.Embedding(V_tgt, embed)
            self.decoder.rnn = nn.LSTM(embed + H_dec, H_dec)
            self.attention = nn.Module()
            self.attention.weight = nn.Parameter(torch.empty(H_dec, width).uniform_(-0.1, 0.1))
            self.attention.combine = nn.Linear(width + H_dec, H_dec)
            self.head = nn.Linear(H_dec, V_tgt)
            self.drop = nn.Dropout(dropout)

        def encode(self, src, src_len):
            """src (S, B) ids, src_len list -> outputs E (S, B, W), keys K, mask (B, S), the decoder's state."""
            x = self.encoder.embedding(src)
            packed = nn.utils.rnn.pack_padded_sequence(x, torch.tensor(src_len), enforce_sorted=False)
            out, (h_n, _) = self.encoder.rnn(packed)
            E, _ = nn.utils.rnn.pad_packed_sequence(out, total_length=src.shape[0])
            E = self.drop(E)
            # the bridge of decoder layer 0 reads encoder layer 0's final states (recur: min(k, layers - 1))
            h0 = torch.tanh(F.linear(torch.cat([h_n[0], h_n[1]], dim=1), self.bridge.weight_l0, self.bridge.bias_l0))
            state = (h0.unsqueeze(0), torch.zeros_like(h0).unsqueeze(0))
            K = E @ self.attention.weight.t()
            mask = (torch.arange(src.shape[0]).unsqueeze(0) < torch.tensor(src_len).unsqueeze(1))
            return E.transpose(0, 1), K.transpose(0, 1), mask, state

        def step(self, prev, htilde, state, E, K, mask):
            """One decoder step for R rows: E, K (R, S, W|H), mask (R, S)."""
            u = torch.cat([self.decoder.embedding(prev), htilde], dim=1)
            out, state = self.decoder.rnn(u.unsqueeze(0), state)
            q = out[0]
            e = torch.bmm(K, q.unsqueeze(2)).squeeze(2).masked_fill(~mask, float("-inf"))
            a = torch.softmax(e, dim=1)
            ctx = torch.bmm(a.unsqueeze(1), E).squeeze(1)
            htilde = self.drop(torch.tanh(self.attention.combine(torch.cat([ctx, q], dim=1))))
            return self.head(htilde), htilde, state

    return Seq2Seq()


def torch_vocab(pairs):
    src = sorted({c for s, _ in pairs for c in s}) + ["<unk>"]
    tgt = ["<bos>", "<eos>", "<unk>"] + sorted({p for _, t in pairs for p in t})
    return src, tgt


def torch_batches(pairs, batch, rng):
    """Pairs of similar source length together (as recur's length buckets), in a random order."""
    order = list(range(len(pairs)))
    rng.shuffle(order)
    chunk = batch * 50
    out = []
    for i in range(0, len(order), chunk):
        part = sorted(order[i:i + chunk], key=lambda j: len(pairs[j][0]))
        out += [part[k:k + batch] for k in range(0, len(part), batch)]
    rng.shuffle(out)
    return out


def torch_train_speed(pairs, threads, H_enc, H_dec, embed, dropout, batch, enc_layers, lr):
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    sv, tv = torch_vocab(pairs)
    si, ti = {c: i for i, c in enumerate(sv)}, {p: i for i, p in enumerate(tv)}
    model = torch_model(len(sv), len(tv), H_enc, H_dec, embed, dropout, enc_layers)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    symbols, loss_sum, seconds = 0, 0.0, 0.0
    for idx in torch_batches(pairs, batch, random.Random(1)):
        t0 = time.perf_counter()
        srcs = [[si[c] for c in pairs[j][0]] for j in idx]
        tgts = [[ti[p] for p in pairs[j][1]] + [1] for j in idx]
        S, T, B = max(map(len, srcs)), max(map(len, tgts)), len(idx)
        src = torch.zeros(S, B, dtype=torch.long)
        tgt_in = torch.zeros(T, B, dtype=torch.long)
        tgt_out = torch.full((T, B), -1, dtype=torch.long)
        for b in range(B):
            src[:len(srcs[b]), b] = torch.tensor(srcs[b])
            tgt_in[1:len(tgts[b]), b] = torch.tensor(tgts[b][:-1])
            tgt_out[:len(tgts[b]), b] = torch.tensor(tgts[b])
        E, K, mask, state = model.encode(src, [len(s) for s in srcs])
        htilde = torch.zeros(B, H_dec)
        logits = []
        for t in range(T):
            z, htilde, state = model.step(tgt_in[t], htilde, state, E, K, mask)
            logits.append(z)
        n = sum(len(t) for t in tgts)
        loss = F.cross_entropy(torch.stack(logits).reshape(T * B, -1), tgt_out.reshape(-1), ignore_index=-1,
                               reduction="sum") / n
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        seconds += time.perf_counter() - t0
        symbols += n
        loss_sum += loss.item() * n
    return symbols / seconds, loss_sum / symbols, seconds


def torch_beam_speed(model_path, words, threads, beam, batch):
    """recur's model, read from its file, decoding `words` with a batched beam search."""
    import torch
    from safetensors_io import read_safetensors
    torch.set_num_threads(threads)
    tensors, meta = read_safetensors(model_path)
    sv, tv = json.loads(meta["src_vocab"]), json.loads(meta["tgt_vocab"])
    H_enc, H_dec = int(meta["encoder_hidden_size"]), int(meta["decoder_hidden_size"])
    model = torch_model(len(sv), len(tv), H_enc, H_dec, int(meta["decoder_embed"]), 0.0, int(meta["encoder_num_layers"]))
    model.load_state_dict({k: torch.as_tensor(v) for k, v in tensors.items()})
    model.eval()
    si = {c: i for i, c in enumerate(sv)}
    unk = len(sv) - 1
    outputs = []
    t0 = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(words), batch):
            chunk = words[i:i + batch]
            srcs = [[si.get(c, unk) for c in w] for w in chunk]
            B, S = len(srcs), max(map(len, srcs))
            src = torch.zeros(S, B, dtype=torch.long)
            for b, s in enumerate(srcs):
                src[:len(s), b] = torch.tensor(s)
            E, K, mask, (h, c) = model.encode(src, [len(s) for s in srcs])
            # every source's hypotheses as rows; row b*beam + k
            rep = lambda x: x.repeat_interleave(beam, dim=0)  # noqa: E731
            E, K, mask = rep(E), rep(K), rep(mask)
            h, c = h.repeat_interleave(beam, dim=1), c.repeat_interleave(beam, dim=1)
            htilde = torch.zeros(B * beam, H_dec)
            prev = torch.zeros(B * beam, dtype=torch.long)
            score = torch.full((B, beam), float("-inf"))
            score[:, 0] = 0.0
            seqs = [[[] for _ in range(beam)] for _ in range(B)]
            finished = [[] for _ in range(B)]
            max_len = 3 * S + 10
            for t in range(max_len):
                z, htilde, (h, c) = model.step(prev, htilde, (h, c), E, K, mask)
                logp = torch.log_softmax(z, dim=1)
                logp[:, 0] = float("-inf")  # never <bos>
                total = (score.reshape(-1, 1) + logp).reshape(B, -1)
                top, arg = total.topk(2 * beam, dim=1)
                new_score = torch.full((B, beam), float("-inf"))
                rows = torch.zeros(B * beam, dtype=torch.long)
                new_prev = torch.zeros(B * beam, dtype=torch.long)
                new_seqs = [[[] for _ in range(beam)] for _ in range(B)]
                done = True
                for b in range(B):
                    kept = 0
                    for v, a in zip(top[b].tolist(), arg[b].tolist()):
                        if v == float("-inf") or kept == beam:
                            break
                        k, sym = divmod(a, len(tv))
                        seq = seqs[b][k]
                        if sym == 1:  # <eos>: finished, scored per symbol
                            if len(finished[b]) < beam:
                                finished[b].append((v / (len(seq) + 1), seq))
                            continue
                        new_score[b, kept] = v
                        rows[b * beam + kept] = b * beam + k
                        new_prev[b * beam + kept] = sym
                        new_seqs[b][kept] = seq + [sym]
                        kept += 1
                    if len(finished[b]) >= beam:
                        best_live = new_score[b, 0].item() / (t + 2)
                        if max(f[0] for f in finished[b]) >= best_live:
                            new_score[b, :] = float("-inf")
                    if new_score[b, 0].item() != float("-inf"):
                        done = False
                score, seqs, prev = new_score, new_seqs, new_prev
                h, c, htilde = h[:, rows], c[:, rows], htilde[rows]
                if done:
                    break
            for b in range(B):
                best = max(finished[b]) if finished[b] else (0.0, [])
                outputs.append(" ".join(tv[s] for s in best[1]))
    return len(words) / (time.perf_counter() - t0), outputs


# ---- recur ---------------------------------------------------------------------------

PRESET_DROPOUT, PRESET_BATCH, PRESET_LR = 0.1, 64, 1e-3  # --preset g2p's (src/options.cpp)
EPOCH = re.compile(r"^epoch (\d+)/\d+ .*\| ([\d.]+) target symbols/s")


def recur_train(args, train, valid, save, extra):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(args.threads))
    cmd = [RECUR, "train", "--preset", "g2p", "--train", train, "--save", save] + (["--valid", valid] if valid else []) + extra
    r, wall = run(cmd, env)
    epochs = [(int(m.group(1)), float(m.group(2))) for m in map(EPOCH.match, r.stderr.splitlines() + r.stdout.splitlines()) if m]
    return r, wall, epochs


def recur_eval(model, data, beam):
    r, wall = run([RECUR, "eval", "--model", model, "--data", data, "--beam", str(beam), "--format", "json"])
    return json.loads(r.stdout), wall


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="a trained --preset g2p model: skip part 1's training")
    ap.add_argument("--quick", action="store_true", help="smoke test: tiny sizes, no full training")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--speed-pairs", type=int, default=20000)
    ap.add_argument("--decode-words", type=int, default=2000)
    ap.add_argument("--with-valid", action="store_true",
                    help="part 1 trains on the train and valid words together (90%% of the dictionary, as the "
                         "published setups train on); the preset holds out 5%% of them to pick its epoch")
    a = ap.parse_args()
    for f in ("cmudict.train.tsv", "cmudict.valid.tsv", "cmudict.test.tsv"):
        if not os.path.exists(os.path.join(DATA, f)):
            sys.exit(f"g2p_bench: {os.path.join(DATA, f)} is missing: run make data")
    train, valid, test = (os.path.join(DATA, f"cmudict.{s}.tsv") for s in ("train", "valid", "test"))
    kernels = same_blas_kernels()  # before this process loads torch
    core = subprocess.run([RECUR, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"CPU: {cpu()}; {core}; OpenBLAS kernels {kernels} for both; {a.threads} threads each")
    tmp = tempfile.mkdtemp(prefix="g2p_bench.")
    rows = []

    if a.quick:
        a.speed_pairs, a.decode_words = 1000, 100
    # 1. quality
    model = a.model
    if model is None:
        model = os.path.join(tmp, "g2p.safetensors")
        extra = ["--epochs", "1", "--hidden", "32"] if a.quick else []
        words, held = (train, valid) if not a.quick else (small(train, tmp, 2000), small(valid, tmp, 200))
        if a.with_valid:  # one file of both; --valid left out, so the preset holds out 5% of the words
            both = os.path.join(tmp, "train_valid.tsv")
            with open(both, "w", encoding="utf-8") as f:
                for path in (words, held):
                    with open(path, encoding="utf-8") as g:
                        f.write(g.read())
            words, held = both, None
        r, wall, epochs = recur_train(a, words, held, model, extra)
        print("\n".join(x for x in (r.stdout + r.stderr).splitlines() if x.startswith(("epoch", "Best"))))
        rows.append((f"recur train --preset g2p{' on train + valid' if a.with_valid else ''} (whole process)",
                     f"{wall / 60:.1f} min, {len(epochs)} epochs"))
    for beam in (1, 5):
        rep, wall = recur_eval(model, test if not a.quick else small(test, tmp, 500), beam)
        rows.append((f"test, {'greedy' if beam == 1 else 'beam 5'}: WER / PER",
                     f"{100 * rep['sequence_error_rate']:.2f}% / {100 * rep['token_error_rate']:.2f}% "
                     f"({rep['n']} words, {wall:.1f} s)"))

    # 2. training speed
    pairs = read_pairs(train)
    random.Random(7).shuffle(pairs)
    pairs = pairs[:a.speed_pairs]
    sub = os.path.join(tmp, "speed.tsv")
    with open(sub, "w") as f:
        f.writelines(f"{s}\t{' '.join(t)}\n" for s, t in pairs)
    extra = ["--epochs", "1", "--members", "1"] + (["--hidden", "32"] if a.quick else [])
    speed_model = os.path.join(tmp, "speed.safetensors")
    _, _, epochs = recur_train(a, sub, small(valid, tmp, 200), speed_model, extra)
    recur_tps = epochs[0][1]
    # The PyTorch twin takes the preset's sizes from the model it trained; its
    # dropout, batch and learning rate are the preset's (src/options.cpp).
    from safetensors_io import read_safetensors
    _, meta = read_safetensors(speed_model)
    if meta["decoder_num_layers"] != "1" or meta["encoder_bidirectional"] != "true" or meta["encoder_cell"] != "lstm":
        sys.exit("g2p_bench: the PyTorch twin builds a bidirectional LSTM encoder and a one-layer decoder; "
                 "the preset has changed")
    torch_tps, torch_loss, torch_s = torch_train_speed(
        pairs, a.threads, int(meta["encoder_hidden_size"]), int(meta["decoder_hidden_size"]),
        int(meta["decoder_embed"]), PRESET_DROPOUT, PRESET_BATCH, int(meta["encoder_num_layers"]), PRESET_LR)
    rows.append((f"training, target symbols/s ({len(pairs)} pairs, one epoch)",
                 f"recur {recur_tps:,.0f} | PyTorch {torch_tps:,.0f} | {recur_tps / torch_tps:.2f}x"))

    # 3. beam-5 decoding speed
    words = [s for s, _ in read_pairs(test)]
    words = list(dict.fromkeys(words))[:a.decode_words]
    src = os.path.join(tmp, "words.txt")
    with open(src, "w") as f:
        f.writelines(w + "\n" for w in words)
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(a.threads))

    def recur_translate(path):
        t0 = time.perf_counter()
        r = subprocess.run([RECUR, "translate", "--model", path, "--beam", "5", "--batch", "64", "--threads",
                            str(a.threads)], stdin=open(src),
                           capture_output=True, text=True, env=env)
        wps = len(words) / (time.perf_counter() - t0)
        if r.returncode != 0:
            sys.exit("g2p_bench: recur translate failed: " + r.stderr)
        return wps, r.stdout.splitlines()

    # One model beside one model: the ensemble's first member, in a file of its own.
    single = first_member(model, tmp)
    recur_wps, recur_out = recur_translate(single)
    torch_wps, torch_out = torch_beam_speed(single, words, a.threads, 5, 64)
    agree = sum(x == y for x, y in zip(recur_out, torch_out))
    rows.append((f"beam-5 decoding, words/s ({len(words)} words, 64 at a time, one model)",
                 f"recur {recur_wps:,.0f} | PyTorch {torch_wps:,.0f} | {recur_wps / torch_wps:.2f}x "
                 f"(same output for {agree}/{len(words)})"))
    if single != model:
        members = read_safetensors(model)[1]["members"]
        rows.append((f"beam-5 decoding, words/s, the {members} models together", f"recur {recur_translate(model)[0]:,.0f}"))

    print("\n| measure | result |\n|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")


def first_member(model, tmp):
    """A model file of an ensemble's first member (its tensors under members.0.,
    docs/model-format.md), or the model itself when it is one model."""
    from safetensors_io import read_safetensors, write_safetensors
    tensors, meta = read_safetensors(model)
    if "members" not in meta:
        return model
    out = os.path.join(tmp, "member0.safetensors")
    prefix = "members.0."
    write_safetensors(out, {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)},
                      {k: v for k, v in meta.items() if k != "members"})
    return out


def small(path, tmp, n):
    out = os.path.join(tmp, f"{n}.{os.path.basename(path)}")
    with open(path) as f, open(out, "w") as g:
        g.writelines(line for _, line in zip(range(n), f))
    return out


if __name__ == "__main__":
    main()
