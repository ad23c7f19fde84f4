// recur/layers.hpp — softmax and cross-entropy.
//
//   p = softmax(y),  p_j = exp(y_j - m) / sum_k exp(y_k - m),  m = max_k y_k
//   L = -log p_c  (c the target class)
//   dL/dy = p - onehot(c)
// Subtracting the row maximum changes nothing mathematically and keeps exp()
// from overflowing; log p_c is formed as (y_c - m) - log sum exp(y - m) so a
// confident wrong answer gives a large finite loss, never inf.
#pragma once

#include <cmath>
#include <vector>

#include "recur/tensor.hpp"

namespace recur {

// y: (B, C) -> p: (B, C)
template <class T, class Y>
void softmax_rows(const Y& y, Matrix<T>& p) {
  p.resize(y.rows(), y.cols());
  for (Eigen::Index b = 0; b < y.rows(); ++b) {
    const T m = y.row(b).maxCoeff();
    p.row(b) = (y.row(b).array() - m).exp();
    p.row(b) /= p.row(b).sum();
  }
}

// Sum over the batch of -log p_c for logits y (B, C) and targets (B).
template <class T>
double cross_entropy_sum(const Matrix<T>& y, const std::vector<int>& targets) {
  double loss = 0;
  for (Eigen::Index b = 0; b < y.rows(); ++b) {
    const T m = y.row(b).maxCoeff();
    const double lse = std::log(double((y.row(b).array() - m).exp().sum()));
    loss -= double(y(b, targets[b]) - m) - lse;
  }
  return loss;
}

// dL/dy for L = scale * sum_b -log p_{b, c_b}:  dy = scale * (p - onehot(c)).
template <class T>
void cross_entropy_grad(const Matrix<T>& p, const std::vector<int>& targets, T scale,
                        Matrix<T>& dy) {
  dy = p * scale;
  for (Eigen::Index b = 0; b < p.rows(); ++b) dy(b, targets[b]) -= scale;
}

}  // namespace recur
