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
// Bodies in src/cells/gru.cpp, instantiated for float and double.
#pragma once

namespace recur {
namespace gru_cell {

// gates <- (r, z, n); hn <- ah_n, kept for backward; h <- the new state.
template <class T>
void forward(int B, int H, const T* zx, const T* hh, const T* h_prev, T* gates, T* hn, T* h);

// dax, dah <- the input and hidden halves of dL/da (B, 3H); dh_direct <- dh ⊙ z.
template <class T>
void backward(int B, int H, const T* gates, const T* hn, const T* h_prev, const T* dh, T* dax, T* dah,
              T* dh_direct);

}  // namespace gru_cell
}  // namespace recur
