// The GRU cell's elementwise step (equations in include/recur/cells/gru.hpp).
#include "recur/cells/gru.hpp"

#include <type_traits>

#include "rows.hpp"

namespace recur {
namespace gru_cell {

using cells::ConstRows;
using cells::Rows;

namespace {

using cells::for_each_packet;
using cells::In;
using cells::Out;
using P = cells::FloatPacket;
using namespace Eigen::internal;

// The step for float in one pass over each row (see lstm.cpp): the same
// equations on a packet of units at a time, with the array expressions'
// packet functions.
void forward_fused(int B, int H, const float* zx, const float* hh, const float* h_prev, float* gates, float* hn,
                   float* h) {
  const int G = 3 * H;
  const In in[] = {{zx, G}, {zx + H, G}, {zx + 2 * H, G}, {hh, G}, {hh + H, G}, {hh + 2 * H, G}, {h_prev, H}};
  const Out out[] = {{gates, G}, {gates + H, G}, {gates + 2 * H, G}, {hn, H}, {h, H}};
  for_each_packet(B, H, in, out, [](const float* const* x, float* const* y) {
    const scalar_logistic_op<float> sigmoid;
    const scalar_tanh_op<float> tanh_;
    const P r = sigmoid.packetOp(padd(ploadu<P>(x[0]), ploadu<P>(x[3])));
    const P z = sigmoid.packetOp(padd(ploadu<P>(x[1]), ploadu<P>(x[4])));
    const P ahn = ploadu<P>(x[5]);
    const P n = tanh_.packetOp(padd(ploadu<P>(x[2]), pmul(r, ahn)));
    const P hp = ploadu<P>(x[6]);
    pstoreu(y[0], r), pstoreu(y[1], z), pstoreu(y[2], n), pstoreu(y[3], ahn);
    pstoreu(y[4], padd(pmul(psub(pset1<P>(1.f), z), n), pmul(z, hp)));
  });
}

void backward_fused(int B, int H, const float* gates, const float* hn, const float* h_prev, const float* dh,
                    float* dax, float* dah, float* dh_direct) {
  const int G = 3 * H;
  const In in[] = {{gates, G}, {gates + H, G}, {gates + 2 * H, G}, {hn, H}, {h_prev, H}, {dh, H}};
  const Out out[] = {{dax, G}, {dax + H, G}, {dax + 2 * H, G}, {dah, G}, {dah + H, G}, {dah + 2 * H, G}, {dh_direct, H}};
  for_each_packet(B, H, in, out, [](const float* const* x, float* const* y) {
    const P one = pset1<P>(1.f);
    const P r = ploadu<P>(x[0]), z = ploadu<P>(x[1]), n = ploadu<P>(x[2]), dhb = ploadu<P>(x[5]);
    const P dan = pmul(pmul(dhb, psub(one, z)), psub(one, pmul(n, n)));
    const P daz = pmul(pmul(pmul(dhb, psub(ploadu<P>(x[4]), n)), z), psub(one, z));
    const P dar = pmul(pmul(pmul(dan, ploadu<P>(x[3])), r), psub(one, r));
    pstoreu(y[0], dar), pstoreu(y[1], daz), pstoreu(y[2], dan);
    pstoreu(y[3], dar), pstoreu(y[4], daz), pstoreu(y[5], pmul(dan, r));
    pstoreu(y[6], pmul(dhb, z));
  });
}

}  // namespace

template <class T>
void forward(int B, int H, const T* zx, const T* hh, const T* h_prev, T* gates, T* hn, T* h) {
  if constexpr (std::is_same_v<T, float>) {
    forward_fused(B, H, zx, hh, h_prev, gates, hn, h);
  } else {
    const ConstRows<T> ax(zx, B, 3 * H), ah(hh, B, 3 * H);
    Rows<T> a(gates, B, 3 * H);
    a.leftCols(2 * H) = (ax.leftCols(2 * H) + ah.leftCols(2 * H)).logistic();  // r, z
    Rows<T>(hn, B, H) = ah.rightCols(H);
    a.rightCols(H) = (ax.rightCols(H) + a.leftCols(H) * ah.rightCols(H)).tanh();  // n
    const auto z = a.middleCols(H, H), n = a.rightCols(H);
    Rows<T>(h, B, H) = (T(1) - z) * n + z * ConstRows<T>(h_prev, B, H);
  }
}

template <class T>
void backward(int B, int H, const T* gates, const T* hn, const T* h_prev, const T* dh, T* dax, T* dah,
              T* dh_direct) {
  if constexpr (std::is_same_v<T, float>) {
    backward_fused(B, H, gates, hn, h_prev, dh, dax, dah, dh_direct);
  } else {
    const ConstRows<T> a(gates, B, 3 * H), dhb(dh, B, H), hnb(hn, B, H);
    const auto r = a.leftCols(H), z = a.middleCols(H, H), n = a.rightCols(H);
    Rows<T> dx(dax, B, 3 * H), dhh(dah, B, 3 * H);
    dx.rightCols(H) = dhb * (T(1) - z) * (T(1) - n.square());                      // da_n
    dx.middleCols(H, H) = dhb * (ConstRows<T>(h_prev, B, H) - n) * z * (T(1) - z);  // da_z
    dx.leftCols(H) = dx.rightCols(H) * hnb * r * (T(1) - r);                        // da_r
    dhh.leftCols(2 * H) = dx.leftCols(2 * H);
    dhh.rightCols(H) = dx.rightCols(H) * r;
    Rows<T>(dh_direct, B, H) = dhb * z;
  }
}

#define RECUR_INSTANTIATE(T)                                                                          \
  template void forward<T>(int, int, const T*, const T*, const T*, T*, T*, T*);                       \
  template void backward<T>(int, int, const T*, const T*, const T*, const T*, T*, T*, T*);
RECUR_INSTANTIATE(float)
RECUR_INSTANTIATE(double)
#undef RECUR_INSTANTIATE

}  // namespace gru_cell
}  // namespace recur
