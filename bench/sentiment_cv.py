#!/usr/bin/env python3
"""10-fold stratified cross-validation on the UCI Sentiment Labelled Sentences
(data/external/sentiment_all.tsv, from `make data`): recur's --preset sentiment
against fastText (Debian's `fasttext`, -wordNgrams 2) on exactly the same folds.

recur cv cuts the folds (seeded) and writes them with --folds-out; this script
then trains and tests fastText on each fold, with the same tokens recur's
`word` tokenizer and --lowercase give (fastText itself splits on whitespace
only). fastText runs twice: with its defaults plus -wordNgrams 2 (the issue's
baseline), and with more epochs (-epoch 25), which suits a data set this small.

Usage: bench/sentiment_cv.py [--recur build/recur] [--folds 10] [--seed 1]
                             [--recur-flags "..."]   (extra flags for recur cv)
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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recur", default=os.path.join(ROOT, "build", "recur"))
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "external", "sentiment_all.tsv"))
    ap.add_argument("--folds", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--recur-flags", default="--preset sentiment")
    a = ap.parse_args()
    if not os.path.exists(a.data):
        sys.exit(f"{a.data} is missing: run `make data` first")

    rows = {}
    with open(a.data, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if line.strip():
                text, label = line.rstrip("\n").rstrip("\r").split("\t")
                rows[i] = (text, label)

    with tempfile.TemporaryDirectory() as work:
        folds_file = os.path.join(work, "folds.tsv")
        cmd = [a.recur, "cv", "--data", a.data, "--folds", str(a.folds), "--seed", str(a.seed), "--folds-out",
               folds_file, "--format", "json", "--quiet"] + shlex.split(a.recur_flags)
        print("$ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
        t0 = time.time()
        recur = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        recur_secs = time.time() - t0
        fold_of = {}
        with open(folds_file) as f:
            next(f)
            for line in f:
                line_no, k = line.split("\t")
                fold_of[int(line_no)] = int(k)
        assert set(fold_of) == set(rows), "the folds file does not cover the data"
        ft_default, ft_default_s = fasttext_cv(rows, fold_of, a.folds, a.seed, [], work)
        ft_epoch, ft_epoch_s = fasttext_cv(rows, fold_of, a.folds, a.seed, ["-epoch", "25"], work)

    version = subprocess.run(["fasttext"], capture_output=True, text=True)
    print(f"\n{len(rows)} sentences, {a.folds} stratified folds (seed {a.seed}), accuracy on each held-out fold\n")
    print(f"{'':44} {'mean':>7} {'std':>7} {'min':>7} {'max':>7} {'seconds':>8}")
    lines = [
        ("recur cv " + a.recur_flags, recur["accuracy"]["per_fold"], recur_secs),
        ("fastText -wordNgrams 2", ft_default, sum(ft_default_s)),
        ("fastText -wordNgrams 2 -epoch 25", ft_epoch, sum(ft_epoch_s)),
    ]
    for name, accs, secs in lines:
        m, s = mean_std(accs)
        print(f"{name:44} {m:7.4f} {s:7.4f} {min(accs):7.4f} {max(accs):7.4f} {secs:8.1f}")
    print("\nper fold:")
    for name, accs, _ in lines:
        print(f"  {name:42} " + " ".join(f"{x:.3f}" for x in accs))
    m_recur = statistics.mean(recur["accuracy"]["per_fold"])
    m_ft = statistics.mean(ft_default)
    print(f"\nrecur - fastText (-wordNgrams 2): {m_recur - m_ft:+.4f} mean accuracy"
          f" ({'at least' if m_recur >= m_ft else 'BELOW'} fastText's)")


if __name__ == "__main__":
    main()
