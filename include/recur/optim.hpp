// recur/optim.hpp — optimizers and gradient clipping over the flat buffers.
//
// Parameters, gradients and any optimizer moments share one layout, so each
// step is one loop over the whole model.
#pragma once

#include <algorithm>
#include <vector>

namespace recur {

// The seed's clipping: every gradient element into [-c, c] (c <= 0: off).
template <class T>
void clip_by_value(std::vector<T>& g, T c) {
  if (c <= T(0)) return;
  for (T& x : g) x = std::min(std::max(x, -c), c);
}

// Plain SGD: w -= lr * g.
template <class T>
void sgd_step(std::vector<T>& w, const std::vector<T>& g, T lr) {
  T* __restrict pw = w.data();
  const T* __restrict pg = g.data();
  const std::size_t n = w.size();
  for (std::size_t i = 0; i < n; ++i) pw[i] -= lr * pg[i];
}

// SGD with the seed's per-element clipping fused in, one pass over the model:
// w -= lr * clamp(g, -c, c). Same result as clip_by_value then sgd_step.
template <class T>
void sgd_step_clipped(std::vector<T>& w, const std::vector<T>& g, T lr, T c) {
  if (c <= T(0)) return sgd_step(w, g, lr);
  T* __restrict pw = w.data();
  const T* __restrict pg = g.data();
  const std::size_t n = w.size();
  for (std::size_t i = 0; i < n; ++i) pw[i] -= lr * std::min(std::max(pg[i], -c), c);
}

}  // namespace recur
