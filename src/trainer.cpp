// The one training loop (include/recur/trainer.hpp says what it does).
#include "recur/trainer.hpp"

#include <chrono>
#include <cmath>
#include <memory>
#include <string>

#include "seed_step.hpp"

namespace recur {

template <class T>
StepLoss train_step(Objective<T>& objective, Optimizer<T>& optimizer, const Batch& b, double lr, const StepOptions& o,
                     Rng& rng) {
  std::fill(objective.grads().begin(), objective.grads().end(), T(0));
  StepLoss s = objective.forward_backward(b, rng);
  // Checked before clipping (which would turn an inf into the clip bound and
  // hide it) and before the update, so a bad step leaves the weights as they were.
  s.finite = std::isfinite(s.value) && all_finite(objective.grads());
  if (s.finite) clip_and_step(optimizer, objective.weights(), objective.grads(), lr, o);
  return s;
}

template <class T>
TrainResult run_training(Objective<T>& objective, Batcher& batcher, Optimizer<T>& optimizer, const TrainerOptions& o,
                         Rng& rng, const Evaluators& evaluators, const TrainerHooks<T>& hooks,
                         const RunState<T>* resume) {
  using Clock = std::chrono::steady_clock;
  const long per_epoch = long(batcher.steps_per_epoch());
  const long total_steps = o.by_epoch ? o.length * per_epoch : o.length;

  // How each step is taken — chosen here, once per run:
  //   fused    the seed's own settings (seed_step_applies: one vanilla RNN layer
  //            on one-hot input, one sequence a step, plain SGD with value
  //            clipping, no dropout, weight decay or norm clipping). SeedStep
  //            (src/seed_step.hpp) takes the same step as the general path,
  //            forward, BPTT and the clipped update in one pass, forming each
  //            gradient element where it is applied: what makes the seed's run
  //            over 100x numpy. tests/seed_step_test.cpp holds the two together.
  //   general  everything else: train_step.
  std::unique_ptr<SeedStep<T>> fused;
  if (Model<T>* m = objective.recurrent_model(); m && seed_step_applies(m->config(), o.step, batcher.batch_size()))
    fused = std::make_unique<SeedStep<T>>(*m);
  std::unique_ptr<SerialBlas> serial;  // one sequence a step: products too small to share between threads
  if (batcher.batch_size() == 1) serial = std::make_unique<SerialBlas>();

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
  }

  TrainResult r;
  auto finish = [&](bool completed) {  // not completed: stopped by a callback, weights as they are
    r.steps_run = s.steps;
    r.skipped_steps = s.nonfinite_skipped;
    r.has_best = s.has_best, r.best_at = s.best_at, r.best = s.best;
    if (completed && s.has_best && !s.best_weights.empty())
      std::copy(s.best_weights.begin(), s.best_weights.end(), objective.weights().begin());
    return r;
  };
  // A numeric failure at step `at` (1-based over the run): the run stops with
  // the weights as they are; nothing is evaluated or checkpointed from them.
  auto diverge = [&](long at, const std::string& why) {
    r.diverged = true, r.diverged_at = at, r.diverged_why = why;
    return finish(false);
  };
  const std::string weights_bad = "the weights are no longer finite (NaN or inf)";
  auto weights_ok = [&] { return all_finite(objective.weights()); };
  auto snapshot = [&]() -> const RunState<T>& {  // the state as a resumed run would start from it
    s.rng = rng;
    objective.carried_state(s.h, s.c);
    return s;
  };

  long skipped_in_a_row = 0;
  Clock::time_point since = Clock::now();
  double tokens = 0;  // trained on since the last evaluation
  while (o.by_epoch ? s.epoch <= o.length : s.steps < o.length) {
    if (mid_epoch) {  // the epoch's order again, then on from where the run stopped
      batcher.begin_epoch(rng);
      rng = s.rng;
      objective.set_carried_state(s.h, s.c);
      if (s.running.weight < 0) {  // not recorded (checkpoints of older versions): the examples so far
        s.running.weight = 0;
        s.running.n = 0;
        for (long k = 0; k < s.position; ++k) s.running.weight += batcher.batch(std::size_t(k)).B;
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
      const Batch& b = batcher.batch(std::size_t(k));
      StepLoss step;
      if (fused) {
        bool correct = false;
        step.value = fused->step(*objective.recurrent_model(), b, T(lr), T(o.step.clip), correct);
        step.finite = std::isfinite(step.value);  // (SeedStep applies no update then)
        step.weight = 1, step.n = 1, step.correct = correct;
        if (step.finite) optimizer.set_steps(optimizer.steps() + 1);
      } else {
        step = train_step(objective, optimizer, b, lr, o.step, rng);
      }
      if (step.finite) {
        s.running.loss += step.value;
        s.running.weight += step.weight;
        s.running.correct += step.correct;
        s.running.n += step.n;
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
      if (step.finite) skipped_in_a_row = 0;
      tokens += double(b.tokens());
      s.position = k + 1;
      ++s.steps;

      StepEvent ev;
      ev.epoch = o.by_epoch ? s.epoch : 0, ev.epochs = o.by_epoch ? o.length : 0;
      ev.position = s.position, ev.step = s.steps, ev.steps = total_steps;
      ev.epoch_end = s.position == per_epoch;
      ev.loss = s.running.weight > 0 ? s.running.loss / s.running.weight : 0.0;
      ev.tokens = b.tokens();
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
        if (evaluators.valid) {
          e.has_valid = true;
          e.valid = evaluators.valid();
          e.best = !s.has_best || better(e.valid, s.best);
          if (e.best) {
            s.has_best = true, s.best_at = o.by_epoch ? s.epoch : s.steps, s.best = e.valid, s.bad_evals = 0;
            s.best_weights.assign(objective.weights().begin(), objective.weights().end());
          } else {
            ++s.bad_evals;
            s.lr_scale *= o.plateau_decay;
          }
        }
        if (evaluators.test) {
          e.has_test = true;
          e.test = evaluators.test();
        }
        const double secs = std::chrono::duration<double>(Clock::now() - since).count();
        e.tokens_per_s = secs > 0 ? tokens / secs : 0;
        const bool go_on = !hooks.on_evaluation || hooks.on_evaluation(e);
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

      const bool go_on = !hooks.on_step || hooks.on_step(ev);
      const bool due = o.checkpoints && (last || (o.checkpoint_every > 0 ? s.steps % o.checkpoint_every == 0 : evaluate));
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
}

#define RECUR_INSTANTIATE(T)                                                                                    \
  template StepLoss train_step<T>(Objective<T>&, Optimizer<T>&, const Batch&, double, const StepOptions&, Rng&); \
  template TrainResult run_training<T>(Objective<T>&, Batcher&, Optimizer<T>&, const TrainerOptions&, Rng&,     \
                                       const Evaluators&, const TrainerHooks<T>&, const RunState<T>*);
RECUR_INSTANTIATE(float)
RECUR_INSTANTIATE(double)
#undef RECUR_INSTANTIATE

}  // namespace recur
