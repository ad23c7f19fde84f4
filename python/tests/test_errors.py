"""Every mistake is a Python exception with one clear line — ValueError (recur.Error
carrying the library's message, the CLI's), FileNotFoundError, TypeError — never
a crash."""
import subprocess

import numpy as np
import pytest

import recur
from conftest import CLI


def cli_error(*args):
    r = subprocess.run([CLI, *args], capture_output=True)
    assert r.returncode == 1
    line = r.stderr.decode()
    assert line.startswith("recur: error: ") and line.count("\n") == 1
    return line[len("recur: error: "):-1]


def test_the_exception_classes():
    assert issubclass(recur.Error, ValueError)
    assert issubclass(recur.MissingFileError, FileNotFoundError) and issubclass(recur.MissingFileError, recur.Error)
    assert issubclass(recur.Interrupted, KeyboardInterrupt)
    assert recur.Error.__module__ == "recur"


def test_missing_and_bad_model_files(tmp_path, models):
    missing = str(tmp_path / "nope.safetensors")
    with pytest.raises(FileNotFoundError) as e:
        recur.load(missing)
    assert isinstance(e.value, recur.Error) and e.value.filename == missing and e.value.errno == 2
    assert str(e.value) == f"{missing}: cannot open: No such file or directory"

    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with pytest.raises(recur.Error) as e:
        recur.load(corrupt)
    assert str(e.value) == cli_error("predict", "--model", str(corrupt), "good")
    assert "\n" not in str(e.value)

    ckpt = tmp_path / "m.ckpt"
    texts, labels = ["good", "bad", "good good", "bad bad"], ["pos", "neg", "pos", "neg"]
    recur.train_classifier(texts, labels, epochs=2, checkpoint=ckpt, save=tmp_path / "m.st")
    with pytest.raises(recur.Error, match="a training checkpoint, not a model"):
        recur.load(ckpt)
    with pytest.raises(recur.Error, match="not a valid safetensors file"):
        recur.from_bytes(b"garbage")
    with pytest.raises(recur.Error):
        recur.load(tmp_path)  # a directory
    with pytest.raises(TypeError, match=r"path must be a path \(str or os.PathLike\), not int"):
        recur.load(3)
    with pytest.raises(recur.Error, match="cannot"):
        recur.load(models["seed"]).save(tmp_path / "no" / "such" / "dir" / "m.st")


def test_texts_and_labels_are_checked(models):
    model = recur.load(models["seed"])
    with pytest.raises(TypeError, match=r"texts must be a list of strings, not a single str \(for one text, pass \[text\]\)"):
        model.predict_proba("i am happy")
    with pytest.raises(TypeError, match="texts must be a list of strings, not a single bytes"):
        model.predict([b"good"][0])
    with pytest.raises(TypeError, match="texts must be a list of strings, not int"):
        model.predict(3)
    with pytest.raises(TypeError, match=r"texts\[1\] is int, not str"):
        model.predict_proba(["good", 3])
    with pytest.raises(TypeError, match=r"texts\[0\] is list, not str"):
        model.predict_proba([["nested"]])
    with pytest.raises(TypeError, match=r"texts\[0\] is NoneType, not str"):
        model.predict([None])
    with pytest.raises(ValueError, match="texts and labels differ in length: 2 texts, 1 labels"):
        model.evaluate(["good", "bad"], ["pos"])
    with pytest.raises(recur.Error, match=r"labels:1: unknown label 'meh' \(the model knows: neg, pos\)"):
        model.evaluate(["good", "bad"], ["pos", "meh"])
    with pytest.raises(TypeError, match="labels must be a list of strings, not a single str"):
        model.evaluate(["good"], "pos")
    with pytest.raises(ValueError, match=r"threads must be in \[1, 1024\]"):
        model.predict(["good"], threads=0)
    with pytest.raises(UnicodeError):
        model.predict(["lone surrogate \ud800"])
    with pytest.raises(TypeError, match="text must be a str, not list"):
        model.hidden_states(["good"])
    with pytest.raises(TypeError, match="return_cell must be a bool, not str"):
        model.hidden_states("good", return_cell="yes")


def test_from_state_dict_is_checked_as_a_file(models):
    model = recur.load(models["lstm"])
    state, config = model.state_dict(), model.config
    back = recur.from_state_dict(state, config)
    np.testing.assert_array_equal(back.predict_proba(["good", "bad"]), model.predict_proba(["good", "bad"]))
    assert back.to_bytes() == model.to_bytes()
    wrong = dict(state, **{"head.bias": np.zeros(3)})
    with pytest.raises(recur.Error, match=r"^from_state_dict: tensor head.bias has shape \(3\), expected \(2\)$"):
        recur.from_state_dict(wrong, config)
    with pytest.raises(recur.Error, match="from_state_dict: missing tensor rnn.weight_hh_l0"):
        recur.from_state_dict({k: v for k, v in state.items() if k != "rnn.weight_hh_l0"}, config)
    with pytest.raises(recur.Error, match="from_state_dict: metadata has no 'cell'"):
        recur.from_state_dict(state, {k: v for k, v in config.items() if k != "cell"})
    with pytest.raises(recur.Error, match="unexpected tensor extra"):
        recur.from_state_dict(dict(state, extra=np.zeros(2)), config)
    with pytest.raises(recur.Error, match="not finite"):
        recur.from_state_dict(dict(state, **{"head.bias": np.array([np.nan, 0])}), config)
    with pytest.raises(TypeError, match=r"config\['cell'\] must be a str, int, bool or list, not dict"):
        recur.from_state_dict(state, dict(config, cell={}))


@pytest.mark.parametrize("bad", [None, 3, 2.5, b"x", object(), ["ok", None], [1, 2], {"a": 1}, np.zeros((2, 2))])
def test_nothing_crashes(models, bad):
    clf, lm = recur.load(models["lstm"]), recur.load(models["lm"])
    calls = [
        lambda: clf.predict(bad), lambda: clf.predict_proba(bad), lambda: clf.evaluate(bad, bad),
        lambda: clf.evaluate(["good"], bad), lambda: clf.hidden_states(bad), lambda: clf.explain(bad),
        lambda: clf.predict(["good"], threads=bad), lambda: clf.save(bad), lambda: lm.generate(bad),
        lambda: lm.generate(length=bad), lambda: lm.generate(temperature=bad), lambda: lm.stream(seed=bad),
        lambda: lm.evaluate(bad), lambda: lm.explain("the", top=bad), lambda: recur.load(bad),
        lambda: recur.train_classifier(bad, bad), lambda: recur.train_lm(bad), lambda: recur.from_bytes(bad),
        lambda: recur.train_classifier(["a", "b"], ["x", "y"], hidden=bad),
        lambda: recur.from_state_dict(bad, clf.config), lambda: recur.from_state_dict(clf.state_dict(), bad),
    ]
    for call in calls:
        try:
            call()
        except (TypeError, ValueError, AttributeError) as e:
            assert str(e) and "\n" not in str(e).strip()
