// recur/checkpoint.hpp — training checkpoints: everything a run needs to go on
// exactly where it stopped, so that an interrupted and resumed run ends with
// the same tensors, bit for bit, as a run never interrupted.
//
// A checkpoint is a safetensors file: the model's tensors and metadata (as in a
// model file), the optimizer's moments ("optimizer.m", "optimizer.v", flat, in
// the parameter buffer's layout), a language model's carried state
// ("state.h.l{k}", "state.c.l{k}"), the best validated weights so far
// ("best.weights", flat), and metadata keys "checkpoint.*" for the counters,
// the random generator's state, the running sums and the sequences per step
// (docs/model-format.md). It
// is written like every file recur writes: temporary name, fsync, rename.
#pragma once

#include <string>

#include "recur/io.hpp"
#include "recur/optim.hpp"
#include "recur/trainer.hpp"

namespace recur {

void save_checkpoint(const std::string& path, const Model<float>& model, const ModelInfo& info,
                     const Optimizer<float>& optimizer, const RunState<float>& state);
// Any model's: `model` holds its tensors and metadata as its model file would.
void save_checkpoint(const std::string& path, SafeTensors model, const Optimizer<float>& optimizer,
                     const RunState<float>& state);

// A checkpoint read, the model's part as its model file would hold it.
struct CheckpointFile {
  SafeTensors model;
  Buffer<float> m, v;   // optimizer moments (empty when the optimizer has none)
  long optimizer_steps = 0;
  RunState<float> state;
  // Throws unless the moments and best weights fit a parameter buffer of n.
  void check_fits(std::size_t n, const std::string& path) const;
};
CheckpointFile read_checkpoint(const std::string& path);
// The same, from a file already read (`path` for messages).
CheckpointFile checkpoint_file_from_safetensors(SafeTensors st, const std::string& path);
// Throws unless a checkpoint's carried state (a language model's streams) fits
// a model of configuration c.
void check_carried_state(const RunState<float>& s, const ModelConfig& c, const std::string& path);

// A classifier's or language model's checkpoint.
struct LoadedCheckpoint {
  LoadedModel loaded;
  Buffer<float> m, v;
  long optimizer_steps = 0;
  RunState<float> state;
};
// Throws recur::Error naming `path` when the file is not a checkpoint recur
// wrote, or anything in it is out of place (counters out of range, moments or
// carried state that do not fit the model).
LoadedCheckpoint load_checkpoint(const std::string& path);
// The same, from a file already read (`path` for messages).
LoadedCheckpoint checkpoint_from_safetensors(SafeTensors st, const std::string& path);

}  // namespace recur
