// recur/inference.hpp — reading text with a trained model: the forward pass
// for prediction, evaluation, generation and explanation.
//
// Model::forward (model.hpp) is the training pass: it routes products through
// BLAS, whose summation order depends on the shapes, so a sequence read in a
// batch can come out a few bits different from the same sequence read alone.
// A Reader computes every number of a sequence the same way whatever else is
// in the batch (kernels::rows_times: each output sums its products in a fixed
// order in its own SIMD lane; elementwise math on rows padded to whole
// packets), so batching — in predict(), in the server's dynamic batches — never
// changes an answer. It also keeps what training does not need:
//   - the first layer's input half of every gate for every symbol, once:
//     table[v] = W_ih x_v + b_ih (x_v one-hot or the embedding row), so reading
//     a token is a row lookup;
//   - the weights transposed and padded, as the kernels read them.
// Sequences may be empty: an empty sequence's final state is the initial (zero)
// state, and the head reads it.
//
// Shapes: B sequences (or streams), T steps, L layers, D directions, H hidden,
// G gates, C outputs (classes, or V symbols).
#pragma once

#include <memory>
#include <vector>

#include "recur/explain.hpp"
#include "recur/model.hpp"

namespace recur {

// Everything a pass went through, one sequence: for plotting and explaining.
template <class T>
struct ReadTrace {
  int steps = 0;          // T, the sequence's length
  int units = 0;          // L*D layer-directions, in the order layer 0 forward, layer 0 reverse, layer 1 ...
  int hidden = 0;         // H
  Matrix<T> h;            // (T, L*D*H): row t holds every layer-direction's state after reading token t
  Matrix<T> c;            // LSTM cell states, as h; empty otherwise
  Matrix<T> gates;        // LSTM (i,f,g,o) / GRU (r,z,n) activations (T, L*D*G*H); empty for vanilla RNNs
  Matrix<T> logits;       // language models: (T, V), the prediction after each token
};

template <class T>
class Reader {
 public:
  // A model with subwords is read through its vocabulary's bags (subwords.hpp).
  explicit Reader(const Model<T>& model, const TokenBags* bags = nullptr);
  const ModelConfig& config() const { return cfg_; }

  // Many-to-one: the class probabilities of each sequence (row b of probs is
  // seqs[b]'s); its trace and logits when asked for. With subwords, ids from
  // V on are words outside the vocabulary, read through `bags` (an extension
  // of the vocabulary's bags the Reader was built with).
  void classify(const std::vector<std::vector<int>>& seqs, Matrix<T>& probs,
                std::vector<ReadTrace<T>>* traces = nullptr, Matrix<T>* logits = nullptr,
                const TokenBags* bags = nullptr) const;

  // Many-to-many, one step: B streams read one token each (ids[b]), from
  // `state`, which they leave updated; logits (B, V) predict each next token.
  struct State {
    int streams = 0;
    std::vector<Matrix<T>> h, c;  // [layer] (B, H padded); empty: zero
  };
  void step(const std::vector<int>& ids, State& state, Matrix<T>& logits) const;

  // Many-to-many over one stream: reads `ids` from `state` (updated), and the
  // logits after every token (T, V); the trace when given.
  void read(const std::vector<int>& ids, State& state, Matrix<T>& logits, ReadTrace<T>* trace = nullptr) const;

 private:
  struct Layer;  // one layer-direction's weights, transposed and padded
  void cell_rows(const Layer& l, int rows, const T* const* zx_rows, T* h, T* c, T* scratch,
                 T* gates_out, int ld_gates) const;
  void head_rows(const T* features, int ld, int rows, Matrix<T>& logits) const;

  ModelConfig cfg_;
  int Hp_ = 0, GHp_ = 0, Cp_ = 0;  // padded widths
  Matrix<T> table_;                // (V + 1, G*H padded) layer 0's input half; row V: an unknown token
  std::vector<std::shared_ptr<const Layer>> layers_;  // [layer * D + direction]
  Matrix<T> head_wt_;              // (D*H, C padded)
  Vector<T> head_b_;
  Vector<T> pool_q_;               // attention pooling's query (D*H); empty otherwise
  Matrix<T> inputs_;               // subwords: [embedding.weight; subwords.weight] (V + N, E); empty otherwise
  // Subwords: the mean of each bag's rows of inputs_ (rows, E).
  Matrix<T> bag_means(const std::vector<int>& ids, const TokenBags& bags) const;
};

// A trace as plain vectors (explain.hpp).
HiddenStates hidden_states_of(const ReadTrace<float>& trace, const ModelConfig& c);

}  // namespace recur
