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
// Shapes for one step: zx, hh, gates, da: (B, 4H); c_prev, c, h, dh, dc: (B, H).
#pragma once

#include <cmath>

namespace recur {
namespace lstm_cell {

template <class T>
inline T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

// gates <- (i, f, g, o); c, h <- the new state.
template <class T>
void forward(int B, int H, const T* zx, const T* hh, const T* c_prev, T* gates, T* c, T* h) {
  for (int b = 0; b < B; ++b) {
    const T* ax = zx + std::size_t(b) * 4 * H;
    const T* ah = hh + std::size_t(b) * 4 * H;
    T* gt = gates + std::size_t(b) * 4 * H;
    const T* cp = c_prev + std::size_t(b) * H;
    T* cb = c + std::size_t(b) * H;
    T* hb = h + std::size_t(b) * H;
    for (int j = 0; j < H; ++j) {
      const T i = sigmoid(ax[j] + ah[j]);
      const T f = sigmoid(ax[H + j] + ah[H + j]);
      const T g = std::tanh(ax[2 * H + j] + ah[2 * H + j]);
      const T o = sigmoid(ax[3 * H + j] + ah[3 * H + j]);
      gt[j] = i, gt[H + j] = f, gt[2 * H + j] = g, gt[3 * H + j] = o;
      cb[j] = f * cp[j] + i * g;
      hb[j] = o * std::tanh(cb[j]);
    }
  }
}

// da <- dL/da (B, 4H); dc_prev <- dL/dc_{t-1}. dc may alias dc_prev.
template <class T>
void backward(int B, int H, const T* gates, const T* c_prev, const T* c, const T* dh, const T* dc,
              T* da, T* dc_prev) {
  for (int b = 0; b < B; ++b) {
    const T* gt = gates + std::size_t(b) * 4 * H;
    const T* cp = c_prev + std::size_t(b) * H;
    const T* cb = c + std::size_t(b) * H;
    const T* dhb = dh + std::size_t(b) * H;
    const T* dcb = dc + std::size_t(b) * H;
    T* d = da + std::size_t(b) * 4 * H;
    T* dcp = dc_prev + std::size_t(b) * H;
    for (int j = 0; j < H; ++j) {
      const T i = gt[j], f = gt[H + j], g = gt[2 * H + j], o = gt[3 * H + j];
      const T tc = std::tanh(cb[j]);
      const T dct = dcb[j] + dhb[j] * o * (T(1) - tc * tc);
      d[j] = dct * g * i * (T(1) - i);
      d[H + j] = dct * cp[j] * f * (T(1) - f);
      d[2 * H + j] = dct * i * (T(1) - g * g);
      d[3 * H + j] = dhb[j] * tc * o * (T(1) - o);
      dcp[j] = dct * f;
    }
  }
}

}  // namespace lstm_cell
}  // namespace recur
