"""A language model from Python: generate against `recur generate` with the same
seed, stream against generate, evaluate against `recur eval --text --format json`."""
import json

import numpy as np
import pytest

import recur
from conftest import recur_cli


@pytest.mark.parametrize("name", ["lm", "lm_gru"])
@pytest.mark.parametrize("prime,settings", [
    ("the ", dict(length=120, temperature=0.8, seed=3)),
    ("", dict(length=60, temperature=1.0, top_k=5, seed=11)),
    ("the dog", dict(length=50, temperature=1.3, top_p=0.9, seed=4294967295)),
    ("THE cat", dict(length=40, temperature=0, seed=2)),  # 0: always the most likely symbol
])
def test_generate_is_recur_generate(models, name, prime, settings):
    lm = recur.load(models[name])
    assert isinstance(lm, recur.LanguageModel)
    flags = []
    for k, v in settings.items():
        flags += ["--" + k.replace("_", "-"), str(v)]
    cli = recur_cli("generate", "--model", models[name], "--prime", prime, *flags)
    text = lm.generate(prime, **settings)
    assert cli == prime + text + "\n"  # the CLI prints the prime, the text and a newline
    pieces = list(lm.stream(prime, **settings))
    assert len(pieces) == settings["length"] and "".join(pieces) == text


def test_generate_defaults_are_the_cli_defaults(models):
    lm = recur.load(models["lm"])
    assert recur_cli("generate", "--model", models["lm"]) == lm.generate() + "\n"
    endless = lm.stream("the", length=None, seed=5)
    first = [next(endless) for _ in range(700)]
    assert "".join(first[:500]) == lm.generate("the", seed=5)


@pytest.mark.parametrize("name", ["lm", "lm_gru"])
def test_evaluate_is_recur_eval(models, name):
    lm = recur.load(models[name])
    cli = json.loads(recur_cli("eval", "--model", models[name], "--text", models["lm_text"], "--format", "json"))
    got = lm.evaluate(open(models["lm_text"], encoding="utf-8").read())
    assert got == cli
    assert got["bits_per_token"] == pytest.approx(got["loss"] / np.log(2))
    assert lm.evaluate("the zebra!")["unknown_tokens"] > 0


def test_model_describes_itself_and_reads_text(models, tmp_path):
    lm = recur.load(models["lm"])
    assert lm.task == "lm" and lm.labels == [] and lm.vocab[-1] == "<unk>"
    assert lm.config["cell"] == "lstm" and lm.config["num_layers"] == 2 and lm.config["tokenizer"] == "char"
    h, c = lm.hidden_states("the cat", return_cell=True)
    assert h.shape == c.shape == (7, 2, 16)
    x = lm.explain("the ca", top=3)
    assert x["tokens"] == list("the ca") and len(x["next"]) == 6 and len(x["next"][0]) == 3
    symbol, p = x["next"][-1][0]
    assert symbol in lm.vocab and 0 < p <= 1
    out = tmp_path / "lm.safetensors"
    lm.save(str(out))
    assert out.read_bytes() == open(models["lm"], "rb").read()
    import pickle

    assert pickle.loads(pickle.dumps(lm)).generate("the", length=30, seed=9) == lm.generate("the", length=30, seed=9)


def test_sampling_settings_are_checked(models):
    lm = recur.load(models["lm"])
    with pytest.raises(recur.Error, match="--length must be >= 0"):
        lm.generate(length=-1)
    with pytest.raises(recur.Error, match="--length must be >= 0"):
        lm.stream(length=-1)
    with pytest.raises(recur.Error, match="--temperature"):
        lm.generate(temperature=-1)
    with pytest.raises(recur.Error, match="--top-p"):
        lm.generate(top_p=0)
    with pytest.raises(ValueError, match=r"seed must be in \[0, 4294967295\]"):
        lm.generate(seed=-1)
    with pytest.raises(TypeError, match="temperature must be a number, not str"):
        lm.generate(temperature="hot")
    with pytest.raises(TypeError, match="prime must be a str, not list"):
        lm.generate(["the"])
