// What training a classifier and a language model share (src/session.hpp).
#include "session.hpp"

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

void check_same_run(const ModelInfo& ck, const ModelInfo& now, const std::string& path) {
  const auto& a = ck.config;
  const auto& b = now.config;
  if (a.cell != b.cell || a.vocab != b.vocab || a.embed != b.embed || a.hidden != b.hidden || a.layers != b.layers ||
      a.bidirectional != b.bidirectional || a.classes != b.classes || a.bias_hh != b.bias_hh ||
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

}  // namespace recur
