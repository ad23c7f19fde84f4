// Pooling over time (what it computes: include/recur/pooling.hpp).
#include "recur/pooling.hpp"

#include <algorithm>
#include <cmath>

#include "recur/error.hpp"

namespace recur {

std::string to_string(PoolKind k) {
  switch (k) {
    case PoolKind::last: return "last";
    case PoolKind::mean: return "mean";
    case PoolKind::max: return "max";
    case PoolKind::attention: return "attention";
  }
  return "?";
}

PoolKind pool_from_string(const std::string& s) {
  for (PoolKind k : {PoolKind::last, PoolKind::mean, PoolKind::max, PoolKind::attention})
    if (to_string(k) == s) return k;
  throw Error("unknown pooling '" + s + "' (known: last, mean, max, attention)");
}

template <class T>
void pool_forward(PoolKind kind, const T* y, int ld, int Tn, int B, const int* lengths, int F, const T* query,
                  T* features, int ldf, PoolCache<T>* cache) {
  if (kind == PoolKind::last) throw Error("pool_forward: 'last' reads the final states, not the outputs");
  auto row = [&](int t, int b) { return y + (std::size_t(t) * B + std::size_t(b)) * std::size_t(ld); };
  if (cache && kind == PoolKind::max) cache->argmax.assign(std::size_t(B) * F, 0);
  if (cache && kind == PoolKind::attention) cache->alpha.assign(std::size_t(Tn) * B, T(0));
  std::vector<T> scores;
  for (int b = 0; b < B; ++b) {
    T* f = features + std::size_t(b) * std::size_t(ldf);
    const int n = lengths[b];
    std::fill(f, f + F, T(0));
    if (n == 0) continue;
    if (kind == PoolKind::mean) {
      for (int t = 0; t < n; ++t) {
        const T* yt = row(t, b);
        for (int j = 0; j < F; ++j) f[j] += yt[j];
      }
      for (int j = 0; j < F; ++j) f[j] /= T(n);
    } else if (kind == PoolKind::max) {
      int* arg = cache ? cache->argmax.data() + std::size_t(b) * F : nullptr;
      std::copy(row(0, b), row(0, b) + F, f);
      for (int t = 1; t < n; ++t) {
        const T* yt = row(t, b);
        for (int j = 0; j < F; ++j)
          if (yt[j] > f[j]) {
            f[j] = yt[j];
            if (arg) arg[j] = t;
          }
      }
    } else {  // attention
      scores.assign(std::size_t(n), T(0));
      T top = T(0);
      for (int t = 0; t < n; ++t) {
        const T* yt = row(t, b);
        T s = T(0);
        for (int j = 0; j < F; ++j) s += query[j] * yt[j];
        scores[std::size_t(t)] = s;
        top = t == 0 ? s : std::max(top, s);
      }
      T z = T(0);
      for (int t = 0; t < n; ++t) z += (scores[std::size_t(t)] = std::exp(scores[std::size_t(t)] - top));
      for (int t = 0; t < n; ++t) {
        const T a = scores[std::size_t(t)] / z;
        if (cache) cache->alpha[std::size_t(t) * B + std::size_t(b)] = a;
        const T* yt = row(t, b);
        for (int j = 0; j < F; ++j) f[j] += a * yt[j];
      }
    }
  }
}

template <class T>
void pool_backward(PoolKind kind, const T* y, int ld, int Tn, int B, const int* lengths, int F, const T* query,
                   const T* dfeatures, int lddf, const PoolCache<T>& cache, T* dy, int lddy, T* dquery) {
  if (kind == PoolKind::last) throw Error("pool_backward: 'last' reads the final states, not the outputs");
  for (std::size_t r = 0; r < std::size_t(Tn) * B; ++r) std::fill(dy + r * std::size_t(lddy), dy + r * std::size_t(lddy) + F, T(0));
  auto yrow = [&](int t, int b) { return y + (std::size_t(t) * B + std::size_t(b)) * std::size_t(ld); };
  auto dyrow = [&](int t, int b) { return dy + (std::size_t(t) * B + std::size_t(b)) * std::size_t(lddy); };
  std::vector<T> da;
  for (int b = 0; b < B; ++b) {
    const T* df = dfeatures + std::size_t(b) * std::size_t(lddf);
    const int n = lengths[b];
    if (n == 0) continue;
    if (kind == PoolKind::mean) {
      for (int t = 0; t < n; ++t) {
        T* d = dyrow(t, b);
        for (int j = 0; j < F; ++j) d[j] = df[j] / T(n);
      }
    } else if (kind == PoolKind::max) {
      const int* arg = cache.argmax.data() + std::size_t(b) * F;
      for (int j = 0; j < F; ++j) dyrow(arg[j], b)[j] = df[j];
    } else {  // attention
      da.assign(std::size_t(n), T(0));
      T mean = T(0);
      for (int t = 0; t < n; ++t) {
        const T* yt = yrow(t, b);
        T s = T(0);
        for (int j = 0; j < F; ++j) s += df[j] * yt[j];
        da[std::size_t(t)] = s;
        mean += cache.alpha[std::size_t(t) * B + std::size_t(b)] * s;
      }
      for (int t = 0; t < n; ++t) {
        const T a = cache.alpha[std::size_t(t) * B + std::size_t(b)];
        const T ds = a * (da[std::size_t(t)] - mean);
        const T* yt = yrow(t, b);
        T* d = dyrow(t, b);
        for (int j = 0; j < F; ++j) {
          d[j] = a * df[j] + ds * query[j];
          dquery[j] += ds * yt[j];
        }
      }
    }
  }
}

template void pool_forward<float>(PoolKind, const float*, int, int, int, const int*, int, const float*, float*, int,
                                  PoolCache<float>*);
template void pool_forward<double>(PoolKind, const double*, int, int, int, const int*, int, const double*, double*, int,
                                   PoolCache<double>*);
template void pool_backward<float>(PoolKind, const float*, int, int, int, const int*, int, const float*, const float*,
                                   int, const PoolCache<float>&, float*, int, float*);
template void pool_backward<double>(PoolKind, const double*, int, int, int, const int*, int, const double*,
                                    const double*, int, const PoolCache<double>&, double*, int, double*);

}  // namespace recur
