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

using cells::for_each_packet;
using cells::In;
using cells::Out;
using P = cells::FloatPacket;
using namespace Eigen::internal;

// The step for float, one pass over each row: a packet of every gate at a
// time, the cell and its output written while the gates are in registers (the
// array expressions below make a pass per gate and per result), with the same
// packet functions as those expressions.
void forward_fused(int B, int H, const float* zx, const float* hh, const float* c_prev, float* gates, float* tc,
                   float* c, float* h) {
  const int G = 4 * H;
  const In in[] = {{zx, G}, {zx + H, G}, {zx + 2 * H, G}, {zx + 3 * H, G}, {hh, G},
                   {hh + H, G}, {hh + 2 * H, G}, {hh + 3 * H, G}, {c_prev, H}};
  const Out out[] = {{gates, G}, {gates + H, G}, {gates + 2 * H, G}, {gates + 3 * H, G}, {tc, H}, {c, H}, {h, H}};
  for_each_packet(B, H, in, out, [](const float* const* x, float* const* y) {
    const scalar_logistic_op<float> sigmoid;
    const scalar_tanh_op<float> tanh_;
    const P i = sigmoid.packetOp(padd(ploadu<P>(x[0]), ploadu<P>(x[4])));
    const P f = sigmoid.packetOp(padd(ploadu<P>(x[1]), ploadu<P>(x[5])));
    const P g = tanh_.packetOp(padd(ploadu<P>(x[2]), ploadu<P>(x[6])));
    const P o = sigmoid.packetOp(padd(ploadu<P>(x[3]), ploadu<P>(x[7])));
    const P cc = padd(pmul(f, ploadu<P>(x[8])), pmul(i, g));
    const P tcc = tanh_.packetOp(cc);
    pstoreu(y[0], i), pstoreu(y[1], f), pstoreu(y[2], g), pstoreu(y[3], o);
    pstoreu(y[4], tcc), pstoreu(y[5], cc), pstoreu(y[6], pmul(o, tcc));
  });
}

// Backward for float in one pass over each row, the same equations.
void backward_fused(int B, int H, const float* gates, const float* c_prev, const float* tc, const float* dh,
                    const float* dc, float* da, float* dc_prev) {
  const int G = 4 * H;
  const In in[] = {{gates, G}, {gates + H, G}, {gates + 2 * H, G}, {gates + 3 * H, G},
                   {c_prev, H}, {tc, H},       {dh, H},           {dc, H}};
  const Out out[] = {{da, G}, {da + H, G}, {da + 2 * H, G}, {da + 3 * H, G}, {dc_prev, H}};
  for_each_packet(B, H, in, out, [](const float* const* x, float* const* y) {
    const P one = pset1<P>(1.f);
    const P i = ploadu<P>(x[0]), f = ploadu<P>(x[1]), g = ploadu<P>(x[2]), o = ploadu<P>(x[3]);
    const P t = ploadu<P>(x[5]), dhb = ploadu<P>(x[6]);
    const P dct = padd(ploadu<P>(x[7]), pmul(pmul(dhb, o), psub(one, pmul(t, t))));  // dc_t
    pstoreu(y[0], pmul(pmul(pmul(dct, g), i), psub(one, i)));
    pstoreu(y[1], pmul(pmul(pmul(dct, ploadu<P>(x[4])), f), psub(one, f)));
    pstoreu(y[2], pmul(pmul(dct, i), psub(one, pmul(g, g))));
    pstoreu(y[3], pmul(pmul(pmul(dhb, t), o), psub(one, o)));
    pstoreu(y[4], pmul(dct, f));
  });
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
  if constexpr (std::is_same_v<T, float>) {
    backward_fused(B, H, gates, c_prev, tc, dh, dc, da, dc_prev);
  } else {
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
}

#define RECUR_INSTANTIATE(T)                                                                               \
  template void forward<T>(int, int, const T*, const T*, const T*, T*, T*, T*, T*);                        \
  template void backward<T>(int, int, const T*, const T*, const T*, const T*, const T*, T*, T*);
RECUR_INSTANTIATE(float)
RECUR_INSTANTIATE(double)
#undef RECUR_INSTANTIATE

}  // namespace lstm_cell
}  // namespace recur
