// recur/io.hpp — safetensors files and model files.
//
// safetensors: 8-byte little-endian header length N, N bytes of JSON
// {"__metadata__": {...}, "<name>": {"dtype": "F32", "shape": [...],
// "data_offsets": [begin, end]}, ...}, then the raw little-endian data.
// Files are written to a temporary name in the same directory, fsynced and
// renamed, so a crash mid-write never leaves a half-written model behind.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "recur/config.hpp"
#include "recur/data.hpp"
#include "recur/model.hpp"

namespace recur {

struct TensorF32 {
  std::vector<std::int64_t> shape;
  std::vector<float> data;
};

struct SafeTensors {
  std::map<std::string, TensorF32> tensors;
  std::map<std::string, std::string> metadata;
};

std::string encode_safetensors(const SafeTensors& st);
// `name` is used in error messages ("model.safetensors: header ...").
SafeTensors decode_safetensors(const std::string& bytes, const std::string& name);
void write_safetensors(const std::string& path, const SafeTensors& st);
SafeTensors read_safetensors(const std::string& path);
// Only the metadata of a safetensors file (the header is read, not the tensors).
std::map<std::string, std::string> read_safetensors_metadata(const std::string& path);

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
