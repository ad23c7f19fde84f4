#!/usr/bin/python3
"""Write PyTorch reference fixtures for recur's recurrent classifiers.

Run from the repository root with Debian's PyTorch (CPU):

    /usr/bin/python3 tests/torch_reference.py

For each test case this builds the PyTorch equivalent of a recur classifier

    input ids (T, B) -> nn.Embedding(V, E) or one-hot(V)
                     -> nn.RNN / nn.LSTM / nn.GRU on a packed, padded batch
                     -> top layer's h_n (fwd at last real token, bwd at first token),
                        or (the *_pool_* cases, recur's --pool) the top layer's outputs
                        at every real step pooled by mean, max or attention
                        (softmax over steps of q . y_t, q = pool.query)
                     -> nn.Linear(D*H, C) -> softmax / mean cross-entropy

runs one forward/backward pass, and writes tests/fixtures/torch/<case>.safetensors.

Precision: parameters are created in float32 and stored as float32. The forward and
backward pass used for the stored outputs and gradients runs in float64 on exactly those
float32 values (cast up), and its results are cast down to float32 for storage, so the
fixtures hold accurate references for float32 parameters.

File format (safetensors): 8-byte little-endian unsigned header length N, N bytes of JSON
header (space-padded so that 8 + N is a multiple of 8), then the raw little-endian data.
The header maps each tensor name to {"dtype": "F32", "shape": [...], "data_offsets":
[begin, end]} (byte offsets from the start of the data section) and "__metadata__" to a
{string: string} map. Only F32 is used; integer data (token ids) is stored as float32.
Tensors lie in the data section in the order listed below, contiguous, covering it exactly.

Tensors, in order:
    input.ids            (T, B) token ids, time-major; entries past a sequence's length
                         are padding (0) and must not affect anything
    <param>              every parameter under its PyTorch state_dict name:
                         embedding.weight (absent for one-hot), rnn.weight_ih_l{k}[_reverse],
                         rnn.weight_hh_l{k}[_reverse], rnn.bias_ih_l{k}[_reverse],
                         rnn.bias_hh_l{k}[_reverse], pool.query (attention pooling
                         only), head.weight, head.bias
    grad.<param>         gradient of the mean loss with respect to each parameter
    out.logits (B, C), out.probs (B, C), out.loss (1,), out.features (B, D*H)

Metadata (all strings): cell (rnn_tanh | rnn_relu | lstm | gru), num_layers, hidden_size,
bidirectional (true | false), embed (E; 0 = one-hot), vocab (vocabulary SIZE), classes,
lengths (JSON array of B ints), targets (JSON array of B ints), torch_version,
pool (mean | max | attention) for the pooled cases, and for the *_subwords cases
subwords (MIN-MAX), buckets (N), vocab_words (JSON array of the V words) and words
(JSON array of the batch's T*B words, time-major, "" past a sequence's length);
their parameters add subwords.weight (N, E), and input.ids is an index into
vocab_words + the words outside the vocabulary (information only: the words decide).

The output is deterministic: re-running gives byte-identical files. After writing, each
file is read back and checked (offsets, shapes, and that a fresh float32 model loaded from
the stored parameters reproduces out.logits).
"""

import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402
from torch_models import recurrent_layer  # noqa: E402

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "torch")

CELLS = ["rnn_tanh", "rnn_relu", "lstm", "gru"]

# name suffix -> (num_layers, bidirectional, embed E, vocab V, hidden H, classes C)
CONFIGS = [
    ("l1_uni_onehot", dict(num_layers=1, bidirectional=False, embed=0, vocab=7, hidden=5, classes=3)),
    ("l2_uni_embed", dict(num_layers=2, bidirectional=False, embed=4, vocab=9, hidden=6, classes=2)),
    ("l1_bi_onehot", dict(num_layers=1, bidirectional=True, embed=0, vocab=6, hidden=4, classes=3)),
    ("l2_bi_embed", dict(num_layers=2, bidirectional=True, embed=3, vocab=8, hidden=5, classes=4)),
]

LENGTHS = [5, 2, 4, 1]  # batch B = 4, T = max = 5; unequal and unsorted on purpose
PAD_ID = 0

# Pooling over time: (cell, CONFIGS suffix, pool), after the 16 cases above.
POOL_CASES = [
    ("lstm", "l2_bi_embed", "mean"),
    ("gru", "l1_bi_onehot", "max"),
    ("rnn_tanh", "l2_uni_embed", "max"),
    ("lstm", "l2_bi_embed", "attention"),
    ("gru", "l1_uni_onehot", "attention"),
]

# Subword input (--subwords): (cell, CONFIGS suffix, pool, n-gram lengths, buckets).
# Each token is a word (VOCAB_WORDS' first V are the vocabulary; OOV_WORDS are
# not in it), read as the mean of its rows in [embedding.weight; subwords.weight]
# (nn.EmbeddingBag's mean): its own row when in the vocabulary, then the rows of
# its character n-grams, cut and hashed here independently of recur (FNV-1a).
SUBWORD_CASES = [
    ("lstm", "l2_bi_embed", "max", (2, 4), 13),
    ("gru", "l2_uni_embed", "last", (3, 5), 11),
]
VOCAB_WORDS = ["good", "bad", "movie", "plot", "great", "awful", "actor", "film", "story"]
OOV_WORDS = ["goodness", "movies", "plotting", "filmmaker", "badly", "café", "acting"]


def char_ngrams(word, lo, hi):
    """The n-grams (lo..hi code points) of "<" + word + ">", by start then length; no lone marker."""
    w = "<" + word + ">"
    out = []
    for i in range(len(w)):
        for n in range(1, hi + 1):
            j = i + n
            if j > len(w):
                break
            if n >= lo and not (n == 1 and (i == 0 or j == len(w))):
                out.append(w[i:j])
    return out


def fnv1a(text):
    h = 2166136261
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
    return h


def bag_rows(word, vocab, ngrams, buckets):
    rows = [vocab.index(word)] if word in vocab else []
    return rows + [len(vocab) + fnv1a(g) % buckets for g in char_ngrams(word, *ngrams)]


class PoolQuery(nn.Module):
    """Attention pooling's learned query (state_dict name pool.query)."""

    def __init__(self, width):
        super().__init__()
        self.query = nn.Parameter(0.5 * torch.randn(width))


class Model(nn.Module):
    """Embedding or one-hot -> RNN/LSTM/GRU -> final top-layer state -> Linear."""

    def __init__(self, cell, num_layers, bidirectional, embed, vocab, hidden, classes, pool="last", buckets=0):
        super().__init__()
        self.vocab = vocab
        self.pool_kind = pool
        if embed > 0:
            self.embedding = nn.Embedding(vocab, embed)
        else:
            self.embedding = None
        if buckets > 0:  # subwords: the n-gram rows after the embedding's
            self.subwords = nn.Embedding(buckets, embed)
        self.bags = None  # subwords: (flat rows, offsets) of each (t, b), time-major
        input_size = embed if embed > 0 else vocab
        kwargs = dict(input_size=input_size, hidden_size=hidden, num_layers=num_layers,
                      bias=True, batch_first=False, dropout=0.0, bidirectional=bidirectional)
        self.rnn = recurrent_layer(cell, **kwargs)
        self.bidirectional = bidirectional
        if pool == "attention":
            self.pool = PoolQuery((2 if bidirectional else 1) * hidden)
        self.head = nn.Linear((2 if bidirectional else 1) * hidden, classes)

    def features(self, ids, lengths):
        """ids: LongTensor (T, B); lengths: list of B ints. Returns (B, D*H)."""
        dtype = self.head.weight.dtype
        if self.bags is not None:
            table = torch.cat([self.embedding.weight, self.subwords.weight])
            rows, offsets = self.bags
            x = F.embedding_bag(rows, table, offsets, mode="mean").reshape(ids.shape[0], ids.shape[1], -1)
        elif self.embedding is not None:
            x = self.embedding(ids)
        else:
            x = F.one_hot(ids, self.vocab).to(dtype)
        packed = nn.utils.rnn.pack_padded_sequence(
            x, torch.tensor(lengths, dtype=torch.int64), enforce_sorted=False)
        out, h_n = self.rnn(packed)
        if self.pool_kind != "last":
            return self.pooled(out, lengths)
        if isinstance(h_n, tuple):  # LSTM: (h_n, c_n)
            h_n = h_n[0]
        if self.bidirectional:
            return torch.cat([h_n[-2], h_n[-1]], dim=1)
        return h_n[-1]

    def pooled(self, packed_out, lengths):
        """The top layer's outputs (T, B, D*H), pooled over each sequence's real steps."""
        y, _ = nn.utils.rnn.pad_packed_sequence(packed_out)
        real = (torch.arange(y.shape[0]).unsqueeze(1) < torch.tensor(lengths).unsqueeze(0)).unsqueeze(2)
        if self.pool_kind == "mean":
            return (y * real).sum(0) / torch.tensor(lengths, dtype=y.dtype).unsqueeze(1)
        if self.pool_kind == "max":
            return y.masked_fill(~real, float("-inf")).max(0).values
        scores = (y * self.pool.query).sum(2).masked_fill(~real[:, :, 0], float("-inf"))  # (T, B)
        alpha = torch.softmax(scores, dim=0).unsqueeze(2)
        return (alpha * y).sum(0)

    def forward(self, ids, lengths):
        feats = self.features(ids, lengths)
        return self.head(feats), feats


def init_parameters(model):
    """Default PyTorch init (already done), scaled by 1.5, plus noise on the biases."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.mul_(1.5)
            if "bias" in name:
                p.add_(0.1 * torch.randn(p.shape))


def make_batch(vocab, classes):
    """Random time-major ids (T, B), padded with PAD_ID past each length, and targets."""
    T, B = max(LENGTHS), len(LENGTHS)
    ids = torch.randint(0, vocab, (T, B))
    for b, n in enumerate(LENGTHS):
        ids[n:, b] = PAD_ID
    targets = torch.randint(0, classes, (B,))
    return ids, targets


def subword_batch(ids, vocab_size, ngrams, buckets):
    """Words for a batch's ids (an id past the vocabulary: a word outside it), and their bags."""
    vocab = VOCAB_WORDS[:vocab_size]
    words, rows, offsets = [], [], []
    for t in range(ids.shape[0]):
        for b in range(ids.shape[1]):
            real = t < LENGTHS[b]
            word = (vocab + OOV_WORDS)[int(ids[t, b])] if real else vocab[PAD_ID]
            words.append(word if real else "")
            offsets.append(len(rows))
            rows += bag_rows(word, vocab, ngrams, buckets)
    return words, (torch.tensor(rows, dtype=torch.int64), torch.tensor(offsets, dtype=torch.int64))


def run_case(cell, cfg, seed, pool="last", sub=None):
    """Build the float32 model and data, then forward/backward in float64.

    Returns (float32 model, ids, targets, results, words) where results maps
    'grad.<name>' and 'out.*' to float32 tensors taken from the float64 pass;
    words (sub = (ngrams, buckets): subword input) the batch's words.
    """
    torch.manual_seed(seed)
    buckets = sub[1] if sub else 0
    model = Model(cell, cfg["num_layers"], cfg["bidirectional"], cfg["embed"],
                       cfg["vocab"], cfg["hidden"], cfg["classes"], pool, buckets)
    init_parameters(model)
    ids, targets = make_batch(cfg["vocab"] + (len(OOV_WORDS) if sub else 0), cfg["classes"])
    words = None
    if sub:
        words, model.bags = subword_batch(ids, cfg["vocab"], *sub)

    # Exact copy of the float32 parameters, cast up to float64.
    model64 = Model(cell, cfg["num_layers"], cfg["bidirectional"], cfg["embed"],
                         cfg["vocab"], cfg["hidden"], cfg["classes"], pool, buckets).double()
    model64.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
    model64.bags = model.bags

    logits, feats = model64(ids, LENGTHS)
    loss = F.cross_entropy(logits, targets)
    loss.backward()

    results = {}
    for name, p in model64.named_parameters():
        results["grad." + name] = p.grad.float()
    results["out.logits"] = logits.detach().float()
    results["out.probs"] = torch.softmax(logits.detach(), dim=1).float()
    results["out.loss"] = loss.detach().reshape(1).float()
    results["out.features"] = feats.detach().float()
    return model, ids, targets, results, words


def float32_agreement(model, ids, targets, results):
    """Largest gap between a float32 pass and the float64 reference, relative to the
    largest magnitude of each tensor (a sanity check: e.g. no relu kink is hit)."""
    model.zero_grad()
    logits, _ = model(ids, LENGTHS)
    F.cross_entropy(logits, targets).backward()
    worst = 0.0
    for name, p in model.named_parameters():
        ref = results["grad." + name]
        scale = max(ref.abs().max().item(), 1e-30)
        worst = max(worst, (p.grad - ref).abs().max().item() / scale)
    model.zero_grad()
    return worst


def verify(path, cell, cfg, pool="last", bags=None):
    """Read a file back and check shapes and that its parameters reproduce its logits."""
    tensors, meta = read_safetensors(path)
    B, T = len(LENGTHS), max(LENGTHS)
    D = 2 if cfg["bidirectional"] else 1
    C = cfg["classes"]
    assert list(tensors["input.ids"].shape) == [T, B]
    assert list(tensors["out.logits"].shape) == [B, C]
    assert list(tensors["out.probs"].shape) == [B, C]
    assert list(tensors["out.loss"].shape) == [1]
    assert list(tensors["out.features"].shape) == [B, D * cfg["hidden"]]
    assert json.loads(meta["lengths"]) == LENGTHS

    model = Model(cell, int(meta["num_layers"]), meta["bidirectional"] == "true",
                       int(meta["embed"]), int(meta["vocab"]), int(meta["hidden_size"]),
                       int(meta["classes"]), meta.get("pool", "last"), int(meta.get("buckets", "0")))
    model.bags = bags
    names = list(model.state_dict().keys())
    for name in names:
        assert tensors["grad." + name].shape == tensors[name].shape, name
    model.load_state_dict({k: tensors[k] for k in names})
    with torch.no_grad():
        logits, _ = model(tensors["input.ids"].long(), json.loads(meta["lengths"]))
    ref = tensors["out.logits"]
    gap = (logits - ref).abs().max().item() / ref.abs().max().item()
    assert gap < 1e-5, "reloaded model disagrees with out.logits: %g" % gap
    return gap


def write_case(case, cell, cfg, seed, pool="last", sub=None):
    model, ids, targets, results, words = run_case(cell, cfg, seed, pool, sub)
    tensors = [("input.ids", ids.float())]
    tensors += list(model.state_dict().items())
    tensors += [("grad." + name, results["grad." + name])
                for name in model.state_dict().keys()]
    tensors += [(k, results[k]) for k in
                ("out.logits", "out.probs", "out.loss", "out.features")]
    metadata = {
        "cell": cell,
        "num_layers": str(cfg["num_layers"]),
        "hidden_size": str(cfg["hidden"]),
        "bidirectional": "true" if cfg["bidirectional"] else "false",
        "embed": str(cfg["embed"]),
        "vocab": str(cfg["vocab"]),
        "classes": str(cfg["classes"]),
        "lengths": json.dumps(LENGTHS),
        "targets": json.dumps(targets.tolist()),
        "torch_version": torch.__version__,
    }
    if pool != "last":
        metadata["pool"] = pool
    if sub:
        metadata["subwords"] = "%d-%d" % sub[0]
        metadata["buckets"] = str(sub[1])
        metadata["vocab_words"] = json.dumps(VOCAB_WORDS[:cfg["vocab"]], ensure_ascii=False)
        metadata["words"] = json.dumps(words, ensure_ascii=False)
    path = os.path.join(OUT_DIR, case + ".safetensors")
    write_safetensors(path, tensors, metadata)

    f32_gap = float32_agreement(model, ids, targets, results)
    reload_gap = verify(path, cell, cfg, pool, model.bags)
    print("%-32s seed %d  loss %.6f  f32-vs-f64 grad gap %.1e  reload gap %.1e"
          % (case, seed, results["out.loss"].item(), f32_gap, reload_gap))


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT_DIR, exist_ok=True)
    seed = 1000
    for cell in CELLS:
        for suffix, cfg in CONFIGS:
            seed += 1
            write_case("%s_%s" % (cell, suffix), cell, cfg, seed)
    configs = dict(CONFIGS)
    for i, (cell, suffix, pool) in enumerate(POOL_CASES):
        write_case("%s_%s_pool_%s" % (cell, suffix, pool), cell, configs[suffix], 2001 + i, pool)
    for i, (cell, suffix, pool, ngrams, buckets) in enumerate(SUBWORD_CASES):
        write_case("%s_%s_subwords" % (cell, suffix), cell, configs[suffix], 3001 + i, pool, (ngrams, buckets))


if __name__ == "__main__":
    main()
