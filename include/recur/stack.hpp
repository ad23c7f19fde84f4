// recur/stack.hpp — the recurrent stack: token ids in, one-hot or an embedding,
// then L stacked layers of one or two directions. It is the part of every
// model between the ids and what reads the states: a classifier's or language
// model's head (model.hpp), a sequence-to-sequence model's attention and
// decoder (seq2seq.hpp).
//
//   x_t        one-hot over V ids (embed = 0) or embedding.weight[id_t] (E), or with
//              subwords the mean of the rows of id_t's bag (subwords.hpp); when training,
//              word dropout reads a token as the unknown word with probability p_w, and
//              embedding dropout masks x_t's elements
//   layer k:   h^k_t = cell(W_ih^k x^k_t + b_ih^k, W_hh^k h^k_{t-1} + b_hh^k),  x^0 = x,
//              x^k = [h^{k-1} forward, h^{k-1} reverse] (dropout masked when training)
//
// One-hot input: W_ih x_t for a one-hot x_t with its 1 at index id is exactly
// column id of W_ih, so the first layer looks the column up instead of
// multiplying, and its gradient touches only that column. An unknown id (-1)
// is the all-zero vector: no column, no gradient.
//
// The stack's tensors live in its owner's parameter buffer, named as PyTorch
// names them under a prefix: <prefix>embedding.weight, <prefix>rnn.weight_ih_l0, ...
// Bodies in src/stack.cpp, instantiated for float and double.
#pragma once

#include <string>
#include <vector>

#include "recur/cells/recurrent.hpp"
#include "recur/config.hpp"
#include "recur/subwords.hpp"
#include "recur/tensor.hpp"

namespace recur {

// A stack's working memory for one batch, kept by the caller and reused.
template <class T>
struct StackWorkspace {
  // Initial states per layer (B, H), forward direction, used when set (a
  // language model's carried state); cleared means zero. After forward,
  // final_h / final_c hold each layer's forward state after the last step.
  std::vector<Matrix<T>> h0, c0, final_h, final_c;
  std::vector<RecurrentCache<T>> cache;  // [layer * D + direction]
  std::vector<Matrix<T>> zx;             // [layer * D + direction] (T*B, G*H)
  std::vector<Matrix<T>> y;              // [layer] outputs (T*B, D*H), after dropout
  std::vector<Matrix<T>> mask;           // [layer] dropout mask, empty when none
  Matrix<T> x;                           // embedded input (T*B, E), after embedding dropout
  Matrix<T> x_mask;                      // embedding dropout's mask, empty when none
  std::vector<int> dropped_ids;          // the ids read after word dropout, empty when none
  // backward
  Matrix<T> dh_final, dh_steps, dzx, dy, din;
  RecurrentScratch<T> scratch;
};

class Stack {
 public:
  Stack() = default;
  // Adds the stack's tensors to `table` under `prefix`.
  Stack(const StackConfig& c, ParamTable& table, const std::string& prefix);
  const StackConfig& config() const { return cfg_; }

  // Runs the layers over a batch: ids (T*B, time-major, -1 unknown or
  // padding) and each sequence's length. With `rng` (training) dropout masks
  // every layer's outputs — the top layer's too when `dropout_top`. A stack
  // with subwords reads each id's bag in `bags` (ids from V on: words outside
  // the vocabulary); without bags it reads each id's own row.
  template <class T>
  void forward(const Buffer<T>& w, const std::vector<int>& ids, const std::vector<int>& lengths, int Tn,
               StackWorkspace<T>& ws, Rng* rng, bool dropout_top, const TokenBags* bags = nullptr) const;

  // Backward from the gradient at the top layer's outputs (dy_top (T*B, D*H),
  // after its dropout mask, or null) and at the final states (dfinal[layer * D
  // + direction] (B, H), empty entries or an empty vector for none; for an
  // LSTM, dfinal_c the same for the cell states): adds every gradient to g.
  template <class T>
  void backward(const Buffer<T>& w, Buffer<T>& g, const std::vector<int>& ids, int Tn, int B, StackWorkspace<T>& ws,
                const Matrix<T>* dy_top, const std::vector<Matrix<T>>& dfinal,
                const std::vector<Matrix<T>>& dfinal_c = {}, const TokenBags* bags = nullptr) const;

  // The seed's initialisation order: the embedding, then per layer and
  // direction W_hh then W_ih, each filled by `fill(offset, rows, cols)`.
  template <class Fill>
  void for_each_weight_in_seed_order(Fill fill) const {
    const int GH = gates_of(cfg_.cell) * cfg_.hidden;
    if (cfg_.embed > 0) fill(embedding_, cfg_.vocab, cfg_.embed);
    if (cfg_.buckets > 0) fill(subwords_, cfg_.buckets, cfg_.embed);
    for (const Slots& l : slots_) {
      fill(l.W_hh, GH, cfg_.hidden);
      fill(l.W_ih, GH, l.in);
    }
  }

 private:
  struct Slots {  // offsets of one layer-direction's tensors in the buffers (b_hh 0 = absent)
    int in = 0;
    std::size_t W_ih = 0, W_hh = 0, b_ih = 0, b_hh = 0;
  };
  // Whether the input is read through bags: a stack with subwords must be
  // given them (reading ids as rows would drop every word's n-grams).
  bool subwords_read(const TokenBags* bags) const;

  StackConfig cfg_;
  std::vector<Slots> slots_;  // [layer * D + direction]
  std::size_t embedding_ = 0, subwords_ = 0;
};

// Inverted dropout: each element 1/(1-p) with probability 1-p, else 0, so E[mask] = 1.
template <class T>
void draw_dropout_mask(Matrix<T>& mask, std::size_t rows, int cols, double p, Rng& rng);

}  // namespace recur
