// seed_step.hpp (private to the library) — the seed's training step, fused into one pass.
//
// The seed trains one model one way: a single-layer, one-direction vanilla RNN
// on one-hot words, one sequence per step, plain SGD with every gradient
// element clipped to [-c, c]. The general path (Model::forward/backward, then
// Optimizer::step) zeroes a gradient buffer the size of the model, writes every
// gradient into it, and reads it all back to clip and update, with products
// sized for batches. SeedStep takes the same step with the same equations
// (docs/bptt.md), but forms each gradient element where it is applied, and
// runs its products through kernels sized for one sequence (kernels.hpp):
//
//   forward    z_s = W_xh[:, id_s] + b_h + W_hh h_{s-1},  h_s = act(z_s),  y = W_hy h_S + b_y
//   backward   dy = p - onehot(c);  dh = W_hy^T dy;  dz_s = dh ⊙ act'(z_s),  dh = W_hh^T dz_s
//   update     W_hy[c][j] -= lr clip(dy_c h_S[j])             b_y[c] -= lr clip(dy_c)
//              W_hh[i][j] -= lr clip(sum_s dz_s[i] h_{s-1}[j])  b_h[i] -= lr clip(sum_s dz_s[i])
//              W_xh[i][w] -= lr clip(sum_{s: id_s = w} dz_s[i])  only for the words w of the sequence
//
// Every update happens after the backward pass has read the old weights, so
// the step is exactly the general path's; only the order in which some sums are
// rounded differs. tests/seed_step_test.cpp runs both paths side by side.
// The trainer (src/trainer.cpp) takes its steps this way whenever
// seed_step_applies(); that is the one place the choice is made.
#pragma once

#include <algorithm>
#include <cmath>

#include "kernels.hpp"
#include "recur/cells/rnn.hpp"
#include "recur/layers.hpp"
#include "recur/model.hpp"
#include "recur/optim.hpp"

namespace recur {

// Whether SeedStep can take the steps of a run with these settings.
inline bool seed_step_applies(const ModelConfig& c, const StepOptions& s, int batch) {
  return batch == 1 && c.task == Task::classify && (c.cell == CellKind::rnn_tanh || c.cell == CellKind::rnn_relu) &&
         c.embed == 0 && c.layers == 1 && !c.bidirectional && c.dropout == 0 &&
         s.optimizer.kind == OptimizerKind::sgd && s.optimizer.weight_decay == 0 && s.clip_norm == 0;
}

template <class T>
class SeedStep {
 public:
  explicit SeedStep(const Model<T>& m) : cfg_(m.config()) {
    const ParamTable& t = m.table();
    W_ih_ = t.at("rnn.weight_ih_l0").offset;
    W_hh_ = t.at("rnn.weight_hh_l0").offset;
    b_ih_ = t.at("rnn.bias_ih_l0").offset;
    if (const ParamSpec* p = t.find("rnn.bias_hh_l0")) b_hh_ = p->offset, has_b_hh_ = true;
    W_hy_ = t.at("head.weight").offset;
    b_y_ = t.at("head.bias").offset;
    const int H = cfg_.hidden, C = cfg_.classes;
    zx_.resize(1, H), hh_.resize(1, H), logits_.resize(1, C), dy_.resize(1, C);
    dh_.resize(H), gsum_.resize(H);
  }

  // One step on the single sequence of `b` (B = 1) with learning rate `lr` and
  // value clip `clip` (0: none). Returns the loss before the update; `correct`
  // tells whether the prediction before the update was right.
  double step(Model<T>& m, const Batch& b, T lr, T clip, bool& correct) {
    const int H = cfg_.hidden, C = cfg_.classes, V = cfg_.vocab, S = b.lengths[0];
    const bool relu = cfg_.cell == CellKind::rnn_relu;
    const T c = clip_bound<T>(clip);
    T* w = m.weights().data();
    T* const W_ih = w + W_ih_;
    T* const W_hh = w + W_hh_;
    T* const W_hy = w + W_hy_;

    // Forward. Row s of h is the state after s steps (row 0 is h_0 = 0).
    if (h_.rows() < S + 1) {  // grows to the longest sequence, then stays
      h_.resize(S + 1, H);
      h_.row(0).setZero();  // h_0, never written after
    }
    if (dz_.rows() < S) dz_.resize(S, H);
    for (int s = 0; s < S; ++s) {
      const int id = b.ids[std::size_t(s)];
      if (id >= 0)  // W_ih x_s for one-hot x_s: column id
        zx_.row(0) = ColumnMap(W_ih + id, H, Eigen::InnerStride<>(V)).transpose() + ConstMatrixMap<T>(w + b_ih_, 1, H);
      else  // an unknown word: x_s = 0
        zx_ = ConstMatrixMap<T>(w + b_ih_, 1, H);
      hh_.setZero();  // h_0 = 0: the first step has no recurrent term
      if (s > 0) kernels::matvec(W_hh, H, H, h_.row(s).data(), hh_.data());
      if (has_b_hh_) hh_ += ConstMatrixMap<T>(w + b_hh_, 1, H);
      rnn_cell::forward(relu, 1, H, zx_.data(), hh_.data(), h_.row(s + 1).data());
    }
    const T* h_S = h_.row(S).data();
    logits_.setZero();
    kernels::gemv_small(W_hy, C, H, false, h_S, logits_.data());
    logits_ += ConstMatrixMap<T>(w + b_y_, 1, C);
    softmax_rows<T>(logits_, probs_);
    target_[0] = b.targets[0];
    const double loss = cross_entropy_sum<T>(logits_, target_);
    Eigen::Index arg;
    probs_.row(0).maxCoeff(&arg);
    correct = (arg == b.targets[0]);
    // A non-finite loss: no update (the trainer stops or skips the step). The
    // gradients are never materialized here, so a non-finite one reaches the
    // weights; the trainer finds it through the next loss or its check of the
    // weights before any evaluation or checkpoint (trainer.hpp).
    if (!std::isfinite(loss)) return loss;

    // Backward, reading the weights before any of them change.
    cross_entropy_grad<T>(probs_, target_, T(1), dy_);
    dh_.setZero();
    kernels::gemv_small(W_hy, C, H, true, dy_.data(), dh_.data());  // dh = W_hy^T dy
    for (int s = S - 1; s >= 0; --s) {
      rnn_cell::backward(relu, 1, H, h_.row(s + 1).data(), dh_.data(), dz_.row(s).data());
      if (s == 0) break;  // h_0 is not trained
      dh_.setZero();
      kernels::matvec_t(W_hh, H, H, dz_.row(s).data(), dh_.data());  // dh = W_hh^T dz_s
    }

    // The updates, each gradient element clipped and applied as it is formed:
    // dW_hy = dy h_S^T (one outer product), and row i of dW_hh is
    // sum_s dz_s[i] h_{s-1}, s >= 1 (the first step adds nothing: h_0 = 0).
    kernels::sgd_outer_update(W_hy, C, H, dy_.data(), C, h_S, H, 1, lr, c);
    for (int k = 0; k < C; ++k) w[b_y_ + k] -= lr * clip_value(dy_(0, k), c);
    if (S > 1) kernels::sgd_outer_update(W_hh, H, H, dz_.row(1).data(), H, h_.row(1).data(), H, S - 1, lr, c);
    gsum_ = dz_.topRows(S).colwise().sum().transpose();  // db_h (both biases, when there are two)
    for (int i = 0; i < H; ++i) {
      const T u = lr * clip_value(gsum_[i], c);
      w[b_ih_ + i] -= u;
      if (has_b_hh_) w[b_hh_ + i] -= u;
    }
    // W_xh: the column of each distinct word, summed over its occurrences in time order.
    for (int s = 0; s < S; ++s) {
      const int id = b.ids[std::size_t(s)];
      if (id < 0 || std::find(b.ids.begin(), b.ids.begin() + s, id) != b.ids.begin() + s) continue;
      gsum_ = dz_.row(s).transpose();
      for (int r = s + 1; r < S; ++r)
        if (b.ids[std::size_t(r)] == id) gsum_ += dz_.row(r).transpose();
      ColumnMap(W_ih + id, H, Eigen::InnerStride<>(V)) -= lr * gsum_.array().max(-c).min(c).matrix();
    }
    return loss;
  }

 private:
  using ColumnMap = Eigen::Map<Vector<T>, Eigen::Unaligned, Eigen::InnerStride<>>;  // a column of a row-major matrix
  ModelConfig cfg_;
  std::size_t W_ih_ = 0, W_hh_ = 0, b_ih_ = 0, b_hh_ = 0, W_hy_ = 0, b_y_ = 0;
  bool has_b_hh_ = false;
  Matrix<T> h_, dz_, zx_, hh_, logits_, probs_, dy_;
  Vector<T> dh_, gsum_;
  std::vector<int> target_ = {0};
};

}  // namespace recur
