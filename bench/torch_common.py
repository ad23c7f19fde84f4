"""Pieces shared by the PyTorch benchmark scripts (torch_train_bench.py, torch_lm_bench.py)."""
import torch.nn as nn


def make_rnn(cell, V, H, L):
    """The one-hot-input recurrent layer recur benchmarks against: nn.RNN (tanh),
    nn.LSTM or nn.GRU with input size V, hidden size H and L layers, time-major."""
    if cell == "rnn":
        return nn.RNN(V, H, num_layers=L, nonlinearity="tanh")
    if cell == "lstm":
        return nn.LSTM(V, H, num_layers=L)
    if cell == "gru":
        return nn.GRU(V, H, num_layers=L)
    raise ValueError("unknown cell %r" % cell)
