// recur/train.hpp — training and evaluation of a classifier.
//
// The library never prints: progress reaches the caller through a callback.
#pragma once

#include <cmath>
#include <cstdio>
#include <string>
#include <functional>
#include <numeric>
#include <vector>

#include "recur/data.hpp"
#include "recur/layers.hpp"
#include "recur/model.hpp"
#include "recur/optim.hpp"

namespace recur {

struct Metrics {
  long n = 0;
  double loss = 0;      // mean cross-entropy, nats per example
  double accuracy = 0;
};

struct EpochLog {
  int epoch = 0;        // 1-based
  Metrics train;        // accumulated during the epoch, each example before its update (as the seed)
  bool has_test = false;
  Metrics test;
};

// The seed's log lines for one logged epoch:
//   --- Epoch 100
//   Train:\tLoss 0.688 | Accuracy: 0.552
//   Test:\tLoss 0.700 | Accuracy: 0.500
inline std::string format_seed_log(const EpochLog& log) {
  char buf[160];
  std::string s;
  std::snprintf(buf, sizeof buf, "--- Epoch %d\nTrain:\tLoss %.3f | Accuracy: %.3f\n", log.epoch,
                log.train.loss, log.train.accuracy);
  s += buf;
  if (log.has_test) {
    std::snprintf(buf, sizeof buf, "Test:\tLoss %.3f | Accuracy: %.3f\n", log.test.loss, log.test.accuracy);
    s += buf;
  }
  return s;
}

struct TrainOptions {
  int epochs = 1000;
  double lr = 0.02;
  double clip = 1.0;    // by value; 0 = off
  int log_every = 100;  // epochs
};

// Forward pass only; probabilities of every example when `probs` is given.
template <class T>
Metrics evaluate(const Classifier<T>& model, const EncodedSet& data,
                 std::vector<std::vector<double>>* probs = nullptr) {
  typename Classifier<T>::Workspace ws;
  Metrics m;
  for (std::size_t i = 0; i < data.ids.size(); ++i) {
    const Batch b = make_batch(data.ids, data.targets, {int(i)});
    model.forward(b, ws);
    m.loss += cross_entropy_sum<T>(ws.logits, b.targets);
    Eigen::Index arg;
    ws.probs.row(0).maxCoeff(&arg);
    m.accuracy += (arg == b.targets[0]);
    if (probs) {
      probs->emplace_back(ws.probs.cols());
      for (Eigen::Index c = 0; c < ws.probs.cols(); ++c) probs->back()[c] = double(ws.probs(0, c));
    }
  }
  m.n = long(data.ids.size());
  if (m.n) m.loss /= double(m.n), m.accuracy /= double(m.n);
  return m;
}

// The seed's training run: per-example SGD, every gradient element clipped,
// examples shuffled each epoch with `rng`; every log_every epochs the epoch's
// train metrics and (when given) the test metrics go to on_log.
template <class T>
void train_seed(Classifier<T>& model, const EncodedSet& train, const EncodedSet* test,
                const TrainOptions& opt, Rng& rng, const std::function<void(const EpochLog&)>& on_log) {
  const int n = int(train.ids.size());
  // One batch and one workspace per example, built once: the loop below allocates nothing.
  std::vector<Batch> batches;
  std::vector<typename Classifier<T>::Workspace> ws(n);
  for (int i = 0; i < n; ++i) batches.push_back(make_batch(train.ids, train.targets, {i}));
  std::vector<int> order(n);
  const T lr = T(opt.lr), clip = T(opt.clip);
  for (int epoch = 1; epoch <= opt.epochs; ++epoch) {
    std::iota(order.begin(), order.end(), 0);
    rng.shuffle(order);
    Metrics m;
    for (const int i : order) {
      const Batch& b = batches[i];
      auto& w = ws[i];
      model.forward(b, w);
      m.loss += cross_entropy_sum<T>(w.logits, b.targets);
      Eigen::Index arg;
      w.probs.row(0).maxCoeff(&arg);
      m.accuracy += (arg == b.targets[0]);
      cross_entropy_grad<T>(w.probs, b.targets, T(1), w.dlogits);
      model.zero_grad();
      model.backward(b, w);
      sgd_step_clipped(model.weights(), model.grads(), lr, clip);
    }
    if (opt.log_every > 0 && epoch % opt.log_every == 0) {
      EpochLog log;
      log.epoch = epoch;
      m.n = n;
      log.train = m;
      log.train.loss /= n;
      log.train.accuracy /= n;
      if (test) {
        log.has_test = true;
        log.test = evaluate(model, *test);
      }
      on_log(log);
    }
  }
}

}  // namespace recur
