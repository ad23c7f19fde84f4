// recur/sample.hpp — choosing the next symbol from a language model's output.
#pragma once

#include <vector>

#include "recur/rng.hpp"

namespace recur {

// Next-symbol sampling: temperature (0 = the most likely symbol), then top-k
// (0 = all) and top-p (1 = all) filtering of the distribution.
struct SampleOptions {
  double temperature = 1.0;
  int top_k = 0;
  double top_p = 1.0;
};

// Checks the options; throws recur::Error naming the command line's flag.
void check(const SampleOptions& o);

// One draw from softmax(logits / temperature), filtered; `scratch` is reused
// between calls.
int sample_next(const float* logits, int V, const SampleOptions& o, Rng& rng, std::vector<double>& scratch);

}  // namespace recur
