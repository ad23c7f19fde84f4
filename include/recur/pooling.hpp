// recur/pooling.hpp — pooling over time: how a classifier turns the top
// layer's outputs at every step into one feature vector for its head.
//
// y_t (F = D*H) is the top layer's output at step t of a sequence of n steps
// (for a bidirectional layer, [forward h_t, reverse h_t]); padding past n is
// never read.
//   last       the final states, [forward h_n, reverse h_1] (PyTorch's h_n; not
//              computed here: the model reads them from the recurrent layers)
//   mean       f = (1/n) sum_t y_t
//   max        f_j = max_t y_tj
//   attention  s_t = q . y_t (q a learned query, F),  a = softmax_t(s),  f = sum_t a_t y_t
// An empty sequence (n = 0) pools to zero.
//
// Backward, from df (F):
//   mean       dy_t = df / n
//   max        dy_tj = df_j where t is the step of the maximum (the first, on a tie), else 0
//   attention  da_t = df . y_t,  ds_t = a_t (da_t - sum_u a_u da_u),
//              dy_t = a_t df + ds_t q,  dq = sum_t ds_t y_t
// The derivation is in docs/bptt.md ("Pooling over time").
//
// Rows are time-major, as everywhere in recur: sequence b's step t is row
// t*B + b of y (leading dimension ld). Every sum runs over t in order and over
// j in order, the same whatever else is in the batch, so the Reader's batched
// answers stay those of a sequence alone.
// Bodies in src/pooling.cpp, instantiated for float and double.
#pragma once

#include <string>
#include <vector>

#include "recur/config.hpp"
#include "recur/tensor.hpp"

namespace recur {

// What the forward pass keeps for the backward one.
template <class T>
struct PoolCache {
  std::vector<int> argmax;  // max: (B*F) the step of each feature's maximum
  std::vector<T> alpha;     // attention: (T*B) a_t, zero past each sequence's end
};

// features (B, F, leading dimension ldf) from y.
template <class T>
void pool_forward(PoolKind kind, const T* y, int ld, int Tn, int B, const int* lengths, int F, const T* query,
                  T* features, int ldf, PoolCache<T>* cache);

// dy (Tn*B, F, leading dimension lddy; every row written, zero past each
// sequence's end) from dfeatures (B, F); attention adds dL/dq to dquery (F).
template <class T>
void pool_backward(PoolKind kind, const T* y, int ld, int Tn, int B, const int* lengths, int F, const T* query,
                   const T* dfeatures, int lddf, const PoolCache<T>& cache, T* dy, int lddy, T* dquery);

}  // namespace recur
