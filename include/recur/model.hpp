// recur/model.hpp — the many-to-one classifier: one-hot input -> stacked RNN -> linear head.
//
//   x_t one-hot over V words          (the seed's input)
//   h^k_t = act(W_ih^k x^k_t + b_ih^k + W_hh^k h^k_{t-1} + b_hh^k),  x^0 = x, x^k = h^{k-1}
//   y = W_hy h^top_last + b_y         (head.weight, head.bias)
//   p = softmax(y)
//
// One-hot input: W_ih x_t for a one-hot x_t with its 1 at index id is exactly
// column id of W_ih (every other column is multiplied by 0), so the first layer
// looks the column up instead of multiplying — O(H) instead of O(H V) — and its
// gradient dW_ih x_t^T touches only that column. An unknown word (id -1) is the
// all-zero vector: no column, no gradient.
//
// Parameters live in one ParamTable-described buffer `w` with gradients `g` in
// the same layout; names are PyTorch's (rnn.weight_ih_l0, head.weight, ...).
#pragma once

#include <string>
#include <vector>

#include "recur/cells/rnn.hpp"
#include "recur/error.hpp"
#include "recur/layers.hpp"
#include "recur/tensor.hpp"

namespace recur {

struct ClassifierConfig {
  Activation act = Activation::tanh;  // cell: rnn_tanh | rnn_relu
  int vocab = 0;                      // V, one-hot input size
  int hidden = 64;                    // H
  int layers = 1;
  int classes = 2;                    // C
  bool bias_hh = false;  // false: the seed's single bias b_h (stored as bias_ih)
};

std::string cell_name(Activation a);
Activation cell_from_name(const std::string& s);  // "rnn_tanh" | "rnn" | "rnn_relu"

// A batch of B sequences, time-major: ids[t*B + b] is sequence b's token at step t
// (-1 for an unknown word or padding past the sequence's length).
struct Batch {
  int T = 0, B = 0;
  std::vector<int> ids;      // (T*B)
  std::vector<int> lengths;  // (B), each 1..T
  std::vector<int> targets;  // (B) class ids, when training/evaluating
};
// Packs the given sequences (indices into seqs) into one padded batch.
Batch make_batch(const std::vector<std::vector<int>>& seqs, const std::vector<int>& targets,
                 const std::vector<int>& which);

template <class T>
class Classifier {
 public:
  // Everything one forward/backward needs, owned by the caller and reused so the
  // training loop does not allocate.
  struct Workspace {
    std::vector<RnnCache<T>> layer;  // per layer
    std::vector<Matrix<T>> zx, dz;   // per layer: (T*B, H)
    Matrix<T> dh_steps;              // (T*B, H) gradient into the layer below
    RnnScratch<T> scratch;
    Matrix<T> logits, probs, dlogits, dh_final;  // (B,C) (B,C) (B,C) (B,H)
  };

  explicit Classifier(const ClassifierConfig& cfg) : cfg_(cfg) {
    if (cfg.vocab < 1 || cfg.hidden < 1 || cfg.layers < 1 || cfg.classes < 2)
      throw Error("invalid model size (vocab " + std::to_string(cfg.vocab) + ", hidden " +
                  std::to_string(cfg.hidden) + ", layers " + std::to_string(cfg.layers) +
                  ", classes " + std::to_string(cfg.classes) + ")");
    const int H = cfg.hidden;
    for (int k = 0; k < cfg.layers; ++k) {
      const std::string s = "_l" + std::to_string(k);
      Slots l;
      l.in = k == 0 ? cfg.vocab : H;
      l.W_ih = table_.add_matrix("rnn.weight_ih" + s, H, l.in);
      l.W_hh = table_.add_matrix("rnn.weight_hh" + s, H, H);
      l.b_ih = table_.add_vector("rnn.bias_ih" + s, H);
      if (cfg.bias_hh) l.b_hh = table_.add_vector("rnn.bias_hh" + s, H);
      slots_.push_back(l);
    }
    head_w_ = table_.add_matrix("head.weight", cfg.classes, H);
    head_b_ = table_.add_vector("head.bias", cfg.classes);
    w_.assign(table_.total(), T(0));
    g_.assign(table_.total(), T(0));
  }

  const ClassifierConfig& config() const { return cfg_; }
  const ParamTable& table() const { return table_; }
  std::vector<T>& weights() { return w_; }
  const std::vector<T>& weights() const { return w_; }
  std::vector<T>& grads() { return g_; }
  const std::vector<T>& grads() const { return g_; }
  void zero_grad() { std::fill(g_.begin(), g_.end(), T(0)); }

  MatrixMap<T> param(const std::string& name) { return view(w_, name); }
  ConstMatrixMap<T> param(const std::string& name) const { return cview(w_, name); }
  MatrixMap<T> grad(const std::string& name) { return view(g_, name); }

  // The seed's initialisation, in the seed's order: per layer W_hh then W_ih
  // (= W_xh), then the head, each randn(rows, cols) / 1000 in row-major order
  // (numpy's); biases zero.
  void init_seed(Rng& rng) {
    std::fill(w_.begin(), w_.end(), T(0));
    auto fill = [&](const std::string& name) {
      auto m = param(name);
      for (Eigen::Index i = 0; i < m.rows(); ++i)
        for (Eigen::Index j = 0; j < m.cols(); ++j) m(i, j) = T(rng.randn() / 1000.0);
    };
    for (int k = 0; k < cfg_.layers; ++k) {
      fill("rnn.weight_hh_l" + std::to_string(k));
      fill("rnn.weight_ih_l" + std::to_string(k));
    }
    fill("head.weight");
  }

  // Forward: fills ws.logits and ws.probs (B, C).
  void forward(const Batch& b, Workspace& ws) const {
    const int H = cfg_.hidden, L = cfg_.layers;
    const std::size_t TB = std::size_t(b.T) * b.B;
    ws.layer.resize(L);
    ws.zx.resize(L);
    for (int k = 0; k < L; ++k) {
      const Slots& l = slots_[k];
      Matrix<T>& zx = ws.zx[k];
      zx.resize(TB, H);
      const auto W_ih = cmat(w_, l.W_ih, H, l.in);
      if (k == 0) {
        for (std::size_t r = 0; r < TB; ++r) {
          const int id = b.ids[r];
          if (id >= 0)
            zx.row(r) = W_ih.col(id).transpose();  // W_ih x_t for one-hot x_t
          else
            zx.row(r).setZero();  // unknown word or padding: x_t = 0
        }
      } else {
        zx.noalias() = ws.layer[k - 1].h.bottomRows(TB) * W_ih.transpose();
      }
      zx.rowwise() += cmat(w_, l.b_ih, 1, H).row(0);
      if (l.b_hh) zx.rowwise() += cmat(w_, l.b_hh, 1, H).row(0);
      rnn_forward<T>(cmat(w_, l.W_hh, H, H), cfg_.act, zx, b.lengths, nullptr, ws.layer[k]);
    }
    ws.logits.noalias() = ws.layer[L - 1].final_state() * cmat(w_, head_w_, cfg_.classes, H).transpose();
    ws.logits.rowwise() += cmat(w_, head_b_, 1, cfg_.classes).row(0);
    softmax_rows<T>(ws.logits, ws.probs);
  }

  // Backward from dL/dlogits (ws.dlogits, (B, C)); gradients are added to grads().
  void backward(const Batch& b, Workspace& ws) {
    const int H = cfg_.hidden, L = cfg_.layers, C = cfg_.classes;
    const std::size_t TB = std::size_t(b.T) * b.B;
    const auto& top = ws.layer[L - 1];
    // y = h W_hy^T + b_y:  dW_hy += dy^T h,  db_y += sum_b dy,  dh = dy W_hy
    mat(g_, head_w_, C, H).noalias() += ws.dlogits.transpose() * top.final_state();
    mat(g_, head_b_, 1, C) += ws.dlogits.colwise().sum();
    ws.dh_final.noalias() = ws.dlogits * cmat(w_, head_w_, C, H);
    ws.dz.resize(L);
    for (int k = L - 1; k >= 0; --k) {
      const Slots& l = slots_[k];
      auto dW_hh = mat(g_, l.W_hh, H, H);
      const bool top_layer = (k == L - 1);
      Matrix<T>& dz = ws.dz[k];
      rnn_backward<T>(cmat(w_, l.W_hh, H, H), dW_hh, cfg_.act, ws.layer[k],
                      top_layer ? &ws.dh_final : nullptr, top_layer ? nullptr : &ws.dh_steps,
                      dz, nullptr, ws.scratch);
      // z = W_ih x + b_ih + W_hh h + b_hh:  db_ih += sum_t,b dz,  db_hh likewise
      mat(g_, l.b_ih, 1, H) += dz.colwise().sum();
      if (l.b_hh) mat(g_, l.b_hh, 1, H) += dz.colwise().sum();
      auto dW_ih = mat(g_, l.W_ih, H, l.in);
      if (k == 0) {
        for (std::size_t r = 0; r < TB; ++r)  // dW_ih x_t^T: column id only
          if (b.ids[r] >= 0) dW_ih.col(b.ids[r]) += dz.row(r).transpose();
      } else {
        dW_ih.noalias() += dz.transpose() * ws.layer[k - 1].h.bottomRows(TB);
        ws.dh_steps.noalias() = dz * cmat(w_, l.W_ih, H, l.in);  // into layer k-1's outputs
      }
    }
  }

 private:
  struct Slots {  // offsets of one layer's tensors in the buffers (b_hh 0 = absent)
    int in = 0;
    std::size_t W_ih = 0, W_hh = 0, b_ih = 0, b_hh = 0;
  };
  static MatrixMap<T> mat(std::vector<T>& buf, std::size_t off, int r, int c) {
    return MatrixMap<T>(buf.data() + off, r, c);
  }
  static ConstMatrixMap<T> cmat(const std::vector<T>& buf, std::size_t off, int r, int c) {
    return ConstMatrixMap<T>(buf.data() + off, r, c);
  }
  MatrixMap<T> view(std::vector<T>& buf, const std::string& name) {
    const ParamSpec& p = table_.at(name);
    return mat(buf, p.offset, p.rows, p.cols);
  }
  ConstMatrixMap<T> cview(const std::vector<T>& buf, const std::string& name) const {
    const ParamSpec& p = table_.at(name);
    return cmat(buf, p.offset, p.rows, p.cols);
  }

  ClassifierConfig cfg_;
  ParamTable table_;
  std::vector<Slots> slots_;
  std::size_t head_w_ = 0, head_b_ = 0;
  std::vector<T> w_, g_;
};

}  // namespace recur
