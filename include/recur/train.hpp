// recur/train.hpp — training and evaluation of a classifier.
//
// The library never prints: progress reaches the caller through a callback.
#pragma once

#include <cmath>
#include <cstdio>
#include <string>
#include <algorithm>
#include <functional>
#include <memory>
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
  int batch = 1;         // sequences per step; 1 = the seed's per-example SGD
  StepOptions step;      // the seed's: SGD, lr 0.02, clip 1
  int log_every = 100;   // epochs
};

// Forward pass only; probabilities of every example when `probs` is given.
template <class T>
Metrics evaluate(const Model<T>& model, const EncodedSet& data,
                 std::vector<std::vector<double>>* probs = nullptr) {
  SerialBlas serial;  // one sequence at a time
  typename Model<T>::Workspace ws;
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

// Groups a shuffled order into batches of similar lengths (length bucketing):
// windows of 50 batches are sorted by length and cut, and the batches are then
// shuffled, so padding costs little and the order is still random.
inline std::vector<std::vector<int>> bucket_batches(const std::vector<std::vector<int>>& seqs,
                                                    std::vector<int> order, int batch, Rng& rng) {
  const std::size_t window = std::size_t(batch) * 50;
  for (std::size_t a = 0; a < order.size(); a += window) {
    const auto first = order.begin() + std::ptrdiff_t(a);
    const auto last = order.begin() + std::ptrdiff_t(std::min(order.size(), a + window));
    std::stable_sort(first, last, [&](int x, int y) { return seqs[std::size_t(x)].size() < seqs[std::size_t(y)].size(); });
  }
  std::vector<std::vector<int>> out;
  for (std::size_t a = 0; a < order.size(); a += std::size_t(batch))
    out.emplace_back(order.begin() + std::ptrdiff_t(a),
                     order.begin() + std::ptrdiff_t(std::min(order.size(), a + std::size_t(batch))));
  rng.shuffle(out);
  return out;
}

// Where a run stands between two steps: enough to resume it exactly (see
// checkpoint.hpp, which saves and loads it).
struct RunPoint {
  long epoch = 1;        // the epoch in progress (1-based)
  long position = 0;     // steps of it done
  Rng rng;               // the generator now
  Rng rng_epoch;         // the generator when the epoch began (its order is drawn from it)
  Metrics partial;       // the epoch's loss and accuracy sums so far
};

struct ClassifierHooks {  // (used for float32 runs; a double run leaves them empty)
  const RunPoint* resume = nullptr;  // continue from here instead of epoch 1
  // After every step; `at` builds the resumable RunPoint on demand (it copies the
  // generator's state, so only call it to checkpoint). Return false to stop.
  std::function<bool(long epoch, long position, bool epoch_end, const std::function<RunPoint()>& at)> after_step;
};

// Trains a classifier. Each epoch shuffles the training examples with `rng`;
// each step takes `batch` of them, the mean cross-entropy, clipping, and one
// optimizer step. With the defaults (batch 1, SGD, lr 0.02, clip 1) this is the
// seed's run. Every log_every epochs the epoch's train metrics (accumulated
// during the epoch, each batch before its update, as the seed does) and the
// test metrics, when given, go to on_log.
template <class T>
void train_classifier(Model<T>& model, Optimizer<T>& optimizer, const EncodedSet& train, const EncodedSet* test,
                      const TrainOptions& opt, Rng& rng, const std::function<void(const EpochLog&)>& on_log,
                      const ClassifierHooks& hooks = {}) {
  if (opt.batch < 1) throw Error("batch size must be at least 1");
  const int n = int(train.ids.size());
  std::vector<int> order(static_cast<std::size_t>(n));
  // batch 1: one prebuilt batch and workspace per example, so the loop allocates nothing.
  std::vector<Batch> singles;
  std::vector<typename Model<T>::Workspace> single_ws;
  typename Model<T>::Workspace ws;
  std::unique_ptr<SerialBlas> serial;
  if (opt.batch == 1) {
    serial = std::make_unique<SerialBlas>();  // the seed's per-example steps
    single_ws.resize(std::size_t(n));
    for (int i = 0; i < n; ++i) singles.push_back(make_batch(train.ids, train.targets, {i}));
  }
  long first_epoch = 1;
  if (hooks.resume) {
    first_epoch = hooks.resume->epoch;
    rng = hooks.resume->position > 0 ? hooks.resume->rng_epoch : hooks.resume->rng;
  }
  for (long epoch = first_epoch; epoch <= opt.epochs; ++epoch) {
    const double lr = opt.step.schedule.lr(opt.step.lr, int(epoch - 1), opt.epochs);
    const Rng rng_epoch = rng;
    std::iota(order.begin(), order.end(), 0);
    rng.shuffle(order);
    std::vector<std::vector<int>> groups;
    if (opt.batch > 1) groups = bucket_batches(train.ids, order, opt.batch, rng);
    const std::size_t steps = opt.batch == 1 ? order.size() : groups.size();
    Metrics m;
    std::size_t k0 = 0;
    if (hooks.resume && epoch == first_epoch && hooks.resume->position > 0) {  // mid-epoch: same order, same place
      k0 = std::size_t(hooks.resume->position);
      rng = hooks.resume->rng;
      m = hooks.resume->partial;
    }
    for (std::size_t k = k0; k < steps; ++k) {
      Batch built;
      if (opt.batch > 1) built = make_batch(train.ids, train.targets, groups[k]);
      const Batch& b = opt.batch == 1 ? singles[std::size_t(order[k])] : built;
      auto& w = opt.batch == 1 ? single_ws[std::size_t(order[k])] : ws;
      model.forward(b, w, &rng);
      m.loss += cross_entropy_sum<T>(w.logits, b.targets);
      for (int r = 0; r < b.B; ++r) {
        Eigen::Index arg;
        w.probs.row(r).maxCoeff(&arg);
        m.accuracy += (arg == b.targets[std::size_t(r)]);
      }
      cross_entropy_grad<T>(w.probs, b.targets, T(1) / T(b.B), w.dlogits);  // mean over the batch
      model.zero_grad();
      model.backward(b, w);
      clip_and_step(optimizer, model.weights(), model.grads(), lr, opt.step);
      if (hooks.after_step && k + 1 < steps) {
        const bool go_on = hooks.after_step(epoch, long(k + 1), false, [&] {
          return RunPoint{epoch, long(k + 1), rng, rng_epoch, m};
        });
        if (!go_on) return;
      }
    }
    if (opt.log_every > 0 && epoch % opt.log_every == 0) {
      EpochLog log;
      log.epoch = int(epoch);
      log.train.n = n;
      log.train.loss = m.loss / n;
      log.train.accuracy = m.accuracy / n;
      if (test) {
        log.has_test = true;
        log.test = evaluate(model, *test);
      }
      on_log(log);
    }
    if (hooks.after_step &&
        !hooks.after_step(epoch, long(steps), true, [&] { return RunPoint{epoch + 1, 0, rng, rng, Metrics{}}; }))
      return;
  }
}

// The same with a fresh optimizer and no hooks.
template <class T>
void train_classifier(Model<T>& model, const EncodedSet& train, const EncodedSet* test, const TrainOptions& opt,
                      Rng& rng, const std::function<void(const EpochLog&)>& on_log) {
  Optimizer<T> optimizer(opt.step.optimizer, model.weights().size());
  train_classifier(model, optimizer, train, test, opt, rng, on_log);
}

}  // namespace recur
