"""Weights move to PyTorch and back unchanged: state_dict() loads into
torch.nn.RNN/LSTM/GRU + Linear with the same probabilities, and from_state_dict()
runs a PyTorch model's weights in recur. Skipped where PyTorch is not installed
(python3-torch: scripts/install-deps.sh torch)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
import recur

torch.set_num_threads(1)


class Net(torch.nn.Module):
    """The contract's module layout (DESIGN.md): embedding (absent: one-hot input), rnn, head."""

    def __init__(self, config, vocab, embed, bias):
        super().__init__()
        self.cell, self.vocab = config["cell"], vocab
        self.embedding = torch.nn.Embedding(vocab, embed) if embed else None
        kind = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}.get(self.cell, torch.nn.RNN)
        extra = {"nonlinearity": "relu" if self.cell == "rnn_relu" else "tanh"} if kind is torch.nn.RNN else {}
        self.rnn = kind(embed or vocab, config["hidden_size"], num_layers=config["num_layers"],
                        bidirectional=config["bidirectional"], bias=bias, **extra)
        d = 2 if config["bidirectional"] else 1
        classes = len(config["labels"]) if config["task"] == "classify" else vocab
        self.head = torch.nn.Linear(d * config["hidden_size"], classes)

    def inputs(self, ids):
        ids = torch.tensor(ids, dtype=torch.long)
        if self.embedding is not None:
            return self.embedding(ids.clamp(min=0)).unsqueeze(1)
        x = torch.zeros(len(ids), 1, self.vocab)
        for t, i in enumerate(ids.tolist()):
            if i >= 0:  # an unknown word is the zero vector
                x[t, 0, i] = 1
        return x

    def classify(self, ids):
        out = self.rnn(self.inputs(ids))[1]
        h_n = out[0] if isinstance(out, tuple) else out
        features = torch.cat([h_n[-2], h_n[-1]], 1) if self.rnn.bidirectional else h_n[-1]
        return torch.softmax(self.head(features), 1)[0]

    def next_symbols(self, ids):
        return torch.softmax(self.head(self.rnn(self.inputs(ids))[0][:, 0]), 1)


def torch_twin(model):
    state = model.state_dict()
    c = model.config
    embed = state["embedding.weight"].shape[1] if "embedding.weight" in state else 0
    net = Net(c, len(model.vocab), embed, bias=True)
    full = {k: torch.zeros_like(v) for k, v in net.state_dict().items()}  # an absent bias is zero (the contract)
    full.update({k: torch.from_numpy(v) for k, v in state.items()})
    net.load_state_dict(full)
    return net


TEXTS = ["i am happy", "this is not good at all", "bad", "I AM NOT SAD", "unseen words here"]


@pytest.mark.parametrize("name", ["seed", "lstm", "gru"])
def test_state_dict_runs_in_torch(models, name):
    model = recur.load(models[name])
    net = torch_twin(model)
    with torch.no_grad():
        want = np.stack([net.classify(model.encode(t)).numpy() for t in TEXTS])
    np.testing.assert_allclose(model.predict_proba(TEXTS), want, atol=2e-6)


@pytest.mark.parametrize("name", ["lm", "lm_gru"])
def test_language_model_state_dict_runs_in_torch(models, name):
    lm = recur.load(models[name])
    net = torch_twin(lm)
    text = "the cat ran on the rug."
    with torch.no_grad():
        p = net.next_symbols(lm.encode(text)).numpy()
    x = lm.explain(text, top=3)
    for t, after in enumerate(x["next"]):
        for symbol, prob in after:
            assert prob == pytest.approx(p[t, lm.vocab.index(symbol)], abs=2e-6)


@pytest.mark.parametrize("cell,bidirectional,embed", [("gru", False, 6), ("lstm", True, 0), ("rnn_tanh", False, 5)])
def test_a_torch_model_runs_in_recur(cell, bidirectional, embed):
    torch.manual_seed(0)
    vocab = ["good", "bad", "not", "very", "<unk>"]
    config = {"task": "classify", "cell": cell, "num_layers": 2, "hidden_size": 7, "bidirectional": bidirectional,
              "tokenizer": "whitespace", "normalization": "nfc", "vocab": vocab, "labels": ["x", "y", "z"]}
    net = Net(config, len(vocab), embed, bias=True)
    model = recur.from_state_dict(net.state_dict(), config)  # torch tensors, as they are
    texts = ["good", "not very good", "bad bad bad", "very zebra"]
    with torch.no_grad():
        want = np.stack([net.classify(model.encode(t)).numpy() for t in texts])
    np.testing.assert_allclose(model.predict_proba(texts), want, atol=2e-6)
    assert model.encode("very zebra") == [3, 4]  # <unk>
