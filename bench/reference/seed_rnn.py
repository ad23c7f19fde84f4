#!/usr/bin/env python3
"""The seed experiment in plain numpy, written from the blog post.

A many-to-one vanilla RNN (hidden 64, weights randn/1000, biases zero) trained as
a sentiment classifier with per-example SGD (lr 0.02, every gradient element
clipped to [-1, 1]) for 1000 epochs, the training examples shuffled every epoch,
logging every 100 epochs in the post's format.

It is recur's reference twice over: bench/seed_bench.sh times it against
`recur train`, and with the same seed it draws the same random numbers as
recur (one np.random.RandomState for weights and shuffling; vocabulary in
first-seen order; labels sorted), so `recur train --dtype f64 --seed N` prints
the same log as `seed_rnn.py --seed N`.

Usage: seed_rnn.py [--seed N] [--epochs N] [--train FILE] [--test FILE]
"""
import argparse
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, '..', '..', 'data')


def load_tsv(path):
    rows = []
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.rstrip('\n').rstrip('\r')
            if line:
                text, label = line.split('\t')
                rows.append((text, label))
    return rows


class RNN:
    # A vanilla recurrent neural network, as in the post.
    def __init__(self, rng, input_size, output_size, hidden_size=64):
        self.Whh = rng.randn(hidden_size, hidden_size) / 1000
        self.Wxh = rng.randn(hidden_size, input_size) / 1000
        self.Why = rng.randn(output_size, hidden_size) / 1000
        self.bh = np.zeros((hidden_size, 1))
        self.by = np.zeros((output_size, 1))

    def forward(self, inputs):
        h = np.zeros((self.Whh.shape[0], 1))
        self.last_inputs = inputs
        self.last_hs = {0: h}
        for i, x in enumerate(inputs):
            h = np.tanh(self.Wxh @ x + self.Whh @ h + self.bh)
            self.last_hs[i + 1] = h
        y = self.Why @ h + self.by
        return y, h

    def backprop(self, d_y, learn_rate=2e-2):
        n = len(self.last_inputs)
        d_Why = d_y @ self.last_hs[n].T
        d_by = d_y
        d_Whh = np.zeros(self.Whh.shape)
        d_Wxh = np.zeros(self.Wxh.shape)
        d_bh = np.zeros(self.bh.shape)
        d_h = self.Why.T @ d_y
        for t in reversed(range(n)):
            temp = ((1 - self.last_hs[t + 1] ** 2) * d_h)
            d_bh += temp
            d_Whh += temp @ self.last_hs[t].T
            d_Wxh += temp @ self.last_inputs[t].T
            d_h = self.Whh.T @ temp  # dL/dh_{t-1} = W_hh^T dz_t
        for d in [d_Wxh, d_Whh, d_Why, d_bh, d_by]:
            np.clip(d, -1, 1, out=d)
        self.Whh -= learn_rate * d_Whh
        self.Wxh -= learn_rate * d_Wxh
        self.Why -= learn_rate * d_Why
        self.bh -= learn_rate * d_bh
        self.by -= learn_rate * d_by


def softmax(xs):
    return np.exp(xs) / sum(np.exp(xs))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--epochs', type=int, default=1000)
    ap.add_argument('--train', default=os.path.join(DATA, 'seed_train.tsv'))
    ap.add_argument('--test', default=os.path.join(DATA, 'seed_test.tsv'))
    args = ap.parse_args()

    train_data = load_tsv(args.train)
    test_data = load_tsv(args.test)
    vocab = []
    for text, _ in train_data:
        for w in text.split(' '):
            if w not in vocab:
                vocab.append(w)
    vocab_size = len(vocab)
    word_to_idx = {w: i for i, w in enumerate(vocab)}
    labels = sorted(set(label for _, label in train_data))
    print('%d unique words found' % vocab_size)

    def create_inputs(text):
        inputs = []
        for w in text.split(' '):
            v = np.zeros((vocab_size, 1))
            v[word_to_idx[w]] = 1
            inputs.append(v)
        return inputs

    rng = np.random.RandomState(args.seed)
    rnn = RNN(rng, vocab_size, len(labels))

    def process_data(data, backprop=True):
        order = np.arange(len(data))
        if backprop:
            rng.shuffle(order)
        loss = 0
        num_correct = 0
        for i in order:
            x, y = data[i]
            inputs = create_inputs(x)
            target = labels.index(y)
            out, _ = rnn.forward(inputs)
            probs = softmax(out)
            loss -= np.log(probs[target])
            num_correct += int(np.argmax(probs) == target)
            if backprop:
                d_L_d_y = probs
                d_L_d_y[target] -= 1
                rnn.backprop(d_L_d_y)
        return float(loss) / len(data), num_correct / len(data)

    for epoch in range(args.epochs):
        train_loss, train_acc = process_data(train_data)
        if epoch % 100 == 99:
            print('--- Epoch %d' % (epoch + 1))
            print('Train:\tLoss %.3f | Accuracy: %.3f' % (train_loss, train_acc))
            test_loss, test_acc = process_data(test_data, backprop=False)
            print('Test:\tLoss %.3f | Accuracy: %.3f' % (test_loss, test_acc))


if __name__ == '__main__':
    main()
