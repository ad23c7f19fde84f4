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
#include <optional>
#include <string>
#include <type_traits>

#include "recur/checkpoint.hpp"
#include "recur/io.hpp"
#include "recur/options.hpp"
#include "recur/run.hpp"
#include "recur/seq2seq.hpp"
#include "recur/threads.hpp"
#include "recur/trainer.hpp"
#include "recur/translator.hpp"

namespace recur {

// What the session does with each kind of network (Model: classifiers and
// language models; Seq2Seq; Seq2SeqEnsemble: models trained together), by
// overloading:
//   build_network    the network its Info describes
//   init_network     its weights from the options
//   network_tensors  its tensors and metadata, as its model file holds them
//   save_network     its model file
//   resume_weights   a checkpoint's weights, after checking that the checkpoint
//                    is of the network these options and data build
template <class T>
void init_network(Model<T>& m, const TrainOptions& o, Rng& rng) {
  init_weights(m, init_from_string(o.init), rng, o.forget_bias);
}
template <class Net, class Info>
std::unique_ptr<Net> build_network(const Info& info) {
  return std::make_unique<Net>(info.config);
}
template <>
inline std::unique_ptr<Seq2SeqEnsemble<float>> build_network(const Seq2SeqInfo& info) {
  return std::make_unique<Seq2SeqEnsemble<float>>(info.config, info.members);
}
template <class T>
void init_network(Seq2Seq<T>& m, const TrainOptions&, Rng& rng) {
  init_seq2seq(m, rng);
}
template <class T>
void init_network(Seq2SeqEnsemble<T>& m, const TrainOptions&, Rng& rng) {
  init_seq2seq(m, rng);
}
inline SafeTensors network_tensors(const Model<float>& m, const ModelInfo& info) { return model_to_safetensors(m, info); }
SafeTensors network_tensors(const Seq2Seq<float>& m, const Seq2SeqInfo& info);
SafeTensors network_tensors(const Seq2SeqEnsemble<float>& m, const Seq2SeqInfo& info);
template <class T>
void save_network(const std::string& path, const Model<T>& m, const ModelInfo& info) {
  save_model(path, m, info);
}
inline void save_network(const std::string& path, const Seq2Seq<float>& m, const Seq2SeqInfo& info) {
  save_seq2seq(path, m, info);
}
void save_network(const std::string& path, const Seq2SeqEnsemble<float>& m, const Seq2SeqInfo& info);
Buffer<float> resume_weights(SafeTensors checkpoint, const ModelInfo& now, const std::string& path);
Buffer<float> resume_weights(SafeTensors checkpoint, const Seq2SeqInfo& now, const std::string& path);

// Optimizer, clipping and schedule from the options.
StepOptions step_options(const TrainOptions& o);
// The trainer's options from the user's: by epoch (--epochs, evaluated every
// --log-every epochs) or by step (--steps, every --eval-every steps).
TrainerOptions trainer_options(const TrainOptions& o, bool by_epoch);

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

// A run on this process alone or under `processes` (mpirun): train(processes,
// callbacks) once. With --threads N (and no processes): on N threads of this
// process as the N ranks of a data-parallel run (threads.hpp) — train(rank's
// communicator, callbacks) on every rank, rank 0 on this thread with the
// callbacks (its stop votes stop every rank) and the others with none —, BLAS
// one thread per rank meanwhile; rank 0's result is returned.
template <class Result, class Train>
Result on_threads(const TrainOptions& o, Communicator* processes, const TrainCallbacks& cb, Train train) {
  if (o.threads <= 1) return train(processes, cb);
  if (processes && processes->size() > 1) {
    if (o.threads_by_preset) return train(processes, cb);  // the preset's threads: the processes are the ranks
    throw Error("--threads runs the ranks of one process; under mpirun, leave it out");
  }
  ThreadTeam team(o.threads);
  const SerialBlas serial;
  std::optional<Result> root;
  const TrainCallbacks none;
  team.run([&](Communicator& comm) {
    if (comm.rank() == 0)
      root.emplace(train(&comm, cb));
    else
      train(&comm, none);
  });
  return std::move(*root);
}

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
// held-out evaluations; `prepare(model)`, when given, changes the initialized
// weights (pretrained word vectors). Net is Model<T> or Seq2Seq<T>, built from info.config.
// Throws unless a resumed run's position and carried state fit this run's
// data and batch (a checkpoint of the same model on other data or flags).
void check_resume_fits(const RunState<float>& s, const TrainerOptions& to, const Batcher& batcher,
                       const std::string& path);

// The one-line error of a run stopped by a numeric failure: the step, the
// likely remedies, and which files (the last good ones) were left as they are.
std::string divergence_message(const TrainResult& r, const TrainOptions& o, const TrainerOptions& to,
                               long last_checkpoint_step, const std::string& last_model);

template <class Net, class Info, class MakeObjective, class MakeEvaluators>
SessionResult<Net> run_session(const Info& info, const TrainOptions& o, const TrainerOptions& to, Batcher& batcher,
                               MakeObjective make_objective, MakeEvaluators evaluators, const TrainCallbacks& cb,
                               const Parallel& parallel, const std::function<void(Net&)>& prepare = {}) {
  using T = std::decay_t<decltype(std::declval<Net&>().weights()[0])>;
  SessionResult<Net> out;
  // A run that could never be saved does not start (a vocabulary too large for
  // the file format); nor one whose checkpoint another run is writing (the
  // process that writes files holds the lock).
  const std::string ckpt = o.checkpoint_path();
  if (!o.save.empty()) check_storable(info, o.save);
  else if (o.checkpoints && o.periodic_checkpoints()) check_storable(info, ckpt);
  std::unique_ptr<FileLock> lock;
  if constexpr (std::is_same_v<T, float>)
    if (o.checkpoints && o.periodic_checkpoints() && parallel.root()) lock = std::make_unique<FileLock>(ckpt);
  out.model = build_network<Net>(info);
  Net& model = *out.model;
  Rng rng(o.seed);
  init_network(model, o, rng);
  if (prepare) prepare(model);  // (pretrained vectors; a resumed run's weights replace these below)
  Optimizer<T> optimizer(to.step.optimizer, model.weights().size());
  auto objective = make_objective(model);

  TrainerHooks<T> hooks;
  hooks.processes = parallel.processes;
  std::unique_ptr<CheckpointFile> ck;
  const RunState<T>* resume = nullptr;
  long last_checkpoint = -1;   // steps done at the last checkpoint written (-1: none)
  std::string last_model;      // what the model file holds, once written
  if constexpr (std::is_same_v<T, float>) {  // (float64 runs do not checkpoint: check() refuses --resume)
    if (!o.resume.empty()) {
      ck = std::make_unique<CheckpointFile>(read_checkpoint(o.resume));
      Buffer<float> weights = resume_weights(std::move(ck->model), info, o.resume);
      ck->check_fits(weights.size(), o.resume);
      if constexpr (std::is_same_v<Info, ModelInfo>)
        check_carried_state(ck->state, info.config, o.resume);
      else if (!ck->state.h.empty())
        throw Error(o.resume + ": the carried state in the checkpoint does not match the model");
      check_same_step(ck->state.step_size, ck->state.ranks, batcher.step_size(), o.resume);
      if (ck->m.size() != optimizer.first_moment().size() || ck->v.size() != optimizer.second_moment().size())
        throw Error(o.resume + ": this checkpoint was written with another optimizer; resume with the same --optimizer");
      model.weights() = std::move(weights);
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
    if (o.checkpoints)  // (on every rank: gathering the carried state is collective)
      hooks.checkpoint = [&](const RunState<float>& s) {
        if (parallel.root()) save_checkpoint(ckpt, network_tensors(model, info), optimizer, s);
        last_checkpoint = s.steps;
      };
  }
  hooks.on_step = cb.on_step;
  hooks.on_evaluation = [&](const Evaluation& e) {
    out.history.push_back(e);
    if (!o.save.empty() && e.best && parallel.root()) {  // the best so far is never lost
      save_network(o.save, model, info);
      last_model = (to.by_epoch ? "epoch " + std::to_string(e.epoch) : "step " + std::to_string(e.step)) +
                   ", the best validated so far";
    }
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
  // Numeric failure: nothing more is written; the files keep the last good state.
  if (out.result.diverged) throw Error(divergence_message(out.result, o, to, last_checkpoint, last_model));
  if (out.result.skipped_steps > 0 && cb.on_note)
    cb.on_note("skipped " + std::to_string(out.result.skipped_steps) +
               " steps whose loss or gradients were not finite (--on-nonfinite skip" +
               (out.result.first_skipped ? "; the first at step " + std::to_string(out.result.first_skipped) : "") +
               ")");
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
