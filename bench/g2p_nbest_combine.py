#!/usr/bin/env python3
"""How much two or more grapheme-to-phoneme models would gain together: their
n-best lists combined, scored on the test words.

Each input is `recur translate --model M --beam 5 --nbest 5 --format jsonl` run
on the test words (one per line, in the order of --words). For every word, the
candidates of all the lists are ranked by the sum of the models' log-probabilities
over (length + 1); a model whose list lacks a candidate gives it the lowest
log-probability of its list. A rescoring of what the models already kept; the
ensemble itself (`recur eval --model A --model B`: the models' log-probabilities
averaged at each step of one search) sees every candidate.

Prints each model's and the combination's word error rate (a word is right when
the output is any of its pronunciations) and phoneme error rate (edit distance
to the closest pronunciation / its length), as recur eval counts them, and how
often at least one list holds a right pronunciation.

Usage:
  cut -f1 data/external/cmudict.test.tsv | awk '!s[$0]++' > words.txt
  build/recur translate --model A.st --beam 5 --nbest 5 --format jsonl < words.txt > a.jsonl
  build/recur translate --model B.st --beam 5 --nbest 5 --format jsonl < words.txt > b.jsonl
  python3 bench/g2p_nbest_combine.py --test data/external/cmudict.test.tsv --words words.txt a.jsonl b.jsonl
"""
import argparse
import json
import sys
from collections import defaultdict


def edit_distance(a, b):
    d = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, d[0] = d[0], i
        for j, y in enumerate(b, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (x != y))
    return d[len(b)]


def rates(words, refs, outputs):
    right = edits = length = 0
    for w, out in zip(words, outputs):
        o = out.split()
        right += o in refs[w]
        dist, ref = min((edit_distance(o, r), len(r)) for r in refs[w])
        edits += dist
        length += ref
    return 1 - right / len(words), edits / length


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--test", required=True, help="source<TAB>target lines: every pronunciation of every word")
    ap.add_argument("--words", required=True, help="the words the n-best files answer, one per line, in order")
    ap.add_argument("nbest", nargs="+", help="recur translate --nbest N --format jsonl outputs")
    a = ap.parse_args()
    refs = defaultdict(list)
    with open(a.test, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            src, sep, tgt = line.rstrip("\n").partition("\t")
            if not sep:
                sys.exit(f"{a.test}:{n}: no tab")
            refs[src].append(tgt.split())
    with open(a.words, encoding="utf-8") as f:
        words = [line.rstrip("\n") for line in f]
    lists = []
    for path in a.nbest:
        with open(path, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f]
        if len(rows) != len(words):
            sys.exit(f"{path}: {len(rows)} lines for {len(words)} words")
        # log-probability of each candidate: score * (length + 1) (length penalty 1)
        lists.append([{c["output"]: c["score"] * (len(c["output"].split()) + 1) for c in r["nbest"]} for r in rows])
    for path, per_word in zip(a.nbest, lists):
        best = [max(d, key=lambda c: d[c] / (len(c.split()) + 1)) for d in per_word]
        wer, per = rates(words, refs, best)
        print(f"{path}: WER {100 * wer:.2f}%, PER {100 * per:.2f}%")
    combined, held = [], 0
    for i, w in enumerate(words):
        ds = [per_word[i] for per_word in lists]
        floors = [min(d.values()) for d in ds]
        cands = set().union(*ds)
        held += any(c.split() in refs[w] for c in cands)
        combined.append(max(sorted(cands), key=lambda c: sum(d.get(c, fl) for d, fl in zip(ds, floors)) /
                            (len(c.split()) + 1)))
    wer, per = rates(words, refs, combined)
    print(f"combined ({len(lists)} lists): WER {100 * wer:.2f}%, PER {100 * per:.2f}%; "
          f"a right pronunciation in some list for {100 * held / len(words):.2f}% of the words")


if __name__ == "__main__":
    main()
