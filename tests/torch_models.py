"""The PyTorch recurrent layer for a recur cell name, shared by the reference scripts."""
import torch.nn as nn


def recurrent_layer(cell, **kwargs):
    """nn.RNN / nn.LSTM / nn.GRU for recur's cell names rnn_tanh, rnn_relu, lstm, gru."""
    if cell == "rnn_tanh":
        return nn.RNN(nonlinearity="tanh", **kwargs)
    if cell == "rnn_relu":
        return nn.RNN(nonlinearity="relu", **kwargs)
    if cell == "lstm":
        return nn.LSTM(**kwargs)
    if cell == "gru":
        return nn.GRU(**kwargs)
    raise ValueError("unknown cell %r" % cell)
