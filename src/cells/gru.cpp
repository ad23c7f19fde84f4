// The GRU cell's elementwise step (equations in include/recur/cells/gru.hpp).
#include "recur/cells/gru.hpp"

#include "rows.hpp"

namespace recur {
namespace gru_cell {

using cells::ConstRows;
using cells::Rows;

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
  dx.rightCols(H) = dhb * (T(1) - z) * (T(1) - n.square());                      // da_n
  dx.middleCols(H, H) = dhb * (ConstRows<T>(h_prev, B, H) - n) * z * (T(1) - z);  // da_z
  dx.leftCols(H) = dx.rightCols(H) * hnb * r * (T(1) - r);                        // da_r
  dhh.leftCols(2 * H) = dx.leftCols(2 * H);
  dhh.rightCols(H) = dx.rightCols(H) * r;
  Rows<T>(dh_direct, B, H) = dhb * z;
}

#define RECUR_INSTANTIATE(T)                                                                          \
  template void forward<T>(int, int, const T*, const T*, const T*, T*, T*, T*);                       \
  template void backward<T>(int, int, const T*, const T*, const T*, const T*, T*, T*, T*);
RECUR_INSTANTIATE(float)
RECUR_INSTANTIATE(double)
#undef RECUR_INSTANTIATE

}  // namespace gru_cell
}  // namespace recur
