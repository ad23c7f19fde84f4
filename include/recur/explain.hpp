// recur/explain.hpp — what a network does while it reads a text, for people
// who want to see it: every hidden state, the prediction after each word, the
// words that mattered, the symbols a language model expects next. Plain
// vectors, no engine types (the Python package and the server hand them on).
#pragma once

#include <string>
#include <vector>

namespace recur {

// The states of every layer and direction after each token.
struct HiddenStates {
  int steps = 0;   // T tokens
  int units = 0;   // layers x directions, in the order layer 0 forward, layer 0 reverse, layer 1 ...
  int hidden = 0;  // H
  int gates = 0;   // G: 4 LSTM (i, f, g, o), 3 GRU (r, z, n), 1 vanilla RNN (no gate values kept)
  std::vector<std::string> unit_names;  // "layer 0", or "layer 0 forward" / "layer 0 reverse"
  std::vector<float> h;       // (T, units, H), row-major: h[(t * units + u) * H + i]
  std::vector<float> c;       // LSTM cell states, as h; empty otherwise
  std::vector<float> gate_values;  // LSTM/GRU gate activations (T, units, G*H); empty otherwise
  // A reverse direction reads right to left: its state at token t has read tokens t .. T-1.
};

struct ClassifierExplanation {
  std::vector<std::string> tokens;  // as the model reads them (normalized)
  std::vector<bool> known;          // whether the vocabulary has the token
  int label = 0;                    // the predicted label's index
  std::vector<double> probabilities;  // of the whole text, per label
  // After reading tokens 0..t only (the prediction a reader that stopped there
  // would make), per label: (T, C).
  std::vector<std::vector<double>> prefix_probabilities;
  // How much the predicted label's probability drops when token t is left out
  // (negative: the text reads as that label more without it).
  std::vector<double> importance;
  HiddenStates states;
};

struct NextSymbol {
  std::string symbol;
  double probability = 0;
};

struct LmExplanation {
  std::vector<std::string> tokens;  // as the model reads them
  std::vector<bool> known;
  std::vector<std::vector<NextSymbol>> next;  // after each token: the most likely next symbols, most likely first
  HiddenStates states;
};

}  // namespace recur
