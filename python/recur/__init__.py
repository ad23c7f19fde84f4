"""recur: recurrent neural networks on text (RNN, LSTM, GRU), from Python.

The library behind the `recur` command line, with the same answers for the same
model file and input:

    import recur
    model = recur.train_classifier(texts, labels, preset="sentiment")
    model.predict_proba(["what a lovely day"])     # numpy (N, C), in model.labels order
    model.save("sentiment.safetensors")
    lm = recur.load("moby.safetensors")
    print(lm.generate("Call me ", length=200, temperature=0.8, seed=1))
    g2p = recur.train_seq2seq(words, pronunciations, preset="g2p")
    g2p.translate(["recurrent"], beam=5)[0]["output"]   # "R IH K ER AH N T"

recur.sklearn.RNNClassifier is the classifier as a scikit-learn estimator.
Documentation: docs/python.md.
"""
import json as _json
import os as _os
import warnings as _warnings


def _blas_core_for_cpu():
    """The OpenBLAS kernels for this CPU, by the rule of recur::blas_core_for_cpu
    (include/recur/tensor.hpp): OpenBLAS picks them when it loads, and falls back
    to slow SSE3 kernels on CPU models newer than it knows."""
    try:
        with open('/proc/cpuinfo') as f:
            flags = next((line.split(':', 1)[1].split() for line in f if line.startswith('flags')), [])
    except OSError:
        return ''
    if {'avx512f', 'avx512bw', 'avx512vl', 'avx512dq'} <= set(flags):
        return 'SkylakeX'
    if {'avx2', 'fma'} <= set(flags):
        return 'Haswell'
    return ''


# Before OpenBLAS loads (numpy's libblas is OpenBLAS too); a variable the user set wins.
_BLAS_CORE = ''
if 'OPENBLAS_CORETYPE' not in _os.environ and _os.environ.get('RECUR_BLAS_CORE') != 'keep':
    _BLAS_CORE = _blas_core_for_cpu()
    if _BLAS_CORE:
        _os.environ['OPENBLAS_CORETYPE'] = _BLAS_CORE

import numpy as _np  # noqa: E402

from ._recur import (  # noqa: E402
    Classifier,
    Error,
    Interrupted,
    LanguageModel,
    MissingFileError,
    Translator,
    __version__,
    from_bytes,
    load,
    train_classifier,
    train_lm,
    train_option_names,
    train_seq2seq,
)
from . import _recur  # noqa: E402

if _BLAS_CORE and _recur.blas_core() != _BLAS_CORE:
    _warnings.warn(f'OpenBLAS was loaded before recur (by numpy?) with its {_recur.blas_core()} kernels, '
                   f'2-3x slower here than {_BLAS_CORE}: import recur first, or set '
                   f'OPENBLAS_CORETYPE={_BLAS_CORE}', RuntimeWarning, stacklevel=2)

__all__ = [
    "Classifier",
    "Error",
    "Interrupted",
    "LanguageModel",
    "MissingFileError",
    "Translator",
    "from_bytes",
    "from_state_dict",
    "load",
    "train_classifier",
    "train_lm",
    "train_option_names",
    "train_seq2seq",
]


def _metadata_value(key, value):
    # model.config's Python values back to the model file's metadata strings.
    if isinstance(value, (bool, _np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, _np.integer)):
        return str(int(value))
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return _json.dumps([str(v) for v in value], ensure_ascii=False)
    raise TypeError(f"config[{key!r}] must be a str, int, bool or list, not {type(value).__name__}")


def from_state_dict(state, config):
    """A model from its weights and its configuration: a Classifier or a LanguageModel.

    state:  {name: array} under PyTorch's names (model.state_dict(), or a torch
            module's state_dict() with submodules embedding / rnn / head: numpy
            arrays or torch tensors; stored as float32).
    config: the model file's metadata, as model.config gives it (cell, num_layers,
            hidden_size, bidirectional, tokenizer, normalization, vocab, labels, ...).

    Checked as a model file is (recur.Error names the tensor or key that is wrong).
    recur.from_state_dict(m.state_dict(), m.config) answers exactly as m does.
    """
    tensors = {}
    for name, value in dict(state).items():
        if hasattr(value, "detach"):  # a torch.Tensor
            value = value.detach().cpu().numpy()
        tensors[name] = _np.ascontiguousarray(value, dtype=_np.float32)
    metadata = {key: _metadata_value(key, value) for key, value in dict(config).items()}
    metadata.setdefault("format", "recur/1")
    return _recur._from_tensors(tensors, metadata, "from_state_dict")
