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

}  // namespace recur
