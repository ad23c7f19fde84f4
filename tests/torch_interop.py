#!/usr/bin/python3
"""Check that recur model files move between recur and PyTorch unchanged.

Run from the repository root with Debian's PyTorch (CPU):

    /usr/bin/python3 tests/torch_interop.py [path/to/recur]     (default: build/recur)

(a) recur -> torch: train small models with `recur train --save` on the built-in data,
    read each safetensors file, build nn.Embedding / one-hot -> nn.RNN|LSTM|GRU -> nn.Linear
    from its metadata, load the tensors with load_state_dict(strict=True) (a bias recur
    omits is zero, so zeros are inserted for it), and compare torch's softmax probabilities
    with `recur predict --format jsonl` on the same texts.
(b) torch -> recur: build randomly initialised PyTorch models, write them to safetensors
    under the contract names and metadata (docs/model-format.md),
    and compare `recur predict --format jsonl` with torch's probabilities.

The torch side runs in float64 on the float32 parameters, so a difference measures recur's
own (float32) rounding. Every case must agree to within TOL in every probability. Prints one
line per case; exits 0 on success, 1 with a message on any mismatch or error.
Files are written to a temporary directory that is removed afterwards.
"""

import json
import os
import subprocess
import sys
import tempfile

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import SafetensorsError, read_safetensors, write_safetensors  # noqa: E402
from torch_models import recurrent_layer  # noqa: E402

TOL = 1e-5

# Texts for every case; some contain words no model has seen ("wonderful", "Good", "zebra",
# the empty token between two spaces, the empty text), which get a zero input vector.
TEXTS = [
    "i am good",
    "i am not happy",
    "this is very bad right now",
    "i am wonderful",
    "this was not bad at all",
    "sad",
    "i am very very happy and not sad",
    "Good",
    "this is zebra and good",
    "i  am good",
    "",
    "i was happy earlier or sad right now",
]

# (a) recur training runs on the built-in data: (case name, epochs, extra flags).
# The seed configuration (weights randn/1000, lr 0.02) gives the same probabilities to every
# text to 4 digits after 30 epochs, which would make the comparison vacuous: it gets 300.
RECUR_CONFIGS = [
    ("seed rnn_tanh one-hot", 300, []),
    ("lstm 2-layer bias_hh", 30, ["--cell", "lstm", "--layers", "2", "--bias-hh", "--init", "pytorch",
                              "--optimizer", "adam", "--lr", "0.01", "--batch", "4"]),
    ("gru bi embed", 30, ["--cell", "gru", "--bidirectional", "--embed", "8", "--hidden", "16",
                      "--bias-hh", "--init", "pytorch", "--optimizer", "adam", "--lr", "0.01",
                      "--batch", "4"]),
    ("rnn_relu 2-layer bi", 30, ["--cell", "rnn_relu", "--layers", "2", "--bidirectional",
                             "--hidden", "12", "--init", "pytorch", "--optimizer", "adam",
                             "--lr", "0.005", "--batch", "4"]),
]


class Failure(Exception):
    pass


# ---------------------------------------------------------------- torch model

class Model(nn.Module):
    """Embedding (embed > 0) or one-hot -> RNN/LSTM/GRU -> top-layer h_n -> Linear."""

    def __init__(self, cell, vocab, embed, hidden, num_layers, bidirectional, classes):
        super().__init__()
        self.vocab = vocab
        self.embedding = nn.Embedding(vocab, embed) if embed > 0 else None
        kwargs = dict(input_size=embed if embed > 0 else vocab, hidden_size=hidden,
                      num_layers=num_layers, bias=True, bidirectional=bidirectional)
        self.rnn = recurrent_layer(cell, **kwargs)
        self.bidirectional = bidirectional
        self.head = nn.Linear((2 if bidirectional else 1) * hidden, classes)

    def probabilities(self, ids):
        """ids: list of token ids, -1 = unknown (zero input vector). Returns (C,)."""
        dtype = self.head.weight.dtype
        size = self.rnn.input_size
        x = torch.zeros(len(ids), 1, size, dtype=dtype)
        for t, i in enumerate(ids):
            if i < 0:
                continue
            if self.embedding is not None:
                x[t, 0] = self.embedding.weight[i]
            else:
                x[t, 0, i] = 1.0
        _, h_n = self.rnn(x)
        if isinstance(h_n, tuple):  # LSTM: (h_n, c_n)
            h_n = h_n[0]
        if self.bidirectional:
            feats = torch.cat([h_n[-2], h_n[-1]], dim=1)
        else:
            feats = h_n[-1]
        return torch.softmax(self.head(feats), dim=1)[0]


def model_from_file(path):
    """Builds the float64 torch classifier described by a recur model file."""
    try:
        tensors, meta = read_safetensors(path, strict=False)
    except SafetensorsError as e:
        raise Failure(str(e))
    for key, want in (("format", "recur/1"), ("task", "classify"), ("tokenizer", "whitespace")):
        if meta.get(key) != want:
            raise Failure("%s: metadata %s = %r, expected %r" % (path, key, meta.get(key), want))
    vocab = json.loads(meta["vocab"])
    labels = json.loads(meta["labels"])
    hidden = int(meta["hidden_size"])
    layers = int(meta["num_layers"])
    if meta["bidirectional"] not in ("true", "false"):
        raise Failure("%s: bidirectional = %r" % (path, meta["bidirectional"]))
    bidirectional = meta["bidirectional"] == "true"
    embed = tensors["embedding.weight"].shape[1] if "embedding.weight" in tensors else 0
    model = Model(meta["cell"], len(vocab), embed, hidden, layers, bidirectional, len(labels))
    state = dict(tensors)
    inserted = []
    for name, p in model.state_dict().items():
        if name not in state and name.startswith("rnn.bias_hh_l"):
            state[name] = torch.zeros_like(p)
            inserted.append(name)
    model.load_state_dict(state, strict=True)
    model = model.double()
    model.eval()
    return model, meta, vocab, labels, inserted


def encode(text, vocab, lowercase):
    if lowercase:
        text = text.lower()
    index = {tok: i for i, tok in enumerate(vocab)}
    return [index.get(tok, -1) for tok in text.split(" ")]


# ---------------------------------------------------------------- recur

def run(cmd, **kwargs):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)
    if p.returncode != 0:
        raise Failure("command failed (exit %d): %s\n%s" % (p.returncode, " ".join(cmd),
                                                           p.stderr.decode("utf-8", "replace")))
    return p.stdout.decode("utf-8")


def recur_predict(recur, path, texts):
    """Probabilities from `recur predict --format jsonl`, texts on stdin (one per line),
    as a list of {label: p} dicts. Also checks the TEXT-argument path gives the same lines."""
    stdin = "".join(t + "\n" for t in texts).encode("utf-8")
    out = run([recur, "predict", "--model", path, "--format", "jsonl"], input=stdin)
    lines = out.splitlines()
    if len(lines) != len(texts):
        raise Failure("recur predict printed %d lines for %d texts" % (len(lines), len(texts)))
    args_out = run([recur, "predict", "--model", path, "--format", "jsonl"] + list(texts))
    if args_out != out:
        raise Failure("recur predict: TEXT arguments and stdin lines give different output")
    result = []
    for line in lines:
        j = json.loads(line)
        probs = j["probabilities"]
        best = max(probs, key=lambda k: probs[k])
        if j["label"] != best:
            raise Failure("recur predict: label %r is not the most probable (%r) in %s"
                          % (j["label"], best, line))
        result.append(probs)
    return result


def compare(case, recur, path, texts, model, vocab, labels, lowercase, note=""):
    """Largest |p_recur - p_torch| over texts and labels; raises Failure above TOL, or when
    the probabilities hardly vary between texts (the comparison would prove little)."""
    got = recur_predict(recur, path, texts)
    worst, worst_text = 0.0, None
    first = [probs[labels[0]] for probs in got]
    spread = max(first) - min(first)
    with torch.no_grad():
        for text, probs in zip(texts, got):
            if sorted(probs) != sorted(labels):
                raise Failure("%s: recur's labels %s differ from the file's %s"
                              % (case, sorted(probs), labels))
            ref = model.probabilities(encode(text, vocab, lowercase))
            for c, label in enumerate(labels):
                d = abs(probs[label] - ref[c].item())
                if d > worst:
                    worst, worst_text = d, text
    status = "ok" if worst <= TOL else "MISMATCH"
    print("  %-34s max |dp| %.2e  (%r)  spread %.2f%s  %s"
          % (case, worst, worst_text, spread, note, status))
    if spread < 1e-2:
        raise Failure("%s: p(%s) varies by only %.2e over the texts; the test would be vacuous"
                      % (case, labels[0], spread))
    if worst > TOL:
        raise Failure("%s: recur and torch probabilities differ by %.3e on %r (tolerance %g)"
                      % (case, worst, worst_text, TOL))
    return worst


# ---------------------------------------------------------------- (a) recur -> torch

def recur_to_torch(recur, tmp):
    print("(a) recur -> torch")
    worst = 0.0
    for k, (case, epochs, flags) in enumerate(RECUR_CONFIGS):
        path = os.path.join(tmp, "recur_%d.safetensors" % k)
        run([recur, "train", "--quiet", "--epochs", str(epochs), "--save", path] + flags)
        model, meta, vocab, labels, inserted = model_from_file(path)
        note = "  [zero %s]" % ",".join(n[4:] for n in inserted) if inserted else ""
        worst = max(worst, compare(case, recur, path, TEXTS, model, vocab, labels,
                                   meta.get("lowercase") == "true", note))
    return worst


# ---------------------------------------------------------------- (b) torch -> recur

TORCH_VOCAB = ["the", "film", "was", "great", "awful", "not", "very", "café", "i", "am",
               "good", "bad", "happy", "sad", "this", "is"]
TORCH_LABELS = ["pos", "neg", "mixed"]  # not in sorted order on purpose
# Extra texts for (b), on top of TEXTS (capitalised "Café" is unknown: lowercase is false).
TORCH_TEXTS = ["the film was not very great", "café is awful", "the café was great", "Café film"]

TORCH_CONFIGS = [
    # name, cell, embed, hidden, layers, bidirectional, seed, ASCII-escaped header
    ("torch lstm 2-layer bi embed", "lstm", 6, 7, 2, True, 11, True),
    ("torch gru 1-layer one-hot", "gru", 0, 9, 1, False, 12, False),
    ("torch rnn_tanh 2-layer embed", "rnn_tanh", 5, 8, 2, False, 13, True),
    ("torch rnn_relu 1-layer bi one-hot", "rnn_relu", 0, 6, 1, True, 14, False),
]


def torch_to_recur(recur, tmp):
    print("(b) torch -> recur")
    worst = 0.0
    for k, (case, cell, embed, hidden, layers, bidi, seed, ascii_header) in enumerate(TORCH_CONFIGS):
        torch.manual_seed(seed)
        model = Model(cell, len(TORCH_VOCAB), embed, hidden, layers, bidi, len(TORCH_LABELS))
        with torch.no_grad():  # larger weights than the default init, so outputs vary more
            for p in model.parameters():
                p.mul_(2.0)
        meta = {
            "format": "recur/1",
            "task": "classify",
            "cell": cell,
            "num_layers": str(layers),
            "hidden_size": str(hidden),
            "bidirectional": "true" if bidi else "false",
            "tokenizer": "whitespace",
            "lowercase": "false",
            "vocab": json.dumps(TORCH_VOCAB, ensure_ascii=False),
            "labels": json.dumps(TORCH_LABELS),
        }
        path = os.path.join(tmp, "torch_%d.safetensors" % k)
        write_safetensors(path, list(model.state_dict().items()), meta, ensure_ascii=ascii_header)
        ref = model.double()
        ref.eval()
        worst = max(worst, compare(case, recur, path, TEXTS + TORCH_TEXTS, ref, TORCH_VOCAB,
                                   TORCH_LABELS, False))
    return worst


def main():
    torch.set_num_threads(1)
    recur = sys.argv[1] if len(sys.argv) > 1 else "build/recur"
    recur = os.path.abspath(recur)
    if not os.access(recur, os.X_OK):
        print("torch_interop: %s is not an executable (pass the recur binary's path)" % recur,
              file=sys.stderr)
        return 2
    try:
        with tempfile.TemporaryDirectory(prefix="recur_interop_") as tmp:
            wa = recur_to_torch(recur, tmp)
            wb = torch_to_recur(recur, tmp)
    except Failure as e:
        print("torch_interop: FAILED: %s" % e, file=sys.stderr)
        return 1
    print("torch_interop: ok (largest |dp|: recur->torch %.2e, torch->recur %.2e, tolerance %g)"
          % (wa, wb, TOL))
    return 0


if __name__ == "__main__":
    sys.exit(main())
