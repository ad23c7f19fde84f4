// libFuzzer's entry point for one target, chosen at compile time
// (-DRECUR_FUZZ_TARGET=safetensors): tests/fuzz/CMakeLists.txt builds one
// executable per target this way.
#include "targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return recur_fuzz::RECUR_FUZZ_TARGET(data, size);
}
