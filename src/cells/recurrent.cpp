// The recurrent time loop over a batch, forward and backward through time
// (what it computes: include/recur/cells/recurrent.hpp; the math: docs/bptt.md).
#include "recur/cells/recurrent.hpp"

#include <algorithm>

#include "../kernels.hpp"
#include "recur/cells/gru.hpp"
#include "recur/cells/lstm.hpp"
#include "recur/cells/rnn.hpp"

namespace recur {

// The products inside the time loop on one BLAS thread (kernels::panels_pay;
// one-sequence runs have their own kernels): the rows kernel
// (kernels::rows_times_panels) with W_hh packed in panels once for the whole
// sequence, instead of a BLAS call that packs W_hh again at every step.

template <class T>
void recurrent_forward(CellKind kind, const ConstMatrixMap<T>& W_hh, const T* b_hh, const Matrix<T>& zx,
                       const std::vector<int>& lengths, bool reverse, RecurrentCache<T>& c,
                       const Matrix<T>* h0, const Matrix<T>* c0) {
  const int B = int(lengths.size()), H = int(W_hh.cols()), G = gates_of(kind), GH = G * H;
  const int Tn = int(zx.rows()) / B;
  c.kind = kind, c.reverse = reverse, c.steps = Tn, c.batch = B, c.hidden = H;
  c.lengths = lengths;
  c.ragged = std::any_of(lengths.begin(), lengths.end(), [&](int L) { return L < Tn; });
  c.h0_zero = (h0 == nullptr);
  c.h.resize(std::size_t(Tn + 1) * B, H);
  if (h0)
    c.h.topRows(B) = *h0;
  else
    c.h.topRows(B).setZero();
  if (kind == CellKind::lstm) {
    c.c.resize(std::size_t(Tn + 1) * B, H);
    if (c0)
      c.c.topRows(B) = *c0;
    else
      c.c.topRows(B).setZero();
  }
  if (kind == CellKind::lstm || kind == CellKind::gru) c.gates.resize(std::size_t(Tn) * B, GH);
  if (kind == CellKind::gru) c.hn.resize(std::size_t(Tn) * B, H);
  if (kind == CellKind::lstm) c.tc.resize(std::size_t(Tn) * B, H);
  c.hh.resize(B, GH);
  const bool rows_kernel = std::is_same_v<T, float> && kernels::panels_pay(B, {H, GH});
  thread_local Buffer<T> whh_t;  // W_hh^T (H, GH) in the kernel's panels, packed once a sequence
  if (rows_kernel) {
    whh_t.resize(std::size_t(H) * GH);
    kernels::pack_panels_of_transpose<T>(W_hh.data(), H, H, GH, whh_t.data());
  }
  for (int s = 0; s < Tn; ++s) {
    const int t = c.time_of(s);
    const auto h_prev = c.h.middleRows(std::size_t(s) * B, B);
    auto h_next = c.h.middleRows(std::size_t(s + 1) * B, B);
    // hh = h_{t-1} W_hh^T + b_hh: the one product inside the loop.
    if (s == 0 && c.h0_zero) {
      c.hh.setZero();
    } else if (B == 1) {  // one sequence: a small matrix-vector product, added to hh
      c.hh.setZero();
      kernels::matvec(W_hh.data(), GH, H, h_prev.data(), c.hh.data());
    } else if (rows_kernel) {
      kernels::rows_times_panels<T>(h_prev.data(), H, B, H, whh_t.data(), GH, c.hh.data(), GH, false);
    } else {
      c.hh.noalias() = h_prev * W_hh.transpose();
    }
    if (b_hh) c.hh.rowwise() += ConstMatrixMap<T>(b_hh, 1, GH).row(0);
    const T* zx_t = zx.data() + std::size_t(t) * B * GH;
    switch (kind) {
      case CellKind::rnn_tanh:
      case CellKind::rnn_relu:
        rnn_cell::forward(kind == CellKind::rnn_relu, B, H, zx_t, c.hh.data(), h_next.data());
        break;
      case CellKind::lstm:
        lstm_cell::forward(B, H, zx_t, c.hh.data(), c.c.data() + std::size_t(s) * B * H,
                           c.gates.data() + std::size_t(s) * B * GH, c.tc.data() + std::size_t(s) * B * H,
                           c.c.data() + std::size_t(s + 1) * B * H, h_next.data());
        break;
      case CellKind::gru:
        gru_cell::forward(B, H, zx_t, c.hh.data(), h_prev.data(), c.gates.data() + std::size_t(s) * B * GH,
                          c.hn.data() + std::size_t(s) * B * H, h_next.data());
        break;
    }
    if (c.ragged)
      for (int b = 0; b < B; ++b)
        if (t >= lengths[std::size_t(b)]) {  // inactive: the state does not move
          h_next.row(b) = h_prev.row(b);
          if (kind == CellKind::lstm) c.c.row(std::size_t(s + 1) * B + b) = c.c.row(std::size_t(s) * B + b);
        }
  }
}

template <class T>
void recurrent_backward(const ConstMatrixMap<T>& W_hh, MatrixMap<T>& dW_hh, T* db_hh, const RecurrentCache<T>& c,
                        const Matrix<T>* dh_final, const Matrix<T>* dh_steps, Matrix<T>& dzx,
                        RecurrentScratch<T>& s, const Matrix<T>* dc_final) {
  const CellKind kind = c.kind;
  const int Tn = c.steps, B = c.batch, H = c.hidden, G = gates_of(kind), GH = G * H;
  dzx.resize(std::size_t(Tn) * B, GH);
  // dah_t, the gradient of the recurrent half of the pre-activations, in
  // processing order (its rows align with h's blocks). For the RNN and LSTM it
  // equals dzx_t, so forward in time it is dzx itself, not a copy.
  const bool dah_is_dzx = kind != CellKind::gru && !c.reverse;
  if (!dah_is_dzx) s.dhh.resize(std::size_t(Tn) * B, GH);
  T* const dah = dah_is_dzx ? dzx.data() : s.dhh.data();
  s.dh.resize(B, H);
  s.dh_prev.resize(B, H);
  if (dh_final)
    s.dh = *dh_final;
  else
    s.dh.setZero();
  if (kind == CellKind::lstm) {
    s.dc.resize(B, H);
    s.dc_prev.resize(B, H);
    if (dc_final)
      s.dc = *dc_final;
    else
      s.dc.setZero();
  }
  // dh_{t-1} += da_t W_hh: W_hh (GH, H) in the rows kernel's panels, packed once a sequence.
  const bool rows_kernel = std::is_same_v<T, float> && kernels::panels_pay(B, {H, GH});
  thread_local Buffer<T> whh;
  if (rows_kernel) {
    whh.resize(std::size_t(GH) * H);
    kernels::pack_panels<T>(GH, H, [&](int k, int n) { return W_hh(k, n); }, whh.data());
  }
  // dh_{t-1} starts from the direct path from h_t (not through W_hh): GRU's
  // z ⊙ dh, and inactive rows' dh. With neither, the rows kernel writes it.
  const bool overwrite = rows_kernel && kind != CellKind::gru && !c.ragged;
  // The bias gradients, summed a step at a time while the step's rows are
  // still in cache: sum_t dzx_t (db_ih; db_hh too, but for the GRU's sum_t dah_t).
  const bool dah_sum = kind == CellKind::gru && db_hh;  // (only the GRU's db_hh needs its own sum)
  s.dzx_sum.setZero(1, GH);
  if (dah_sum) s.dah_sum.setZero(1, GH);
  auto add_rows = [&](const T* rows, Matrix<T>& sum) {
    T* out = sum.data();
    for (int b = 0; b < B; ++b, rows += GH)
      for (int j = 0; j < GH; ++j) out[j] += rows[j];
  };
  for (int st = Tn - 1; st >= 0; --st) {
    const int t = c.time_of(st);
    if (dh_steps) s.dh += dh_steps->middleRows(std::size_t(t) * B, B);
    T* dzx_t = dzx.data() + std::size_t(t) * B * GH;
    T* dah_t = dah + std::size_t(st) * B * GH;
    const T* h_prev = c.h.data() + std::size_t(st) * B * H;
    const T* h_next = c.h.data() + std::size_t(st + 1) * B * H;
    if (!overwrite) s.dh_prev.setZero();
    switch (kind) {
      case CellKind::rnn_tanh:
      case CellKind::rnn_relu:
        rnn_cell::backward(kind == CellKind::rnn_relu, B, H, h_next, s.dh.data(), dzx_t);
        if (dah_t != dzx_t) std::copy(dzx_t, dzx_t + std::size_t(B) * GH, dah_t);
        break;
      case CellKind::lstm:
        lstm_cell::backward(B, H, c.gates.data() + std::size_t(st) * B * GH, c.c.data() + std::size_t(st) * B * H,
                            c.tc.data() + std::size_t(st) * B * H, s.dh.data(), s.dc.data(), dzx_t,
                            s.dc_prev.data());
        if (dah_t != dzx_t) std::copy(dzx_t, dzx_t + std::size_t(B) * GH, dah_t);
        break;
      case CellKind::gru:
        gru_cell::backward(B, H, c.gates.data() + std::size_t(st) * B * GH, c.hn.data() + std::size_t(st) * B * H,
                           h_prev, s.dh.data(), dzx_t, dah_t, s.dh_prev.data());
        break;
    }
    if (c.ragged)
      for (int b = 0; b < B; ++b)
        if (t >= c.lengths[std::size_t(b)]) {  // inactive: gradients pass through untouched
          std::fill(dzx_t + std::size_t(b) * GH, dzx_t + std::size_t(b + 1) * GH, T(0));
          std::fill(dah_t + std::size_t(b) * GH, dah_t + std::size_t(b + 1) * GH, T(0));
          s.dh_prev.row(b) = s.dh.row(b);
          if (kind == CellKind::lstm) s.dc_prev.row(b) = s.dc.row(b);
        }
    add_rows(dzx_t, s.dzx_sum);
    if (dah_sum) add_rows(dah_t, s.dah_sum);
    if (kind == CellKind::lstm) s.dc.swap(s.dc_prev);
    if (st == 0) break;  // nothing below the first step needs dh (h0 is not trained)
    if (B == 1)
      kernels::matvec_t(W_hh.data(), GH, H, dah_t, s.dh_prev.data());
    else if (rows_kernel)
      kernels::rows_times_panels<T>(dah_t, GH, B, GH, whh.data(), H, s.dh_prev.data(), H, !overwrite);
    else
      s.dh_prev.noalias() += Eigen::Map<const Matrix<T>>(dah_t, B, GH) * W_hh;
    s.dh.swap(s.dh_prev);
  }
  // dW_hh += sum_s dah_s^T h_{s-1}; step 0 contributes nothing when h0 = 0.
  const int first = c.h0_zero ? 1 : 0;
  const std::size_t K = std::size_t(Tn - first) * B;
  if (K > 0)
    dW_hh.noalias() += ConstMatrixMap<T>(dah + std::size_t(first) * B * GH, Eigen::Index(K), GH).transpose() *
                       c.h.middleRows(std::size_t(first) * B, K);
  if (db_hh) MatrixMap<T>(db_hh, 1, GH) += kind == CellKind::gru ? s.dah_sum : s.dzx_sum;
}

#define RECUR_INSTANTIATE(T)                                                                                \
  template void recurrent_forward<T>(CellKind, const ConstMatrixMap<T>&, const T*, const Matrix<T>&,         \
                                     const std::vector<int>&, bool, RecurrentCache<T>&, const Matrix<T>*,    \
                                     const Matrix<T>*);                                                      \
  template void recurrent_backward<T>(const ConstMatrixMap<T>&, MatrixMap<T>&, T*, const RecurrentCache<T>&, \
                                      const Matrix<T>*, const Matrix<T>*, Matrix<T>&, RecurrentScratch<T>&,    \
                                      const Matrix<T>*);
RECUR_INSTANTIATE(float)
RECUR_INSTANTIATE(double)
#undef RECUR_INSTANTIATE

}  // namespace recur
