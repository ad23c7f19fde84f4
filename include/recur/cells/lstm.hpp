// recur/cells/lstm.hpp — the LSTM cell: one time step, elementwise part.
//
// PyTorch's nn.LSTM, gates fused in the order (i, f, g, o), G = 4:
//
//   [a_i a_f a_g a_o] = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh          (B, 4H)
//   i = σ(a_i)   f = σ(a_f)   g = tanh(a_g)   o = σ(a_o)
//   c_t = f ⊙ c_{t-1} + i ⊙ g
//   h_t = o ⊙ tanh(c_t)
//
// Backward, with dh = dL/dh_t and dc = dL/dc_t arriving from step t+1:
//   dc_t   = dc + dh ⊙ o ⊙ (1 - tanh²(c_t))
//   da_o   = dh ⊙ tanh(c_t) ⊙ o (1 - o)
//   da_i   = dc_t ⊙ g ⊙ i (1 - i)
//   da_f   = dc_t ⊙ c_{t-1} ⊙ f (1 - f)
//   da_g   = dc_t ⊙ i ⊙ (1 - g²)
//   dc_{t-1} = dc_t ⊙ f
// and the driver adds dh_{t-1} = da W_hh. The gradient of the input half and
// of the hidden half of a are the same da.
//
// Shapes for one step: zx, hh, gates, da: (B, 4H); c_prev, c, tc = tanh(c), h, dh, dc: (B, H).
#pragma once

#include <Eigen/Core>
#include <cmath>

namespace recur {
namespace lstm_cell {

template <class T>
inline T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

template <class T>
using Rows = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;
template <class T>
using ConstRows = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;

// gates <- (i, f, g, o); tc <- tanh(c_t), kept for backward; c, h <- the new state.
// Written as whole-block array expressions so Eigen vectorizes the activations.
template <class T>
void forward(int B, int H, const T* zx, const T* hh, const T* c_prev, T* gates, T* tc, T* c, T* h) {
  Rows<T> a(gates, B, 4 * H);
  a = ConstRows<T>(zx, B, 4 * H) + ConstRows<T>(hh, B, 4 * H);
  a.leftCols(2 * H) = a.leftCols(2 * H).logistic();  // i, f
  a.middleCols(2 * H, H) = a.middleCols(2 * H, H).tanh();  // g
  a.rightCols(H) = a.rightCols(H).logistic();  // o
  Rows<T> cn(c, B, H), tcn(tc, B, H);
  cn = a.middleCols(H, H) * ConstRows<T>(c_prev, B, H) + a.leftCols(H) * a.middleCols(2 * H, H);
  tcn = cn.tanh();
  Rows<T>(h, B, H) = a.rightCols(H) * tcn;
}

// da <- dL/da (B, 4H); dc_prev <- dL/dc_{t-1}.
template <class T>
void backward(int B, int H, const T* gates, const T* c_prev, const T* tc, const T* dh, const T* dc, T* da,
              T* dc_prev) {
  const ConstRows<T> a(gates, B, 4 * H), t(tc, B, H), dhb(dh, B, H);
  const auto i = a.leftCols(H), f = a.middleCols(H, H), g = a.middleCols(2 * H, H), o = a.rightCols(H);
  Rows<T> d(da, B, 4 * H), dcp(dc_prev, B, H);
  dcp = ConstRows<T>(dc, B, H) + dhb * o * (T(1) - t.square());  // dc_t, for now
  d.leftCols(H) = dcp * g * i * (T(1) - i);
  d.middleCols(H, H) = dcp * ConstRows<T>(c_prev, B, H) * f * (T(1) - f);
  d.middleCols(2 * H, H) = dcp * i * (T(1) - g.square());
  d.rightCols(H) = dhb * t * o * (T(1) - o);
  dcp *= f;  // dc_{t-1} = dc_t ⊙ f
}

}  // namespace lstm_cell
}  // namespace recur
