// The LSTM cell's elementwise step (equations in include/recur/cells/lstm.hpp).
#include "recur/cells/lstm.hpp"

#include "rows.hpp"

namespace recur {
namespace lstm_cell {

using cells::ConstRows;
using cells::Rows;

template <class T>
void forward(int B, int H, const T* zx, const T* hh, const T* c_prev, T* gates, T* tc, T* c, T* h) {
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
