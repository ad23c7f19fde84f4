// recur/safetensors.hpp — the contents of a safetensors file as plain data: F32
// tensors by name (row-major, PyTorch's layout) and string metadata.
//
// safetensors: 8-byte little-endian header length N, N bytes of JSON
// {"__metadata__": {...}, "<name>": {"dtype": "F32", "shape": [...],
// "data_offsets": [begin, end]}, ...}, then the raw little-endian data.
// Files are written to a temporary name in the same directory, fsynced and
// renamed, so a crash mid-write never leaves a half-written model behind.
//
// Reading trusts nothing in a file: the header is checked whole (JSON, F32,
// shapes, offsets that tile the data section with no gap or overlap, each
// tensor within max_tensor_bytes()) and its claims against the file's size
// before any tensor is allocated.
//
// No engine types: the application API hands a model's file contents to other
// front doors in this form (Classifier::to_safetensors, the Python state_dict).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>
#include <string_view>
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

// safetensors' own limit on the JSON header: its reference implementation
// refuses a larger one, so recur neither writes nor reads one. A model's
// vocabulary and labels live in the header: this is what bounds them.
constexpr std::uint64_t kMaxSafetensorsHeader = 100000000;

// One tensor as the header describes it: data bytes [begin, end) of the data section.
struct TensorEntry {
  std::string name;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0, end = 0;
};
struct SafeTensorsHeader {
  std::map<std::string, std::string> metadata;
  std::vector<TensorEntry> tensors;  // in data order: each begins where the one before ends
  std::uint64_t data_bytes = 0;      // the data section's size the header implies
};
// The JSON header of a safetensors file, checked as described above; throws
// recur::Error "<name>: not a valid safetensors file: ...".
SafeTensorsHeader parse_safetensors_header(std::string_view json, const std::string& name);

// Throws recur::Error when the header of `encode_safetensors(st)` would pass
// kMaxSafetensorsHeader (a vocabulary too large for the format).
std::string encode_safetensors(const SafeTensors& st);
// `name` is used in error messages ("model.safetensors: header ...").
SafeTensors decode_safetensors(const std::string& bytes, const std::string& name);
void write_safetensors(const std::string& path, const SafeTensors& st);
SafeTensors read_safetensors(const std::string& path);
// From a stream (what the two above use): the 8-byte length and the header are
// read and checked first; then, when `size` (the stream's length; kUnknownSize
// for a pipe) is known, the data the header claims is checked against it
// before any tensor is allocated; without it, tensors grow as their bytes
// arrive, so a short stream is an error, never a large allocation.
constexpr std::uint64_t kUnknownSize = ~std::uint64_t(0);
SafeTensors read_safetensors(std::istream& in, const std::string& name, std::uint64_t size);
// Only the metadata of a safetensors file (the header is read, not the tensors).
std::map<std::string, std::string> read_safetensors_metadata(const std::string& path);
std::map<std::string, std::string> read_safetensors_metadata(std::istream& in, const std::string& name,
                                                             std::uint64_t size);

}  // namespace recur
