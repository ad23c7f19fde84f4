#!/usr/bin/env python3
"""10-fold stratified cross-validation on the UCI Sentiment Labelled Sentences
(data/external/sentiment_all.tsv, from `make data`): recur's --preset sentiment
and what each of its pieces bought (pooling, dropouts, subwords, sparse updates), against fastText (Debian's `fasttext`) on
exactly the same folds; then predict throughput on 30,000 lines.

recur cv cuts the folds (seeded) and writes them with --folds-out; every other
run gets the same folds (they depend on the data and --seed only; the script
checks), and fastText is trained and tested
on each fold with the same tokens recur's `word` tokenizer and --lowercase give
(fastText itself splits on whitespace only). fastText runs with -epoch 25 and
-wordNgrams 1 and 2 (and its defaults with -wordNgrams 2), and with
--autotune S its -autotune-validation on a tenth of each fold's training part
for S seconds a fold.

The pretrained vectors (--vectors) are made here: `fasttext skipgram` (dim 64,
5 epochs, one thread) on Moby Dick (data/external/moby_dick.txt), tokenized and
lowercased as recur's word tokenizer does: text that is not the task's.

Usage: bench/sentiment_cv.py [--recur build/recur] [--folds 10] [--seed 1] [--autotune 0] [--autotune-only]
"""
import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

from machine import cpu  # bench/machine.py

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def words(text):
    """recur's `word` tokenizer after --lowercase: runs of letters, digits,
    apostrophes and non-ASCII; every other non-space ASCII character alone."""
    return re.findall(r"[a-z0-9'\u0080-\U0010ffff]+|[^\sa-z0-9'\u0080-\U0010ffff]", text.lower())


def mean_std(xs):
    return statistics.mean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def fasttext_cv(rows, fold_of, folds, seed, extra, work):
    accs, secs = [], []
    for k in range(folds):
        train, test = os.path.join(work, "ft.train"), os.path.join(work, "ft.test")
        with open(train, "w", encoding="utf-8") as tr, open(test, "w", encoding="utf-8") as te:
            for line_no, (text, label) in rows.items():
                (te if fold_of[line_no] == k else tr).write(f"__label__{label} {' '.join(words(text))}\n")
        model = os.path.join(work, "ft")
        t0 = time.time()
        subprocess.run(["fasttext", "supervised", "-input", train, "-output", model, "-wordNgrams", "2",
                        "-thread", "1", "-seed", str(seed)] + extra, check=True, capture_output=True)
        secs.append(time.time() - t0)
        out = subprocess.run(["fasttext", "test", model + ".bin", test], check=True, capture_output=True,
                             text=True).stdout
        accs.append(float(re.search(r"P@1\s+([0-9.]+)", out).group(1)))
    return accs, secs


def recur_cv(recur, data, folds, seed, flags, folds_io):
    cmd = [recur, "cv", "--data", data, "--folds", str(folds), "--seed", str(seed), "--format", "json", "--quiet"]
    cmd += folds_io + shlex.split(flags)
    t0 = time.time()
    out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    return out["accuracy"]["per_fold"], time.time() - t0


def read_folds(path, rows):
    """{line number: fold} from recur cv --folds-out."""
    fold_of = {}
    with open(path) as f:
        next(f)
        for line in f:
            line_no, k = line.split("\t")
            fold_of[int(line_no)] = int(k)
    assert set(fold_of) == set(rows), "the folds file does not cover the data"
    return fold_of


def skipgram_vectors(work):
    """64-dimensional vectors from Moby Dick, tokenized as recur's word tokenizer."""
    text = os.path.join(ROOT, "data", "external", "moby_dick.txt")
    tok = os.path.join(work, "moby.tok")
    with open(text, encoding="utf-8") as f, open(tok, "w", encoding="utf-8") as out:
        out.write(" ".join(words(f.read())))
    model = os.path.join(work, "moby64")
    subprocess.run(["fasttext", "skipgram", "-input", tok, "-output", model, "-dim", "64", "-epoch", "5",
                    "-minCount", "2", "-thread", "1", "-verbose", "0"], check=True, capture_output=True)
    return model + ".vec"


def fasttext_autotune_cv(rows, fold_of, folds, seed, seconds, work):
    accs, secs = [], []
    for k in range(folds):
        train_rows = [r for i, r in rows.items() if fold_of[i] != k]
        paths = {n: os.path.join(work, f"at.{n}") for n in ("train", "valid", "test")}
        with open(paths["train"], "w", encoding="utf-8") as tr, open(paths["valid"], "w", encoding="utf-8") as va:
            for j, (text, label) in enumerate(train_rows):
                (va if j % 10 == 0 else tr).write(f"__label__{label} {' '.join(words(text))}\n")
        with open(paths["test"], "w", encoding="utf-8") as te:
            for i, (text, label) in rows.items():
                if fold_of[i] == k:
                    te.write(f"__label__{label} {' '.join(words(text))}\n")
        model = os.path.join(work, "ft_at")
        t0 = time.time()
        subprocess.run(["fasttext", "supervised", "-input", paths["train"], "-output", model, "-autotune-validation",
                        paths["valid"], "-autotune-duration", str(seconds), "-thread", "1", "-seed", str(seed)],
                       check=True, capture_output=True)
        secs.append(time.time() - t0)
        out = subprocess.run(["fasttext", "test", model + ".bin", paths["test"]], check=True, capture_output=True,
                             text=True).stdout
        accs.append(float(re.search(r"P@1\s+([0-9.]+)", out).group(1)))
    return accs, secs


def predict_speed(recur, data, rows, work, vectors_flags):
    """Sentences/s of recur predict (the preset's model, trained on everything) and
    fastText's predict-prob (-wordNgrams 2 -epoch 25) on the same 30,000 lines."""
    texts = [t for t, _ in rows.values()]
    lines = [texts[i % len(texts)] for i in range(30000)]
    raw, tok = os.path.join(work, "p30k.txt"), os.path.join(work, "p30k.tok")
    with open(raw, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    with open(tok, "w", encoding="utf-8") as f:
        f.write("\n".join(" ".join(words(t)) for t in lines) + "\n")
    model = os.path.join(work, "preset.safetensors")
    subprocess.run([recur, "train", "--preset", "sentiment", "--train", data, "--save", model, "--quiet"] + vectors_flags,
                   check=True, capture_output=True)
    ft_train = os.path.join(work, "ft_all.train")
    with open(ft_train, "w", encoding="utf-8") as f:
        for text, label in rows.values():
            f.write(f"__label__{label} {' '.join(words(text))}\n")
    subprocess.run(["fasttext", "supervised", "-input", ft_train, "-output", os.path.join(work, "ft_all"),
                    "-wordNgrams", "2", "-epoch", "25", "-thread", "1"], check=True, capture_output=True)

    def best_of_3(cmd, stdin_path):
        best = None
        for _ in range(3):
            with open(stdin_path, "rb") as f:
                t0 = time.time()
                out = subprocess.run(cmd, stdin=f, check=True, capture_output=True).stdout
                dt = time.time() - t0
            assert out.count(b"\n") == 30000, cmd
            best = dt if best is None else min(best, dt)
        return best

    r = best_of_3([recur, "predict", "--model", model], raw)
    ft = best_of_3(["fasttext", "predict-prob", os.path.join(work, "ft_all.bin"), "-"], tok)
    return 30000 / r, 30000 / ft


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recur", default=os.path.join(ROOT, "build", "recur"))
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "external", "sentiment_all.tsv"))
    ap.add_argument("--folds", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--autotune", type=int, default=0, help="seconds of fastText autotune per fold (0: not run)")
    ap.add_argument("--autotune-only", action="store_true",
                    help="run only fastText's autotune (--autotune S) on the same folds, nothing else")
    a = ap.parse_args()
    if a.autotune_only and a.autotune <= 0:
        sys.exit("--autotune-only needs --autotune SECONDS")
    if not os.path.exists(a.data):
        sys.exit(f"{a.data} is missing: run `make data` first")

    rows = {}
    with open(a.data, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if line.strip():
                text, label = line.rstrip("\n").rstrip("\r").split("\t")
                rows[i] = (text, label)

    print(f"machine: {cpu()}", flush=True)

    if a.autotune_only:
        with tempfile.TemporaryDirectory() as work:
            folds_file = os.path.join(work, "folds.tsv")
            recur_cv(a.recur, a.data, a.folds, a.seed, "--epochs 1", ["--folds-out", folds_file])  # the folds only
            fold_of = read_folds(folds_file, rows)
            accs, secs = fasttext_autotune_cv(rows, fold_of, a.folds, a.seed, a.autotune, work)
        m, sd = mean_std(accs)
        print(f"| fastText -autotune-validation ({a.autotune} s a fold) | {m:.4f} | {sd:.4f} | {min(accs):.4f} | "
              f"{max(accs):.4f} | {sum(secs):.1f} |")
        print("per fold: " + " ".join(f"{x:.3f}" for x in accs))
        return

    with tempfile.TemporaryDirectory() as work:
        folds_file = os.path.join(work, "folds.tsv")
        vec = skipgram_vectors(work)
        base = "--tokenizer word --lowercase --min-count 2 --cell lstm --embed 64 --hidden 64 --bidirectional " \
               "--bias-hh --init pytorch --optimizer adam --lr 2e-3 --clip 0 --clip-norm 5 --batch 16 --epochs 20 " \
               "--log-every 1 --valid-fraction 0.1 --patience 4"
        configs = [  # (label, flags): each piece of the preset added in turn
            ("the former preset (final states)", base),
            ("+ --pool max", base + " --pool max"),
            ("+ --word-dropout 0.1", base + " --pool max --word-dropout 0.1"),
            ("+ --embed-dropout 0.2 (the previous preset)", "--preset sentiment --subwords none --sparse-embedding=false"),
            ("+ --subwords 3-6 --buckets 20000", "--preset sentiment --sparse-embedding=false"),
            ("+ --sparse-embedding (= --preset sentiment)", "--preset sentiment"),
            ("--preset sentiment --vectors moby64.vec --vectors-vocab", f"--preset sentiment --vectors {vec} --vectors-vocab"),
        ]
        results = []
        for i, (label, flags) in enumerate(configs):
            out = folds_file if i == 0 else os.path.join(work, f"folds{i}.tsv")
            print(f"$ recur cv {flags.replace(vec, 'moby64.vec')}", flush=True)
            accs, secs = recur_cv(a.recur, a.data, a.folds, a.seed, flags, ["--folds-out", out])
            if i > 0:  # the folds depend on the data and --seed only: the same for every run
                assert open(out).read() == open(folds_file).read(), "the folds differ between runs"
            results.append(("recur " + label, accs, secs))
        fold_of = read_folds(folds_file, rows)
        fasttext = [
            ("fastText -wordNgrams 2 (defaults)", ["-wordNgrams", "2"]),
            ("fastText -wordNgrams 1 -epoch 25", ["-wordNgrams", "1", "-epoch", "25"]),
            ("fastText -wordNgrams 2 -epoch 25", ["-wordNgrams", "2", "-epoch", "25"]),
        ]
        for label, extra in fasttext:
            accs, secs = fasttext_cv(rows, fold_of, a.folds, a.seed, extra, work)
            results.append((label, accs, sum(secs)))
        if a.autotune > 0:
            accs, secs = fasttext_autotune_cv(rows, fold_of, a.folds, a.seed, a.autotune, work)
            results.append((f"fastText -autotune-validation ({a.autotune} s a fold)", accs, sum(secs)))
        recur_ps, ft_ps = predict_speed(a.recur, a.data, rows, work, [])

    print(f"\n{len(rows)} sentences, {a.folds} stratified folds (seed {a.seed}), accuracy on each held-out fold\n")
    print(f"| run | mean | std | min | max | seconds (10 folds) |\n|---|---|---|---|---|---|")
    for name, accs, secs in results:
        m, sd = mean_std(accs)
        print(f"| {name} | {m:.4f} | {sd:.4f} | {min(accs):.4f} | {max(accs):.4f} | {secs:.1f} |")
    print("\nper fold:")
    for name, accs, _ in results:
        print(f"  {name:60} " + " ".join(f"{x:.3f}" for x in accs))
    best_ft = max((r for r in results if r[0].startswith("fastText")), key=lambda r: statistics.mean(r[1]))
    preset = next(r for r in results if "(= --preset sentiment)" in r[0])
    best_recur = max((r for r in results if r[0].startswith("recur")), key=lambda r: statistics.mean(r[1]))
    for label, r in (("--preset sentiment", preset), ("recur's best", best_recur)):
        d = statistics.mean(r[1]) - statistics.mean(best_ft[1])
        print(f"\n{label} - fastText's best ({best_ft[0]}): {d:+.4f} mean accuracy "
              f"({'at least' if d >= 0 else 'BELOW'} fastText's); wall {r[2]:.1f} s vs {best_ft[2]:.1f} s "
              f"({r[2] / best_ft[2]:.1f}x)")
    print(f"\npredict, 30,000 lines, whole process (best of 3): recur {recur_ps:,.0f} sentences/s, "
          f"fastText predict-prob {ft_ps:,.0f} sentences/s")


if __name__ == "__main__":
    main()
