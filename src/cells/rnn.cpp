// The vanilla RNN cell's elementwise step (equations in include/recur/cells/rnn.hpp).
#include "recur/cells/rnn.hpp"

#include "recur/tensor.hpp"

namespace recur {
namespace rnn_cell {

template <class T>
void forward(bool relu, int B, int H, const T* zx, const T* hh, T* h) {
  using A = Eigen::Array<T, Eigen::Dynamic, 1>;
  const Eigen::Index n = Eigen::Index(B) * H;
  Eigen::Map<A> out(h, n);
  const Eigen::Map<const A> a(zx, n), b(hh, n);
  if (relu)
    out = (a + b).max(T(0));
  else
    out = (a + b).tanh();  // Eigen's vectorized tanh
}

template <class T>
void backward(bool relu, int B, int H, const T* h, const T* dh, T* dz) {
  const int n = B * H;
  if (relu)
    for (int i = 0; i < n; ++i) dz[i] = h[i] > T(0) ? dh[i] : T(0);
  else
    for (int i = 0; i < n; ++i) dz[i] = dh[i] * (T(1) - h[i] * h[i]);
}

template void forward<float>(bool, int, int, const float*, const float*, float*);
template void forward<double>(bool, int, int, const double*, const double*, double*);
template void backward<float>(bool, int, int, const float*, const float*, float*);
template void backward<double>(bool, int, int, const double*, const double*, double*);

}  // namespace rnn_cell
}  // namespace recur
