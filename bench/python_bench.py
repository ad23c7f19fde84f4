"""The Python package's targets (issue 13), measured on the --preset sentiment model:

  1. predict_proba on 30,000 sentences (the 3,000 UCI sentences ten times):
     sentences/s of recur against the same model in PyTorch eager, loaded from the
     same file, at PyTorch's best batch size and thread count (target: >= 3x);
  2. the overhead of one predict_proba call on one short sentence above the
     model's own time (Classifier::predict in C++, bench/predict_bench.cpp):
     target <= 20 us;
  3. RNNClassifier(preset="sentiment").fit against `recur train --preset
     sentiment` on the same data: no measurable time added.

Every setting is run in alternating rounds and the best round of each is kept
(the machine may be shared). PyTorch gets its ids from recur's tokenizer before
the clock starts (recur's time includes tokenizing); its probabilities are
checked against recur's.

  PYTHONPATH=build/python /usr/bin/python3 bench/python_bench.py --recur build/recur \\
      --predict-bench build/bench/predict_bench --model bench/out/uci.safetensors \\
      --data data/external/sentiment_all.tsv          (make bench-python)
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

from machine import same_blas_kernels  # bench/machine.py

same_blas_kernels()  # before numpy loads OpenBLAS: the kernels recur would choose

import numpy as np

import recur
from recur.sklearn import RNNClassifier

HERE = os.path.dirname(os.path.abspath(__file__))


def read_tsv(path):
    rows = [line.rstrip("\n").split("\t") for line in open(path, encoding="utf-8") if line.strip()]
    return [t for t, _ in rows], [label for _, label in rows]


def torch_model(path):
    """The sentiment model in PyTorch: Embedding -> bidirectional LSTM (packed) -> Linear -> softmax,
    its weights read from the model file by tests/safetensors_io.py (not by recur)."""
    import torch

    sys.path.insert(0, os.path.join(HERE, "..", "tests"))
    from safetensors_io import read_safetensors

    tensors, meta = read_safetensors(path)
    assert meta["cell"] == "lstm" and meta["num_layers"] == "1" and meta["bidirectional"] == "true"
    V, E = tensors["embedding.weight"].shape
    H = int(meta["hidden_size"])

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(V, E)
            self.rnn = torch.nn.LSTM(E, H, bidirectional=True)
            self.head = torch.nn.Linear(2 * H, tensors["head.bias"].shape[0])

        def forward(self, ids, lengths):  # ids (T, B) padded, lengths sorted descending
            packed = torch.nn.utils.rnn.pack_padded_sequence(self.embedding(ids), lengths)
            h_n = self.rnn(packed)[1][0]
            return torch.softmax(self.head(torch.cat([h_n[-2], h_n[-1]], 1)), 1)

    net = Net()
    net.load_state_dict({k: v for k, v in tensors.items()})
    return net.eval()


def torch_predict(net, batches, n):
    import torch

    out = torch.empty(n, 2, dtype=torch.float32)
    with torch.inference_mode():
        for index, ids, lengths in batches:
            out[index] = net(ids, lengths)
    return out


def torch_batches(ids, batch):
    """Batches of texts of similar length (sorted, as recur reads them), padded, time-major."""
    import torch

    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    batches = []
    for k in range(0, len(order), batch):
        which = order[k:k + batch]
        T = len(ids[which[0]])
        a = torch.zeros(T, len(which), dtype=torch.long)
        for b, i in enumerate(which):
            a[:len(ids[i]), b] = torch.tensor(ids[i])
        batches.append((torch.tensor(which), a, torch.tensor([len(ids[i]) for i in which])))
    return batches


def best_of(rounds, runs):
    """runs: {name: callable returning seconds}; alternating rounds; the best of each."""
    best = {name: float("inf") for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            best[name] = min(best[name], run())
    return best


def timed(f):
    def run():
        t0 = time.perf_counter()
        f()
        return time.perf_counter() - t0
    return run


def bench_predict(args, texts):
    import torch

    model = recur.load(args.model)
    sentences = (texts * (args.sentences // len(texts) + 1))[:args.sentences]
    ids = [model.encode(t) for t in sentences]
    assert all(ids) and min(min(i) for i in ids) >= 0
    net = torch_model(args.model)
    p_recur = model.predict_proba(sentences, threads=1)
    diff = float(np.abs(torch_predict(net, torch_batches(ids, 256), len(ids)).numpy() - p_recur).max())

    def torch_run(threads, batches, n):
        def run():
            torch.set_num_threads(threads)
            t0 = time.perf_counter()
            torch_predict(net, batches, n)
            return time.perf_counter() - t0
        return run

    # PyTorch's settings, first on a tenth of the sentences (bounded time); the best
    # batch size for each thread count then runs on all of them.
    probe_n = max(1, len(ids) // 10)
    probe = {}
    for threads in (1, 2):
        for b in args.torch_batches:
            probe[(threads, b)] = probe_n / best_of(1, {0: torch_run(threads, torch_batches(ids[:probe_n], b), probe_n)})[0]
    runs = {f"recur threads={t}": timed(lambda t=t: model.predict_proba(sentences, threads=t)) for t in (1, 2)}
    for threads in (1, 2):
        b = max(args.torch_batches, key=lambda b: probe[(threads, b)])
        runs[f"torch threads={threads} batch={b}"] = torch_run(threads, torch_batches(ids, b), len(ids))
    best = best_of(args.rounds, runs)
    per_s = {k: len(sentences) / v for k, v in best.items()}
    recur_best = max((v, k) for k, v in per_s.items() if k.startswith("recur"))
    torch_best = max((v, k) for k, v in per_s.items() if k.startswith("torch"))
    return {"sentences": len(sentences), "sentences_per_s": per_s, "max_abs_diff_vs_torch": diff,
            "torch_probe_sentences_per_s": {f"threads={t} batch={b}": v for (t, b), v in probe.items()},
            "recur_best": recur_best[1], "torch_best": torch_best[1], "ratio": recur_best[0] / torch_best[0]}


def bench_overhead(args):
    model = recur.load(args.model)
    one = [args.short]
    py = float("inf")
    cpp = {"predict_text_us": float("inf"), "predict_list_us": float("inf")}
    for _ in range(args.rounds):
        r = json.loads(subprocess.run([args.predict_bench, args.model, args.short, str(args.calls), "3"],
                                      capture_output=True, check=True, text=True).stdout)
        for k in cpp:
            cpp[k] = min(cpp[k], r[k])
        for _ in range(3):
            t0 = time.perf_counter()
            for _ in range(args.calls):
                model.predict_proba(one)
            py = min(py, (time.perf_counter() - t0) / args.calls * 1e6)
    model_us = min(cpp.values())
    return {"text": args.short, "tokens": r["tokens"], "python_predict_proba_us": py, "cpp": cpp,
            "model_us": model_us, "overhead_us": py - model_us}


def cpu_seconds(who):
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def bench_fit(args, texts, labels):
    """Wall and CPU seconds (all threads) of each run, alternating; the CLI's include
    starting the process and reading the TSV file."""
    cli = [args.recur, "train", "--preset", "sentiment", "--train", args.data, "--quiet"]
    X, y = list(texts), list(labels)
    rounds = {"recur train (CLI process)": [], "RNNClassifier.fit": []}

    outside = []  # fit's time outside the library's training loop (arguments, labels, the estimator)

    def fit():
        c0, t0 = cpu_seconds(resource.RUSAGE_SELF), time.perf_counter()
        est = RNNClassifier(preset="sentiment").fit(X, y)
        wall = time.perf_counter() - t0
        rounds["RNNClassifier.fit"].append((wall, cpu_seconds(resource.RUSAGE_SELF) - c0))
        outside.append(wall - est.model_.training["seconds"])
        fit.model = est.model_

    def train():
        c0, t0 = cpu_seconds(resource.RUSAGE_CHILDREN), time.perf_counter()
        subprocess.run(cli, check=True, capture_output=True)
        rounds["recur train (CLI process)"].append((time.perf_counter() - t0, cpu_seconds(resource.RUSAGE_CHILDREN) - c0))

    for _ in range(args.fit_rounds):
        train()
        fit()
    # The same model: the CLI's file (written with --save, untimed) against the estimator's.
    out = os.path.join(args.out, "fit_check.safetensors")
    subprocess.run(cli + ["--save", out], check=True, capture_output=True)
    same = open(out, "rb").read() == fit.model.to_bytes()
    best = {k: min(w for w, _ in v) for k, v in rounds.items()}
    best_cpu = {k: min(c for _, c in v) for k, v in rounds.items()}

    # The seed run (60,000 steps of one example: the most callbacks per second of
    # training): `recur train` against train_classifier and fit, best of many.
    seed_X, seed_y = read_tsv(os.path.join(HERE, "..", "data", "seed_train.tsv"))
    seed_cli = [args.recur, "train", "--quiet", "--train", os.path.join(HERE, "..", "data", "seed_train.tsv")]
    seed = best_of(args.seed_rounds, {
        "recur train (CLI process)": timed(lambda: subprocess.run(seed_cli, check=True, capture_output=True)),
        "recur.train_classifier": timed(lambda: recur.train_classifier(seed_X, seed_y)),
        "RNNClassifier.fit": timed(lambda: RNNClassifier().fit(seed_X, seed_y)),
    })
    return {"rounds_wall_cpu_s": rounds, "seconds": best, "cpu_seconds": best_cpu,
            "fit_outside_the_library_s": outside, "seed_run_s": seed,
            "fit_minus_cli_s": best["RNNClassifier.fit"] - best["recur train (CLI process)"],
            "fit_minus_cli_cpu_s": best_cpu["RNNClassifier.fit"] - best_cpu["recur train (CLI process)"],
            "same_model_file": same}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recur", required=True)
    p.add_argument("--predict-bench", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--sentences", type=int, default=30000)
    p.add_argument("--short", default="I loved it.")
    p.add_argument("--calls", type=int, default=20000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--fit-rounds", type=int, default=3)
    p.add_argument("--seed-rounds", type=int, default=15)
    p.add_argument("--torch-batches", type=int, nargs="+", default=[32, 128, 512, 2048])
    p.add_argument("--only", choices=["predict", "overhead", "fit"], nargs="+", default=["predict", "overhead", "fit"])
    p.add_argument("--out", default=os.path.join(HERE, "out"))
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    texts, labels = read_tsv(args.data)
    results = {}
    if "predict" in args.only:
        results["predict"] = r = bench_predict(args, texts)
        print(f"predict_proba on {r['sentences']} sentences (sentences/s; best of {args.rounds} rounds):")
        for k, v in sorted(r["sentences_per_s"].items(), key=lambda kv: -kv[1]):
            print(f"  {k:32s} {v:12,.0f}")
        print("  (PyTorch's settings first on a tenth: "
              + ", ".join(f"{k} {v:,.0f}" for k, v in r["torch_probe_sentences_per_s"].items()) + ")")
        print(f"  recur best / torch best: {r['ratio']:.2f}x (target >= 3x); "
              f"largest probability difference {r['max_abs_diff_vs_torch']:.1e}")
    if "overhead" in args.only:
        results["overhead"] = r = bench_overhead(args)
        print(f"one call on {r['text']!r} ({r['tokens']} tokens): predict_proba {r['python_predict_proba_us']:.2f} us, "
              f"the model in C++ {r['model_us']:.2f} us -> overhead {r['overhead_us']:.2f} us (target <= 20 us)")
    if "fit" in args.only:
        results["fit"] = r = bench_fit(args, texts, labels)
        print(f"--preset sentiment on {len(texts)} sentences (best of {args.fit_rounds}; all rounds wall/CPU s):")
        for k in r["seconds"]:
            print(f"  {k:28s} wall {r['seconds'][k]:6.2f} s  CPU {r['cpu_seconds'][k]:6.2f} s   ("
                  + ", ".join(f"{w:.2f}/{c:.2f}" for w, c in r["rounds_wall_cpu_s"][k]) + ")")
        print(f"  fit - CLI: wall {r['fit_minus_cli_s']:+.2f} s, CPU {r['fit_minus_cli_cpu_s']:+.2f} s; "
              f"the same model file: {r['same_model_file']}; fit's time outside the library's loop: "
              + ", ".join(f"{1e3 * t:.1f}" for t in r["fit_outside_the_library_s"]) + " ms")
        print(f"the seed run (best of {args.seed_rounds}, ms): "
              + ", ".join(f"{k} {1e3 * v:.1f}" for k, v in r["seed_run_s"].items()))
    with open(os.path.join(args.out, "python_bench.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
