"""A classifier from Python answers exactly as the recur command line does on the
same model file: predict_proba against `recur predict --format jsonl`, evaluate
against `recur eval --format json`; and what the model object says about itself."""
import pickle

import numpy as np
import pytest

import recur
from conftest import jsonl, recur_cli, write_tsv

# Words the seed never saw, capitals (the LSTM lowercases), an empty text, a
# decomposed accent (NFC), repeated spaces (the seed's tokenizer keeps empty tokens).
EXTRA = ["I AM VERY HAPPY", "", "totally unseen words", "cafe\u0301 good", "not  bad", "this is not good at all"]


@pytest.mark.parametrize("name", ["seed", "lstm", "gru"])
def test_predict_proba_is_recur_predict(models, seed_test, name):
    texts = seed_test[0] + EXTRA
    model = recur.load(models[name])
    assert isinstance(model, recur.Classifier)
    cli = jsonl(recur_cli("predict", "--model", models[name], "--format", "jsonl", stdin="\n".join(texts) + "\n"))
    assert len(cli) == len(texts)
    want = np.array([[row["probabilities"][label] for label in model.labels] for row in cli])
    for threads in (1, 2, None):
        got = model.predict_proba(texts, threads=threads)
        assert got.shape == (len(texts), len(model.labels)) and got.dtype == np.float64
        np.testing.assert_array_equal(got, want)  # bit for bit: the same library, the same numbers
    assert model.predict(texts) == [row["label"] for row in cli]
    # One text alone, any container of str.
    np.testing.assert_array_equal(model.predict_proba([texts[3]]), want[3:4])
    np.testing.assert_array_equal(model.predict_proba(tuple(texts)), want)
    np.testing.assert_array_equal(model.predict_proba(np.array(texts)), want)
    np.testing.assert_array_equal(model.predict_proba(t for t in texts), want)
    assert model.predict_proba([]).shape == (0, len(model.labels))


@pytest.mark.parametrize("name", ["seed", "lstm", "gru"])
def test_evaluate_is_recur_eval(models, seed_test, tmp_path, name):
    texts, labels = seed_test[0] + ["totally unseen words"], seed_test[1] + ["pos"]
    data = tmp_path / "test.tsv"
    write_tsv(data, texts, labels)
    import json

    cli = json.loads(recur_cli("eval", "--model", models[name], "--data", str(data), "--format", "json"))
    got = recur.load(models[name]).evaluate(texts, labels)
    assert got == cli
    assert set(got) >= {"n", "loss", "accuracy", "macro_f1", "confusion", "per_class"}


def test_model_describes_itself(models):
    model = recur.load(models["lstm"])
    c = model.config
    assert c["task"] == "classify" and c["cell"] == "lstm" and c["num_layers"] == 1 and c["hidden_size"] == 6
    assert c["bidirectional"] is True and c["lowercase"] is True and c["tokenizer"] == "word"
    assert c["labels"] == model.labels == ["neg", "pos"]
    assert c["vocab"] == model.vocab and model.vocab[-1] == "<unk>"
    assert model.task == "classify" and model.training is None and model.history == []
    info = recur_cli("info", "--model", models["lstm"])
    assert f"vocabulary\t{len(model.vocab)}" in info
    assert repr(model).startswith("<recur.Classifier lstm 1x6 bidirectional, embedding 8")
    model.config["cell"] = "gru"  # a copy: the model does not change
    assert model.config["cell"] == "lstm"


def test_save_writes_the_same_file_and_bytes_round_trip(models, tmp_path):
    model = recur.load(models["lstm"])
    out = tmp_path / "copy.safetensors"
    model.save(out)  # os.PathLike or str
    original = open(models["lstm"], "rb").read()
    assert out.read_bytes() == original
    assert model.to_bytes() == original
    texts = ["good", "bad bad", "i am happy"]
    for other in (recur.from_bytes(original), pickle.loads(pickle.dumps(model))):
        assert isinstance(other, recur.Classifier)
        np.testing.assert_array_equal(other.predict_proba(texts), model.predict_proba(texts))


def test_hidden_states_shapes_and_meaning(models):
    lstm = recur.load(models["lstm"])
    h = lstm.hidden_states("I am very happy")
    assert h.shape == (4, 2, 6) and h.dtype == np.float32  # T tokens, forward + reverse, H
    h2, c, gates = lstm.hidden_states("I am very happy", return_cell=True, return_gates=True)
    np.testing.assert_array_equal(h2, h)
    assert c.shape == (4, 2, 6) and gates.shape == (4, 2, 4, 6)
    # LSTM: h = o * tanh(c), gates in PyTorch's order (i, f, g, o).
    np.testing.assert_allclose(h, gates[:, :, 3, :] * np.tanh(c), atol=1e-6)
    assert ((gates[:, :, [0, 1, 3]] > 0) & (gates[:, :, [0, 1, 3]] < 1)).all()
    h_only, g_only = lstm.hidden_states("good", return_gates=True)
    assert g_only.shape == (1, 2, 4, 6)

    gru = recur.load(models["gru"])
    h = gru.hidden_states("i am very happy")
    assert h.shape == (4, 2, 5)  # two layers, one direction
    assert gru.hidden_states("i am", return_gates=True)[1].shape == (2, 2, 3, 5)
    with pytest.raises(ValueError, match="only an LSTM has cell states"):
        gru.hidden_states("good", return_cell=True)
    seed = recur.load(models["seed"])
    assert seed.hidden_states("").shape == (1, 1, 64)  # the seed's "" is one empty token
    with pytest.raises(ValueError, match="no gates"):
        seed.hidden_states("good", return_gates=True)


def test_explain(models):
    model = recur.load(models["lstm"])
    x = model.explain("I am NOT happy, zebra")
    assert x["tokens"] == ["i", "am", "not", "happy", ",", "zebra"]
    assert x["known"][-1] is False and x["known"][0] is True
    np.testing.assert_array_equal(x["probabilities"], model.predict_proba(["I am NOT happy, zebra"])[0])
    assert x["label"] == model.predict(["I am NOT happy, zebra"])[0]
    assert x["prefix_probabilities"].shape == (6, 2) and x["importance"].shape == (6,)
