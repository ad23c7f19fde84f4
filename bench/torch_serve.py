#!/usr/bin/env python3
"""The reference for bench/serve_bench.py: a recur classifier file served by
PyTorch (eager, CPU) behind Python's ThreadingHTTPServer, answering
POST /v1/predict {"texts": [...]} with the same JSON as `recur serve`.

It reads the model file with the tests' safetensors reader, builds the same
torch.nn model (Embedding or one-hot -> RNN/LSTM/GRU -> h_n -> Linear) and
tokenizes as recur does (NFC, case folding when the model was trained
lowercased, recur's word or whitespace tokenizer), so both servers do the same
work for the same request.

Usage: torch_serve.py MODEL.safetensors [--port 0] [--threads 1]
Prints "serving on http://127.0.0.1:PORT/" on stderr when ready.
"""
import argparse
import json
import os
import re
import sys
import unicodedata
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests'))
from safetensors_io import read_safetensors  # noqa: E402
from torch_models import recurrent_layer  # noqa: E402

WORD = re.compile(r"[A-Za-z0-9'\u0080-\U0010FFFF]+|[^\sA-Za-z0-9'\u0080-\U0010FFFF]")


class Classifier(torch.nn.Module):
    def __init__(self, path):
        super().__init__()
        tensors, meta = read_safetensors(path, strict=False)
        if meta.get('task') != 'classify':
            raise SystemExit(f'{path}: not a classifier')
        self.vocab = {t: i for i, t in enumerate(json.loads(meta['vocab']))}
        self.unk = self.vocab.get('<unk>', -1)
        self.labels = json.loads(meta['labels'])
        self.tokenizer = meta['tokenizer']
        self.normalization = meta.get('normalization', 'ascii_lower' if meta.get('lowercase') == 'true' else 'none')
        hidden, layers = int(meta['hidden_size']), int(meta['num_layers'])
        self.bidirectional = meta['bidirectional'] == 'true'
        embed = tensors['embedding.weight'].shape[1] if 'embedding.weight' in tensors else 0
        self.embedding = torch.nn.Embedding(len(self.vocab), embed) if embed else None
        self.rnn = recurrent_layer(meta['cell'], input_size=embed or len(self.vocab), hidden_size=hidden,
                                   num_layers=layers, bias=True, bidirectional=self.bidirectional)
        self.head = torch.nn.Linear((2 if self.bidirectional else 1) * hidden, len(self.labels))
        state = dict(tensors)
        for name, p in self.state_dict().items():
            if name not in state and name.startswith('rnn.bias_hh_l'):
                state[name] = torch.zeros_like(p)
        self.load_state_dict(state, strict=True)
        self.eval()

    def ids(self, text):
        if self.normalization in ('nfc', 'nfc_casefold'):
            text = unicodedata.normalize('NFC', text)
        if self.normalization == 'nfc_casefold':
            text = text.casefold()
        elif self.normalization == 'ascii_lower':
            text = re.sub('[A-Z]', lambda m: m.group(0).lower(), text)
        tokens = WORD.findall(text) if self.tokenizer == 'word' else text.split(' ')
        return [self.vocab.get(t, self.unk) for t in tokens]

    @torch.no_grad()
    def probabilities(self, texts):
        seqs = [self.ids(t) for t in texts]
        lengths = torch.tensor([max(1, len(s)) for s in seqs])
        T, B = int(lengths.max()), len(seqs)
        if self.embedding is not None:
            ids = torch.zeros(T, B, dtype=torch.long)
            mask = torch.zeros(T, B, 1)
            for b, s in enumerate(seqs):
                for t, i in enumerate(s):
                    if i >= 0:
                        ids[t, b], mask[t, b] = i, 1
            x = self.embedding(ids) * mask
        else:
            x = torch.zeros(T, B, len(self.vocab))
            for b, s in enumerate(seqs):
                for t, i in enumerate(s):
                    if i >= 0:
                        x[t, b, i] = 1
        packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
        _, h_n = self.rnn(packed)
        if isinstance(h_n, tuple):
            h_n = h_n[0]
        feats = torch.cat([h_n[-2], h_n[-1]], dim=1) if self.bidirectional else h_n[-1]
        return torch.softmax(self.head(feats), dim=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('model')
    ap.add_argument('--port', type=int, default=0)
    ap.add_argument('--threads', type=int, default=1, help='torch.set_num_threads')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model = Classifier(a.model)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'
        disable_nagle_algorithm = True  # as recur serve: no Nagle delay on small answers

        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
            try:
                texts = json.loads(body)['texts']
                probs = model.probabilities(texts).tolist()
                out = {'predictions': [{'label': model.labels[max(range(len(p)), key=p.__getitem__)],
                                        'probabilities': dict(zip(model.labels, p))} for p in probs]}
                data, status = json.dumps(out).encode(), 200
            except Exception as e:  # noqa: BLE001 - a benchmark server answers 400
                data, status = json.dumps({'error': str(e)}).encode(), 400
            self.send_response(status)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(('127.0.0.1', a.port), Handler)
    server.daemon_threads = True
    print(f'serving on http://127.0.0.1:{server.server_address[1]}/', file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == '__main__':
    main()
