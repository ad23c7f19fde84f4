// The model metadata reader: any bytes as a model file's JSON header. The
// header-only reader (read_safetensors_metadata: what `recur predict` and
// `recur eval` read first to tell a classifier from a language model) and
// the configuration checks of model_from_safetensors, which must refuse any
// size a header claims without allocating it (the fuzzer's malloc limit
// catches an allocation that follows a claim).
#include <sstream>

#include "recur/error.hpp"
#include "recur/io.hpp"
#include "targets.hpp"

namespace recur_fuzz {

int model_metadata(const std::uint8_t* data, std::size_t size) {
  const std::string header = bytes_of(data, size);
  std::string file;
  for (int i = 0; i < 8; ++i) file.push_back(char((std::uint64_t(size) >> (8 * i)) & 0xFF));
  file += header;
  try {
    std::istringstream in(file);
    const auto meta = recur::read_safetensors_metadata(in, "fuzz.safetensors", file.size());
    const recur::SafeTensorsHeader h = recur::parse_safetensors_header(header, "fuzz.safetensors");
    check(meta == h.metadata, "both readers read the same metadata");
    std::uint64_t at = 0;
    for (const recur::TensorEntry& t : h.tensors) {
      check(t.begin == at && t.end >= t.begin, "tensors tile the data section");
      at = t.end;
    }
    check(at == h.data_bytes, "the data section's size");
    recur::SafeTensors st;
    st.metadata = meta;
    recur::model_from_safetensors(st, "fuzz.safetensors");  // no tensors: fails after the metadata checks
  } catch (const recur::Error&) {
  }
  return 0;
}

}  // namespace recur_fuzz
