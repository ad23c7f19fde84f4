// session.hpp (private to the library) — what training a classifier and a
// language model share around the trainer: the model built and initialised
// from the options, the optimizer, --resume, --save at every new best and at
// the end, checkpoints, the callbacks, the clock. Each task supplies its data
// as a Batcher, its Objective and its held-out evaluations.
//
// In a data-parallel run every process runs the session with the same options
// and data; rank 0 alone writes the model and the checkpoints.
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

// The processes of a data-parallel run (null: this one alone) and this
// process's share of every batch (with --accumulate parts).
struct Parallel {
  Communicator* processes = nullptr;
  BatchSplit split;
  bool root() const { return !processes || processes->rank() == 0; }  // writes files
};
Parallel parallel_for(const TrainOptions& o, Communicator* processes);

// Throws unless a checkpoint written with `then` sequences per step can go on
// with `now` (any number of processes, any --batch and --accumulate whose
// product is the same: the batches and the carried state are the same).
void check_same_step(long then, int then_ranks, long now, const std::string& path);

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
template <class T, class MakeObjective, class MakeEvaluators>
SessionResult<T> run_session(const ModelInfo& info, const TrainOptions& o, const TrainerOptions& to, Batcher& batcher,
                             MakeObjective make_objective, MakeEvaluators evaluators, const TrainCallbacks& cb,
                             const Parallel& parallel) {
  SessionResult<T> out;
  out.model = std::make_unique<Model<T>>(info.config);
  Model<T>& model = *out.model;
  Rng rng(o.seed);
  init_weights(model, init_from_string(o.init), rng, o.forget_bias);
  Optimizer<T> optimizer(to.step.optimizer, model.weights().size());
  auto objective = make_objective(model);

  TrainerHooks<T> hooks;
  hooks.processes = parallel.processes;
  std::unique_ptr<LoadedCheckpoint> ck;
  const RunState<T>* resume = nullptr;
  const std::string ckpt = o.checkpoint_path();
  long last_checkpoint = -1;  // steps done at the last checkpoint written
  if constexpr (std::is_same_v<T, float>) {  // (float64 runs do not checkpoint: check() refuses --resume)
    if (!o.resume.empty()) {
      ck = std::make_unique<LoadedCheckpoint>(load_checkpoint(o.resume));
      check_same_run(ck->loaded.info, info, o.resume);
      check_same_step(ck->state.step_size, ck->state.ranks, batcher.step_size(), o.resume);
      if (ck->m.size() != optimizer.first_moment().size() || ck->v.size() != optimizer.second_moment().size())
        throw Error(o.resume + ": this checkpoint was written with another optimizer; resume with the same --optimizer");
      model.weights() = ck->loaded.model.weights();
      optimizer.first_moment() = ck->m;
      optimizer.second_moment() = ck->v;
      optimizer.set_steps(ck->optimizer_steps);
      resume = &ck->state;
      if (cb.on_note)
        cb.on_note(to.by_epoch ? "resuming " + o.resume + " at epoch " + std::to_string(ck->state.epoch) + ", step " +
                                     std::to_string(ck->state.position)
                               : "resuming " + o.resume + " after step " + std::to_string(ck->state.steps));
    }
    if (o.checkpoints)  // (on every rank: gathering the carried state is collective)
      hooks.checkpoint = [&](const RunState<float>& s) {
        if (parallel.root()) save_checkpoint(ckpt, model, info, optimizer, s);
        last_checkpoint = s.steps;
      };
  }
  hooks.on_step = cb.on_step;
  hooks.on_evaluation = [&](const Evaluation& e) {
    out.history.push_back(e);
    if (!o.save.empty() && e.best && parallel.root()) save_model(o.save, model, info);  // the best so far is never lost
    return !cb.on_evaluation || cb.on_evaluation(e);
  };

  const auto t0 = std::chrono::steady_clock::now();
  try {
    out.result = run_training<T>(*objective, batcher, optimizer, to, rng, evaluators(model), hooks, resume);
  } catch (const DistributedError& e) {  // what to do next, with the message
    std::string next;
    if (last_checkpoint >= 0)
      next = "; the last checkpoint, " + ckpt + ", holds step " + std::to_string(last_checkpoint) +
             ": continue with --resume " + ckpt;
    else if (resume)
      next = "; no checkpoint since " + o.resume + ": continue with --resume " + o.resume;
    else
      next = "; no checkpoint was written (--save or --checkpoint, with --checkpoint-every N, write them)";
    throw DistributedError(e.what() + next);
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (out.result.interrupted) {
    if (hooks.checkpoint) out.checkpoint = ckpt;
  } else if (!o.save.empty() && parallel.root()) {
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
