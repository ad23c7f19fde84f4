// recur/cells/rnn.hpp — the vanilla (Elman) RNN cell, forward and backward.
//
// Forward, for t = 0..T-1 (PyTorch's nn.RNN, and the seed's equations with
// W_xh = weight_ih, b_h = bias_ih + bias_hh):
//
//   z_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
//   h_t = act(z_t)                 act = tanh (rnn_tanh) or max(0, .) (rnn_relu)
//
// Batched and time-major: rows of every (T*B, .) matrix are ordered t-major,
// row t*B + b is sequence b at step t. Sequences in a batch may be shorter than
// T: past its length L_b a sequence's state is frozen, h_t[b] = h_{t-1}[b], so the
// final state h_{T-1}[b] is the state at its last real token and every gradient
// is exactly that sequence's own.
//
// The caller supplies the input half of z (zx = W_ih x_t + biases, all steps at
// once: a gather for one-hot input, one GEMM otherwise); only h W_hh^T is inside
// the time loop. Backward returns dz for all steps so the caller forms dW_ih and
// the input gradient in one product after the loop, as dW_hh is formed here.
//
// Shapes: zx (T*B, H)   W_hh (H, H)   h0 (B, H)   cache.h ((T+1)*B, H)
#pragma once

#include <algorithm>
#include <vector>

#include "recur/tensor.hpp"

namespace recur {

enum class Activation { tanh, relu };

template <class T>
struct RnnCache {
  int steps = 0, batch = 0, hidden = 0;  // T, B, H
  Matrix<T> h;             // ((T+1)*B, H): block 0 is h0, block t+1 is h_t
  std::vector<int> lengths;  // (B) real length of each sequence, 1..T
  bool h0_zero = true;     // h0 == 0: the step-0 recurrent terms vanish and are skipped

  auto state(int t) const { return h.middleRows(std::size_t(t + 1) * batch, batch); }  // h_t, t=-1..T-1
  auto final_state() const { return state(steps - 1); }
};

// zx: (T*B, H), lengths: (B) with 1 <= L_b <= T, h0: (B, H) or empty for zeros.
template <class T>
void rnn_forward(const ConstMatrixMap<T>& W_hh, Activation act, const Matrix<T>& zx,
                 const std::vector<int>& lengths, const Matrix<T>* h0, RnnCache<T>& c) {
  const int B = int(lengths.size()), H = int(W_hh.rows());
  const int Tn = int(zx.rows()) / B;
  c.steps = Tn, c.batch = B, c.hidden = H, c.lengths = lengths;
  c.h.resize(std::size_t(Tn + 1) * B, H);
  c.h0_zero = (h0 == nullptr);
  if (h0)
    c.h.topRows(B) = *h0;
  else
    c.h.topRows(B).setZero();
  const bool ragged = std::any_of(lengths.begin(), lengths.end(), [&](int L) { return L < Tn; });
  for (int t = 0; t < Tn; ++t) {
    auto z = c.h.middleRows(std::size_t(t + 1) * B, B);
    z = zx.middleRows(std::size_t(t) * B, B);
    if (t > 0 || !c.h0_zero) z.noalias() += c.h.middleRows(std::size_t(t) * B, B) * W_hh.transpose();
    if (act == Activation::tanh)
      z = z.array().tanh();
    else
      z = z.array().max(T(0));
    if (ragged)
      for (int b = 0; b < B; ++b)
        if (t >= lengths[b]) z.row(b) = c.h.row(std::size_t(t) * B + b);
  }
}

// Backward through time.
//   dh_final: (B, H) dL/dh at the final state (the classifier's head), or null
//   dh_steps: (T*B, H) dL/dh_t from above at every step (a stacked layer or a
//             per-step head), or null
// Outputs: dz (T*B, H) dL/dz_t (zero past a sequence's end); dW_hh += sum_t
// dz_t^T h_{t-1}; dh0 (B, H) dL/dh0 when requested.
template <class T>
struct RnnScratch {  // backward's working memory, kept between calls to avoid allocation
  Matrix<T> dh, dh_prev;
};

template <class T>
void rnn_backward(const ConstMatrixMap<T>& W_hh, MatrixMap<T>& dW_hh, Activation act,
                  const RnnCache<T>& c, const Matrix<T>* dh_final, const Matrix<T>* dh_steps,
                  Matrix<T>& dz, Matrix<T>* dh0, RnnScratch<T>& s) {
  // With the running gradient dh = dL/dh_t (everything that reaches h_t):
  //   dz_t     = dh ⊙ act'(z_t)      tanh: 1 - h_t²   relu: 1[h_t > 0]
  //   dh_{t-1} = dz_t W_hh  (+ dL/dh_{t-1} from above)
  //   dW_hh   += dz_t^T h_{t-1}     (summed over t in one product after the loop)
  // A frozen step (t >= L_b) passes dh through unchanged and has dz_t = 0.
  const int Tn = c.steps, B = c.batch, H = c.hidden;
  dz.resize(std::size_t(Tn) * B, H);
  Matrix<T>& dh = s.dh;
  Matrix<T>& dh_prev = s.dh_prev;
  dh.resize(B, H);
  dh_prev.resize(B, H);
  if (dh_final)
    dh = *dh_final;
  else
    dh.setZero();
  const bool ragged = std::any_of(c.lengths.begin(), c.lengths.end(), [&](int L) { return L < Tn; });
  for (int t = Tn - 1; t >= 0; --t) {
    if (dh_steps) dh += dh_steps->middleRows(std::size_t(t) * B, B);
    auto h_t = c.state(t);
    auto dz_t = dz.middleRows(std::size_t(t) * B, B);
    if (act == Activation::tanh)
      dz_t = dh.array() * (T(1) - h_t.array().square());
    else
      dz_t = (h_t.array() > T(0)).select(dh, T(0));
    if (ragged)
      for (int b = 0; b < B; ++b)
        if (t >= c.lengths[b]) dz_t.row(b).setZero();
    if (t == 0 && !dh0) break;  // nothing below step 0 needs dh
    dh_prev.noalias() = dz_t * W_hh;
    if (ragged)
      for (int b = 0; b < B; ++b)
        if (t >= c.lengths[b]) dh_prev.row(b) = dh.row(b);
    dh.swap(dh_prev);
  }
  if (dh0) *dh0 = dh;
  // Step 0 contributes dz_0^T h0, which is zero when h0 is.
  const int first = c.h0_zero ? 1 : 0;
  const std::size_t K = std::size_t(Tn - first) * B;  // the product's inner size
  if (K > 0)
    dW_hh.noalias() += dz.bottomRows(K).transpose() * c.h.middleRows(std::size_t(first) * B, K);
}

}  // namespace recur
