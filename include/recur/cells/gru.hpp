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

using lstm_cell::ConstRows;
using lstm_cell::Rows;

// gates <- (r, z, n); hn <- ah_n, kept for backward; h <- the new state.
template <class T>
void forward(int B, int H, const T* zx, const T* hh, const T* h_prev, T* gates, T* hn, T* h) {
  const ConstRows<T> ax(zx, B, 3 * H), ah(hh, B, 3 * H);
  Rows<T> a(gates, B, 3 * H);
  a.leftCols(2 * H) = (ax.leftCols(2 * H) + ah.leftCols(2 * H)).logistic();  // r, z
  Rows<T>(hn, B, H) = ah.rightCols(H);
  a.rightCols(H) = (ax.rightCols(H) + a.leftCols(H) * ah.rightCols(H)).tanh();  // n
  const auto z = a.middleCols(H, H), n = a.rightCols(H);
  Rows<T>(h, B, H) = (T(1) - z) * n + z * ConstRows<T>(h_prev, B, H);
}

template <class T>
void backward(int B, int H, const T* gates, const T* hn, const T* h_prev, const T* dh, T* dax, T* dah,
              T* dh_direct) {
  const ConstRows<T> a(gates, B, 3 * H), dhb(dh, B, H), hnb(hn, B, H);
  const auto r = a.leftCols(H), z = a.middleCols(H, H), n = a.rightCols(H);
  Rows<T> dx(dax, B, 3 * H), dhh(dah, B, 3 * H);
  dx.rightCols(H) = dhb * (T(1) - z) * (T(1) - n.square());                                 // da_n
  dx.middleCols(H, H) = dhb * (ConstRows<T>(h_prev, B, H) - n) * z * (T(1) - z);             // da_z
  dx.leftCols(H) = dx.rightCols(H) * hnb * r * (T(1) - r);                                   // da_r
  dhh.leftCols(2 * H) = dx.leftCols(2 * H);
  dhh.rightCols(H) = dx.rightCols(H) * r;
  Rows<T>(dh_direct, B, H) = dhb * z;
}

}  // namespace gru_cell
}  // namespace recur
