// recur/cells/recurrent.hpp — one recurrent layer in one direction over a batch:
// the time loop around the cells of rnn.hpp, lstm.hpp and gru.hpp.
//
// Batched and time-major: row t*B + b of every (T*B, .) matrix is sequence b at
// time t. The caller supplies the input half of every gate pre-activation for
// all steps at once, zx = x W_ih^T + b_ih (T*B, G*H) — one GEMM, or a gather for
// one-hot input — so only h_{t-1} W_hh^T is inside the time loop.
//
// Sequences may be shorter than T. Step t is active for sequence b when
// t < L_b. An inactive step leaves the state unchanged, so
//   forward direction: after its last token a sequence's state is frozen, and
//                      the final state is the state at its last real token;
//   reverse direction: (t from T-1 down to 0) the state stays h0 until the
//                      sequence's last token, and the final state is the state
//                      at its first token — PyTorch's packed-sequence h_n.
// Every gradient is therefore exactly that of each sequence on its own.
//
// Shapes: zx (T*B, G*H)  W_hh (G*H, H)  b_hh (G*H) or null  h0, c0 (B, H) or zero
// Bodies in src/cells/recurrent.cpp, instantiated for float and double.
#pragma once

#include <vector>

#include "recur/config.hpp"
#include "recur/tensor.hpp"

namespace recur {

// Everything forward keeps for backward. States are stored in processing order:
// block s+1 of h is the state after the s-th step processed (block 0 is h0).
template <class T>
struct RecurrentCache {
  CellKind kind = CellKind::rnn_tanh;
  bool reverse = false;
  int steps = 0, batch = 0, hidden = 0;  // T, B, H
  std::vector<int> lengths;              // (B)
  bool ragged = false;                   // some sequence shorter than T
  bool h0_zero = true;                   // the step-0 recurrent product vanishes
  Matrix<T> h;      // ((T+1)*B, H)
  Matrix<T> c;      // lstm: ((T+1)*B, H) cell states
  Matrix<T> gates;  // lstm (i,f,g,o), gru (r,z,n): (T*B, G*H) activations
  Matrix<T> hn;     // gru: (T*B, H) the hidden half of n, W_hn h + b_hn
  Matrix<T> tc;     // lstm: (T*B, H) tanh(c_t)
  Matrix<T> hh;     // scratch (B, G*H)

  int time_of(int s) const { return reverse ? steps - 1 - s : s; }
  int step_of(int t) const { return reverse ? steps - 1 - t : t; }
  // The layer's output at time t (B, H).
  auto output(int t) const { return h.middleRows(std::size_t(step_of(t) + 1) * batch, batch); }
  // The final state (B, H): at each sequence's last token (forward) or first (reverse).
  auto final_state() const { return h.middleRows(std::size_t(steps) * batch, batch); }
};

// h0, c0: (B, H) initial states, or null for zeros (c0: lstm only).
template <class T>
void recurrent_forward(CellKind kind, const ConstMatrixMap<T>& W_hh, const T* b_hh, const Matrix<T>& zx,
                       const std::vector<int>& lengths, bool reverse, RecurrentCache<T>& c,
                       const Matrix<T>* h0 = nullptr, const Matrix<T>* c0 = nullptr);

// Working memory of recurrent_backward, kept by the caller between calls.
template <class T>
struct RecurrentScratch {
  Matrix<T> dh, dh_prev, dc, dc_prev, dhh;  // (B,H) x4, (T*B,GH)
  Matrix<T> dzx_sum;                        // (1, GH): sum_t dzx_t, which is db_ih
  Matrix<T> dah_sum;                        // (1, GH): sum_t dah_t, the GRU's db_hh
};

// Backward through time.
//   dh_final: (B, H) dL/d(final state), or null; dc_final: (B, H) dL/d(final cell state) (LSTM), or null
//   dh_steps: (T*B, H) dL/d(output at time t), time order, or null
// Out: dzx (T*B, G*H), time order: dL/d(input half of the pre-activations), from
// which the caller forms dW_ih += dzx^T x, db_ih += sum dzx, dx = dzx W_ih;
// s.dzx_sum holds sum dzx. Accumulates dW_hh += sum_t dah_t^T h_{t-1} and, when
// given, db_hh += sum_t dah_t (the same sum as dzx's but for GRU, whose dah_t
// has the reset gate on its candidate's third).
template <class T>
void recurrent_backward(const ConstMatrixMap<T>& W_hh, MatrixMap<T>& dW_hh, T* db_hh, const RecurrentCache<T>& c,
                        const Matrix<T>* dh_final, const Matrix<T>* dh_steps, Matrix<T>& dzx,
                        RecurrentScratch<T>& s, const Matrix<T>* dc_final = nullptr);

}  // namespace recur
