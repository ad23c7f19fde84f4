// recur/checkpoint.hpp — training checkpoints: everything a run needs to go on
// exactly where it stopped, so that an interrupted and resumed run ends with
// the same tensors, bit for bit, as a run never interrupted.
//
// A checkpoint is a safetensors file: the model's tensors and metadata (as in a
// model file), the optimizer's moments ("optimizer.m", "optimizer.v", flat, in
// the parameter buffer's layout), a language model's carried state
// ("state.h.l{k}", "state.c.l{k}"), a classifier's best validated weights so far
// ("best.weights", flat), and metadata keys "checkpoint.*" for the
// counters, the random generator's state and the running sums. It is written
// like every file recur writes: temporary name, fsync, rename.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "recur/io.hpp"
#include "recur/lm.hpp"
#include "recur/optim.hpp"
#include "recur/train.hpp"

namespace recur {

// A classifier's RunPoint (train.hpp) or a language model's LmPoint (lm.hpp).
struct TrainingState {
  RunPoint point;       // classify
  LmPoint<float> lm;    // lm
};

void save_checkpoint(const std::string& path, const Model<float>& model, const ModelInfo& info,
                     Optimizer<float>& optimizer, const TrainingState& state);

struct LoadedCheckpoint {
  LoadedModel loaded;
  Buffer<float> m, v;   // optimizer moments (empty when the optimizer has none)
  long optimizer_steps = 0;
  TrainingState state;
};
LoadedCheckpoint load_checkpoint(const std::string& path);

}  // namespace recur
