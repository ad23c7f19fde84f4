// recur/model.hpp — the recurrent model, for both shapes the seed post draws:
//   input (one-hot or embedding) -> stacked, optionally bidirectional recurrent
//   layers -> linear head -> softmax, with the head on
//     classify (many-to-one):  the final state, one prediction per sequence;
//     lm (many-to-many):       every step's output, predicting the next symbol.
//
//   x_t        one-hot over V words (embed = 0, the seed's input) or embedding.weight[id_t] (E),
//              or (--subwords) the mean of id_t's row and its character n-grams' rows (subwords.hpp)
//   layer k:   h^k_t = cell(W_ih^k x^k_t + b_ih^k, W_hh^k h^k_{t-1} + b_hh^k),  x^0 = x,
//              x^k = [h^{k-1} forward, h^{k-1} reverse] (masked by dropout when training, as is the head's input)
//   classify: features = [forward state at the last token, reverse state at the first] (B, D*H),
//             or (--pool mean|max|attention) the top layer's outputs pooled over time (pooling.hpp)
//   lm:       features = the top layer's output at every step                         (T*B, H)
//   y = features W_hy^T + b_y,  p = softmax(y)
// exactly PyTorch's Embedding -> RNN/LSTM/GRU (packed sequences, h_n or output) -> Linear.
// The input and the layers are a Stack (stack.hpp, which explains the one-hot
// lookup); the model adds the head.
//
// Parameters live in one buffer `w` described by a ParamTable, with gradients
// `g` in the same layout; names are PyTorch's (rnn.weight_ih_l0_reverse, ...).
// Bodies in src/model.cpp, instantiated for float and double.
#pragma once

#include <string>
#include <vector>

#include "recur/cells/recurrent.hpp"
#include "recur/stack.hpp"
#include "recur/config.hpp"
#include "recur/error.hpp"
#include "recur/pooling.hpp"
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
  // Sequence to sequence: ids are the sources; the decoder's side has dec_T
  // steps: its inputs dec_ids (dec_T*B, <bos> y_1 .. y_n, -1 padding) and each
  // target's length dec_lengths (n + 1); targets hold y_1 .. y_n <eos>.
  int dec_T = 0;
  std::vector<int> dec_ids, dec_lengths;
  // When the batch is one part of a larger step (gradient accumulation, or one
  // process's share in data-parallel training): the sequences of the whole
  // step, over which the loss is averaged so the parts' gradients add up to
  // the step's; 0: the batch is the whole step.
  int global_B = 0;
  // Sequence to sequence, likewise: the predicted target symbols of the whole
  // step (the sum of its dec_lengths), over which the loss is averaged.
  long global_tokens = 0;
  // Streams: which of this process's groups of streams the batch continues
  // (with gradient accumulation each group carries its own state).
  int group = 0;
  // A model with subwords: the rows each id reads (ids from V on are words
  // outside the vocabulary); owned by the caller.
  const TokenBags* bags = nullptr;
  long tokens() const;  // real tokens: the sum of the lengths (sequence to sequence: of dec_lengths)
};
// Packs the given sequences (indices into seqs) into one padded batch, with
// their targets when `targets` is not empty.
Batch make_batch(const std::vector<std::vector<int>>& seqs, const std::vector<int>& targets,
                 const std::vector<int>& which);
// Packs source/target pairs (indices into src and tgt): the sources as ids,
// the decoder's inputs <bos> y_1 .. y_n and targets y_1 .. y_n <eos>.
Batch make_pair_batch(const std::vector<std::vector<int>>& src, const std::vector<std::vector<int>>& tgt,
                      const std::vector<int>& which, int bos, int eos);

template <class T>
class Model {
 public:
  // Everything one forward/backward needs, owned by the caller and reused so the
  // training loop does not allocate once shapes repeat: the stack's (h0/c0 to
  // carry a language model's state, final_h/final_c after the pass, ...) and the head's.
  struct Workspace : StackWorkspace<T> {
    Matrix<T> feature_mask;                      // classify: dropout mask of the head's input, empty when none
    Matrix<T> features, logits, probs, dlogits;  // (B,D*H) (B,C) (B,C) (B,C)
    Matrix<T> dfeat;
    PoolCache<T> pool;                           // classify with pooling over time
    Matrix<T> dy_top;                            // ... its gradient at the top layer's outputs (T*B, D*H)
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
  const Matrix<T>& head_input(const Batch& b, Workspace& ws) const;

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

  bool pooled() const { return cfg_.task == Task::classify && cfg_.pool != PoolKind::last; }

  ModelConfig cfg_;
  ParamTable table_;
  Stack stack_;
  std::size_t head_w_ = 0, head_b_ = 0, pool_q_ = 0;
  Buffer<T> w_, g_;
};

enum class InitKind {
  seed,        // randn / 1000, biases zero (the seed post's)
  pytorch,     // PyTorch's defaults: recurrent U(±1/√H), head U(±1/√fan_in), embedding N(0, 1)
  xavier,      // Glorot uniform U(±√(6/(fan_in+fan_out))) per gate block, biases zero
  orthogonal,  // xavier input weights, orthogonal recurrent blocks, biases zero
  normal,      // N(0, 0.01^2), biases zero (the minimal character RNN's; --preset min-char-rnn)
};
std::string to_string(InitKind k);
InitKind init_from_string(const std::string& s);  // throws recur::Error

// Initialises every parameter by `kind`; then, for an LSTM with forget_bias_one,
// sets the forget-gate half of b_ih to 1 (and of b_hh to 0), a common remedy for
// vanishing memory early in training.
template <class T>
void init_weights(Model<T>& m, InitKind kind, Rng& rng, bool forget_bias_one = false);

}  // namespace recur
