// recur/generator.hpp — generation: a language model writes one symbol at a
// time, each fed back in as the next input, its state carried along.
#pragma once

#include <functional>
#include <vector>

#include "recur/inference.hpp"
#include "recur/sample.hpp"

namespace recur {

class Generator {
 public:
  // Reads the prime's symbols (an empty prime starts from symbol 0); next()
  // then samples from what the model predicts after them.
  Generator(const Reader<float>& reader, const std::vector<int>& prime, const SampleOptions& o, Rng rng);
  int next();  // samples a symbol and feeds it in
  const Rng& rng() const { return rng_; }

 private:
  const Reader<float>& reader_;
  SampleOptions o_;
  Rng rng_;
  Reader<float>::State state_;
  Matrix<float> logits_;  // (1, V) after the last symbol read
  std::vector<double> scratch_;
};

// Runs the prime through the model, then samples `length` symbols, handing each
// to emit as it is made.
void generate(const Model<float>& model, const std::vector<int>& prime, long length, const SampleOptions& o,
              Rng& rng, const std::function<void(int)>& emit);

}  // namespace recur
