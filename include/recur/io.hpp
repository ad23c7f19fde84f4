// recur/io.hpp — model files: a model and what it reads text with, to and from
// safetensors (recur/safetensors.hpp: the file format, as plain data).
#pragma once

#include <string>

#include "recur/config.hpp"
#include "recur/data.hpp"
#include "recur/model.hpp"
#include "recur/safetensors.hpp"

namespace recur {

// Saves as F32 (the contract), whatever T the model was trained in.
template <class T>
void save_model(const std::string& path, const Model<T>& model, const ModelInfo& info);

struct LoadedModel {
  ModelInfo info;
  Model<float> model;
};
LoadedModel load_model(const std::string& path);

// The same, to and from memory (checkpoints add their own tensors around a model's).
template <class T>
SafeTensors model_to_safetensors(const Model<T>& model, const ModelInfo& info);
LoadedModel model_from_safetensors(SafeTensors st, const std::string& name);

// Refuses (recur::Error naming `path`) a model whose vocabulary and labels would
// not fit in a model file's header; called before training, so a run that
// could never be saved does not start.
void check_storable(const ModelInfo& info, const std::string& path);

// An exclusive lock on `target` for as long as the object lives: the advisory
// lock (flock) of the file `target + ".lock"`, which holds the owner's pid. A
// second holder is refused with a recur::Error naming `target` and that pid.
// The kernel drops the lock when its process dies, so a crashed run's lock
// file never blocks the next run; the file is removed on release.
class FileLock {
 public:
  explicit FileLock(const std::string& target);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace recur
