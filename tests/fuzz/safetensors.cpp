// The model reader: any bytes as a model file. read_safetensors (through
// decode_safetensors, the same stream reader as a file) then
// model_from_safetensors, as `recur predict --model` loads a file.
//   - what the reader accepts is self-consistent (every tensor's data matches its shape)
//   - read as a stream of unknown length (a pipe), the answer is the same
//   - a model that loads runs (a forward pass) and saves to the same tensors
#include <sstream>

#include "recur/error.hpp"
#include "recur/io.hpp"
#include "targets.hpp"

namespace recur_fuzz {

int safetensors(const std::uint8_t* data, std::size_t size) {
  const std::string bytes = bytes_of(data, size);
  recur::SafeTensors st;
  bool ok = true;
  try {
    st = recur::decode_safetensors(bytes, "fuzz.safetensors");
  } catch (const recur::Error&) {
    ok = false;
  }
  bool streamed = true;
  try {
    std::istringstream pipe(bytes);
    const recur::SafeTensors again = recur::read_safetensors(pipe, "<pipe>", recur::kUnknownSize);
    if (ok) {
      check(again.tensors.size() == st.tensors.size() && again.metadata == st.metadata, "the stream reads the same");
      for (const auto& [name, t] : again.tensors)
        check(st.tensors.count(name) && st.tensors.at(name).data.size() == t.data.size(), "the stream reads the same");
    }
  } catch (const recur::Error&) {
    streamed = false;
  }
  check(ok == streamed, "a file and a stream of the same bytes are accepted alike");
  if (!ok) return 0;
  for (const auto& [name, t] : st.tensors) {
    std::uint64_t n = 1;
    for (const auto d : t.shape) n *= std::uint64_t(d);
    check(n == t.data.size(), "a tensor's data matches its shape");
  }
  try {
    recur::LoadedModel m = recur::model_from_safetensors(st, "fuzz.safetensors");
    const recur::ModelConfig& c = m.info.config;
    recur::Model<float>::Workspace ws;
    m.model.forward(recur::make_batch({{0, c.vocab - 1, -1}}, {}, {0}), ws);
    check(ws.probs.cols() == c.classes, "the forward pass gives a probability per class");
    const recur::SafeTensors back = recur::model_to_safetensors(m.model, m.info);
    const recur::LoadedModel again = recur::model_from_safetensors(back, "again");
    check(again.model.weights() == m.model.weights(), "a loaded model saves to the same weights");
  } catch (const recur::Error&) {
  }
  return 0;
}

}  // namespace recur_fuzz
