"""Shared fixtures of the Python package's tests: the built-in data, the recur
command line of the same build (RECUR_CLI), and small models it trains, so every
answer of the package can be compared with the CLI's on the same model file."""
import json
import os
import subprocess
import sys

import pytest

# Before anything loads numpy (whose libblas is OpenBLAS too): recur sets
# OPENBLAS_CORETYPE first, so the package computes with the CLI's kernels and
# trains the CLI's models bit for bit.
import recur  # noqa: F401

SOURCE = os.environ.get("RECUR_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
CLI = os.environ.get("RECUR_CLI", os.path.join(SOURCE, "build", "recur"))

# A text a small language model learns in a few steps.
LM_TEXT = "".join(
    f"the {a} {v} on the {b}. " for a in ("cat", "dog", "bird") for v in ("sat", "ran", "slept") for b in ("mat", "rug")
) * 4


def recur_cli(*args, stdin=""):
    """Runs the recur command line; returns its stdout (a failure is a test failure)."""
    r = subprocess.run([CLI, *args], input=stdin.encode(), capture_output=True)
    assert r.returncode == 0, f"recur {' '.join(args)}: {r.stderr.decode()}"
    return r.stdout.decode()


def read_tsv(path):
    rows = [line.rstrip("\n").split("\t") for line in open(path, encoding="utf-8") if line.strip()]
    return [t for t, _ in rows], [label for _, label in rows]


def write_tsv(path, texts, labels):
    with open(path, "w", encoding="utf-8") as f:
        for t, label in zip(texts, labels):
            f.write(f"{t}\t{label}\n")


def python(script, env_extra=None, timeout=120):
    """Runs a Python script in a child interpreter that imports this build's recur."""
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, "-c", script], capture_output=True, env=env, timeout=timeout)


@pytest.fixture(scope="session")
def seed_train():
    return read_tsv(os.path.join(SOURCE, "data", "seed_train.tsv"))


@pytest.fixture(scope="session")
def seed_test():
    return read_tsv(os.path.join(SOURCE, "data", "seed_test.tsv"))


@pytest.fixture(scope="session")
def models(tmp_path_factory):
    """Model files written by the CLI: the seed's vanilla RNN, a bidirectional
    LSTM with an embedding and <unk> (word tokens, lowercased), a GRU, and a
    character language model (LSTM)."""
    d = tmp_path_factory.mktemp("models")
    train = os.path.join(SOURCE, "data", "seed_train.tsv")
    paths = {k: str(d / f"{k}.safetensors") for k in ("seed", "lstm", "gru", "lm", "lm_gru")}
    recur_cli("train", "--quiet", "--save", paths["seed"])
    recur_cli("train", "--quiet", "--train", train, "--cell", "lstm", "--bidirectional", "--embed", "8", "--hidden",
              "6", "--tokenizer", "word", "--lowercase", "--min-count", "2", "--optimizer", "adam", "--lr", "0.01",
              "--batch", "4", "--epochs", "30", "--init", "pytorch", "--bias-hh", "--save", paths["lstm"])
    recur_cli("train", "--quiet", "--train", train, "--cell", "gru", "--layers", "2", "--hidden", "5", "--epochs", "20",
              "--optimizer", "adam", "--lr", "0.01", "--save", paths["gru"])
    text = d / "lm.txt"
    text.write_text(LM_TEXT, encoding="utf-8")
    paths["lm_text"] = str(text)
    recur_cli("train", "--quiet", "--task", "lm", "--text", str(text), "--hidden", "16", "--layers", "2", "--steps",
              "40", "--batch", "4", "--seq-len", "16", "--save", paths["lm"])
    recur_cli("train", "--quiet", "--task", "lm", "--text", str(text), "--cell", "gru", "--hidden", "12", "--layers",
              "1", "--steps", "20", "--batch", "4", "--seq-len", "16", "--embed", "6", "--tokenizer", "word",
              "--save", paths["lm_gru"])
    return paths


def jsonl(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]
