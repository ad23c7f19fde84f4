// What training a classifier and a language model share (src/session.hpp).
#include "session.hpp"

#include <algorithm>
#include <cstdio>

namespace recur {

StepOptions step_options(const TrainOptions& a) {
  StepOptions s;
  s.lr = a.lr;
  s.optimizer.kind = optimizer_from_string(a.optimizer);
  s.optimizer.momentum = a.momentum;
  s.optimizer.nesterov = a.nesterov;
  s.optimizer.weight_decay = a.weight_decay;
  s.schedule.kind = schedule_from_string(a.schedule);
  s.schedule.step_size = a.step_size;
  s.schedule.gamma = a.gamma;
  s.clip = a.clip;
  s.clip_norm = a.clip_norm;
  return s;
}

TrainerOptions trainer_options(const TrainOptions& o, bool by_epoch) {
  TrainerOptions to;
  to.by_epoch = by_epoch;
  to.length = by_epoch ? o.epochs : o.steps;
  to.every = by_epoch ? o.evaluation_every() : std::max(1L, o.eval_every);
  to.step = step_options(o);
  to.patience = o.patience;
  to.plateau_decay = o.plateau_decay;
  to.checkpoints = o.periodic_checkpoints();
  to.checkpoint_every = o.checkpoint_every;
  to.skip_nonfinite = o.on_nonfinite == "skip";
  to.average = o.average;
  return to;
}

void check_same_run(const ModelInfo& ck, const ModelInfo& now, const std::string& path) {
  const auto& a = ck.config;
  const auto& b = now.config;
  if (a.cell != b.cell || a.vocab != b.vocab || a.embed != b.embed || a.hidden != b.hidden || a.layers != b.layers ||
      a.bidirectional != b.bidirectional || a.classes != b.classes || a.bias_hh != b.bias_hh || a.pool != b.pool ||
      a.subwords.buckets != b.subwords.buckets || a.subwords.min != b.subwords.min || a.subwords.max != b.subwords.max ||
      ck.vocab.tokens() != now.vocab.tokens() || ck.labels != now.labels || ck.tokenizer != now.tokenizer)
    throw Error(path + ": this checkpoint is of a different model or data; resume with the flags and files "
                "of the run that wrote it");
}

Buffer<float> resume_weights(SafeTensors checkpoint, const ModelInfo& now, const std::string& path) {
  LoadedModel m = model_from_safetensors(std::move(checkpoint), path);
  check_same_run(m.info, now, path);
  return std::move(m.model.weights());
}

Parallel parallel_for(const TrainOptions& o, Communicator* processes) {
  Parallel p;
  if (processes && processes->size() > 1) {
    p.processes = processes;
    p.split.rank = processes->rank();
    p.split.ranks = processes->size();
  }
  p.split.accumulate = o.accumulate;
  return p;
}

void check_same_step(long then, int then_ranks, long now, const std::string& path) {
  if (then <= 0 || then == now) return;  // (checkpoints of older versions do not record it)
  throw Error(path + ": this checkpoint was written by a run of " + std::to_string(then) + " sequences per step (" +
              std::to_string(then_ranks) + " process" + (then_ranks == 1 ? "" : "es") +
              "), this run takes " + std::to_string(now) +
              ": resume with --batch x processes x --accumulate = " + std::to_string(then));
}

void check_resume_fits(const RunState<float>& s, const TrainerOptions& to, const Batcher& batcher,
                       const std::string& path) {
  if (to.by_epoch && std::size_t(s.position) >= batcher.steps_per_epoch())
    throw Error(path + ": the checkpoint stopped at step " + std::to_string(s.position) + " of an epoch; this data has " +
                std::to_string(batcher.steps_per_epoch()) +
                " steps an epoch (resume with the data and --batch of the run that wrote it)");
  for (const auto& h : s.h)
    if (h.rows() != batcher.step_size())
      throw Error(path + ": the checkpoint carries the state of " + std::to_string(h.rows()) +
                  " streams; this run has " + std::to_string(batcher.step_size()) +
                  " (--batch x processes x --accumulate; resume with the flags of the run that wrote it)");
}

std::string divergence_message(const TrainResult& r, const TrainOptions& o, const TrainerOptions& to,
                               long last_checkpoint_step, const std::string& last_model) {
  auto num = [](double x) {
    char b[32];
    std::snprintf(b, sizeof b, "%g", x);
    return std::string(b);
  };
  std::string m = "training diverged at step " + std::to_string(r.diverged_at);
  if (to.by_epoch) m += " (epoch " + std::to_string(r.epoch) + ", step " + std::to_string(r.position) + " of it)";
  m += ": " + r.diverged_why + ". Try a lower --lr (this run: " + num(o.lr) + ")";
  if (!(o.clip_norm > 0)) m += ", gradient norm clipping (--clip-norm 5)";
  if (o.on_nonfinite != "skip") m += ", or --on-nonfinite skip to skip such steps";
  m += ". ";
  std::vector<std::string> kept;
  if (last_checkpoint_step >= 0)
    kept.push_back("the last good checkpoint " + o.checkpoint_path() + " (after step " +
                   std::to_string(last_checkpoint_step) + "; continue with --resume)");
  else if (!o.resume.empty())
    kept.push_back("the checkpoint this run resumed from, " + o.resume);
  if (!last_model.empty()) kept.push_back("the model " + o.save + " (" + last_model + ")");
  if (kept.empty()) return m + "Nothing was saved from this run.";
  m += "Kept as they were: ";
  for (std::size_t i = 0; i < kept.size(); ++i) m += (i ? "; " : "") + kept[i];
  return m + ".";
}

}  // namespace recur
