// recur/model.hpp — the recurrent model, for both shapes the seed post draws:
//   input (one-hot or embedding) -> stacked, optionally bidirectional recurrent
//   layers -> linear head -> softmax, with the head on
//     classify (many-to-one):  the final state, one prediction per sequence;
//     lm (many-to-many):       every step's output, predicting the next symbol.
//
//   x_t        one-hot over V words (embed = 0, the seed's input) or embedding.weight[id_t] (E)
//   layer k:   h^k_t = cell(W_ih^k x^k_t + b_ih^k, W_hh^k h^k_{t-1} + b_hh^k),  x^0 = x,
//              x^k = [h^{k-1} forward, h^{k-1} reverse] (masked by dropout when training, as is the head's input)
//   classify: features = [forward state at the last token, reverse state at the first] (B, D*H)
//   lm:       features = the top layer's output at every step                         (T*B, H)
//   y = features W_hy^T + b_y,  p = softmax(y)
// exactly PyTorch's Embedding -> RNN/LSTM/GRU (packed sequences, h_n or output) -> Linear.
//
// One-hot input: W_ih x_t for a one-hot x_t with its 1 at index id is exactly
// column id of W_ih (every other column is multiplied by 0), so the first layer
// looks the column up instead of multiplying — O(G H) instead of O(G H V) — and
// its gradient dW_ih x_t^T touches only that column. An unknown word (id -1) is
// the all-zero vector: no column, no gradient.
//
// Parameters live in one buffer `w` described by a ParamTable, with gradients
// `g` in the same layout; names are PyTorch's (rnn.weight_ih_l0_reverse, ...).
// Bodies in src/model.cpp, instantiated for float and double.
#pragma once

#include <string>
#include <vector>

#include "recur/cells/recurrent.hpp"
#include "recur/config.hpp"
#include "recur/error.hpp"
#include "recur/tensor.hpp"

namespace recur {

// A batch of B sequences, time-major: ids[t*B + b] is sequence b's token at step t
// (-1 for an unknown word or padding past the sequence's length).
struct Batch {
  int T = 0, B = 0;
  std::vector<int> ids;      // (T*B)
  std::vector<int> lengths;  // (B), each 1..T
  // Class ids (B) for a classifier; the next symbol (T*B) for a language
  // model, -1 where nothing is predicted (padding).
  std::vector<int> targets;
  // Streams: this batch continues the sequences of the one before it, so the
  // model starts from the state that batch ended in (truncated BPTT).
  bool continues = false;
  // When the batch is one part of a larger step (gradient accumulation, or one
  // process's share in data-parallel training): the sequences of the whole
  // step, over which the loss is averaged so the parts' gradients add up to
  // the step's; 0: the batch is the whole step.
  int global_B = 0;
  // Streams: which of this process's groups of streams the batch continues
  // (with gradient accumulation each group carries its own state).
  int group = 0;
  long tokens() const;  // real tokens: the sum of the lengths
};
// Packs the given sequences (indices into seqs) into one padded batch, with
// their targets when `targets` is not empty.
Batch make_batch(const std::vector<std::vector<int>>& seqs, const std::vector<int>& targets,
                 const std::vector<int>& which);

template <class T>
class Model {
 public:
  // Everything one forward/backward needs, owned by the caller and reused so the
  // training loop does not allocate once shapes repeat.
  struct Workspace {
    // Initial states per layer (B, H), used when set (lm: carried from the
    // previous chunk of text); cleared means zero. After forward, final_h/final_c
    // hold each layer's state after the last step, ready to be carried on.
    std::vector<Matrix<T>> h0, c0, final_h, final_c;
    std::vector<RecurrentCache<T>> cache;  // [layer * D + direction]
    std::vector<Matrix<T>> zx;             // [layer * D + direction] (T*B, G*H)
    std::vector<Matrix<T>> y;              // [layer] outputs (T*B, D*H), after dropout
    std::vector<Matrix<T>> mask;           // [layer] dropout mask, empty when none
    Matrix<T> feature_mask;                // classify: dropout mask of the head's input, empty when none
    Matrix<T> x;                           // embedded input (T*B, E)
    Matrix<T> features, logits, probs, dlogits;  // (B,D*H) (B,C) (B,C) (B,C)
    // backward
    Matrix<T> dfeat, dh_final, dh_steps, dzx, dy, din;
    RecurrentScratch<T> scratch;
  };

  explicit Model(const ModelConfig& cfg);

  const ModelConfig& config() const { return cfg_; }
  const ParamTable& table() const { return table_; }
  Buffer<T>& weights() { return w_; }
  const Buffer<T>& weights() const { return w_; }
  Buffer<T>& grads() { return g_; }
  const Buffer<T>& grads() const { return g_; }
  void zero_grad() { std::fill(g_.begin(), g_.end(), T(0)); }

  MatrixMap<T> param(const std::string& name) { return view(w_, name); }
  ConstMatrixMap<T> param(const std::string& name) const { return cview(w_, name); }
  MatrixMap<T> grad(const std::string& name) { return view(g_, name); }

  // The seed's initialisation, in the seed's order: (embedding,) then per layer
  // and direction W_hh then W_ih (= W_xh), then the head, each randn(rows, cols)
  // / 1000 in row-major order (numpy's); biases zero.
  void init_seed(Rng& rng);

  // Forward: fills ws.logits and ws.probs (B, C). With `rng` (training) dropout
  // is applied to every layer's outputs and the head's input; without it (evaluation) it is not.
  void forward(const Batch& b, Workspace& ws, Rng* rng = nullptr) const;

  // Backward from dL/dlogits (ws.dlogits, (B, C)); gradients are added to grads().
  void backward(const Batch& b, Workspace& ws);

 private:
  void draw_dropout_mask(Matrix<T>& mask, std::size_t rows, int cols, Rng& rng) const;
  const Matrix<T>& head_input(const Batch& b, Workspace& ws) const;

  struct Slots {  // offsets of one layer-direction's tensors in the buffers (b_hh 0 = absent)
    int in = 0;
    std::size_t W_ih = 0, W_hh = 0, b_ih = 0, b_hh = 0;
  };
  static MatrixMap<T> mat(Buffer<T>& buf, std::size_t off, int r, int c) {
    return MatrixMap<T>(buf.data() + off, r, c);
  }
  static ConstMatrixMap<T> cmat(const Buffer<T>& buf, std::size_t off, int r, int c) {
    return ConstMatrixMap<T>(buf.data() + off, r, c);
  }
  MatrixMap<T> view(Buffer<T>& buf, const std::string& name) {
    const ParamSpec& p = table_.at(name);
    return mat(buf, p.offset, p.rows, p.cols);
  }
  ConstMatrixMap<T> cview(const Buffer<T>& buf, const std::string& name) const {
    const ParamSpec& p = table_.at(name);
    return cmat(buf, p.offset, p.rows, p.cols);
  }

  ModelConfig cfg_;
  ParamTable table_;
  std::vector<Slots> slots_;  // [layer * D + direction]
  std::size_t embedding_ = 0, head_w_ = 0, head_b_ = 0;
  Buffer<T> w_, g_;
};

enum class InitKind {
  seed,        // randn / 1000, biases zero (the seed post's)
  pytorch,     // PyTorch's defaults: recurrent U(±1/√H), head U(±1/√fan_in), embedding N(0, 1)
  xavier,      // Glorot uniform U(±√(6/(fan_in+fan_out))) per gate block, biases zero
  orthogonal,  // xavier input weights, orthogonal recurrent blocks, biases zero
};
std::string to_string(InitKind k);
InitKind init_from_string(const std::string& s);  // throws recur::Error

// Initialises every parameter by `kind`; then, for an LSTM with forget_bias_one,
// sets the forget-gate half of b_ih to 1 (and of b_hh to 0), a common remedy for
// vanishing memory early in training.
template <class T>
void init_weights(Model<T>& m, InitKind kind, Rng& rng, bool forget_bias_one = false);

}  // namespace recur
