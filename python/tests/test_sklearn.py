"""recur.sklearn.RNNClassifier is a scikit-learn estimator: fit/predict/predict_proba/
score, parameters through get_params/set_params/clone, any labels as classes_, and
it works in cross_val_score, GridSearchCV and a Pipeline."""
import inspect
import pickle

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")  # (python3-sklearn: scripts/install-deps.sh python installs it)
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import recur
from recur.sklearn import TRAIN_PARAMS, RNNClassifier

SMALL = dict(cell="gru", hidden=8, embed=8, optimizer="adam", lr=0.02, batch=4, epochs=25, tokenizer="word",
             lowercase=True, seed=3)


def test_parameters_are_the_libraries_options():
    lm_or_files = {"steps", "seq_len", "eval_every", "save", "checkpoint", "resume", "checkpoint_every"}
    # (the estimator's threads= is prediction's: training's would change how many sequences a step takes)
    assert set(TRAIN_PARAMS) == set(recur.train_option_names()) - lm_or_files - {"threads"}
    init = inspect.signature(RNNClassifier.__init__).parameters
    assert set(init) - {"self"} == set(TRAIN_PARAMS) | {"threads", "callback"}
    est = RNNClassifier(hidden=16)
    assert est.get_params()["hidden"] == 16 and est.get_params()["cell"] is None
    assert est.set_params(cell="lstm", hidden=4) is est and est.hidden == 4
    assert clone(est).get_params() == est.get_params()


def test_fit_is_train_classifier_and_classes_are_any_labels(seed_train, seed_test):
    texts, labels = seed_train
    est = RNNClassifier(**SMALL).fit(texts, labels)
    direct = recur.train_classifier(texts, labels, **SMALL)
    assert est.model_.to_bytes() == direct.to_bytes()
    np.testing.assert_array_equal(est.predict_proba(seed_test[0]), direct.predict_proba(seed_test[0]))
    assert list(est.classes_) == ["neg", "pos"]
    assert list(est.predict(seed_test[0])) == direct.predict(seed_test[0])
    assert est.score(*seed_test) == direct.evaluate(*seed_test)["accuracy"]

    # Integer classes (sorted as numbers: 2 < 10, though "10" < "2" as the model's text labels).
    y = np.array([10 if label == "pos" else 2 for label in labels])
    est = RNNClassifier(**SMALL).fit(np.array(texts), y)
    assert list(est.classes_) == [2, 10] and est.model_.labels == ["10", "2"]
    proba = est.predict_proba(seed_test[0])
    np.testing.assert_array_equal(proba, est.model_.predict_proba(seed_test[0])[:, [1, 0]])
    assert set(est.predict(seed_test[0])) <= {2, 10}
    np.testing.assert_array_equal(est.predict(seed_test[0]), est.classes_[proba.argmax(axis=1)])
    assert est.predict(seed_test[0]).dtype == y.dtype
    assert pickle.loads(pickle.dumps(est)).predict(seed_test[0]).tolist() == est.predict(seed_test[0]).tolist()


def test_mistakes_are_clear(seed_train):
    texts, labels = seed_train
    with pytest.raises(ValueError, match="at least 2 classes"):
        RNNClassifier().fit(texts, ["pos"] * len(texts))
    with pytest.raises(ValueError, match="X and y differ in length"):
        RNNClassifier().fit(texts, labels[:3])
    with pytest.raises(TypeError, match="X must be a list of texts, not a single str"):
        RNNClassifier().fit("one text", labels)
    with pytest.raises(recur.Error, match="--hidden must be at least 1"):
        RNNClassifier(hidden=0).fit(texts, labels)
    with pytest.raises(sklearn.exceptions.NotFittedError):
        RNNClassifier().predict(texts)


def test_cross_val_score_grid_search_and_pipeline(seed_train, seed_test):
    texts, labels = seed_train
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    scores = cross_val_score(RNNClassifier(**SMALL), texts, labels, cv=cv)
    assert scores.shape == (3,) and scores.mean() > 0.6

    grid = GridSearchCV(RNNClassifier(**SMALL), {"hidden": [4, 8], "cell": ["gru", "lstm"]}, cv=cv)
    grid.fit(texts, labels)
    assert set(grid.best_params_) == {"hidden", "cell"} and len(grid.cv_results_["mean_test_score"]) == 4
    assert grid.best_estimator_.model_.config["cell"] == grid.best_params_["cell"]

    shout = FunctionTransformer(lambda X: [t.upper() for t in X])  # the model lowercases: the same answers
    pipe = make_pipeline(shout, RNNClassifier(**SMALL)).fit(texts, labels)
    plain = RNNClassifier(**SMALL).fit(texts, labels)
    np.testing.assert_array_equal(pipe.predict_proba(seed_test[0]), plain.predict_proba(seed_test[0]))
    assert pipe.score(*seed_test) == plain.score(*seed_test)
