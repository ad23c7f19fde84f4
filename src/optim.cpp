// Optimizers, clipping and schedules (the update rules: include/recur/optim.hpp).
#include "recur/optim.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace recur {

std::string to_string(OptimizerKind k) {
  switch (k) {
    case OptimizerKind::sgd: return "sgd";
    case OptimizerKind::momentum: return "momentum";
    case OptimizerKind::adagrad: return "adagrad";
    case OptimizerKind::rmsprop: return "rmsprop";
    case OptimizerKind::adam: return "adam";
    case OptimizerKind::adamw: return "adamw";
  }
  return "?";
}

OptimizerKind optimizer_from_string(const std::string& s) {
  for (OptimizerKind k : {OptimizerKind::sgd, OptimizerKind::momentum, OptimizerKind::adagrad, OptimizerKind::rmsprop,
                          OptimizerKind::adam, OptimizerKind::adamw})
    if (to_string(k) == s) return k;
  throw Error("unknown optimizer '" + s + "' (known: sgd, momentum, adagrad, rmsprop, adam, adamw)");
}

Schedule::Kind schedule_from_string(const std::string& s) {
  if (s == "constant") return Schedule::constant;
  if (s == "step") return Schedule::step;
  if (s == "cosine") return Schedule::cosine;
  throw Error("unknown schedule '" + s + "' (known: constant, step, cosine)");
}

template <class T>
bool all_finite(const T* x, std::size_t n) {
  // NaN and inf are the values whose exponent bits are all ones: integer
  // tests the compiler vectorizes (a float compare would stop at the first NaN
  // only through a branch).
  using U = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  const U exponent = sizeof(T) == 4 ? U(0x7f800000u) : U(0x7ff0000000000000ull);
  U bad = 0;
  for (std::size_t i = 0; i < n; ++i) {
    U u;
    std::memcpy(&u, x + i, sizeof u);
    bad |= U((u & exponent) == exponent);
  }
  return bad == 0;
}

template <class T>
bool all_finite(const Buffer<T>& b, const Ranges& r) {
  for (const auto& [i0, i1] : r)
    if (!all_finite(b.data() + i0, i1 - i0)) return false;
  return true;
}

template <class T>
Ranges step_ranges(const Buffer<T>& g, const std::vector<RowBlock>& sparse) {
  Ranges r;
  auto add = [&](std::size_t a, std::size_t b) {
    if (a >= b) return;
    if (!r.empty() && r.back().second == a)
      r.back().second = b;
    else
      r.push_back({a, b});
  };
  using U = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  const U magnitude = U(~U(0)) >> 1;  // every bit but the sign: -0 is zero too
  std::size_t done = 0;
  for (const RowBlock& b : sparse) {
    if (b.offset < done || b.offset + b.rows * b.cols > g.size()) throw Error("sparse parameter blocks out of order (internal)");
    add(done, b.offset);
    for (std::size_t row = 0; row < b.rows; ++row) {
      const std::size_t i0 = b.offset + row * b.cols;
      U any = 0;
      for (std::size_t i = i0; i < i0 + b.cols; ++i) {  // an OR of the bits, which vectorizes
        U u;
        std::memcpy(&u, g.data() + i, sizeof u);
        any |= u & magnitude;
      }
      if (any) add(i0, i0 + b.cols);
    }
    done = b.offset + b.rows * b.cols;
  }
  add(done, g.size());
  return r;
}

template <class T>
void clip_by_value(Buffer<T>& g, T c, const Ranges* r) {
  if (c <= T(0)) return;
  if (!r) {
    for (T& x : g) x = clip_value(x, c);
    return;
  }
  for (const auto& [i0, i1] : *r)
    for (std::size_t i = i0; i < i1; ++i) g[i] = clip_value(g[i], c);
}

template <class T>
double clip_by_global_norm(Buffer<T>& g, double max_norm, const Ranges* r) {
  const Ranges all = {{0, g.size()}};
  if (!r) r = &all;
  // Sixteen running sums side by side (one chain would wait on each add's
  // latency: the compiler may not reorder a sum), added up in a fixed order.
  constexpr std::size_t K = 16;
  double acc[K] = {};
  double sq = 0;
  for (const auto& [i0, i1] : *r) {
    std::size_t i = i0;
    for (; i + K <= i1; i += K)
      for (std::size_t k = 0; k < K; ++k) acc[k] += double(g[i + k]) * double(g[i + k]);
    for (; i < i1; ++i) sq += double(g[i]) * double(g[i]);
  }
  for (std::size_t k = 0; k < K; ++k) sq += acc[k];
  const double norm = std::sqrt(sq);
  if (max_norm > 0 && norm > max_norm) {
    const T scale = T(max_norm / (norm + 1e-6));
    for (const auto& [i0, i1] : *r)
      for (std::size_t i = i0; i < i1; ++i) g[i] *= scale;
  }
  return norm;
}

template <class T>
void Optimizer<T>::step(Buffer<T>& w, const Buffer<T>& grad, double lr, double clip, const Ranges* ranges) {
  ++t_;
  const std::size_t n = w.size();
  const T l = T(lr), wd = T(o_.weight_decay), eps = T(o_.eps);
  const T clip_at = clip_bound<T>(clip);
  // The rule on elements [i0, i1). The pointers and the clip bound are the
  // loop's own locals, not captures: through captures GCC cannot rule out
  // aliasing and leaves Adam's and RMSprop's loops scalar.
  auto update = [&](std::size_t i0, std::size_t i1) {
    T* __restrict pw = w.data();
    const T* __restrict pg = grad.data();
    const T c = clip_at;
    auto grad_at = [&](std::size_t i) { return clip_value(pg[i], c); };
    switch (o_.kind) {
      case OptimizerKind::sgd:
        for (std::size_t i = i0; i < i1; ++i) pw[i] -= l * (grad_at(i) + wd * pw[i]);
        break;
      case OptimizerKind::momentum: {
        const T mu = T(o_.momentum);
        T* __restrict b = m_.data();
        const bool first = (t_ == 1);
        for (std::size_t i = i0; i < i1; ++i) {
          const T g = grad_at(i) + wd * pw[i];
          b[i] = first ? g : mu * b[i] + g;
          pw[i] -= l * (o_.nesterov ? g + mu * b[i] : b[i]);
        }
        break;
      }
      case OptimizerKind::adagrad: {
        T* __restrict s = m_.data();
        for (std::size_t i = i0; i < i1; ++i) {
          const T g = grad_at(i) + wd * pw[i];
          s[i] += g * g;
          pw[i] -= l * g / (std::sqrt(s[i]) + T(1e-10));
        }
        break;
      }
      case OptimizerKind::rmsprop: {
        const T a = T(o_.alpha);
        T* __restrict v = m_.data();
        for (std::size_t i = i0; i < i1; ++i) {
          const T g = grad_at(i) + wd * pw[i];
          v[i] = a * v[i] + (T(1) - a) * g * g;
          pw[i] -= l * g / (std::sqrt(v[i]) + eps);
        }
        break;
      }
      case OptimizerKind::adam:
      case OptimizerKind::adamw: {
        const bool decoupled = o_.kind == OptimizerKind::adamw;
        const T b1 = T(o_.beta1), b2 = T(o_.beta2);
        const T bc1 = T(1 - std::pow(o_.beta1, double(t_)));
        const T bc2_sqrt = T(std::sqrt(1 - std::pow(o_.beta2, double(t_))));
        const T step_size = l / bc1;
        const T shrink = decoupled ? T(1) - l * wd : T(1);
        const T l2 = decoupled ? T(0) : wd;
        T* __restrict m = m_.data();
        T* __restrict v = v_.data();
        for (std::size_t i = i0; i < i1; ++i) {
          pw[i] *= shrink;
          const T g = grad_at(i) + l2 * pw[i];
          m[i] = b1 * m[i] + (T(1) - b1) * g;
          v[i] = b2 * v[i] + (T(1) - b2) * g * g;
          pw[i] -= step_size * m[i] / (std::sqrt(v[i]) / bc2_sqrt + eps);
        }
        break;
      }
    }
  };
  if (!ranges) return update(0, n);
  for (const auto& [i0, i1] : *ranges) update(i0, i1);
}

template <class T>
void clip_and_step(Optimizer<T>& optimizer, Buffer<T>& w, Buffer<T>& g, double lr, const StepOptions& o,
                   const Ranges* ranges) {
  Ranges own;
  if (!ranges && !o.sparse.empty()) ranges = &(own = step_ranges(g, o.sparse));
  std::vector<T> kept;  // frozen weights, put back after the step (whatever the optimizer's decay or momentum does)
  for (const auto& [at, n] : o.frozen) {
    std::fill(g.begin() + std::ptrdiff_t(at), g.begin() + std::ptrdiff_t(at + n), T(0));
    kept.insert(kept.end(), w.begin() + std::ptrdiff_t(at), w.begin() + std::ptrdiff_t(at + n));
  }
  if (o.clip_norm > 0) {
    clip_by_value(g, T(o.clip), ranges);
    if (o.norm_groups.empty()) {
      clip_by_global_norm(g, o.clip_norm, ranges);
    } else {
      const Ranges all = {{0, g.size()}};
      for (const auto& [at, n] : o.norm_groups) {  // each group's share of the ranges stepped
        Ranges part;
        for (const auto& [i0, i1] : ranges ? *ranges : all)
          if (std::max(i0, at) < std::min(i1, at + n)) part.emplace_back(std::max(i0, at), std::min(i1, at + n));
        clip_by_global_norm(g, o.clip_norm, &part);
      }
    }
    optimizer.step(w, g, lr, 0, ranges);
  } else {
    optimizer.step(w, g, lr, o.clip, ranges);
  }
  std::size_t from = 0;
  for (const auto& [at, n] : o.frozen) {
    std::copy(kept.begin() + std::ptrdiff_t(from), kept.begin() + std::ptrdiff_t(from + n), w.begin() + std::ptrdiff_t(at));
    from += n;
  }
}

template class Optimizer<float>;
template class Optimizer<double>;
#define RECUR_INSTANTIATE(T)                                                                       \
  template bool all_finite<T>(const T*, std::size_t);                                              \
  template bool all_finite<T>(const Buffer<T>&, const Ranges&);                                    \
  template Ranges step_ranges<T>(const Buffer<T>&, const std::vector<RowBlock>&);                 \
  template void clip_by_value<T>(Buffer<T>&, T, const Ranges*);                                    \
  template double clip_by_global_norm<T>(Buffer<T>&, double, const Ranges*);                       \
  template void clip_and_step<T>(Optimizer<T>&, Buffer<T>&, Buffer<T>&, double, const StepOptions&, const Ranges*);
RECUR_INSTANTIATE(float)
RECUR_INSTANTIATE(double)
#undef RECUR_INSTANTIATE

}  // namespace recur
