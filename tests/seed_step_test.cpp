// The fused seed step (seed_step.hpp) and its kernels (kernels.hpp) against the
// general path they replace: Model::forward/backward, clipping and SGD; and the
// rows kernel's panels (kernels.hpp) against plain loops.
#include <gtest/gtest.h>

#include <cmath>
#include <tuple>
#include <vector>

#include "kernels.hpp"  // (private headers of the library, in src/)
#include "recur/layers.hpp"
#include "recur/optim.hpp"
#include "seed_step.hpp"

using namespace recur;

namespace {

template <class T>
std::vector<T> random_vector(std::size_t n, Rng& rng) {
  std::vector<T> v(n);
  for (T& x : v) x = T(2 * rng.uniform() - 1);
  return v;
}

// Sizes that use every code path: whole packets, partial ones, one row or column.
const std::vector<std::pair<int, int>> kShapes = {{64, 64}, {17, 33}, {1, 5}, {48, 70}, {3, 1}, {32, 16}, {20, 48}, {3, 64}};

template <class T>
void check_matvec(double tol) {
  Rng rng(3);
  for (const auto& [R, C] : kShapes) {
    const auto A = random_vector<T>(std::size_t(R) * C, rng);
    const auto x = random_vector<T>(std::size_t(C), rng), xt = random_vector<T>(std::size_t(R), rng);
    auto y = random_vector<T>(std::size_t(R), rng), yt = random_vector<T>(std::size_t(C), rng);
    std::vector<T> want(y), want_t(yt);
    for (int i = 0; i < R; ++i)
      for (int j = 0; j < C; ++j) {
        want[std::size_t(i)] += A[std::size_t(i) * C + j] * x[std::size_t(j)];
        want_t[std::size_t(j)] += A[std::size_t(i) * C + j] * xt[std::size_t(i)];
      }
    kernels::matvec(A.data(), R, C, x.data(), y.data());
    kernels::matvec_t(A.data(), R, C, xt.data(), yt.data());
    for (int i = 0; i < R; ++i) EXPECT_NEAR(y[std::size_t(i)], want[std::size_t(i)], tol) << R << "x" << C << " row " << i;
    for (int j = 0; j < C; ++j) EXPECT_NEAR(yt[std::size_t(j)], want_t[std::size_t(j)], tol) << R << "x" << C << " col " << j;
  }
}

template <class T>
void check_outer_update(double tol) {
  Rng rng(4);
  for (const auto& [R, C] : kShapes)
    for (int n : {1, 2, 5}) {
      const int ldu = R + 3, ldv = C + 1;  // rows of u and v with room between them
      const auto u = random_vector<T>(std::size_t(n) * ldu, rng), v = random_vector<T>(std::size_t(n) * ldv, rng);
      auto W = random_vector<T>(std::size_t(R) * C, rng);
      std::vector<T> want(W);
      const T lr = T(0.3), c = T(0.5);  // a clip that bites on some elements and not others
      int clipped = 0;
      for (int i = 0; i < R; ++i)
        for (int j = 0; j < C; ++j) {
          T g = 0;
          for (int s = 0; s < n; ++s) g += u[std::size_t(s) * ldu + i] * v[std::size_t(s) * ldv + j];
          clipped += std::abs(g) > c;
          want[std::size_t(i) * C + j] -= lr * std::min(std::max(g, -c), c);
        }
      kernels::sgd_outer_update(W.data(), R, C, u.data(), ldu, v.data(), ldv, n, lr, c);
      for (std::size_t k = 0; k < W.size(); ++k) ASSERT_NEAR(W[k], want[k], tol) << R << "x" << C << " n " << n;
      if (R * C >= 64 && n > 1) {
        EXPECT_GT(clipped, 0) << "the clip never bit: the check proves less";
      }
    }
}

// Two models from the same initial weights, one trained by SeedStep and one by
// the general path, sequence by sequence: same losses, same predictions, and
// weights that agree to rounding after every step.
template <class T>
void check_against_general_path(ModelConfig cfg, double clip, double tol) {
  const std::vector<std::vector<int>> seqs = {
      {0, 1, 2}, {3}, {4, 4, 1, 4}, {2, -1, 5}, {-1}, {5, 0, 3, 1, 2, 4, 0}, {1, 1}, {2, 3, 4, 5, 0, 1}};
  const std::vector<int> targets = {0, 1, 2 % cfg.classes, 1, 0, 1, 0, 2 % cfg.classes};
  cfg.vocab = 6;
  Model<T> fused(cfg), general(cfg);
  Rng rng(7);
  init_weights(fused, InitKind::pytorch, rng);
  general.weights() = fused.weights();
  const Buffer<T> initial = fused.weights();
  StepOptions so;
  so.clip = clip;
  ASSERT_TRUE(seed_step_applies(cfg, so, 1));
  SeedStep<T> step(fused);
  Optimizer<T> sgd(so.optimizer, general.weights().size());
  typename Model<T>::Workspace ws;
  for (int epoch = 0; epoch < 5; ++epoch)
    for (std::size_t k = 0; k < seqs.size(); ++k) {
      const Batch b = make_batch(seqs, targets, {int(k)});
      bool correct = false;
      const double loss = step.step(fused, b, T(0.5), T(clip), correct);

      general.forward(b, ws);
      const double want_loss = cross_entropy_sum<T>(ws.logits, b.targets);
      Eigen::Index arg;
      ws.probs.row(0).maxCoeff(&arg);
      cross_entropy_grad<T>(ws.probs, b.targets, T(1), ws.dlogits);
      general.zero_grad();
      general.backward(b, ws);
      clip_and_step(sgd, general.weights(), general.grads(), 0.5, so);

      EXPECT_NEAR(loss, want_loss, tol * (1 + want_loss)) << "epoch " << epoch << " sequence " << k;
      EXPECT_EQ(correct, arg == b.targets[0]) << "epoch " << epoch << " sequence " << k;
      for (const ParamSpec& p : general.table().specs())
        for (std::size_t i = 0; i < p.size(); ++i)
          ASSERT_NEAR(fused.weights()[p.offset + i], general.weights()[p.offset + i], tol)
              << p.name << "[" << i << "] epoch " << epoch << " sequence " << k;
    }
  // The run moved the weights a long way from where they began (so agreeing meant something).
  double moved = 0;
  for (std::size_t i = 0; i < initial.size(); ++i) moved = std::max(moved, double(std::abs(initial[i] - fused.weights()[i])));
  EXPECT_GT(moved, 0.1);
}

ModelConfig seed_like(int hidden, int classes = 2) {
  ModelConfig c;
  c.hidden = hidden;
  c.classes = classes;
  return c;
}

}  // namespace

TEST(Kernels, MatvecBothWaysMatchTheDefinition) {
  check_matvec<float>(1e-4);
  check_matvec<double>(1e-12);
}

TEST(Kernels, OuterUpdateMatchesTheDefinitionWithAndWithoutClipping) {
  check_outer_update<float>(1e-5);
  check_outer_update<double>(1e-13);
}

TEST(SeedStep, MatchesTheGeneralPathInDouble) {
  check_against_general_path<double>(seed_like(64), 1.0, 1e-12);  // the seed's model
  check_against_general_path<double>(seed_like(20, 3), 1.0, 1e-12);  // sizes off the packet grid
  check_against_general_path<double>(seed_like(33), 0.05, 1e-12);    // a clip that bites often
  check_against_general_path<double>(seed_like(16), 0.0, 1e-12);     // no clip
  ModelConfig relu = seed_like(24);
  relu.cell = CellKind::rnn_relu;
  check_against_general_path<double>(relu, 1.0, 1e-12);
  ModelConfig two_biases = seed_like(40);
  two_biases.bias_hh = true;
  check_against_general_path<double>(two_biases, 0.1, 1e-12);
}

TEST(SeedStep, MatchesTheGeneralPathInFloat) {
  check_against_general_path<float>(seed_like(64), 1.0, 1e-4);
  check_against_general_path<float>(seed_like(20, 3), 0.05, 1e-4);
}

TEST(SeedStep, AppliesOnlyToTheSeedsSettings) {
  const ModelConfig seed = seed_like(64);
  const StepOptions sgd;
  EXPECT_TRUE(seed_step_applies(seed, sgd, 1));
  EXPECT_FALSE(seed_step_applies(seed, sgd, 2));  // minibatches
  auto with = [&](auto change) {
    ModelConfig c = seed;
    StepOptions s = sgd;
    change(c, s);
    return seed_step_applies(c, s, 1);
  };
  EXPECT_FALSE(with([](ModelConfig& c, StepOptions&) { c.cell = CellKind::lstm; }));
  EXPECT_FALSE(with([](ModelConfig& c, StepOptions&) { c.cell = CellKind::gru; }));
  EXPECT_FALSE(with([](ModelConfig& c, StepOptions&) { c.embed = 8; }));
  EXPECT_FALSE(with([](ModelConfig& c, StepOptions&) { c.layers = 2; }));
  EXPECT_FALSE(with([](ModelConfig& c, StepOptions&) { c.bidirectional = true; }));
  EXPECT_FALSE(with([](ModelConfig& c, StepOptions&) { c.dropout = 0.1; }));
  EXPECT_FALSE(with([](ModelConfig& c, StepOptions&) { c.task = Task::lm; }));
  EXPECT_FALSE(with([](ModelConfig&, StepOptions& s) { s.optimizer.kind = OptimizerKind::adam; }));
  EXPECT_FALSE(with([](ModelConfig&, StepOptions& s) { s.optimizer.weight_decay = 1e-4; }));
  EXPECT_FALSE(with([](ModelConfig&, StepOptions& s) { s.clip_norm = 5; }));
}

// The rows kernel on packed panels (the decoder's per-step products): packing
// a weight's transpose block by block lays out exactly what the general
// packing does, and every output sums its products in increasing k, one
// multiply-add at a time, whatever the rows and widths (whole panels, a
// narrower last one, rows past a block of four, depths past whole packets).
TEST(Panels, PackingTheTransposeEqualsTheGeneralPacking) {
  Rng rng(5);
  constexpr int L = kernels::lanes<float>;
  for (const auto& [J, K] : std::vector<std::pair<int, int>>{{L, L}, {8 * L, 3 * L + 5}, {5 * L, 7}, {3, 2 * L + 1}, {70, 40}}) {
    const int ldw = K + 3;  // a column slice of a wider weight, as the decoder's W_ih
    const auto W = random_vector<float>(std::size_t(J) * ldw, rng);
    std::vector<float> want(std::size_t(J) * K), got(want.size());
    kernels::pack_panels<float>(K, J, [&](int k, int j) { return W[std::size_t(j) * ldw + 1 + k]; }, want.data());
    kernels::pack_panels_of_transpose<float>(W.data() + 1, ldw, K, J, got.data());
    EXPECT_EQ(got, want) << J << " x " << K;
  }
}

TEST(Panels, RowsKernelSumsInIncreasingK) {
  Rng rng(6);
  constexpr int L = kernels::lanes<float>;
  for (const auto& [R, K, J] : std::vector<std::tuple<int, int, int>>{{32, 40, 8 * L}, {7, 2 * L + 3, 5 * L}, {1, 9, L}, {13, 64, 3 * L}}) {
    const auto x = random_vector<float>(std::size_t(R) * K, rng), WT = random_vector<float>(std::size_t(K) * J, rng);
    const auto y0 = random_vector<float>(std::size_t(R) * J, rng);
    std::vector<float> panels(WT.size());
    kernels::pack_panels<float>(K, J, [&](int k, int j) { return WT[std::size_t(k) * J + j]; }, panels.data());
    for (const bool accumulate : {false, true}) {
      std::vector<float> y(y0);
      kernels::rows_times_panels<float>(x.data(), K, R, K, panels.data(), J, y.data(), J, accumulate);
      for (int r = 0; r < R; ++r)
        for (int j = 0; j < J; ++j) {
          float want = accumulate ? y0[std::size_t(r) * J + j] : 0.0f;
          for (int k = 0; k < K; ++k) {
            const float a = x[std::size_t(r) * K + k], b = WT[std::size_t(k) * J + j];
#if defined(__FMA__)
            want = std::fma(a, b, want);  // (pmadd: one rounding with FMA)
#else
            want = want + a * b;
#endif
          }
          ASSERT_EQ(y[std::size_t(r) * J + j], want) << R << " x " << K << " x " << J << " at " << r << ", " << j;
        }
    }
  }
}
