// The LSTM cell's elementwise step (equations in include/recur/cells/lstm.hpp).
#include "recur/cells/lstm.hpp"

#include <algorithm>
#include <type_traits>

#include "rows.hpp"

namespace recur {
namespace lstm_cell {

using cells::ConstRows;
using cells::Rows;

namespace {

// The step for float, one pass over each row: a packet of every gate at a
// time, the cell and its output written while the gates are in registers (the
// array expressions below make a pass per gate and per result). The same
// packet functions as those expressions; a row's last partial packet goes
// through a packet-sized buffer, so every unit takes the same instructions.
void forward_fused(int B, int H, const float* zx, const float* hh, const float* c_prev, float* gates, float* tc,
                   float* c, float* h) {
  using namespace Eigen::internal;
  using P = packet_traits<float>::type;
  constexpr int L = packet_traits<float>::size;
  const scalar_logistic_op<float> sigmoid;
  const scalar_tanh_op<float> tanh_;
  const int G = 4 * H;
  auto unit = [&](const float* z0, const float* z1, const float* z2, const float* z3, const float* h0,
                  const float* h1, const float* h2, const float* h3, const float* cp, float* a0, float* a1, float* a2,
                  float* a3, float* t, float* cn, float* hn) {
    const P i = sigmoid.packetOp(padd(ploadu<P>(z0), ploadu<P>(h0)));
    const P f = sigmoid.packetOp(padd(ploadu<P>(z1), ploadu<P>(h1)));
    const P g = tanh_.packetOp(padd(ploadu<P>(z2), ploadu<P>(h2)));
    const P o = sigmoid.packetOp(padd(ploadu<P>(z3), ploadu<P>(h3)));
    const P cc = padd(pmul(f, ploadu<P>(cp)), pmul(i, g));
    const P tcc = tanh_.packetOp(cc);
    pstoreu(a0, i), pstoreu(a1, f), pstoreu(a2, g), pstoreu(a3, o);
    pstoreu(t, tcc), pstoreu(cn, cc), pstoreu(hn, pmul(o, tcc));
  };
  for (int b = 0; b < B; ++b) {
    const float* z = zx + std::size_t(b) * G;
    const float* r = hh + std::size_t(b) * G;
    const float* cp = c_prev + std::size_t(b) * H;
    float* a = gates + std::size_t(b) * G;
    float* t = tc + std::size_t(b) * H;
    float* cn = c + std::size_t(b) * H;
    float* hn = h + std::size_t(b) * H;
    int j = 0;
    for (; j + L <= H; j += L)
      unit(z + j, z + H + j, z + 2 * H + j, z + 3 * H + j, r + j, r + H + j, r + 2 * H + j, r + 3 * H + j, cp + j,
           a + j, a + H + j, a + 2 * H + j, a + 3 * H + j, t + j, cn + j, hn + j);
    if (j < H) {  // the last units: through a buffer of whole packets
      const int n = H - j;
      alignas(64) float in[9][L] = {}, out[7][L];
      for (int q = 0; q < 4; ++q) std::copy(z + q * H + j, z + q * H + H, in[q]), std::copy(r + q * H + j, r + q * H + H, in[4 + q]);
      std::copy(cp + j, cp + H, in[8]);
      unit(in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7], in[8], out[0], out[1], out[2], out[3], out[4],
           out[5], out[6]);
      for (int q = 0; q < 4; ++q) std::copy(out[q], out[q] + n, a + q * H + j);
      std::copy(out[4], out[4] + n, t + j), std::copy(out[5], out[5] + n, cn + j), std::copy(out[6], out[6] + n, hn + j);
    }
  }
}

}  // namespace

template <class T>
void forward(int B, int H, const T* zx, const T* hh, const T* c_prev, T* gates, T* tc, T* c, T* h) {
  if constexpr (std::is_same_v<T, float>) {
    forward_fused(B, H, zx, hh, c_prev, gates, tc, c, h);
  } else {
    Rows<T> a(gates, B, 4 * H);
    a = ConstRows<T>(zx, B, 4 * H) + ConstRows<T>(hh, B, 4 * H);
    a.leftCols(2 * H) = a.leftCols(2 * H).logistic();        // i, f
    a.middleCols(2 * H, H) = a.middleCols(2 * H, H).tanh();  // g
    a.rightCols(H) = a.rightCols(H).logistic();              // o
    Rows<T> cn(c, B, H), tcn(tc, B, H);
    cn = a.middleCols(H, H) * ConstRows<T>(c_prev, B, H) + a.leftCols(H) * a.middleCols(2 * H, H);
    tcn = cn.tanh();
    Rows<T>(h, B, H) = a.rightCols(H) * tcn;
  }
}

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

#define RECUR_INSTANTIATE(T)                                                                               \
  template void forward<T>(int, int, const T*, const T*, const T*, T*, T*, T*, T*);                        \
  template void backward<T>(int, int, const T*, const T*, const T*, const T*, const T*, T*, T*);
RECUR_INSTANTIATE(float)
RECUR_INSTANTIATE(double)
#undef RECUR_INSTANTIATE

}  // namespace lstm_cell
}  // namespace recur
