// recur/safetensors.hpp — the contents of a safetensors file as plain data: F32
// tensors by name (row-major, PyTorch's layout) and string metadata.
//
// safetensors: 8-byte little-endian header length N, N bytes of JSON
// {"__metadata__": {...}, "<name>": {"dtype": "F32", "shape": [...],
// "data_offsets": [begin, end]}, ...}, then the raw little-endian data.
// Files are written to a temporary name in the same directory, fsynced and
// renamed, so a crash mid-write never leaves a half-written model behind.
//
// No engine types: the application API hands a model's file contents to other
// front doors in this form (Classifier::to_safetensors, the Python state_dict).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace recur {

struct TensorF32 {
  std::vector<std::int64_t> shape;
  std::vector<float> data;  // row-major
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

}  // namespace recur
