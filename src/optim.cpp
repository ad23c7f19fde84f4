// Optimizers, clipping and schedules (the update rules: include/recur/optim.hpp).
#include "recur/optim.hpp"

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
void clip_by_value(Buffer<T>& g, T c) {
  if (c <= T(0)) return;
  for (T& x : g) x = clip_value(x, c);
}

template <class T>
double clip_by_global_norm(Buffer<T>& g, double max_norm) {
  double sq = 0;
  for (const T x : g) sq += double(x) * double(x);
  const double norm = std::sqrt(sq);
  if (max_norm > 0 && norm > max_norm) {
    const T scale = T(max_norm / (norm + 1e-6));
    for (T& x : g) x *= scale;
  }
  return norm;
}

template <class T>
void Optimizer<T>::step(Buffer<T>& w, const Buffer<T>& grad, double lr, double clip) {
  ++t_;
  const std::size_t n = w.size();
  const T l = T(lr), wd = T(o_.weight_decay), eps = T(o_.eps);
  const T c = clip_bound<T>(clip);
  T* __restrict pw = w.data();
  const T* __restrict pg_raw = grad.data();
  auto grad_at = [&](std::size_t i) { return clip_value(pg_raw[i], c); };
  switch (o_.kind) {
    case OptimizerKind::sgd:
      for (std::size_t i = 0; i < n; ++i) pw[i] -= l * (grad_at(i) + wd * pw[i]);
      break;
    case OptimizerKind::momentum: {
      const T mu = T(o_.momentum);
      T* __restrict b = m_.data();
      const bool first = (t_ == 1);
      for (std::size_t i = 0; i < n; ++i) {
        const T g = grad_at(i) + wd * pw[i];
        b[i] = first ? g : mu * b[i] + g;
        pw[i] -= l * (o_.nesterov ? g + mu * b[i] : b[i]);
      }
      break;
    }
    case OptimizerKind::adagrad: {
      T* __restrict s = m_.data();
      for (std::size_t i = 0; i < n; ++i) {
        const T g = grad_at(i) + wd * pw[i];
        s[i] += g * g;
        pw[i] -= l * g / (std::sqrt(s[i]) + T(1e-10));
      }
      break;
    }
    case OptimizerKind::rmsprop: {
      const T a = T(o_.alpha);
      T* __restrict v = m_.data();
      for (std::size_t i = 0; i < n; ++i) {
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
      for (std::size_t i = 0; i < n; ++i) {
        pw[i] *= shrink;
        const T g = grad_at(i) + l2 * pw[i];
        m[i] = b1 * m[i] + (T(1) - b1) * g;
        v[i] = b2 * v[i] + (T(1) - b2) * g * g;
        pw[i] -= step_size * m[i] / (std::sqrt(v[i]) / bc2_sqrt + eps);
      }
      break;
    }
  }
}


template <class T>
void clip_and_step(Optimizer<T>& optimizer, Buffer<T>& w, Buffer<T>& g, double lr, const StepOptions& o) {
  std::vector<T> kept;  // frozen weights, put back after the step (whatever the optimizer's decay or momentum does)
  for (const auto& [at, n] : o.frozen) {
    std::fill(g.begin() + std::ptrdiff_t(at), g.begin() + std::ptrdiff_t(at + n), T(0));
    kept.insert(kept.end(), w.begin() + std::ptrdiff_t(at), w.begin() + std::ptrdiff_t(at + n));
  }
  if (o.clip_norm > 0) {
    clip_by_value(g, T(o.clip));
    clip_by_global_norm(g, o.clip_norm);
    optimizer.step(w, g, lr);
  } else {
    optimizer.step(w, g, lr, o.clip);
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
  template void clip_by_value<T>(Buffer<T>&, T);                                                   \
  template double clip_by_global_norm<T>(Buffer<T>&, double);                                      \
  template void clip_and_step<T>(Optimizer<T>&, Buffer<T>&, Buffer<T>&, double, const StepOptions&);
RECUR_INSTANTIATE(float)
RECUR_INSTANTIATE(double)
#undef RECUR_INSTANTIATE

}  // namespace recur
