#!/usr/bin/python3
"""Write PyTorch optimizer reference fixtures for recur's optimizers.

Run from the repository root with Debian's PyTorch (CPU):

    /usr/bin/python3 tests/torch_optim_reference.py

For each case below this runs a torch.optim optimizer for STEPS steps on one parameter
vector of N values and writes tests/fixtures/torch/optim_<case>.safetensors.

Procedure: a generator seeded with the case's seed draws the start values
(torch.randn(N), float32), then one gradient per step (torch.randn(N), float32). The
parameter is those float32 start values cast to float64; at step k the float64 cast of
gradient k is assigned to .grad and opt.step() is called. The whole trajectory runs in
float64 (nothing is rounded between steps); the stored values are cast down to float32.

File format (safetensors): 8-byte little-endian unsigned header length N, N bytes of JSON
header (space-padded so that 8 + N is a multiple of 8), then the raw little-endian data.
The header maps each tensor name to {"dtype": "F32", "shape": [...], "data_offsets":
[begin, end]} and "__metadata__" to a {string: string} map. Tensors lie in the data section
in the order listed below, contiguous, covering it exactly.

Tensors, in order (all F32, shape (N,)):
    param.init               the start values
    grad.step1, param.step1  the gradient given at step 1, the parameters after step 1
    ...                      (grad.step{k} and param.step{k} alternate, k = 1..STEPS)

Metadata (all strings):
    case            the case name (file name without optim_ and the extension)
    optimizer       the torch class name: SGD | Adagrad | RMSprop | Adam | AdamW
    recur_optimizer the matching `recur train --optimizer` value
    lr, momentum, nesterov, weight_decay, alpha, eps, betas
                    the hyperparameters as the optimizer's param group holds them
                    (floats as Python's repr, nesterov true|false, betas a JSON array);
                    the empty string where the torch optimizer has no such setting
                    (e.g. eps for SGD, betas for RMSprop)
    steps, size     STEPS and N
    seed            the generator seed
    torch_version   torch.__version__

The output is deterministic: the script builds every file's bytes twice and checks they are
identical, and re-running it gives byte-identical files. After writing, each file is read
back and checked (layout, names, shapes, and that the stored values match the run).
"""

import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import read_safetensors, safetensors_bytes  # noqa: E402

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "torch")

N = 12
STEPS = 6

# case -> (recur optimizer name, torch class, keyword arguments). lr 0.05, adagrad 0.1.
CASES = [
    ("sgd", "sgd", torch.optim.SGD, dict(lr=0.05)),
    ("sgd_wd", "sgd", torch.optim.SGD, dict(lr=0.05, weight_decay=0.1)),
    ("momentum", "momentum", torch.optim.SGD, dict(lr=0.05, momentum=0.9)),
    ("nesterov", "momentum", torch.optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("adagrad", "adagrad", torch.optim.Adagrad, dict(lr=0.1)),
    ("rmsprop", "rmsprop", torch.optim.RMSprop, dict(lr=0.05, alpha=0.99, eps=1e-8)),
    ("adam", "adam", torch.optim.Adam, dict(lr=0.05)),
    ("adam_wd", "adam", torch.optim.Adam, dict(lr=0.05, weight_decay=0.1)),
    ("adamw", "adamw", torch.optim.AdamW, dict(lr=0.05, weight_decay=0.1)),
]

META_KEYS = ["lr", "momentum", "nesterov", "weight_decay", "alpha", "eps", "betas"]


def fmt(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return json.dumps([float(v) for v in value])
    return repr(float(value))


def run_case(index, case, recur_name, cls, kwargs):
    """Returns (list of (name, float32 tensor) in file order, metadata)."""
    seed = 3000 + index
    gen = torch.Generator().manual_seed(seed)
    init = torch.randn(N, generator=gen, dtype=torch.float32)
    param = torch.nn.Parameter(init.double().clone())
    opt = cls([param], **kwargs)
    tensors = [("param.init", init.clone())]
    for k in range(1, STEPS + 1):
        grad = torch.randn(N, generator=gen, dtype=torch.float32)
        param.grad = grad.double().clone()
        opt.step()
        tensors.append(("grad.step%d" % k, grad.clone()))
        tensors.append(("param.step%d" % k, param.detach().float().clone()))
    group = opt.param_groups[0]
    metadata = {"case": case, "optimizer": cls.__name__, "recur_optimizer": recur_name}
    for key in META_KEYS:
        metadata[key] = fmt(group[key]) if key in group else ""
    metadata.update({"steps": str(STEPS), "size": str(N), "seed": str(seed),
                     "torch_version": torch.__version__})
    return tensors, metadata


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(OUT_DIR, exist_ok=True)
    for index, (case, recur_name, cls, kwargs) in enumerate(CASES):
        tensors, metadata = run_case(index, case, recur_name, cls, kwargs)
        assert all(t.dtype == torch.float32 for _, t in tensors), case + ": dtype"
        blob = safetensors_bytes(tensors, metadata)
        again = safetensors_bytes(*run_case(index, case, recur_name, cls, kwargs))
        assert blob == again, case + ": two runs gave different bytes"
        path = os.path.join(OUT_DIR, "optim_%s.safetensors" % case)
        with open(path, "wb") as f:
            f.write(blob)

        back, meta = read_safetensors(path)
        back = list(back.items())
        names = ["param.init"]
        for k in range(1, STEPS + 1):
            names += ["grad.step%d" % k, "param.step%d" % k]
        assert [name for name, _ in back] == names, case + ": tensor names/order"
        assert meta == metadata, case + ": metadata"
        for (name, t), (_, ref) in zip(back, tensors):
            assert list(t.shape) == [N] and torch.equal(t, ref), case + ": " + name
        moved = (back[-1][1] - back[0][1]).abs().max().item()
        print("%-9s %-8s %s  max |param.step%d - param.init| %.4f  (%d bytes)"
              % (case, metadata["optimizer"], ", ".join(
                  "%s=%s" % (k, metadata[k]) for k in META_KEYS if metadata[k] != ""),
                 STEPS, moved, len(blob)))


if __name__ == "__main__":
    main()
