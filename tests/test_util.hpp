// Helpers shared by the test suites.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

#include "recur/error.hpp"
#include "recur/layers.hpp"
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
//
// The two-point difference (L(w+e) - L(w-e)) / 2e with e = 1e-5 suits models
// with kinks (ReLU: a larger step would straddle them). For deep models whose
// gradients reach 1e-5 (attention), `five_point` uses
//   (8 (L(w+e) - L(w-e)) - (L(w+2e) - L(w-2e))) / 12e,  e = 1e-3,
// whose error is O(e^4) from truncation and about 1e-12 from rounding; a
// tensor's error is then measured against its largest gradient or 1e-4,
// whichever is larger (below that, 1e-11 absolute).
template <class M>
void check_gradients(M& m, const std::function<void()>& analytic, const std::function<double()>& loss,
                     bool five_point = false) {
  analytic();
  const recur::Buffer<double> g = m.grads();
  const double eps = five_point ? 1e-3 : 1e-5;
  for (const recur::ParamSpec& p : m.table().specs()) {
    double max_err = 0, max_g = 0;
    for (std::size_t i = p.offset; i < p.offset + p.size(); ++i) {
      const double w0 = m.weights()[i];
      auto at = [&](double x) {
        m.weights()[i] = x;
        return loss();
      };
      const double numeric = five_point ? (8 * (at(w0 + eps) - at(w0 - eps)) - (at(w0 + 2 * eps) - at(w0 - 2 * eps))) / (12 * eps)
                                        : (at(w0 + eps) - at(w0 - eps)) / (2 * eps);
      m.weights()[i] = w0;
      max_err = std::max(max_err, std::abs(numeric - g[i]));
      max_g = std::max(max_g, std::abs(g[i]));
    }
    EXPECT_GT(max_g, 1e-6) << p.name << " has an all-zero gradient";
    const double scale = five_point ? std::max(max_g, 1e-4) : max_g;
    EXPECT_LT(max_err / scale, 1e-7) << p.name << ": max |numeric - analytic| = " << max_err
                                     << " (largest gradient " << max_g << ")";
  }
}

// The same through dropout's random draws: each evaluation restarts the
// generator at `seed` (null generator when !draw), so the draws are the same
// every time and the loss is a smooth function of the weights. `inspect` sees
// the forward pass's workspace before the backward one.
inline void check_with_draws(recur::Model<double>& m, const recur::Batch& b, std::uint32_t seed, bool draw = true,
                             const std::function<void(const recur::Model<double>::Workspace&)>& inspect = {},
                             bool five_point = false) {
  auto run = [&](recur::Model<double>::Workspace& ws) {
    recur::Rng draws(seed);
    m.forward(b, ws, draw ? &draws : nullptr);
  };
  check_gradients(
      m,
      [&] {
        recur::Model<double>::Workspace ws;
        run(ws);
        if (inspect) inspect(ws);
        recur::cross_entropy_grad<double>(ws.probs, b.targets, 1.0, ws.dlogits);
        m.zero_grad();
        m.backward(b, ws);
      },
      [&] {
        recur::Model<double>::Workspace ws;
        run(ws);
        return recur::cross_entropy_sum<double>(ws.logits, b.targets);
      },
      five_point);
}

// Every tensor's gradient in float (`gf`, a model on another path) equals the
// double model's (`gd`) to within `rel` of that tensor's largest value, and
// none is zero throughout.
template <class Table>
void expect_grads_close(const Table& table, const recur::Buffer<double>& gd, const recur::Buffer<float>& gf,
                        double rel = 1e-5) {
  for (const recur::ParamSpec& p : table.specs()) {
    double largest = 0, diff = 0;
    for (std::size_t i = p.offset; i < p.offset + p.size(); ++i) {
      largest = std::max(largest, std::abs(gd[i]));
      diff = std::max(diff, std::abs(double(gf[i]) - gd[i]));
    }
    EXPECT_GT(largest, 0.0) << p.name;
    EXPECT_LE(diff, rel * largest) << p.name;
  }
}

}  // namespace recur_test
