"""recur's text classifier as a scikit-learn estimator.

    from recur.sklearn import RNNClassifier
    from sklearn.model_selection import cross_val_score
    scores = cross_val_score(RNNClassifier(preset="sentiment"), texts, labels, cv=5)

X is a list (or 1-d array) of texts; y any labels scikit-learn accepts. The
parameters are `recur train`'s flags with underscores (None: not given, so the
preset or the library's default applies), plus `threads` for prediction and
`callback` for training. Training and prediction are recur.train_classifier and
Classifier.predict_proba: nothing is computed here but the mapping between
scikit-learn's classes_ and the model's labels.
"""
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from . import train_classifier

# The training options an estimator takes: train_option_names() but those of
# language models (steps, seq_len, eval_every) and files (save, checkpoint,
# resume, checkpoint_every), which do not fit fit(), and threads (the
# estimator's threads= is prediction's; data-parallel training on threads
# would make each step take threads x batch sequences). (tested against the library's list)
TRAIN_PARAMS = (
    "preset", "tokenizer", "lowercase", "min_count", "max_vocab", "cell", "layers", "hidden", "embed",
    "bidirectional", "bias_hh", "dropout", "pool", "word_dropout", "embed_dropout", "vectors", "vectors_vocab",
    "freeze_embedding", "init_from", "subwords", "buckets", "sparse_embedding", "init", "forget_bias", "optimizer", "lr", "momentum", "weight_decay",
    "nesterov", "schedule", "step_size", "gamma", "clip", "clip_norm", "label_smoothing", "average", "batch", "epochs", "log_every",
    "plateau_decay", "valid_fraction", "patience", "seed", "dtype",
)


def _texts(X):
    if isinstance(X, (str, bytes)):
        raise TypeError(f"X must be a list of texts, not a single {type(X).__name__}")
    if isinstance(X, np.ndarray) and X.ndim == 2 and X.shape[1] == 1:
        X = X[:, 0]  # one column of texts (a ColumnTransformer's output)
    elif hasattr(X, "ndim") and X.ndim != 1:
        raise ValueError(f"X must be one text per row (1-d), got shape {X.shape}")
    return list(X)


class RNNClassifier(ClassifierMixin, BaseEstimator):
    """A recurrent-network text classifier (recur.train_classifier) for scikit-learn.

    RNNClassifier(preset="sentiment") is `recur train --preset sentiment`;
    RNNClassifier(cell="gru", hidden=32, epochs=10, ...) sets those flags. After
    fit: classes_, and model_ (a recur.Classifier: save(), hidden_states(), ...).
    """

    def __init__(self, preset=None, *, tokenizer=None, lowercase=None, min_count=None, max_vocab=None, cell=None,
                 layers=None, hidden=None, embed=None, bidirectional=None, bias_hh=None, dropout=None, pool=None,
                 word_dropout=None, embed_dropout=None, vectors=None, vectors_vocab=None, freeze_embedding=None,
                 init_from=None, subwords=None, buckets=None, sparse_embedding=None, init=None,
                 forget_bias=None, optimizer=None, lr=None, momentum=None, weight_decay=None, nesterov=None,
                 schedule=None, step_size=None, gamma=None, clip=None, clip_norm=None, label_smoothing=None, average=None,
                 batch=None, epochs=None, log_every=None, plateau_decay=None, valid_fraction=None, patience=None,
                 seed=None, dtype=None, threads=None, callback=None):
        self.preset = preset
        self.tokenizer = tokenizer
        self.lowercase = lowercase
        self.min_count = min_count
        self.max_vocab = max_vocab
        self.cell = cell
        self.layers = layers
        self.hidden = hidden
        self.embed = embed
        self.bidirectional = bidirectional
        self.bias_hh = bias_hh
        self.dropout = dropout
        self.pool = pool
        self.word_dropout = word_dropout
        self.embed_dropout = embed_dropout
        self.vectors = vectors
        self.vectors_vocab = vectors_vocab
        self.freeze_embedding = freeze_embedding
        self.init_from = init_from
        self.subwords = subwords
        self.buckets = buckets
        self.sparse_embedding = sparse_embedding
        self.init = init
        self.forget_bias = forget_bias
        self.optimizer = optimizer
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.nesterov = nesterov
        self.schedule = schedule
        self.step_size = step_size
        self.gamma = gamma
        self.clip = clip
        self.clip_norm = clip_norm
        self.label_smoothing = label_smoothing
        self.average = average
        self.batch = batch
        self.epochs = epochs
        self.log_every = log_every
        self.plateau_decay = plateau_decay
        self.valid_fraction = valid_fraction
        self.patience = patience
        self.seed = seed
        self.dtype = dtype
        self.threads = threads
        self.callback = callback

    def fit(self, X, y):
        texts = _texts(X)
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(f"y must be one label per text (1-d), got shape {y.shape}")
        if len(texts) != len(y):
            raise ValueError(f"X and y differ in length: {len(texts)} texts, {len(y)} labels")
        self.classes_, y_index = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"RNNClassifier needs at least 2 classes in y, got {len(self.classes_)}")
        names = [str(c) for c in self.classes_]  # the model's labels are strings
        if len(set(names)) != len(names):
            raise ValueError("two classes of y are the same text: " + ", ".join(names))
        options = {p: getattr(self, p) for p in TRAIN_PARAMS if getattr(self, p) is not None}
        self.model_ = train_classifier(texts, [names[i] for i in y_index], callback=self.callback, **options)
        column = {label: c for c, label in enumerate(self.model_.labels)}
        self._columns = np.array([column[n] for n in names])  # the model's column of each class
        self._class_of_column = np.argsort(self._columns)       # ... and back
        return self

    def _proba_model_order(self, X):
        check_is_fitted(self, "model_")
        return self.model_.predict_proba(_texts(X), threads=self.threads)

    def predict_proba(self, X):
        """Probabilities (n_texts, n_classes), columns in classes_ order."""
        return self._proba_model_order(X)[:, self._columns]

    def predict(self, X):
        """The most probable class of each text (the model's own choice)."""
        best = self._proba_model_order(X).argmax(axis=1)
        return self.classes_[self._class_of_column[best]]

    def _more_tags(self):
        return {"X_types": ["string"], "requires_y": True}
