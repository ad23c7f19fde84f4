#!/usr/bin/env python3
"""PyTorch fixtures for recur's encoder-decoder (tests/seq2seq_parity_test.cpp).

For each case an encoder-decoder is built from torch.nn modules only —
nn.Embedding, nn.LSTM/GRU/RNN on packed sequences for the encoder, nn.Linear
for the bridge, the attention and the head, and the decoder's nn.LSTM/GRU/RNN
stepped one token at a time with input feeding — under the tensor names of
recur's model file. A batch of pairs of unequal lengths on both sides goes
forward in float64; the summed cross-entropy of the real target steps goes
backward. The file holds the parameters, the batch, the logits, the loss and
every parameter's gradient.

Usage: /usr/bin/python3 tests/torch_seq2seq_reference.py   (writes tests/fixtures/torch/seq2seq_*.safetensors)
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from safetensors_io import write_safetensors  # noqa: E402
from torch_models import recurrent_layer  # noqa: E402

OUT_DIR = os.path.join(HERE, "fixtures", "torch")

# source lengths, target lengths (n + 1, with <eos>): unequal and unsorted on purpose
SRC_LENGTHS = [4, 2, 5, 1]
TGT_LENGTHS = [3, 5, 1, 4]

CASES = [
    # name, encoder (cell, layers, hidden, bidirectional, embed), decoder (cell, layers, hidden, embed),
    # attention, input feeding
    ("general_bi_bridge_feed", ("lstm", 2, 4, True, 3), ("lstm", 2, 5, 4), "general", True),
    ("dot_copy_feed", ("lstm", 1, 5, False, 0), ("lstm", 1, 5, 3), "dot", True),
    ("additive_gru_bi", ("gru", 1, 3, True, 4), ("gru", 2, 4, 0), "additive", False),
    ("none_copy_gru", ("gru", 2, 4, False, 3), ("gru", 2, 4, 3), "none", False),
]
V_SRC, V_TGT = 7, 6


class Seq2Seq(nn.Module):
    def __init__(self, enc, dec, attention, feeding):
        super().__init__()
        e_cell, e_layers, e_hidden, bi, e_embed = enc
        d_cell, d_layers, d_hidden, d_embed = dec
        self.bi, self.e_layers, self.e_hidden = bi, e_layers, e_hidden
        self.d_cell, self.d_layers, self.d_hidden = d_cell, d_layers, d_hidden
        self.attention_kind, self.feeding = attention, feeding
        width = (2 if bi else 1) * e_hidden
        self.copies = (not bi) and e_cell == d_cell and e_layers == d_layers and e_hidden == d_hidden
        self.encoder = nn.Module()
        self.encoder.embedding = nn.Embedding(V_SRC, e_embed) if e_embed else None
        self.encoder.rnn = recurrent_layer(e_cell, input_size=e_embed or V_SRC, hidden_size=e_hidden,
                                           num_layers=e_layers, bidirectional=bi)
        if not self.copies:
            self.bridge = nn.Module()
            for k in range(d_layers):
                lin = nn.Linear(width, d_hidden)
                setattr(self.bridge, f"weight_l{k}", lin.weight)
                setattr(self.bridge, f"bias_l{k}", lin.bias)
        self.decoder = nn.Module()
        self.decoder.embedding = nn.Embedding(V_TGT, d_embed) if d_embed else None
        self.d_in = (d_embed or V_TGT)
        self.decoder.rnn = recurrent_layer(d_cell, input_size=self.d_in + (d_hidden if feeding else 0),
                                           hidden_size=d_hidden, num_layers=d_layers)
        self.attention = nn.Module()
        if attention == "general":
            self.attention.weight = nn.Parameter(torch.empty(d_hidden, width).uniform_(-0.5, 0.5))
        if attention == "additive":
            self.attention.query = nn.Linear(d_hidden, d_hidden, bias=False)
            self.attention.key = nn.Linear(width, d_hidden, bias=False)
            self.attention.v = nn.Parameter(torch.empty(d_hidden).uniform_(-0.5, 0.5))
        if attention != "none":
            self.attention.combine = nn.Linear(width + d_hidden, d_hidden)
        self.head = nn.Linear(d_hidden, V_TGT)

    def embed(self, emb, ids, vocab):
        return emb(ids.clamp(min=0)) if emb is not None else F.one_hot(ids.clamp(min=0), vocab).double()

    def forward(self, src, src_len, tgt_in):
        S, B = src.shape
        x = self.embed(self.encoder.embedding, src, V_SRC)
        packed = nn.utils.rnn.pack_padded_sequence(x, torch.tensor(src_len), enforce_sorted=False)
        out, state = self.encoder.rnn(packed)
        E, _ = nn.utils.rnn.pad_packed_sequence(out, total_length=S)  # (S, B, width), zero past each length
        h_n = state[0] if isinstance(state, tuple) else state
        D = 2 if self.bi else 1
        if self.copies:
            dec_state = state
        else:
            hs = []
            for k in range(self.d_layers):
                ke = min(k, self.e_layers - 1)
                s = torch.cat([h_n[ke * D + d] for d in range(D)], dim=1)
                hs.append(torch.tanh(F.linear(s, getattr(self.bridge, f"weight_l{k}"), getattr(self.bridge, f"bias_l{k}"))))
            h0 = torch.stack(hs)
            dec_state = (h0, torch.zeros_like(h0)) if self.d_cell == "lstm" else h0
        mask = torch.arange(S).unsqueeze(1) < torch.tensor(src_len).unsqueeze(0)  # (S, B)
        if self.attention_kind == "general":
            K = E @ self.attention.weight.t()
        elif self.attention_kind == "additive":
            K = self.attention.key(E)
        htilde = torch.zeros(B, self.d_hidden, dtype=torch.float64)
        logits = []
        for t in range(tgt_in.shape[0]):
            u = self.embed(self.decoder.embedding, tgt_in[t], V_TGT)
            if self.feeding:
                u = torch.cat([u, htilde], dim=1)
            out, dec_state = self.decoder.rnn(u.unsqueeze(0), dec_state)
            q = out[0]
            if self.attention_kind == "none":
                htilde = q
            else:
                if self.attention_kind == "dot":
                    e = (E * q.unsqueeze(0)).sum(2)
                elif self.attention_kind == "general":
                    e = (K * q.unsqueeze(0)).sum(2)
                else:
                    e = torch.tanh(K + self.attention.query(q).unsqueeze(0)) @ self.attention.v
                e = e.masked_fill(~mask, float("-inf"))
                a = torch.softmax(e, dim=0)  # (S, B)
                ctx = (a.unsqueeze(2) * E).sum(0)
                htilde = torch.tanh(self.attention.combine(torch.cat([ctx, q], dim=1)))
            logits.append(self.head(htilde))
        return torch.stack(logits)  # (T, B, V)


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT_DIR, exist_ok=True)
    for i, (name, enc, dec, attention, feeding) in enumerate(CASES):
        torch.manual_seed(2000 + i)
        model = Seq2Seq(enc, dec, attention, feeding).double()
        with torch.no_grad():
            for pname, p in model.named_parameters():
                p.mul_(1.5)
                if "bias" in pname:
                    p.add_(0.1 * torch.randn(p.shape, dtype=torch.float64))
        # float32 parameters (what the file holds), computed in float64
        state = {k: v.float().double() for k, v in model.state_dict().items()}
        model.load_state_dict(state)
        S, T, B = max(SRC_LENGTHS), max(TGT_LENGTHS), len(SRC_LENGTHS)
        src = torch.randint(0, V_SRC, (S, B))
        tgt = torch.randint(2, V_TGT, (T, B))
        tgt_in, tgt_out = torch.full((T, B), -1), torch.full((T, B), -1)
        for b in range(B):
            src[SRC_LENGTHS[b]:, b] = -1
            n = TGT_LENGTHS[b]
            tgt_in[0, b] = 0  # <bos>
            tgt_in[1:n, b] = tgt[: n - 1, b]
            tgt_out[: n - 1, b] = tgt[: n - 1, b]
            tgt_out[n - 1, b] = 1  # <eos>
        logits = model(src, SRC_LENGTHS, tgt_in)
        flat, targets = logits.reshape(T * B, V_TGT), tgt_out.reshape(T * B)
        loss = F.cross_entropy(flat, targets, ignore_index=-1, reduction="sum")
        loss.backward()
        tensors = [("input.src", src.float()), ("input.tgt_in", tgt_in.float()), ("input.tgt_out", tgt_out.float())]
        tensors += [(k, v.float()) for k, v in model.state_dict().items()]
        tensors += [("grad." + k, p.grad.float()) for k, p in model.named_parameters()]
        tensors += [("out.logits", logits.detach().float()), ("out.loss", loss.detach().reshape(1).float())]
        meta = {
            "encoder_cell": enc[0], "encoder_num_layers": str(enc[1]), "encoder_hidden_size": str(enc[2]),
            "encoder_bidirectional": "true" if enc[3] else "false", "encoder_embed": str(enc[4]),
            "decoder_cell": dec[0], "decoder_num_layers": str(dec[1]), "decoder_hidden_size": str(dec[2]),
            "decoder_embed": str(dec[3]), "attention": attention, "input_feeding": "true" if feeding else "false",
            "src_vocab": str(V_SRC), "tgt_vocab": str(V_TGT),
            "src_lengths": json.dumps(SRC_LENGTHS), "tgt_lengths": json.dumps(TGT_LENGTHS),
            "torch_version": torch.__version__,
        }
        path = os.path.join(OUT_DIR, "seq2seq_" + name + ".safetensors")
        write_safetensors(path, tensors, meta)
        print("%-26s loss %.6f  %d tensors" % (name, loss.item(), len(tensors)))


if __name__ == "__main__":
    main()
