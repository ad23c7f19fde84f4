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
// Bodies in src/cells/lstm.cpp, instantiated for float and double.
#pragma once

namespace recur {
namespace lstm_cell {

// gates <- (i, f, g, o); tc <- tanh(c_t), kept for backward; c, h <- the new state.
template <class T>
void forward(int B, int H, const T* zx, const T* hh, const T* c_prev, T* gates, T* tc, T* c, T* h);

// da <- dL/da (B, 4H); dc_prev <- dL/dc_{t-1}.
template <class T>
void backward(int B, int H, const T* gates, const T* c_prev, const T* tc, const T* dh, const T* dc, T* da,
              T* dc_prev);

}  // namespace lstm_cell
}  // namespace recur
