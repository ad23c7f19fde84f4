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
#pragma once

#include <Eigen/QR>
#include <cmath>
#include <string>
#include <vector>

#include "recur/cells/recurrent.hpp"
#include "recur/error.hpp"
#include "recur/layers.hpp"
#include "recur/tensor.hpp"

namespace recur {

enum class Task { classify, lm };
std::string to_string(Task t);

struct ModelConfig {
  Task task = Task::classify;
  CellKind cell = CellKind::rnn_tanh;
  int vocab = 0;   // V
  int embed = 0;   // E; 0 = one-hot input
  int hidden = 64; // H
  int layers = 1;
  bool bidirectional = false;
  int classes = 2;      // C, the head's outputs (lm: equal to vocab)
  bool bias_hh = false; // false: the seed's single bias b_h (stored as bias_ih)
  double dropout = 0;   // on the outputs of every layer and on the head's input, training only
  int directions() const { return bidirectional ? 2 : 1; }
};

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

  explicit Model(const ModelConfig& cfg) : cfg_(cfg) {
    if (cfg.task == Task::lm && (cfg.bidirectional || cfg.classes != cfg.vocab))
      throw Error("a language model is unidirectional and predicts its own vocabulary");
    if (cfg.vocab < 1 || cfg.hidden < 1 || cfg.layers < 1 || cfg.classes < 2 || cfg.embed < 0)
      throw Error("invalid model size (vocab " + std::to_string(cfg.vocab) + ", hidden " +
                  std::to_string(cfg.hidden) + ", layers " + std::to_string(cfg.layers) + ", classes " +
                  std::to_string(cfg.classes) + ", embed " + std::to_string(cfg.embed) + ")");
    if (!(cfg.dropout >= 0 && cfg.dropout < 1)) throw Error("dropout must be in [0, 1)");
    const int H = cfg.hidden, GH = gates_of(cfg.cell) * H, D = cfg.directions();
    if (cfg.embed > 0) embedding_ = table_.add_matrix("embedding.weight", cfg.vocab, cfg.embed);
    for (int k = 0; k < cfg.layers; ++k)
      for (int d = 0; d < D; ++d) {
        const std::string s = "_l" + std::to_string(k) + (d ? "_reverse" : "");
        Slots l;
        l.in = k > 0 ? D * H : cfg.embed > 0 ? cfg.embed : cfg.vocab;
        l.W_ih = table_.add_matrix("rnn.weight_ih" + s, GH, l.in);
        l.W_hh = table_.add_matrix("rnn.weight_hh" + s, GH, H);
        l.b_ih = table_.add_vector("rnn.bias_ih" + s, GH);
        if (cfg.bias_hh) l.b_hh = table_.add_vector("rnn.bias_hh" + s, GH);
        slots_.push_back(l);
      }
    head_w_ = table_.add_matrix("head.weight", cfg.classes, D * H);
    head_b_ = table_.add_vector("head.bias", cfg.classes);
    w_.assign(table_.total(), T(0));
    g_.assign(table_.total(), T(0));
  }

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
  void init_seed(Rng& rng) {
    std::fill(w_.begin(), w_.end(), T(0));
    auto fill = [&](std::size_t off, int rows, int cols) {
      for (std::size_t i = 0; i < std::size_t(rows) * cols; ++i) w_[off + i] = T(rng.randn() / 1000.0);
    };
    const int H = cfg_.hidden, GH = gates_of(cfg_.cell) * H;
    if (cfg_.embed > 0) fill(embedding_, cfg_.vocab, cfg_.embed);
    for (const Slots& l : slots_) {
      fill(l.W_hh, GH, H);
      fill(l.W_ih, GH, l.in);
    }
    fill(head_w_, cfg_.classes, cfg_.directions() * H);
  }

  // Forward: fills ws.logits and ws.probs (B, C). With `rng` (training) dropout
  // is applied to every layer's outputs and the head's input; without it (evaluation) it is not.
  void forward(const Batch& b, Workspace& ws, Rng* rng = nullptr) const {
    const int H = cfg_.hidden, L = cfg_.layers, D = cfg_.directions(), GH = gates_of(cfg_.cell) * H;
    const std::size_t TB = std::size_t(b.T) * b.B;
    ws.cache.resize(std::size_t(L) * D);
    ws.zx.resize(std::size_t(L) * D);
    ws.y.resize(L);
    ws.mask.resize(L);
    if (cfg_.embed > 0) {
      const auto E = cmat(w_, embedding_, cfg_.vocab, cfg_.embed);
      ws.x.resize(TB, cfg_.embed);
      for (std::size_t r = 0; r < TB; ++r) {
        if (b.ids[r] >= 0)
          ws.x.row(r) = E.row(b.ids[r]);
        else
          ws.x.row(r).setZero();
      }
    }
    for (int k = 0; k < L; ++k) {
      const Matrix<T>* in = k > 0 ? &ws.y[k - 1] : cfg_.embed > 0 ? &ws.x : nullptr;
      for (int d = 0; d < D; ++d) {
        const Slots& l = slots_[std::size_t(k) * D + d];
        Matrix<T>& zx = ws.zx[std::size_t(k) * D + d];
        const auto W_ih = cmat(w_, l.W_ih, GH, l.in);
        if (in) {
          zx.noalias() = *in * W_ih.transpose();
        } else {
          zx.resize(TB, GH);
          for (std::size_t r = 0; r < TB; ++r) {
            if (b.ids[r] >= 0)
              zx.row(r) = W_ih.col(b.ids[r]).transpose();  // W_ih x_t for one-hot x_t
            else
              zx.row(r).setZero();  // unknown word or padding: x_t = 0
          }
        }
        zx.rowwise() += cmat(w_, l.b_ih, 1, GH).row(0);
        const bool carried = d == 0 && std::size_t(k) < ws.h0.size() && ws.h0[k].size();
        const bool carried_c = carried && std::size_t(k) < ws.c0.size() && ws.c0[k].size();
        recurrent_forward<T>(cfg_.cell, cmat(w_, l.W_hh, GH, H), l.b_hh ? w_.data() + l.b_hh : nullptr, zx,
                             b.lengths, d == 1, ws.cache[std::size_t(k) * D + d], carried ? &ws.h0[k] : nullptr,
                             carried_c ? &ws.c0[k] : nullptr);
      }
      Matrix<T>& y = ws.y[k];
      y.resize(TB, D * H);
      for (int d = 0; d < D; ++d)
        for (int t = 0; t < b.T; ++t)
          y.block(std::size_t(t) * b.B, std::size_t(d) * H, b.B, H) = ws.cache[std::size_t(k) * D + d].output(t);
      // Dropout on every layer's outputs; a classifier's head reads final
      // states instead of the top layer's outputs, so its mask is drawn below.
      Matrix<T>& mask = ws.mask[k];
      if (rng && cfg_.dropout > 0 && (k < L - 1 || cfg_.task == Task::lm)) {
        draw_dropout_mask(mask, TB, D * H, *rng);
        y.array() *= mask.array();
      } else {
        mask.resize(0, 0);
      }
    }
    ws.final_h.resize(L);
    ws.final_c.resize(L);
    for (int k = 0; k < L; ++k) {
      const auto& c = ws.cache[std::size_t(k) * D];
      ws.final_h[k] = c.final_state();
      if (cfg_.cell == CellKind::lstm) ws.final_c[k] = c.c.bottomRows(b.B);
    }
    const Matrix<T>& features = head_input(b, ws);
    if (cfg_.task == Task::classify) {
      if (rng && cfg_.dropout > 0) {
        draw_dropout_mask(ws.feature_mask, b.B, D * H, *rng);
        ws.features.array() *= ws.feature_mask.array();
      } else {
        ws.feature_mask.resize(0, 0);
      }
    }
    ws.logits.noalias() = features * cmat(w_, head_w_, cfg_.classes, D * H).transpose();
    ws.logits.rowwise() += cmat(w_, head_b_, 1, cfg_.classes).row(0);
    softmax_rows<T>(ws.logits, ws.probs);
  }

  // Backward from dL/dlogits (ws.dlogits, (B, C)); gradients are added to grads().
  void backward(const Batch& b, Workspace& ws) {
    const int H = cfg_.hidden, L = cfg_.layers, D = cfg_.directions(), GH = gates_of(cfg_.cell) * H;
    const int C = cfg_.classes;
    const std::size_t TB = std::size_t(b.T) * b.B;
    // y = f W_hy^T + b_y:  dW_hy += dy^T f,  db_y += sum_b dy,  df = dy W_hy
    // f is the head's input as forward left it (dropout applied).
    const Matrix<T>& features = cfg_.task == Task::lm ? ws.y[std::size_t(L - 1)] : ws.features;
    mat(g_, head_w_, C, D * H).noalias() += ws.dlogits.transpose() * features;
    mat(g_, head_b_, 1, C) += ws.dlogits.colwise().sum();
    ws.dfeat.noalias() = ws.dlogits * cmat(w_, head_w_, C, D * H);
    const Matrix<T>& top_mask = cfg_.task == Task::lm ? ws.mask[std::size_t(L - 1)] : ws.feature_mask;
    if (top_mask.size()) ws.dfeat.array() *= top_mask.array();
    for (int k = L - 1; k >= 0; --k) {
      const Matrix<T>* in = k > 0 ? &ws.y[k - 1] : cfg_.embed > 0 ? &ws.x : nullptr;
      const bool top = (k == L - 1);
      if (in) {
        ws.din.resize(TB, in->cols());
        ws.din.setZero();
      }
      for (int d = 0; d < D; ++d) {
        const Slots& l = slots_[std::size_t(k) * D + d];
        // The gradient reaching this layer: at its final state (classify, top
        // layer) or at every step's output (lm top layer, or from the layer above).
        const bool at_final = top && cfg_.task == Task::classify;
        if (at_final)
          ws.dh_final = ws.dfeat.middleCols(std::size_t(d) * H, H);
        else
          ws.dh_steps = (top ? ws.dfeat : ws.dy).middleCols(std::size_t(d) * H, H);
        auto dW_hh = mat(g_, l.W_hh, GH, H);
        recurrent_backward<T>(cmat(w_, l.W_hh, GH, H), dW_hh, l.b_hh ? g_.data() + l.b_hh : nullptr,
                              ws.cache[std::size_t(k) * D + d], at_final ? &ws.dh_final : nullptr,
                              at_final ? nullptr : &ws.dh_steps, ws.dzx, ws.scratch);
        mat(g_, l.b_ih, 1, GH) += ws.dzx.colwise().sum();
        auto dW_ih = mat(g_, l.W_ih, GH, l.in);
        if (in) {
          dW_ih.noalias() += ws.dzx.transpose() * *in;
          ws.din.noalias() += ws.dzx * cmat(w_, l.W_ih, GH, l.in);
        } else {
          for (std::size_t r = 0; r < TB; ++r)  // dW_ih x_t^T: column id only
            if (b.ids[r] >= 0) dW_ih.col(b.ids[r]) += ws.dzx.row(r).transpose();
        }
      }
      if (k > 0) {
        ws.dy.swap(ws.din);  // gradient into layer k-1's outputs
        if (ws.mask[k - 1].size()) ws.dy.array() *= ws.mask[k - 1].array();
      } else if (cfg_.embed > 0) {
        auto dE = mat(g_, embedding_, cfg_.vocab, cfg_.embed);
        for (std::size_t r = 0; r < TB; ++r)
          if (b.ids[r] >= 0) dE.row(b.ids[r]) += ws.din.row(r);
      }
    }
  }

 private:
  // Inverted dropout: each element 1/(1-p) with probability 1-p, else 0, so E[mask] = 1.
  void draw_dropout_mask(Matrix<T>& mask, std::size_t rows, int cols, Rng& rng) const {
    mask.resize(rows, cols);
    const T keep = T(1 - cfg_.dropout);
    for (Eigen::Index i = 0; i < mask.size(); ++i) mask.data()[i] = rng.uniform() < double(keep) ? T(1) / keep : T(0);
  }

  // What the head reads: the final states (classify) or the top layer's outputs (lm).
  const Matrix<T>& head_input(const Batch& b, Workspace& ws) const {
    if (cfg_.task == Task::lm) return ws.y[std::size_t(cfg_.layers - 1)];
    const int H = cfg_.hidden, D = cfg_.directions();
    ws.features.resize(b.B, D * H);
    for (int d = 0; d < D; ++d)
      ws.features.middleCols(std::size_t(d) * H, H) = ws.cache[std::size_t(cfg_.layers - 1) * D + d].final_state();
    return ws.features;
  }

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
void init_weights(Model<T>& m, InitKind kind, Rng& rng, bool forget_bias_one = false) {
  if (kind == InitKind::seed) {
    m.init_seed(rng);
  } else {
    const ModelConfig& c = m.config();
    const int H = c.hidden, G = gates_of(c.cell);
    auto uniform = [&](MatrixMap<T> w, double a) {
      for (Eigen::Index i = 0; i < w.size(); ++i) w.data()[i] = T((2 * rng.uniform() - 1) * a);
    };
    for (const ParamSpec& p : m.table().specs()) {
      MatrixMap<T> w = m.param(p.name);
      const bool rnn = p.name.rfind("rnn.", 0) == 0;
      if (p.name == "embedding.weight") {
        for (Eigen::Index i = 0; i < w.size(); ++i) w.data()[i] = T(rng.randn());
      } else if (kind == InitKind::pytorch) {
        uniform(w, rnn ? 1.0 / std::sqrt(double(H)) : 1.0 / std::sqrt(double(m.param("head.weight").cols())));
      } else if (p.is_vector) {
        w.setZero();
      } else if (rnn) {  // per gate block (H, fan_in)
        const bool recurrent = p.name.find("weight_hh") != std::string::npos;
        for (int gate = 0; gate < G; ++gate) {
          auto block = w.middleRows(std::size_t(gate) * H, H);
          if (kind == InitKind::orthogonal && recurrent) {
            Matrix<double> a(H, H);
            for (Eigen::Index i = 0; i < a.size(); ++i) a.data()[i] = rng.randn();
            Eigen::HouseholderQR<Matrix<double>> qr(a);
            Matrix<double> q = qr.householderQ();
            // Sign fix so Q is uniformly distributed: multiply columns by sign(diag(R)).
            const Matrix<double> r = qr.matrixQR().template triangularView<Eigen::Upper>();
            for (int j = 0; j < H; ++j)
              if (r(j, j) < 0) q.col(j) *= -1;
            block = q.template cast<T>();
          } else {
            const double a = std::sqrt(6.0 / double(H + w.cols()));
            for (Eigen::Index i = 0; i < block.rows(); ++i)
              for (Eigen::Index j = 0; j < block.cols(); ++j) block(i, j) = T((2 * rng.uniform() - 1) * a);
          }
        }
      } else {
        uniform(w, std::sqrt(6.0 / double(w.rows() + w.cols())));
      }
    }
  }
  if (forget_bias_one && m.config().cell == CellKind::lstm) {
    const int H = m.config().hidden;
    for (const ParamSpec& p : m.table().specs()) {
      if (p.name.rfind("rnn.bias_ih", 0) == 0) m.param(p.name).middleRows(H, H).setConstant(T(1));
      if (p.name.rfind("rnn.bias_hh", 0) == 0) m.param(p.name).middleRows(H, H).setZero();
    }
  }
}

}  // namespace recur
