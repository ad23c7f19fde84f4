// recur/cells/gru.hpp — the GRU cell: one time step, elementwise part.
//
// PyTorch's nn.GRU, gates fused in the order (r, z, n), G = 3. The input half
// ax = W_ih x_t + b_ih and the hidden half ah = W_hh h_{t-1} + b_hh stay apart,
// because r multiplies only the hidden half of n:
//
//   r = σ(ax_r + ah_r)
//   z = σ(ax_z + ah_z)
//   n = tanh(ax_n + r ⊙ ah_n)
//   h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}
//
// Backward, with dh = dL/dh_t:
//   dn = dh ⊙ (1 - z)        da_n = dn ⊙ (1 - n²)
//   dz = dh ⊙ (h_{t-1} - n)  da_z = dz ⊙ z (1 - z)
//   dr = da_n ⊙ ah_n         da_r = dr ⊙ r (1 - r)
//   input half:  dax = (da_r, da_z, da_n)
//   hidden half: dah = (da_r, da_z, da_n ⊙ r)
//   direct path: dL/dh_{t-1} = dh ⊙ z   (+ dah W_hh, added by the driver)
//
// Shapes for one step: zx, hh, gates, dax, dah: (B, 3H); h_prev, h, dh, dh_direct: (B, H).
#pragma once

#include <cmath>

#include "recur/cells/lstm.hpp"  // sigmoid

namespace recur {
namespace gru_cell {

using lstm_cell::sigmoid;

// gates <- (r, z, n); ah_n is kept in gates' caller-provided hn (B, H).
template <class T>
void forward(int B, int H, const T* zx, const T* hh, const T* h_prev, T* gates, T* hn, T* h) {
  for (int b = 0; b < B; ++b) {
    const T* ax = zx + std::size_t(b) * 3 * H;
    const T* ah = hh + std::size_t(b) * 3 * H;
    T* gt = gates + std::size_t(b) * 3 * H;
    T* hnb = hn + std::size_t(b) * H;
    const T* hp = h_prev + std::size_t(b) * H;
    T* hb = h + std::size_t(b) * H;
    for (int j = 0; j < H; ++j) {
      const T r = sigmoid(ax[j] + ah[j]);
      const T z = sigmoid(ax[H + j] + ah[H + j]);
      const T n = std::tanh(ax[2 * H + j] + r * ah[2 * H + j]);
      gt[j] = r, gt[H + j] = z, gt[2 * H + j] = n;
      hnb[j] = ah[2 * H + j];
      hb[j] = (T(1) - z) * n + z * hp[j];
    }
  }
}

template <class T>
void backward(int B, int H, const T* gates, const T* hn, const T* h_prev, const T* dh, T* dax,
              T* dah, T* dh_direct) {
  for (int b = 0; b < B; ++b) {
    const T* gt = gates + std::size_t(b) * 3 * H;
    const T* hnb = hn + std::size_t(b) * H;
    const T* hp = h_prev + std::size_t(b) * H;
    const T* dhb = dh + std::size_t(b) * H;
    T* dx = dax + std::size_t(b) * 3 * H;
    T* dhh = dah + std::size_t(b) * 3 * H;
    T* dd = dh_direct + std::size_t(b) * H;
    for (int j = 0; j < H; ++j) {
      const T r = gt[j], z = gt[H + j], n = gt[2 * H + j];
      const T dan = dhb[j] * (T(1) - z) * (T(1) - n * n);
      const T daz = dhb[j] * (hp[j] - n) * z * (T(1) - z);
      const T dar = dan * hnb[j] * r * (T(1) - r);
      dx[j] = dhh[j] = dar;
      dx[H + j] = dhh[H + j] = daz;
      dx[2 * H + j] = dan;
      dhh[2 * H + j] = dan * r;
      dd[j] = dhb[j] * z;
    }
  }
}

}  // namespace gru_cell
}  // namespace recur
