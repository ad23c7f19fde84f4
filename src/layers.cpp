// Softmax and cross-entropy (equations in include/recur/layers.hpp).
#include "recur/layers.hpp"

#include <cmath>

namespace recur {

template <class T>
void softmax_rows(const Matrix<T>& y, Matrix<T>& p) {
  p.resize(y.rows(), y.cols());
  for (Eigen::Index b = 0; b < y.rows(); ++b) {
    const T m = y.row(b).maxCoeff();
    p.row(b) = (y.row(b).array() - m).exp();
    p.row(b) /= p.row(b).sum();
  }
}

template <class T>
double cross_entropy_sum(const Matrix<T>& y, const std::vector<int>& targets) {
  double loss = 0;
  for (Eigen::Index b = 0; b < y.rows(); ++b) {
    if (targets[std::size_t(b)] < 0) continue;
    const T m = y.row(b).maxCoeff();
    const double lse = std::log(double((y.row(b).array() - m).exp().sum()));
    loss -= double(y(b, targets[std::size_t(b)]) - m) - lse;
  }
  return loss;
}

template <class T>
void cross_entropy_grad(const Matrix<T>& p, const std::vector<int>& targets, T scale, Matrix<T>& dy) {
  dy = p * scale;
  for (Eigen::Index b = 0; b < p.rows(); ++b) {
    if (targets[std::size_t(b)] < 0)
      dy.row(b).setZero();
    else
      dy(b, targets[std::size_t(b)]) -= scale;
  }
}

#define RECUR_INSTANTIATE(T)                                                               \
  template void softmax_rows<T>(const Matrix<T>&, Matrix<T>&);                             \
  template double cross_entropy_sum<T>(const Matrix<T>&, const std::vector<int>&);         \
  template void cross_entropy_grad<T>(const Matrix<T>&, const std::vector<int>&, T, Matrix<T>&);
RECUR_INSTANTIATE(float)
RECUR_INSTANTIATE(double)
#undef RECUR_INSTANTIATE

}  // namespace recur
