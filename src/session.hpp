// session.hpp (private to the library) — what training a classifier, a
// language model and a sequence-to-sequence model share around the trainer:
// the network built and initialised
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
#include "recur/seq2seq.hpp"
#include "recur/trainer.hpp"
#include "recur/translator.hpp"

namespace recur {

// What the session does with each kind of network (Model: classifiers and
// language models; Seq2Seq), by overloading:
//   init_network     its weights from the options
//   network_tensors  its tensors and metadata, as its model file holds them
//   save_network     its model file
//   resume_weights   a checkpoint's weights, after checking that the checkpoint
//                    is of the network these options and data build
template <class T>
void init_network(Model<T>& m, const TrainOptions& o, Rng& rng) {
  init_weights(m, init_from_string(o.init), rng, o.forget_bias);
}
template <class T>
void init_network(Seq2Seq<T>& m, const TrainOptions&, Rng& rng) {
  init_seq2seq(m, rng);
}
inline SafeTensors network_tensors(const Model<float>& m, const ModelInfo& info) { return model_to_safetensors(m, info); }
SafeTensors network_tensors(const Seq2Seq<float>& m, const Seq2SeqInfo& info);
template <class T>
void save_network(const std::string& path, const Model<T>& m, const ModelInfo& info) {
  save_model(path, m, info);
}
inline void save_network(const std::string& path, const Seq2Seq<float>& m, const Seq2SeqInfo& info) {
  save_seq2seq(path, m, info);
}
Buffer<float> resume_weights(SafeTensors checkpoint, const ModelInfo& now, const std::string& path);
Buffer<float> resume_weights(SafeTensors checkpoint, const Seq2SeqInfo& now, const std::string& path);

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

template <class Net>
struct SessionResult {
  std::unique_ptr<Net> model;       // as the run ended (with validation and not interrupted: the best weights)
  TrainResult result;
  std::vector<Evaluation> history;
  double seconds = 0;
  std::string checkpoint;           // written when interrupted
};

// `make_objective(model)` returns the task's Objective; `evaluators(model)` its
// held-out evaluations. Net is Model<T> or Seq2Seq<T>, built from info.config.
template <class Net, class Info, class MakeObjective, class MakeEvaluators>
SessionResult<Net> run_session(const Info& info, const TrainOptions& o, const TrainerOptions& to, Batcher& batcher,
                               MakeObjective make_objective, MakeEvaluators evaluators, const TrainCallbacks& cb,
                               const Parallel& parallel) {
  using T = std::decay_t<decltype(std::declval<Net&>().weights()[0])>;
  SessionResult<Net> out;
  out.model = std::make_unique<Net>(info.config);
  Net& model = *out.model;
  Rng rng(o.seed);
  init_network(model, o, rng);
  Optimizer<T> optimizer(to.step.optimizer, model.weights().size());
  auto objective = make_objective(model);

  TrainerHooks<T> hooks;
  hooks.processes = parallel.processes;
  std::unique_ptr<CheckpointFile> ck;
  const RunState<T>* resume = nullptr;
  const std::string ckpt = o.checkpoint_path();
  long last_checkpoint = -1;  // steps done at the last checkpoint written
  if constexpr (std::is_same_v<T, float>) {  // (float64 runs do not checkpoint: check() refuses --resume)
    if (!o.resume.empty()) {
      ck = std::make_unique<CheckpointFile>(read_checkpoint(o.resume));
      Buffer<float> weights = resume_weights(std::move(ck->model), info, o.resume);
      ck->check_fits(weights.size(), o.resume);
      check_same_step(ck->state.step_size, ck->state.ranks, batcher.step_size(), o.resume);
      if (ck->m.size() != optimizer.first_moment().size() || ck->v.size() != optimizer.second_moment().size())
        throw Error(o.resume + ": this checkpoint was written with another optimizer; resume with the same --optimizer");
      model.weights() = std::move(weights);
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
        if (parallel.root()) save_checkpoint(ckpt, network_tensors(model, info), optimizer, s);
        last_checkpoint = s.steps;
      };
  }
  hooks.on_step = cb.on_step;
  hooks.on_evaluation = [&](const Evaluation& e) {
    out.history.push_back(e);
    if (!o.save.empty() && e.best && parallel.root()) save_network(o.save, model, info);  // the best so far is never lost
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
    save_network(o.save, model, info);
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
