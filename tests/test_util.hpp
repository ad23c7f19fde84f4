// Helpers shared by the test suites.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

#include "recur/error.hpp"
#include "recur/model.hpp"

namespace recur_test {

// The message of the recur::Error that f throws ("" if it throws none).
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const recur::Error& e) {
    return e.what();
  }
  return "";
}

// Every parameter uniform in [-scale, scale]; for relu cells the recurrent
// biases are then raised by 0.3 so that no unit is dead for a whole test batch
// (a dead unit has an all-zero gradient, which would make a check vacuous).
inline void init_uniform(recur::Model<double>& m, recur::Rng& rng, double scale) {
  for (double& w : m.weights()) w = scale * (2 * rng.uniform() - 1);
  if (m.config().cell == recur::CellKind::rnn_relu)
    for (const recur::ParamSpec& p : m.table().specs())
      if (p.is_vector && p.name.rfind("rnn.", 0) == 0)
        for (std::size_t i = 0; i < p.size(); ++i) m.weights()[p.offset + i] += 0.3;
}

// Central-difference check, in double precision, of every element of every
// parameter: analytic() must leave dL/dw in m.grads(), loss() must return L.
// Each tensor's largest error must be below 1e-7 of its largest gradient, and
// no tensor's gradient may be all zero.
inline void check_gradients(recur::Model<double>& m, const std::function<void()>& analytic,
                            const std::function<double()>& loss) {
  analytic();
  const recur::Buffer<double> g = m.grads();
  const double eps = 1e-5;
  for (const recur::ParamSpec& p : m.table().specs()) {
    double max_err = 0, max_g = 0;
    for (std::size_t i = p.offset; i < p.offset + p.size(); ++i) {
      const double w0 = m.weights()[i];
      m.weights()[i] = w0 + eps;
      const double lp = loss();
      m.weights()[i] = w0 - eps;
      const double lm = loss();
      m.weights()[i] = w0;
      max_err = std::max(max_err, std::abs((lp - lm) / (2 * eps) - g[i]));
      max_g = std::max(max_g, std::abs(g[i]));
    }
    EXPECT_GT(max_g, 1e-6) << p.name << " has an all-zero gradient";
    EXPECT_LT(max_err / max_g, 1e-7) << p.name << ": max |numeric - analytic| = " << max_err
                                     << " (largest gradient " << max_g << ")";
  }
}

}  // namespace recur_test
