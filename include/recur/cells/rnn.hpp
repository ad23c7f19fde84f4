// recur/cells/rnn.hpp — the vanilla (Elman) RNN cell: one time step, elementwise part.
//
// PyTorch's nn.RNN, and the seed's equations (W_xh = weight_ih, b_h = bias_ih + bias_hh):
//
//   z_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
//   h_t = act(z_t)                act = tanh (rnn_tanh) or max(0, .) (rnn_relu)
//
// Backward, with dh = dL/dh_t (everything that reaches h_t):
//   dz_t = dh ⊙ act'(z_t)         tanh: 1 - h_t²    relu: 1[h_t > 0]
// and the driver (recurrent.hpp) forms dh_{t-1} = dz_t W_hh, dW_hh += dz_t^T h_{t-1},
// dW_ih += dz_t^T x_t from dz_t. G = 1 gate.
//
// Shapes for one step: zx, hh, h: (B, H), rows contiguous (row stride H).
#pragma once

#include <Eigen/Core>
#include <cmath>

namespace recur {
namespace rnn_cell {

// h = act(zx + hh)
template <class T>
void forward(bool relu, int B, int H, const T* zx, const T* hh, T* h) {
  using A = Eigen::Array<T, Eigen::Dynamic, 1>;
  const Eigen::Index n = Eigen::Index(B) * H;
  Eigen::Map<A> out(h, n);
  const Eigen::Map<const A> a(zx, n), b(hh, n);
  if (relu)
    out = (a + b).max(T(0));
  else
    out = (a + b).tanh();  // Eigen's vectorized tanh
}

// dz = dh ⊙ act'(z), from the saved output h.
template <class T>
void backward(bool relu, int B, int H, const T* h, const T* dh, T* dz) {
  const int n = B * H;
  if (relu)
    for (int i = 0; i < n; ++i) dz[i] = h[i] > T(0) ? dh[i] : T(0);
  else
    for (int i = 0; i < n; ++i) dz[i] = dh[i] * (T(1) - h[i] * h[i]);
}

}  // namespace rnn_cell
}  // namespace recur
