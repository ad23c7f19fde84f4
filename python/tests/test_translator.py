"""Sequence-to-sequence models from Python are `recur train --task seq2seq`,
`recur translate` and `recur eval`: the same model file byte for byte, the same
outputs and scores, the same report, the same checks and messages."""
import json
import pickle
import random

import numpy as np
import pytest

import recur
from conftest import recur_cli


def reversal(n, seed):
    """Words of letters a-f and their letters reversed as capitals: "abc" -> "C B A"."""
    rng = random.Random(seed)
    words = ["".join(rng.choice("abcdef") for _ in range(rng.randint(2, 5))) for _ in range(n)]
    return words, [" ".join(w[::-1].upper()) for w in words]


SMALL = dict(hidden=16, embed=8, epochs=3, seed=5)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("s2s")
    train, valid = reversal(400, 1), reversal(40, 2)
    for name, (src, tgt) in (("train", train), ("valid", valid)):
        with open(d / f"{name}.tsv", "w", encoding="utf-8") as f:
            f.writelines(f"{s}\t{t}\n" for s, t in zip(src, tgt))
    return d, train, valid


def test_training_is_the_cli_and_answers_as_it_does(data, tmp_path):
    d, train, valid = data
    cli_model, log = tmp_path / "cli.st", tmp_path / "log.jsonl"
    recur_cli("train", "--task", "seq2seq", "--quiet", "--train", str(d / "train.tsv"), "--valid", str(d / "valid.tsv"),
              "--hidden", "16", "--embed", "8", "--epochs", "3", "--seed", "5", "--save", str(cli_model),
              "--log-json", str(log))
    seen = []
    model = recur.train_seq2seq(*train, valid=valid, callback=seen.append, **SMALL)
    py_model = tmp_path / "py.st"
    model.save(py_model)
    assert py_model.read_bytes() == cli_model.read_bytes() == model.to_bytes()
    assert seen == model.history == [json.loads(line) for line in log.read_text().splitlines()]
    assert model.training["epochs_run"] == 3 and "best" in model.training
    assert model.task == "seq2seq" and model.members == 1
    assert model.config["src_vocab"][-1] == "<unk>" and model.config["tgt_vocab"][:2] == ["<bos>", "<eos>"]
    assert "encoder lstm 1x16 bidirectional" in repr(model)

    # translate: recur translate --format jsonl's outputs and scores.
    words = ["abc", "fed", "aab"]
    out = model.translate(words, beam=3, nbest=2)
    lines = [json.loads(x) for x in recur_cli("translate", "--model", str(cli_model), "--beam", "3", "--nbest", "2",
                                              "--format", "jsonl", stdin="\n".join(words) + "\n").splitlines()]
    assert [o["output"] for o in out] == [x["output"] for x in lines]
    assert [o["score"] for o in out] == pytest.approx([x["score"] for x in lines], abs=1e-5)
    assert [[n["output"] for n in o["nbest"]] for o in out] == [[n["output"] for n in x["nbest"]] for x in lines]
    assert out[0]["tokens"] == out[0]["output"].split() and out[0]["unknown"] == 0
    att = model.translate(["abz"], attention=True)[0]
    assert att["source_tokens"] == ["a", "b", "z"] and att["unknown"] == 1
    assert att["attention"].dtype == np.float32 and att["attention"].shape == (len(att["tokens"]) + 1, 3)
    assert np.allclose(att["attention"].sum(axis=1), 1, atol=1e-5)

    # evaluate: recur eval --format json.
    report = model.evaluate(*valid, beam=2)
    cli = json.loads(recur_cli("eval", "--model", str(cli_model), "--data", str(d / "valid.tsv"), "--beam", "2",
                               "--format", "json"))
    for key in ("n", "pairs", "sequence_accuracy", "token_error_rate"):
        assert report[key] == cli[key], key
    assert report["loss"] == pytest.approx(cli["loss"], rel=1e-9)

    # load, from_bytes and pickle give the same model.
    for again in (recur.load(cli_model), recur.from_bytes(model.to_bytes()), pickle.loads(pickle.dumps(model))):
        assert isinstance(again, recur.Translator)
        assert again.translate(words, beam=3) == model.translate(words, beam=3)


def test_members_train_together_and_decode_as_one(data):
    _, train, valid = data
    model = recur.train_seq2seq(*train, valid=valid, members=2, **SMALL)
    assert model.members == 2 and model.config["members"] == 2
    assert "2 members" in repr(model)
    assert len(model.translate(["abc", "de"], beam=2)) == 2


def test_threads_change_no_answer(data):
    _, train, valid = data
    model = recur.train_seq2seq(*train, **SMALL)
    words = valid[0]
    one = model.translate(words, beam=3, nbest=2, threads=1)
    assert one == model.translate(words, beam=3, nbest=2, threads=2) == model.translate(words, beam=3, nbest=2)
    assert model.evaluate(*valid, threads=1) == model.evaluate(*valid, threads=3)
    with pytest.raises(ValueError, match=r"threads must be in \[1, 1024\], not 0"):
        model.translate(words, threads=0)


def test_bad_input_is_one_clear_error(data):
    _, train, _ = data
    with pytest.raises(recur.Error, match=r"^pairs:2: the target \(after the tab\) is empty$"):
        recur.train_seq2seq(["ab", "cd", "ef"], ["B A", "D C", ""], **SMALL)
    with pytest.raises(ValueError, match="sources and targets differ in length: 2 sources, 1 targets"):
        recur.train_seq2seq(["ab", "cd"], ["B A"])
    with pytest.raises(TypeError, match=r"train_classifier\(\) got an unexpected keyword argument 'attention' "
                                        r"\(an option of train_seq2seq\)"):
        recur.train_classifier(["a"], ["x"], attention="dot")
    with pytest.raises(TypeError, match="did you mean 'attention'"):
        recur.train_seq2seq(*train, atention="dot")
    with pytest.raises(recur.Error, match="--members must be in"):
        recur.train_seq2seq(*train, members=0)
    model = recur.train_seq2seq(*train, hidden=8, embed=4, epochs=1)
    with pytest.raises(recur.Error, match="--nbest must be between 1 and --beam"):
        model.translate(["ab"], beam=2, nbest=3)
    with pytest.raises(TypeError, match="for one text, pass"):
        model.translate("ab")
    assert "attention" in recur.train_option_names("seq2seq")
    assert "attention" not in recur.train_option_names()
    with pytest.raises(ValueError, match="task must be"):
        recur.train_option_names("translate")
