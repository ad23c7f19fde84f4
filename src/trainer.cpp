// The one training loop (include/recur/trainer.hpp says what it does).
#include "recur/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "seed_step.hpp"

namespace recur {

Metrics Tally::metrics() const {
  Metrics m;
  m.n = n;
  m.loss = weight > 0 ? loss / weight : 0.0;
  m.has_accuracy = has_accuracy;
  if (has_accuracy) m.accuracy = n ? correct / double(n) : 0.0;
  return m;
}

template <class T>
StepLoss train_step(Objective<T>& objective, Optimizer<T>& optimizer, const Batch& b, double lr, const StepOptions& o,
                     Rng& rng) {
  std::fill(objective.grads().begin(), objective.grads().end(), T(0));
  StepLoss s = objective.forward_backward(b, rng);
  // Checked before clipping (which would turn an inf into the clip bound and
  // hide it) and before the update, so a bad step leaves the weights as they were.
  // A sparse step reads only the rows it touched (optim.hpp).
  const Ranges touched = step_ranges(objective.grads(), o.sparse);
  s.finite = std::isfinite(s.value) && all_finite(objective.grads(), touched);
  if (s.finite) clip_and_step(optimizer, objective.weights(), objective.grads(), lr, o, &touched);
  return s;
}

namespace {

// FNV-1a over a buffer's bytes: a fingerprint of the weights, for checking
// that the processes of a data-parallel run still hold the same ones.
template <class T>
std::uint64_t fingerprint(const Buffer<T>& w) {
  std::uint64_t h = 1469598103934665603ull;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(w.data());
  for (std::size_t i = 0; i < w.size() * sizeof(T); ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

// Rank r's rows of each (G, H) state: its streams, [r*G/N, (r+1)*G/N).
template <class T>
std::vector<Matrix<T>> rows_of_rank(const std::vector<Matrix<T>>& all, int rank, int ranks) {
  std::vector<Matrix<T>> mine;
  for (const Matrix<T>& m : all) {
    const Eigen::Index rows = m.rows() / ranks;
    mine.push_back(m.middleRows(rows * rank, rows));
  }
  return mine;
}

// Every rank's rows, one under the other, on rank 0 (elsewhere left as they are).
// Row-major matrices: a rank's rows are one contiguous block.
template <class T>
void gather_rows(Communicator& comm, std::vector<Matrix<T>>& state, const char* what) {
  for (Matrix<T>& m : state) {
    Matrix<T> all;
    if (comm.rank() == 0) all.resize(m.rows() * comm.size(), m.cols());
    comm.gather(m.data(), std::size_t(m.size()), all.data(), what);
    if (comm.rank() == 0) m.swap(all);
  }
}

// Two buffers of the same size exchanged for as long as it lives.
template <class T>
class Exchanged {
 public:
  Exchanged(Buffer<T>& a, Buffer<T>& b) : a_(a), b_(b) { std::swap_ranges(a_.begin(), a_.end(), b_.begin()); }
  ~Exchanged() { std::swap_ranges(a_.begin(), a_.end(), b_.begin()); }
  Exchanged(const Exchanged&) = delete;
  Exchanged& operator=(const Exchanged&) = delete;

 private:
  Buffer<T>& a_;
  Buffer<T>& b_;
};

}  // namespace

template <class T>
TrainResult run_training(Objective<T>& objective, Batcher& batcher, Optimizer<T>& optimizer, const TrainerOptions& o,
                         Rng& rng, const Evaluators& evaluators, const TrainerHooks<T>& hooks,
                         const RunState<T>* resume) {
  using Clock = std::chrono::steady_clock;
  const long per_epoch = long(batcher.steps_per_epoch());
  const long total_steps = o.by_epoch ? o.length * per_epoch : o.length;
  // Data parallelism: the other processes, when there are any.
  Communicator* const comm = hooks.processes && hooks.processes->size() > 1 ? hooks.processes : nullptr;
  const int parts = batcher.parts();

  // How each step is taken — chosen here, once per run:
  //   fused    the seed's own settings (seed_step_applies: one vanilla RNN layer
  //            on one-hot input, one sequence a step, plain SGD with value
  //            clipping, no dropout, weight decay or norm clipping). SeedStep
  //            (src/seed_step.hpp) takes the same step as the general path,
  //            forward, BPTT and the clipped update in one pass, forming each
  //            gradient element where it is applied: what makes the seed's run
  //            over 100x numpy. tests/seed_step_test.cpp holds the two together.
  //            Never in a data-parallel run or with gradient accumulation: it
  //            never materializes the gradient, so there is nothing to add the
  //            parts into or to sum over the processes.
  //   general  everything else: zero_grad; forward_backward on each part of the
  //            step's batch here (gradients add up); the sum over processes;
  //            clip_and_step. With one part and one process, train_step.
  std::unique_ptr<SeedStep<T>> fused;
  if (Model<T>* m = objective.fused_model();
      m && !comm && parts == 1 && seed_step_applies(m->config(), o.step, batcher.batch_size()))
    fused = std::make_unique<SeedStep<T>>(*m);
  const FlushDenormals flush;  // (tensor.hpp: denormals would slow every product)
  std::unique_ptr<SerialBlas> serial;  // one sequence a step: products too small to share between threads
  if (batcher.batch_size() == 1) serial = std::make_unique<SerialBlas>();
  // Dropout with several processes: each rank draws its masks from a generator
  // of its own, seeded at each step from the shared generator (which must stay
  // the same on every rank: it draws the epochs' orders) and the rank, so the
  // ranks' masks differ and a resumed run draws the same ones again.
  const bool draws = objective.draws_random();
  Rng rank_rng;

  RunState<T> s;
  bool mid_epoch = false;
  if (resume) {
    s = *resume;
    // Where the run stands, in both units: a classifier's checkpoint records the
    // epoch and position, a language model's the steps.
    if (o.by_epoch) {
      s.steps = (s.epoch - 1) * per_epoch + s.position;
    } else {
      s.epoch = s.steps / per_epoch + 1;
      s.position = s.steps % per_epoch;
    }
    mid_epoch = s.position > 0;
    rng = mid_epoch ? s.rng_epoch : s.rng;  // mid-epoch: draw the same order again
    if (!s.h.empty() && s.h[0].rows() != batcher.step_size())
      throw Error("the checkpoint carries the state of " + std::to_string(s.h[0].rows()) + " streams, this run has " +
                  std::to_string(batcher.step_size()) +
                  " (--batch x processes x --accumulate): resume with the same number of streams");
  }

  // The moving average of the weights (o.average): from the weights the run
  // starts with, unless the checkpoint carries it.
  Buffer<T>& w = objective.weights();
  if (o.average <= 0)
    s.average.clear();
  else if (s.average.size() != w.size())
    s.average.assign(w.begin(), w.end());
  auto update_average = [&] {  // after the run's n-th step (s.steps: the n - 1 before it)
    const double step = double(s.steps + 1);
    const T keep = T(std::min(o.average, (1 + step) / (10 + step)));
    const T take = T(1) - keep;
    T* __restrict a = s.average.data();
    const T* __restrict x = w.data();
    const std::size_t n = w.size();
    for (std::size_t i = 0; i < n; ++i) a[i] += take * (x[i] - a[i]);
  };

  TrainResult r;
  auto finish = [&](bool completed) {  // not completed: stopped by a callback, weights as they are
    r.steps_run = s.steps;
    r.skipped_steps = s.nonfinite_skipped;
    r.has_best = s.has_best, r.best_at = s.best_at, r.best = s.best;
    if (completed && s.has_best && !s.best_weights.empty())
      std::copy(s.best_weights.begin(), s.best_weights.end(), w.begin());
    else if (completed && !s.average.empty())
      std::copy(s.average.begin(), s.average.end(), w.begin());
    if (comm) comm->expect_same(fingerprint(w), "the weights the processes end with");
    return r;
  };
  // A numeric failure at step `at` (1-based over the run): the run stops with
  // the weights as they are; nothing is evaluated or checkpointed from them.
  // (Every process decides alike: each holds the same weights and the summed
  // gradient.)
  auto diverge = [&](long at, const std::string& why) {
    r.diverged = true, r.diverged_at = at, r.diverged_why = why;
    return finish(false);
  };
  const std::string weights_bad = "the weights are no longer finite (NaN or inf)";
  auto weights_ok = [&] { return all_finite(w); };
  auto snapshot = [&]() -> const RunState<T>& {  // the state as a resumed run would start from it
    s.rng = rng;
    objective.carried_state(s.h, s.c);
    if (comm) {
      gather_rows(*comm, s.h, "gathering the carried state");
      gather_rows(*comm, s.c, "gathering the carried state");
    }
    s.step_size = batcher.step_size();
    s.ranks = comm ? comm->size() : 1;
    return s;
  };

  long skipped_in_a_row = 0;
  Clock::time_point since = Clock::now();
  double tokens = 0;          // trained on since the last evaluation (all processes)
  bool stop_asked = false;    // on_step asked this rank to stop: voted in the next step's sum
  try {
    while (o.by_epoch ? s.epoch <= o.length : s.steps < o.length) {
      if (mid_epoch) {  // the epoch's order again, then on from where the run stopped
        batcher.begin_epoch(rng);
        rng = s.rng;
        objective.set_carried_state(comm ? rows_of_rank(s.h, comm->rank(), comm->size()) : s.h,
                                    comm ? rows_of_rank(s.c, comm->rank(), comm->size()) : s.c);
        if (s.running.weight < 0) {  // not recorded (checkpoints of older versions): the examples so far
          s.running.weight = 0;
          s.running.n = 0;
          for (long k = 0; k < s.position; ++k) {
            const Batch& b = batcher.batch(std::size_t(k), 0);
            s.running.weight += b.global_B > 0 ? b.global_B : b.B;
          }
          s.running.n = long(s.running.weight);
        }
        mid_epoch = false;
      } else {
        s.rng_epoch = rng;
        batcher.begin_epoch(rng);
        if (o.by_epoch) s.running = {};
      }
      for (long k = s.position; k < per_epoch; ++k) {
        const long unit = o.by_epoch ? s.epoch - 1 : s.steps;  // 0-based epoch or step, for the schedule
        const double lr = o.step.schedule.lr(o.step.lr, int(unit), int(o.length)) * s.lr_scale;
        StepLoss step;
        long step_tokens = 0;
        bool stop_agreed = false;
        if (fused) {
          const Batch& b = batcher.batch(std::size_t(k), 0);
          bool correct = false;
          step.value = fused->step(*objective.fused_model(), b, T(lr), T(o.step.clip), correct);
          step.finite = std::isfinite(step.value);  // (SeedStep applies no update then)
          step.weight = 1, step.n = 1, step.correct = correct;
          step_tokens = b.tokens();
          if (step.finite) optimizer.set_steps(optimizer.steps() + 1);
        } else if (!comm && parts == 1) {
          const Batch& b = batcher.batch(std::size_t(k), 0);
          step = train_step(objective, optimizer, b, lr, o.step, rng);
          step_tokens = b.tokens();
        } else {
          Buffer<T>& g = objective.grads();
          std::fill(g.begin(), g.end(), T(0));
          Rng* part_rng = &rng;
          if (comm && draws) {
            rank_rng = Rng(rng.next_u32() ^ (0x9e3779b9u * std::uint32_t(comm->rank() + 1)));
            part_rng = &rank_rng;
          }
          // The parts here: each one's loss is averaged over the whole step
          // (Batch::global_B), so their gradients add up to this process's share
          // of the step's gradient.
          bool first = true;
          for (int j = 0; j < parts; ++j) {
            const Batch& b = batcher.batch(std::size_t(k), j);
            if (b.B == 0) continue;  // (a pass's last batch may leave a part without sequences)
            const StepLoss p = objective.forward_backward(b, *part_rng);
            if (first) {
              step = p;
            } else {
              step.value += p.value, step.weight += p.weight, step.correct += p.correct, step.n += p.n;
            }
            first = false;
            step_tokens += b.tokens();
          }
          if (comm) {
            // The gradient of the step's mean loss is the sum of the processes'
            // shares: one allreduce of the flat gradient buffer, and beside it the
            // loss numbers and the stop votes.
            double x[6] = {step.value, step.weight, step.correct, double(step.n), double(step_tokens),
                           stop_asked ? 1.0 : 0.0};
            comm->sum(g.data(), g.size(), x, 6, "the sum of the gradients");
            step.value = x[0], step.weight = x[1], step.correct = x[2], step.n = long(x[3]);
            step_tokens = long(x[4]);
            stop_agreed = x[5] > 0;
          }
          const Ranges touched = step_ranges(g, o.step.sparse);  // as train_step checks
          step.finite = std::isfinite(step.value) && all_finite(g, touched);
          if (step.finite) clip_and_step(optimizer, w, g, lr, o.step, &touched);
        }
        if (step.finite) {
          s.running.loss += step.value;
          s.running.weight += step.weight;
          s.running.correct += step.correct;
          s.running.n += step.n;
          skipped_in_a_row = 0;
          if (!s.average.empty()) update_average();
        } else {
          // Skipping helps only while the weights themselves are finite (a
          // batch that overflows); once they are not, every step would be skipped.
          r.epoch = s.epoch, r.position = k + 1;
          const bool weights_finite = weights_ok();
          const std::string why = !weights_finite              ? weights_bad
                                  : std::isfinite(step.value) ? "a gradient is not finite (NaN or inf)"
                                                              : "the loss is not finite (NaN or inf)";
          if (!o.skip_nonfinite || !weights_finite) return diverge(s.steps + 1, why);
          // Nor when no batch trains any more: skipped an epoch's steps in a row
          // (at most 100), the run cannot recover.
          if (++skipped_in_a_row >= std::min(100L, per_epoch))
            return diverge(s.steps + 1, std::to_string(skipped_in_a_row) + " steps in a row were skipped (" + why +
                                            "), so skipping does not recover this run");
          ++s.nonfinite_skipped;
          if (!r.first_skipped) r.first_skipped = s.steps + 1;
          // The state the bad step would carry on (streams) may not be finite
          // either: the streams go on from zero state.
          objective.set_carried_state({}, {});
        }
        tokens += double(step_tokens);
        s.position = k + 1;
        ++s.steps;

        StepEvent ev;
        ev.epoch = o.by_epoch ? s.epoch : 0, ev.epochs = o.by_epoch ? o.length : 0;
        ev.position = s.position, ev.step = s.steps, ev.steps = total_steps;
        ev.epoch_end = s.position == per_epoch;
        ev.loss = s.running.weight > 0 ? s.running.loss / s.running.weight : 0.0;
        ev.tokens = step_tokens;
        r.epoch = s.epoch, r.position = s.position, r.epochs_run = s.epoch;
        const bool last = o.by_epoch ? ev.epoch_end && s.epoch == o.length : s.steps == o.length;

        const bool evaluate =
            o.every > 0 && (o.by_epoch ? ev.epoch_end && (s.epoch % o.every == 0 || s.epoch == o.length)
                                       : s.steps % o.every == 0 || s.steps == o.length);
        if (evaluate) {
          if (!weights_ok()) return diverge(s.steps, weights_bad);  // (the caller may save the best)
          Evaluation e;
          e.epoch = ev.epoch, e.epochs = ev.epochs, e.step = s.steps, e.steps = total_steps, e.lr = lr;
          e.train.n = s.running.n;
          // (NaN when every step since the last evaluation was skipped as not finite)
          const double counted = s.running.weight > 0 ? s.running.weight : std::nan("");
          e.train.loss = s.running.loss / counted;
          e.train.has_accuracy = objective.reports_accuracy();
          if (e.train.has_accuracy) e.train.accuracy = s.running.correct / counted;
          // With averaging, what is scored (and kept as the best, and what the
          // callback sees and may save) is the average: it stands in the
          // weights' place until the evaluation is done.
          std::optional<Exchanged<T>> scored;
          if (!s.average.empty()) scored.emplace(w, s.average);
          const auto score = [&](const std::function<Metrics()>& whole, const std::function<Tally(int, int)>& part,
                                 bool& has, Metrics& out) {
            if (part) {  // each rank its share, the tallies summed
              Tally t = part(comm ? comm->rank() : 0, comm ? comm->size() : 1);
              double x[4] = {double(t.n), t.loss, t.weight, t.correct};
              if (comm) comm->sum(static_cast<double*>(nullptr), 0, x, 4, "the evaluation");
              t.n = long(x[0]), t.loss = x[1], t.weight = x[2], t.correct = x[3];
              has = true, out = t.metrics();
            } else if (whole) {
              has = true, out = whole();
            }
          };
          score(evaluators.valid, evaluators.valid_part, e.has_valid, e.valid);
          score(evaluators.test, evaluators.test_part, e.has_test, e.test);
          if (comm) {
            // Every rank evaluates the same weights; rank 0's numbers are the
            // ones every rank decides by (best weights, patience, the learning rate).
            double x[6] = {double(e.valid.n), e.valid.loss, e.valid.accuracy, double(e.test.n), e.test.loss,
                           e.test.accuracy};
            comm->broadcast(x, 6, "the evaluation");
            e.valid.n = long(x[0]), e.valid.loss = x[1], e.valid.accuracy = x[2];
            e.test.n = long(x[3]), e.test.loss = x[4], e.test.accuracy = x[5];
          }
          if (e.has_valid) {
            e.best = !s.has_best || better(e.valid, s.best);
            if (e.best) {
              s.has_best = true, s.best_at = o.by_epoch ? s.epoch : s.steps, s.best = e.valid, s.bad_evals = 0;
              s.best_weights.assign(w.begin(), w.end());
            } else {
              ++s.bad_evals;
              s.lr_scale *= o.plateau_decay;
            }
          }
          const double secs = std::chrono::duration<double>(Clock::now() - since).count();
          e.tokens_per_s = secs > 0 ? tokens / secs : 0;
          bool go_on = !hooks.on_evaluation || hooks.on_evaluation(e);
          scored.reset();
          if (comm) {  // stopped here if any rank's callback asks
            double stop = go_on ? 0 : 1;
            comm->sum(static_cast<T*>(nullptr), 0, &stop, 1, "agreeing to stop");
            go_on = stop == 0;
          }
          if (!go_on || (o.patience > 0 && s.bad_evals >= o.patience)) {
            r.stopped_early = true;
            return finish(true);
          }
          if (!o.by_epoch) s.running = {};
          tokens = 0;
          since = Clock::now();
        }
        if (ev.epoch_end) {  // a resumed run starts the next epoch
          ++s.epoch;
          s.position = 0;
          if (o.by_epoch) s.running = {};
        }

        bool go_on = !hooks.on_step || hooks.on_step(ev);
        if (comm) {
          // A stop asked on one rank (Ctrl-C, SIGTERM) is voted in the next
          // step's sum; every rank stops after that step, together, and rank 0
          // writes the checkpoint.
          if (!go_on) stop_asked = true;
          go_on = !stop_agreed;
        }
        const bool due =
            o.checkpoints && (last || (o.checkpoint_every > 0 ? s.steps % o.checkpoint_every == 0 : evaluate));
        if (hooks.checkpoint && (!go_on || due)) {
          if (!weights_ok()) return diverge(s.steps, weights_bad);  // the last good checkpoint stays
          hooks.checkpoint(snapshot());
        }
        if (!go_on) {
          r.interrupted = true;
          return finish(false);
        }
        if (last) break;
      }
    }
    if (o.by_epoch) r.epochs_run = o.length;
    if (!(s.has_best && !s.best_weights.empty()) && !weights_ok()) return diverge(s.steps, weights_bad);
    return finish(true);
  } catch (const DistributedError& e) {
    throw DistributedError(std::string(e.what()) + " (" + std::to_string(s.steps) + " steps done)");
  }
}

#define RECUR_INSTANTIATE(T)                                                                                    \
  template StepLoss train_step<T>(Objective<T>&, Optimizer<T>&, const Batch&, double, const StepOptions&, Rng&); \
  template TrainResult run_training<T>(Objective<T>&, Batcher&, Optimizer<T>&, const TrainerOptions&, Rng&,     \
                                       const Evaluators&, const TrainerHooks<T>&, const RunState<T>*);
RECUR_INSTANTIATE(float)
RECUR_INSTANTIATE(double)
#undef RECUR_INSTANTIATE

}  // namespace recur
