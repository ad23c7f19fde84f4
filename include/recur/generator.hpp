// recur/generator.hpp — generation: a language model writes one symbol at a
// time, each fed back in as the next input, its state carried along.
#pragma once

#include <functional>
#include <vector>

#include "recur/model.hpp"
#include "recur/sample.hpp"

namespace recur {

class Generator {
 public:
  // Runs the prime's symbols through the model (an empty prime starts from
  // symbol 0); next() then samples from what the model predicts after them.
  Generator(const Model<float>& model, const std::vector<int>& prime, const SampleOptions& o, Rng rng);
  int next();  // samples a symbol and feeds it in
  const Rng& rng() const { return rng_; }

 private:
  SerialBlas serial_;  // one sequence: products too small to share between threads
  const Model<float>& model_;
  SampleOptions o_;
  Rng rng_;
  Model<float>::Workspace ws_;
  Batch step_;
  std::vector<double> scratch_;
};

// Runs the prime through the model, then samples `length` symbols, handing each
// to emit as it is made.
void generate(const Model<float>& model, const std::vector<int>& prime, long length, const SampleOptions& o,
              Rng& rng, const std::function<void(int)>& emit);

}  // namespace recur
