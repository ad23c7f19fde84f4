// session.hpp (private to the library) — what training a classifier and a
// language model share around the trainer: the model built and initialised
// from the options, the optimizer, --resume, --save at every new best and at
// the end, checkpoints, the callbacks, the clock. Each task supplies its data
// as a Batcher, its Objective and its held-out evaluations.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <type_traits>

#include "recur/checkpoint.hpp"
#include "recur/io.hpp"
#include "recur/options.hpp"
#include "recur/run.hpp"
#include "recur/trainer.hpp"

namespace recur {

// Optimizer, clipping and schedule from the options.
StepOptions step_options(const TrainOptions& o);

// Throws unless the checkpoint is of the model these options and data build.
void check_same_run(const ModelInfo& checkpoint, const ModelInfo& now, const std::string& path);

template <class T>
struct SessionResult {
  std::unique_ptr<Model<T>> model;  // as the run ended (with validation and not interrupted: the best weights)
  TrainResult result;
  std::vector<Evaluation> history;
  double seconds = 0;
  std::string checkpoint;           // written when interrupted
};

// `make_objective(model)` returns the task's Objective; `evaluators(model)` its
// held-out evaluations.
// Throws unless a resumed run's position and carried state fit this run's
// data and batch (a checkpoint of the same model on other data or flags).
void check_resume_fits(const RunState<float>& s, const TrainerOptions& to, const Batcher& batcher,
                       const std::string& path);

// The one-line error of a run stopped by a numeric failure: the step, the
// likely remedies, and which files (the last good ones) were left as they are.
std::string divergence_message(const TrainResult& r, const TrainOptions& o, const TrainerOptions& to,
                               long last_checkpoint_step, const std::string& last_model);

template <class T, class MakeObjective, class MakeEvaluators>
SessionResult<T> run_session(const ModelInfo& info, const TrainOptions& o, const TrainerOptions& to, Batcher& batcher,
                             MakeObjective make_objective, MakeEvaluators evaluators, const TrainCallbacks& cb) {
  SessionResult<T> out;
  // A run that could never be saved does not start (a vocabulary too large for
  // the file format); nor one whose checkpoint another run is writing.
  const std::string ckpt = o.checkpoint_path();
  if (!o.save.empty()) check_storable(info, o.save);
  else if (o.checkpoints && o.periodic_checkpoints()) check_storable(info, ckpt);
  std::unique_ptr<FileLock> lock;
  if constexpr (std::is_same_v<T, float>)
    if (o.checkpoints && o.periodic_checkpoints()) lock = std::make_unique<FileLock>(ckpt);
  out.model = std::make_unique<Model<T>>(info.config);
  Model<T>& model = *out.model;
  Rng rng(o.seed);
  init_weights(model, init_from_string(o.init), rng, o.forget_bias);
  Optimizer<T> optimizer(to.step.optimizer, model.weights().size());
  auto objective = make_objective(model);

  TrainerHooks<T> hooks;
  std::unique_ptr<LoadedCheckpoint> ck;
  const RunState<T>* resume = nullptr;
  long last_checkpoint = -1;   // the step of the last checkpoint written (-1: none)
  std::string last_model;      // what the model file holds, once written
  if constexpr (std::is_same_v<T, float>) {  // (float64 runs do not checkpoint: check() refuses --resume)
    if (!o.resume.empty()) {
      ck = std::make_unique<LoadedCheckpoint>(load_checkpoint(o.resume));
      check_same_run(ck->loaded.info, info, o.resume);
      if (ck->m.size() != optimizer.first_moment().size() || ck->v.size() != optimizer.second_moment().size())
        throw Error(o.resume + ": this checkpoint was written with another optimizer; resume with the same --optimizer");
      model.weights() = ck->loaded.model.weights();
      optimizer.first_moment() = ck->m;
      optimizer.second_moment() = ck->v;
      optimizer.set_steps(ck->optimizer_steps);
      check_resume_fits(ck->state, to, batcher, o.resume);
      resume = &ck->state;
      if (cb.on_note)
        cb.on_note(to.by_epoch ? "resuming " + o.resume + " at epoch " + std::to_string(ck->state.epoch) + ", step " +
                                     std::to_string(ck->state.position)
                               : "resuming " + o.resume + " after step " + std::to_string(ck->state.steps));
    }
    if (o.checkpoints)
      hooks.checkpoint = [&](const RunState<float>& s) {
        save_checkpoint(ckpt, model, info, optimizer, s);
        last_checkpoint = s.steps;
      };
  }
  hooks.on_step = cb.on_step;
  hooks.on_evaluation = [&](const Evaluation& e) {
    out.history.push_back(e);
    if (!o.save.empty() && e.best) {  // the best so far is never lost
      save_model(o.save, model, info);
      last_model = (to.by_epoch ? "epoch " + std::to_string(e.epoch) : "step " + std::to_string(e.step)) +
                   ", the best validated so far";
    }
    return !cb.on_evaluation || cb.on_evaluation(e);
  };

  const auto t0 = std::chrono::steady_clock::now();
  out.result = run_training<T>(*objective, batcher, optimizer, to, rng, evaluators(model), hooks, resume);
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // Numeric failure: nothing more is written; the files keep the last good state.
  if (out.result.diverged) throw Error(divergence_message(out.result, o, to, last_checkpoint, last_model));
  if (out.result.skipped_steps > 0 && cb.on_note)
    cb.on_note("skipped " + std::to_string(out.result.skipped_steps) +
               " steps whose loss or gradients were not finite (--on-nonfinite skip" +
               (out.result.first_skipped ? "; the first at step " + std::to_string(out.result.first_skipped) : "") +
               ")");
  if (out.result.interrupted) {
    if (hooks.checkpoint) out.checkpoint = ckpt;
  } else if (!o.save.empty()) {
    save_model(o.save, model, info);
  }
  return out;
}

// A float32 copy of a model's weights.
template <class T>
Model<float> to_float(const Model<T>& m) {
  Model<float> f(m.config());
  std::copy(m.weights().begin(), m.weights().end(), f.weights().begin());
  return f;
}

}  // namespace recur
