// Fuzz targets: one per parser that reads outside input. Each takes any bytes,
// must never crash, hang, leak or allocate past what the input justifies, and
// checks what its parser promises (round trips, invariants) with check().
// A recur::Error (a clear message about bad input) is the expected way to say no.
//
// Built two ways (tests/fuzz/CMakeLists.txt):
//   with clang and libFuzzer   one executable per target (libfuzzer_main.cpp),
//                              run by scripts/fuzz.sh (make fuzz, make fuzz-smoke)
//   into the test suite        fuzz_corpus_test replays every file of
//                              tests/fuzz/corpus/<target>/ (seeds and the inputs
//                              of every crash found and fixed) through each target
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#define RECUR_FUZZ_TARGETS(X) \
  X(safetensors)              \
  X(checkpoint)               \
  X(model_metadata)           \
  X(tsv)                      \
  X(csv)                      \
  X(jsonl)                    \
  X(utf8)                     \
  X(tokenizers)               \
  X(normalize)

namespace recur_fuzz {

#define RECUR_DECLARE(name) int name(const std::uint8_t* data, std::size_t size);
RECUR_FUZZ_TARGETS(RECUR_DECLARE)
#undef RECUR_DECLARE

// A broken promise: reported and aborted, so that libFuzzer keeps the input.
inline void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "recur fuzz: broken invariant: %s\n", what);
  std::abort();
}

inline std::string bytes_of(const std::uint8_t* data, std::size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

}  // namespace recur_fuzz
