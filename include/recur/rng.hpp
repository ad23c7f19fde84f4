// recur/rng.hpp — the project's one random number generator.
//
// MT19937 with numpy's legacy RandomState algorithms on top (np.random.seed(n) /
// randn / shuffle), so a run seeded with n draws the same numbers as the numpy
// reference seeded with n. It is passed down explicitly; nothing in the library
// owns a global generator.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <utility>

namespace recur {

class Rng {
 public:
  explicit Rng(std::uint32_t seed = 0) : mt_(seed) {}

  std::uint32_t next_u32() { return static_cast<std::uint32_t>(mt_()); }

  // numpy legacy random_sample: 53-bit double in [0, 1).
  double uniform() {
    const std::uint32_t a = next_u32() >> 5, b = next_u32() >> 6;
    return (a * 67108864.0 + b) / 9007199254740992.0;
  }

  // numpy legacy gauss: polar Box–Muller, second value cached.
  double randn() {
    if (has_gauss_) {
      has_gauss_ = false;
      return gauss_;
    }
    double x1, x2, r2;
    do {
      x1 = 2.0 * uniform() - 1.0;
      x2 = 2.0 * uniform() - 1.0;
      r2 = x1 * x1 + x2 * x2;
    } while (r2 >= 1.0 || r2 == 0.0);
    const double f = std::sqrt(-2.0 * std::log(r2) / r2);
    gauss_ = f * x1;
    has_gauss_ = true;
    return f * x2;
  }

  // numpy legacy random_interval: uniform integer in [0, max], by masked rejection.
  std::uint64_t interval(std::uint64_t max) {
    if (max == 0) return 0;
    std::uint64_t mask = max;
    for (int s = 1; s <= 32; s *= 2) mask |= mask >> s;
    std::uint64_t v;
    if (max <= 0xffffffffULL) {
      do v = next_u32() & mask; while (v > max);
    } else {
      do v = ((std::uint64_t(next_u32()) << 32) | next_u32()) & mask; while (v > max);
    }
    return v;
  }

  // numpy legacy shuffle (Fisher–Yates from the end).
  template <class Seq>
  void shuffle(Seq& xs) {
    for (std::size_t i = xs.size(); i-- > 1;) {
      const std::size_t j = interval(i);
      std::swap(xs[i], xs[j]);
    }
  }

  // The full state, for checkpoints: same state -> same future draws.
  struct State {
    std::string mt;  // std::mt19937's textual state
    bool has_gauss = false;
    double gauss = 0.0;
  };
  State state() const;
  // False (and the generator unchanged) when s.mt is not a state that state() wrote.
  bool set_state(const State& s);

 private:
  std::mt19937 mt_;
  bool has_gauss_ = false;
  double gauss_ = 0.0;
};

}  // namespace recur
