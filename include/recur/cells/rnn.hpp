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
// Bodies in src/cells/rnn.cpp, instantiated for float and double.
#pragma once

namespace recur {
namespace rnn_cell {

// h = act(zx + hh)
template <class T>
void forward(bool relu, int B, int H, const T* zx, const T* hh, T* h);

// dz = dh ⊙ act'(z), from the saved output h.
template <class T>
void backward(bool relu, int B, int H, const T* h, const T* dh, T* dz);

}  // namespace rnn_cell
}  // namespace recur
