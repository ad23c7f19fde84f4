// recur/layers.hpp — softmax and cross-entropy.
//
//   p = softmax(y),  p_j = exp(y_j - m) / sum_k exp(y_k - m),  m = max_k y_k
//   L = -log p_c  (c the target class)
//   dL/dy = p - onehot(c)
// Subtracting the row maximum changes nothing mathematically and keeps exp()
// from overflowing; log p_c is formed as (y_c - m) - log sum exp(y - m) so a
// confident wrong answer gives a large finite loss, never inf.
//
// Label smoothing ε (PyTorch's CrossEntropyLoss(label_smoothing=ε)): the target
// is the mixture (1-ε) onehot(c) + ε/C of the class and the uniform, so
//   L = -(1-ε) log p_c - (ε/C) sum_k log p_k
//   dL/dy = p - (1-ε) onehot(c) - ε/C
// (the rows of the target distribution sum to 1, as p's do).
//
// Bodies in src/layers.cpp, instantiated for float and double.
#pragma once

#include <vector>

#include "recur/tensor.hpp"

namespace recur {

// y: (B, C) -> p: (B, C)
template <class T>
void softmax_rows(const Matrix<T>& y, Matrix<T>& p);

// Sum over the rows of -log p_c (with `smoothing` ε, of L above) for logits
// y (B, C) and targets (B). A row whose target is negative (padding) is left out.
template <class T>
double cross_entropy_sum(const Matrix<T>& y, const std::vector<int>& targets, double smoothing = 0);

// dL/dy for L = scale * sum_b L_b:  dy = scale * (p - onehot(c)), or with
// `smoothing` ε scale * (p - (1-ε) onehot(c) - ε/C); a row whose target is
// negative gets zero.
template <class T>
void cross_entropy_grad(const Matrix<T>& p, const std::vector<int>& targets, T scale, Matrix<T>& dy,
                        double smoothing = 0);

}  // namespace recur
