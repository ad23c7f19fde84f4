// The checkpoint reader: any bytes as `recur train --resume FILE`.
//   - what loads is consistent: optimizer moments and best weights the model's
//     size (or absent), counters in range, carried state (B, H) per layer
#include "recur/checkpoint.hpp"
#include "recur/error.hpp"
#include "targets.hpp"

namespace recur_fuzz {

int checkpoint(const std::uint8_t* data, std::size_t size) {
  try {
    const recur::LoadedCheckpoint ck =
        recur::checkpoint_from_safetensors(recur::decode_safetensors(bytes_of(data, size), "fuzz.ckpt"), "fuzz.ckpt");
    const std::size_t n = ck.loaded.model.weights().size();
    check(ck.m.empty() || ck.m.size() == n, "moments fit the model");
    check(ck.v.empty() || ck.v.size() == n, "moments fit the model");
    check(ck.state.best_weights.empty() || ck.state.best_weights.size() == n, "best weights fit the model");
    check(ck.state.epoch >= 1 && ck.state.position >= 0 && ck.state.steps >= 0 && ck.optimizer_steps >= 0,
          "counters in range");
    check(ck.state.lr_scale > 0, "a positive learning-rate scale");
    for (const auto& h : ck.state.h) check(h.cols() == ck.loaded.info.config.hidden, "carried state (B, H)");
  } catch (const recur::Error&) {
  }
  return 0;
}

}  // namespace recur_fuzz
