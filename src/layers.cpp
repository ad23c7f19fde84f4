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
double cross_entropy_sum(const Matrix<T>& y, const std::vector<int>& targets, double smoothing) {
  double loss = 0;
  const double C = double(y.cols());
  for (Eigen::Index b = 0; b < y.rows(); ++b) {
    if (targets[std::size_t(b)] < 0) continue;
    const T m = y.row(b).maxCoeff();
    const double lse = std::log(double((y.row(b).array() - m).exp().sum()));
    const double log_pc = double(y(b, targets[std::size_t(b)]) - m) - lse;
    if (smoothing == 0) {
      loss -= log_pc;
      continue;
    }
    // sum_k log p_k = sum_k (y_k - m) - C lse
    const double sum_log_p = double((y.row(b).array() - m).template cast<double>().sum()) - C * lse;
    loss -= (1 - smoothing) * log_pc + smoothing / C * sum_log_p;
  }
  return loss;
}

template <class T>
void cross_entropy_grad(const Matrix<T>& p, const std::vector<int>& targets, T scale, Matrix<T>& dy,
                        double smoothing) {
  dy = p * scale;
  const T uniform = T(smoothing / double(p.cols())) * scale, target = T(1 - smoothing) * scale;
  for (Eigen::Index b = 0; b < p.rows(); ++b) {
    if (targets[std::size_t(b)] < 0) {
      dy.row(b).setZero();
      continue;
    }
    if (smoothing != 0) dy.row(b).array() -= uniform;
    dy(b, targets[std::size_t(b)]) -= target;
  }
}

#define RECUR_INSTANTIATE(T)                                                               \
  template void softmax_rows<T>(const Matrix<T>&, Matrix<T>&);                             \
  template double cross_entropy_sum<T>(const Matrix<T>&, const std::vector<int>&, double); \
  template void cross_entropy_grad<T>(const Matrix<T>&, const std::vector<int>&, T, Matrix<T>&, double);
RECUR_INSTANTIATE(float)
RECUR_INSTANTIATE(double)
#undef RECUR_INSTANTIATE

}  // namespace recur
