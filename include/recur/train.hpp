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
#include "recur/seed_step.hpp"

namespace recur {

struct Metrics {
  long n = 0;
  double loss = 0;      // mean cross-entropy, nats per example
  double accuracy = 0;
};

struct EpochLog {
  int epoch = 0;        // 1-based
  Metrics train;        // accumulated during the epoch, each example before its update (as the seed)
  bool has_valid = false;
  Metrics valid;
  bool best = false;    // the best validation so far (the weights a run with validation ends with)
  bool has_test = false;
  Metrics test;
};

// Validation decides which weights a run keeps: higher accuracy wins, and at
// equal accuracy lower loss (small validation sets tie on accuracy often).
inline bool better(const Metrics& a, const Metrics& b) {
  return a.accuracy > b.accuracy || (a.accuracy == b.accuracy && a.loss < b.loss);
}

// The seed's log lines for one logged epoch:
//   --- Epoch 100
//   Train:\tLoss 0.688 | Accuracy: 0.552
//   Test:\tLoss 0.700 | Accuracy: 0.500
// with a "Valid:" line before the test line when there is validation data
// (marked " *" when it is the best so far).
inline std::string format_seed_log(const EpochLog& log) {
  char buf[160];
  std::string s;
  std::snprintf(buf, sizeof buf, "--- Epoch %d\nTrain:\tLoss %.3f | Accuracy: %.3f\n", log.epoch,
                log.train.loss, log.train.accuracy);
  s += buf;
  if (log.has_valid) {
    std::snprintf(buf, sizeof buf, "Valid:\tLoss %.3f | Accuracy: %.3f%s\n", log.valid.loss, log.valid.accuracy,
                  log.best ? " *" : "");
    s += buf;
  }
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
  int log_every = 100;   // epochs between evaluations (and at the last epoch); 0 = none
  int patience = 0;      // with validation: stop after this many evaluations without a better one (0 = never)
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
  // With validation: the best evaluation so far, its weights, and the evaluations since.
  bool has_best = false;
  long best_epoch = 0, bad_evals = 0;
  Metrics best;
  Buffer<float> best_weights;
};

// What the hooks are told after each step.
struct StepEvent {
  long epoch = 0, epochs = 0;  // the epoch in progress (1-based) of
  long position = 0, steps = 0;  // steps done in it, of
  bool epoch_end = false;      // the epoch's last step (its evaluation, if any, is done)
  double loss = 0;             // mean training loss of the epoch so far
  long tokens = 0;             // tokens in this step's batch
};

struct ClassifierHooks {  // (used for float32 runs; a double run leaves them empty)
  const RunPoint* resume = nullptr;  // continue from here instead of epoch 1
  // After every step; `at` builds the resumable RunPoint on demand (it copies the
  // generator's state and the best weights, so only call it to checkpoint).
  // Return false to stop.
  std::function<bool(const StepEvent&, const std::function<RunPoint()>& at)> after_step;
};

// How a run ended.
struct TrainResult {
  long epochs_run = 0;
  bool stopped_early = false;  // by patience
  bool has_best = false;       // validation data was given and evaluated
  long best_epoch = 0;
  Metrics best;                // its validation metrics; the model now holds its weights
};

// Trains a classifier. Each epoch shuffles the training examples with `rng`;
// each step takes `batch` of them, the mean cross-entropy, clipping, and one
// optimizer step. With the defaults (batch 1, SGD, lr 0.02, clip 1) this is the
// seed's run. Every log_every epochs, and at the last, the run is evaluated and
// on_log gets the epoch's train metrics (accumulated during the epoch, each batch
// before its update, as the seed does) and those of `valid` and `test` when
// given. With `valid`, the best evaluation's weights are kept, the run stops
// after `patience` evaluations without a better one, and the model ends with
// the best weights.
template <class T>
TrainResult train_classifier(Model<T>& model, Optimizer<T>& optimizer, const EncodedSet& train,
                             const EncodedSet* valid, const EncodedSet* test, const TrainOptions& opt, Rng& rng,
                             const std::function<void(const EpochLog&)>& on_log, const ClassifierHooks& hooks = {}) {
  if (opt.batch < 1) throw Error("batch size must be at least 1");
  const int n = int(train.ids.size());
  std::vector<int> order(static_cast<std::size_t>(n));
  // batch 1: one prebuilt batch and workspace per example, so the loop allocates nothing.
  std::vector<Batch> singles;
  std::vector<typename Model<T>::Workspace> single_ws;
  typename Model<T>::Workspace ws;
  std::unique_ptr<SerialBlas> serial;
  std::unique_ptr<SeedStep<T>> fused;  // the seed's own settings: forward, backward and update in one pass
  if (opt.batch == 1) {
    serial = std::make_unique<SerialBlas>();  // the seed's per-example steps
    for (int i = 0; i < n; ++i) singles.push_back(make_batch(train.ids, train.targets, {i}));
    if (seed_step_applies(model.config(), opt.step, opt.batch))
      fused = std::make_unique<SeedStep<T>>(model);
    else
      single_ws.resize(std::size_t(n));
  }
  TrainResult result;
  Buffer<T> best_weights;
  long bad_evals = 0, first_epoch = 1;
  if (const RunPoint* r = hooks.resume) {
    first_epoch = r->epoch;
    rng = r->position > 0 ? r->rng_epoch : r->rng;
    result.has_best = r->has_best, result.best_epoch = r->best_epoch, result.best = r->best;
    best_weights.assign(r->best_weights.begin(), r->best_weights.end());
    bad_evals = r->bad_evals;
  }
  auto point = [&](long epoch, long position, const Rng& now, const Rng& at_epoch, const Metrics& partial) {
    RunPoint p{epoch, position, now, at_epoch, partial, result.has_best, result.best_epoch, bad_evals, result.best, {}};
    p.best_weights.assign(best_weights.begin(), best_weights.end());
    return p;
  };
  auto finish = [&](long epochs_run, bool completed) {  // not completed: stopped by a hook, weights as they are
    result.epochs_run = epochs_run;
    if (completed && result.has_best) std::copy(best_weights.begin(), best_weights.end(), model.weights().begin());
    return result;
  };
  for (long epoch = first_epoch; epoch <= opt.epochs; ++epoch) {
    const double lr = opt.step.schedule.lr(opt.step.lr, int(epoch - 1), opt.epochs);
    const Rng rng_epoch = rng;
    std::iota(order.begin(), order.end(), 0);
    rng.shuffle(order);
    std::vector<std::vector<int>> groups;
    if (opt.batch > 1) groups = bucket_batches(train.ids, order, opt.batch, rng);
    const std::size_t steps = opt.batch == 1 ? order.size() : groups.size();
    Metrics m;
    long seen = 0;  // examples so far this epoch
    std::size_t k0 = 0;
    if (hooks.resume && epoch == first_epoch && hooks.resume->position > 0) {  // mid-epoch: same order, same place
      k0 = std::size_t(hooks.resume->position);
      rng = hooks.resume->rng;
      m = hooks.resume->partial;
      for (std::size_t k = 0; k < k0; ++k) seen += opt.batch == 1 ? 1 : long(groups[k].size());
    }
    StepEvent ev;
    ev.epoch = epoch, ev.epochs = opt.epochs, ev.steps = long(steps);
    // Built once per epoch, not at every step (a std::function of this size allocates).
    const std::function<RunPoint()> at_step = [&] { return point(epoch, ev.position, rng, rng_epoch, m); };
    for (std::size_t k = k0; k < steps; ++k) {
      Batch built;
      if (opt.batch > 1) built = make_batch(train.ids, train.targets, groups[k]);
      const Batch& b = opt.batch == 1 ? singles[std::size_t(order[k])] : built;
      if (fused) {
        bool correct = false;
        m.loss += fused->step(model, b, T(lr), T(opt.step.clip), correct);
        m.accuracy += correct;
        optimizer.set_steps(optimizer.steps() + 1);
      } else {
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
      }
      seen += b.B;
      if (hooks.after_step && k + 1 < steps) {
        ev.position = long(k + 1), ev.loss = m.loss / double(seen);
        ev.tokens = std::accumulate(b.lengths.begin(), b.lengths.end(), 0L);
        const bool go_on = hooks.after_step(ev, at_step);
        if (!go_on) return finish(epoch, false);
      }
    }
    bool stop = false;
    if (opt.log_every > 0 && (epoch % opt.log_every == 0 || epoch == opt.epochs)) {
      EpochLog log;
      log.epoch = int(epoch);
      log.train.n = n;
      log.train.loss = m.loss / n;
      log.train.accuracy = m.accuracy / n;
      if (valid) {
        log.has_valid = true;
        log.valid = evaluate(model, *valid);
        log.best = !result.has_best || better(log.valid, result.best);
        if (log.best) {
          result.has_best = true, result.best_epoch = epoch, result.best = log.valid;
          best_weights.assign(model.weights().begin(), model.weights().end());
          bad_evals = 0;
        } else {
          ++bad_evals;
        }
        stop = opt.patience > 0 && bad_evals >= opt.patience;
      }
      if (test) {
        log.has_test = true;
        log.test = evaluate(model, *test);
      }
      on_log(log);
    }
    if (stop) {
      result.stopped_early = true;
      return finish(epoch, true);
    }
    if (hooks.after_step) {
      ev.position = long(steps), ev.epoch_end = true, ev.loss = m.loss / double(std::max(1L, seen)), ev.tokens = 0;
      if (!hooks.after_step(ev, [&] { return point(epoch + 1, 0, rng, rng, Metrics{}); })) return finish(epoch, false);
    }
  }
  return finish(opt.epochs, true);
}

// The same with a fresh optimizer and no hooks.
template <class T>
TrainResult train_classifier(Model<T>& model, const EncodedSet& train, const EncodedSet* test, const TrainOptions& opt,
                             Rng& rng, const std::function<void(const EpochLog&)>& on_log) {
  Optimizer<T> optimizer(opt.step.optimizer, model.weights().size());
  return train_classifier(model, optimizer, train, nullptr, test, opt, rng, on_log);
}

}  // namespace recur
