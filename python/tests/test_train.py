"""Training from Python is `recur train`: the same options (the flags with
underscores), the same checks and messages, the same model file byte for byte,
the same evaluations (callback= gets --log-json's objects), the same checkpoints."""
import json
import os
import signal

import numpy as np
import pytest

import recur
from conftest import LM_TEXT, SOURCE, python, recur_cli

SEED_TRAIN = os.path.join(SOURCE, "data", "seed_train.tsv")
SEED_TEST = os.path.join(SOURCE, "data", "seed_test.tsv")


def test_the_seed_run_is_the_cli_seed_run(seed_train, seed_test, tmp_path):
    cli_model, log = tmp_path / "cli.st", tmp_path / "log.jsonl"
    recur_cli("train", "--quiet", "--train", SEED_TRAIN, "--test", SEED_TEST, "--save", str(cli_model),
              "--log-json", str(log))
    seen = []
    model = recur.train_classifier(*seed_train, test=seed_test, callback=seen.append)
    py_model = tmp_path / "py.st"
    model.save(py_model)
    assert py_model.read_bytes() == cli_model.read_bytes()
    logged = [json.loads(line) for line in log.read_text().splitlines()]
    assert seen == logged == model.history and len(seen) == 10
    assert seen[-1]["epoch"] == 1000 and "test_accuracy" in seen[-1]
    assert model.training["epochs_run"] == 1000 and model.training["test"]["accuracy"] == 1.0


@pytest.mark.parametrize("options,flags", [
    (dict(cell="gru", hidden=8, embed=4, epochs=15, optimizer="adam", lr=0.01, batch=4, valid_fraction=0.2,
          patience=3, seed=7),
     "--cell gru --hidden 8 --embed 4 --epochs 15 --optimizer adam --lr 0.01 --batch 4 --valid-fraction 0.2 "
     "--patience 3 --seed 7"),
    (dict(preset="sentiment", epochs=3, hidden=8, embed=8),
     "--preset sentiment --epochs 3 --hidden 8 --embed 8"),
    (dict(embed=8, subwords="2-4", buckets=50, sparse_embedding=True, optimizer="adam", lr=0.01, epochs=5),
     "--embed 8 --subwords 2-4 --buckets 50 --sparse-embedding --optimizer adam --lr 0.01 --epochs 5"),
    (dict(cell="lstm", bidirectional=True, layers=2, hidden=4, tokenizer="word", lowercase=True, min_count=2,
          clip=0, clip_norm=1.5, schedule="cosine", epochs=6, dropout=0.1, init="orthogonal", forget_bias=True,
          bias_hh=True, log_every=2),
     "--cell lstm --bidirectional --layers 2 --hidden 4 --tokenizer word --lowercase --min-count 2 --clip 0 "
     "--clip-norm 1.5 --schedule cosine --epochs 6 --dropout 0.1 --init orthogonal --forget-bias --bias-hh "
     "--log-every 2"),
])
def test_options_are_the_flags(seed_train, tmp_path, options, flags):
    cli_model = tmp_path / "cli.st"
    recur_cli("train", "--quiet", "--train", SEED_TRAIN, *flags.split(), "--save", str(cli_model))
    model = recur.train_classifier(*seed_train, **options)
    assert model.to_bytes() == cli_model.read_bytes()


def test_a_language_model_is_the_cli_one(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text(LM_TEXT, encoding="utf-8")
    cli_model, log = tmp_path / "cli.st", tmp_path / "log.jsonl"
    recur_cli("train", "--quiet", "--task", "lm", "--text", str(text), "--hidden", "12", "--layers", "1", "--steps",
              "30", "--eval-every", "10", "--batch", "4", "--seq-len", "12", "--valid-fraction", "0.1", "--save",
              str(cli_model), "--log-json", str(log))
    seen = []
    lm = recur.train_lm(LM_TEXT, hidden=12, layers=1, steps=30, eval_every=10, batch=4, seq_len=12,
                        valid_fraction=0.1, callback=seen.append)
    assert isinstance(lm, recur.LanguageModel)
    assert lm.to_bytes() == cli_model.read_bytes()
    logged = [json.loads(line) for line in log.read_text().splitlines()]
    assert [{k: v for k, v in e.items() if k != "tokens_per_s"} for e in seen] == \
           [{k: v for k, v in e.items() if k != "tokens_per_s"} for e in logged]
    assert len(seen) == 3 and "valid_bits" in seen[-1]
    # valid_text, and a preset's settings
    lm2 = recur.train_lm(LM_TEXT, valid_text="the cat sat on the rug. ", preset="min-char-rnn", hidden=8, steps=5)
    assert lm2.config["cell"] == "rnn_tanh" and lm2.config["hidden_size"] == 8 and "valid_loss" in lm2.history[-1]


def test_callback_can_stop_and_its_errors_surface(seed_train):
    seen = []

    def stop_at_third(e):
        seen.append(e)
        return len(seen) < 3

    model = recur.train_classifier(*seed_train, epochs=100, callback=stop_at_third)
    assert len(seen) == 3 and model.training["stopped_early"] and model.training["epochs_run"] == 30

    class Boom(Exception):
        pass

    def boom(e):
        raise Boom("from the callback")

    with pytest.raises(Boom, match="from the callback"):
        recur.train_classifier(*seed_train, epochs=20, callback=boom)
    with pytest.raises(TypeError, match="callback must be callable, not int"):
        recur.train_classifier(*seed_train, callback=3)


def test_options_are_checked_with_the_cli_messages(seed_train):
    texts, labels = seed_train
    cases = [
        (dict(hidden=0), recur.Error, "--hidden must be at least 1"),
        (dict(lr=-1.0), recur.Error, "--lr must be positive"),
        (dict(cell="transformer"), recur.Error, "transformer"),
        (dict(valid_fraction=1.5), recur.Error, r"--valid-fraction must be in \[0, 1\)"),
        (dict(tokenizer="char"), recur.Error, "--tokenizer char is for --task lm"),
        (dict(patience=2), recur.Error, "--patience needs validation data"),
        (dict(preset="char-rnn"), recur.Error, "a classifier is trained with --task classify, not lm"),
        (dict(hiden=4), TypeError, r"unexpected keyword argument 'hiden' \(did you mean 'hidden'\?\)"),
        (dict(task="lm"), TypeError, "unexpected keyword argument 'task'"),
        (dict(hidden="64"), TypeError, "hidden must be an int, not str"),
        (dict(hidden=2.5), TypeError, "hidden must be an int, not float"),
        (dict(hidden=True), TypeError, "hidden must be an int, not bool"),
        (dict(hidden=2**40), ValueError, "hidden must be in"),
        (dict(bidirectional=1), TypeError, "bidirectional must be a bool, not int"),
        (dict(lr="fast"), TypeError, "lr must be a number, not str"),
        (dict(cell=3), TypeError, "cell must be a str, not int"),
        (dict(seed=-1), ValueError, r"seed must be in \[0, 4294967295\]"),
        (dict(save=3), TypeError, r"save must be a path \(str or os.PathLike\), not int"),
    ]
    for options, error, message in cases:
        with pytest.raises(error, match=message):
            recur.train_classifier(texts, labels, **options)
    with pytest.raises(recur.Error, match="a language model is trained with --task lm, not classify"):
        recur.train_lm(LM_TEXT, preset="sentiment")
    with pytest.raises(recur.Error, match="--bidirectional: a language model reads left to right"):
        recur.train_lm(LM_TEXT, bidirectional=True)
    with pytest.raises(TypeError, match="unexpected keyword argument 'valid'"):
        recur.train_lm(LM_TEXT, valid=("a", "b"))
    # None is "not given"; numpy scalars are numbers.
    m = recur.train_classifier(texts, labels, hidden=np.int64(8), lr=np.float32(0.05), epochs=5, cell=None)
    assert m.config["hidden_size"] == 8 and m.config["cell"] == "rnn_tanh"
    assert "clip_norm" in recur.train_option_names() and "task" not in recur.train_option_names()


def test_data_is_checked(seed_train):
    texts, labels = seed_train
    with pytest.raises(TypeError, match=r"texts must be a list of strings, not a single str \(for one text, pass \[text\]\)"):
        recur.train_classifier("good day", labels)
    with pytest.raises(ValueError, match="texts and labels differ in length: 60 texts, 59 labels"):
        recur.train_classifier(texts, labels[:-1])
    with pytest.raises(TypeError, match=r"labels\[0\] is int, not str"):
        recur.train_classifier(texts, [0] * len(texts))
    with pytest.raises(recur.Error, match="labels:2: empty label"):
        recur.train_classifier(texts[:3], ["pos", "neg", ""])
    with pytest.raises(recur.Error, match="valid labels:1: unknown label 'meh' \\(the model knows: neg, pos\\)"):
        recur.train_classifier(texts, labels, valid=(["a", "b"], ["pos", "meh"]), epochs=2)
    with pytest.raises(TypeError, match=r"valid must be a pair \(texts, labels\), not list"):
        recur.train_classifier(texts, labels, valid=[texts, labels])
    with pytest.raises(recur.Error, match="texts: no training examples"):
        recur.train_classifier([], [])
    with pytest.raises(TypeError, match="text must be a str, not list"):
        recur.train_lm(["abc"])
    with pytest.raises(TypeError, match=r"train_lm takes a text or a text_file \(one of them\)"):
        recur.train_lm()
    with pytest.raises(TypeError, match=r"text_file must be a path \(str or os.PathLike\), not int"):
        recur.train_lm(text_file=3)
    with pytest.raises(recur.Error, match="no-such-file.txt: cannot open"):
        recur.train_lm(text_file="no-such-file.txt")


def test_lm_from_files_is_the_lm_from_text(tmp_path):
    # A text file (read in pieces, ids on disk) trains the model the same text passed whole trains.
    (tmp_path / "book.txt").write_text(LM_TEXT * 4, encoding="utf-8")
    (tmp_path / "valid.txt").write_text("the cat sat on the rug. ", encoding="utf-8")
    options = dict(hidden=12, layers=1, steps=20, eval_every=10, batch=4, seq_len=12)
    whole = recur.train_lm(LM_TEXT * 4, valid_text="the cat sat on the rug. ", **options)
    files = recur.train_lm(text_file=tmp_path / "book.txt", valid_file=str(tmp_path / "valid.txt"), **options)
    assert files.to_bytes() == whole.to_bytes()
    assert [e["valid_loss"] for e in files.history] == [e["valid_loss"] for e in whole.history]


def test_checkpoint_and_resume_as_the_cli(seed_train, tmp_path):
    # A run in two halves: the checkpoint the first writes continues to the model of one whole run.
    texts, labels = seed_train
    ckpt = tmp_path / "run.ckpt"
    whole = recur.train_classifier(texts, labels, epochs=40, batch=4, optimizer="adam", lr=0.01)
    calls = []
    first = recur.train_classifier(texts, labels, epochs=40, batch=4, optimizer="adam", lr=0.01, checkpoint=ckpt,
                                   log_every=10, callback=lambda e: calls.append(e) or len(calls) < 2)
    assert first.training["stopped_early"] and ckpt.exists()
    rest = recur.train_classifier(texts, labels, epochs=40, batch=4, optimizer="adam", lr=0.01, resume=str(ckpt))
    assert rest.to_bytes() == whole.to_bytes()
    with pytest.raises(recur.MissingFileError) as e:
        recur.train_classifier(texts, labels, resume=tmp_path / "nope.ckpt")
    assert e.value.filename == str(tmp_path / "nope.ckpt")
    assert str(e.value).startswith(str(tmp_path / "nope.ckpt") + ": cannot open")


CTRL_C_SCRIPT = """
import json, os, signal, sys, threading, time
import recur
text = {text!r}
options = dict(hidden=32, layers=1, steps=1000, eval_every=1000, batch=8, seq_len=32, save={save!r})
if {in_callback}:  # Ctrl-C while Python's callback runs
    def callback(e):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)
    options.update(eval_every=100, callback=callback)
else:             # Ctrl-C while the library trains, the GIL released
    threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT)).start()
try:
    recur.train_lm(text, **options)
    print(json.dumps({{"finished": True}}))
except recur.Interrupted as e:
    assert isinstance(e, KeyboardInterrupt)
    print(json.dumps({{"checkpoint": e.checkpoint, "message": str(e)}}))
"""


@pytest.mark.parametrize("in_callback", [False, True])
def test_ctrl_c_writes_the_checkpoint_and_resume_finishes_the_run(tmp_path, in_callback):
    text = tmp_path / "t.txt"
    text.write_text(LM_TEXT * 3, encoding="utf-8")
    whole = tmp_path / "whole.st"
    recur_cli("train", "--quiet", "--task", "lm", "--text", str(text), "--hidden", "32", "--layers", "1", "--steps",
              "1000", "--eval-every", "1000", "--batch", "8", "--seq-len", "32", "--save", str(whole))
    save = str(tmp_path / "py.st")
    r = python(CTRL_C_SCRIPT.format(text=LM_TEXT * 3, save=save, in_callback=in_callback))
    assert r.returncode == 0, r.stderr.decode()
    out = json.loads(r.stdout)
    assert "finished" not in out, "the run ended before Ctrl-C arrived"
    assert out["checkpoint"] == save + ".ckpt" and os.path.exists(out["checkpoint"])
    assert out["message"].startswith("interrupted at ") and f"(continue with resume='{save}.ckpt')" in out["message"]
    lm = recur.train_lm(LM_TEXT * 3, hidden=32, layers=1, steps=1000, eval_every=1000, batch=8, seq_len=32,
                        save=save, resume=out["checkpoint"])
    assert open(save, "rb").read() == whole.read_bytes() == lm.to_bytes()
