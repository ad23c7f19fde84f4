// Optimizers against PyTorch (fixtures from tests/torch_optim_reference.py),
// gradient clipping and learning-rate schedules.
#include <gtest/gtest.h>

#include <cmath>

#include "recur/io.hpp"
#include "recur/optim.hpp"

using namespace recur;

namespace {

const std::string kDir = std::string(RECUR_SOURCE_DIR) + "/tests/fixtures/torch/";

double num(const std::map<std::string, std::string>& m, const std::string& key, double fallback) {
  const auto it = m.find(key);
  return it == m.end() || it->second.empty() ? fallback : std::stod(it->second);
}

class TorchOptim : public ::testing::TestWithParam<std::string> {};

TEST_P(TorchOptim, SixStepsMatchPyTorch) {
  const SafeTensors st = read_safetensors(kDir + "optim_" + GetParam() + ".safetensors");
  const auto& m = st.metadata;
  OptimizerOptions o;
  o.kind = optimizer_from_string(m.at("recur_optimizer"));
  o.momentum = num(m, "momentum", 0.9);
  o.nesterov = m.at("nesterov") == "true";
  o.weight_decay = num(m, "weight_decay", 0);
  o.alpha = num(m, "alpha", 0.99);
  o.eps = num(m, "eps", 1e-8);
  const double lr = std::stod(m.at("lr"));
  const TensorF32& init = st.tensors.at("param.init");
  Buffer<double> w(init.data.begin(), init.data.end());
  Optimizer<double> opt(o, w.size());
  const int steps = std::stoi(m.at("steps"));
  ASSERT_GE(steps, 6);
  for (int k = 1; k <= steps; ++k) {
    const TensorF32& g = st.tensors.at("grad.step" + std::to_string(k));
    const Buffer<double> grad(g.data.begin(), g.data.end());
    opt.step(w, grad, lr);
    const TensorF32& want = st.tensors.at("param.step" + std::to_string(k));
    for (std::size_t i = 0; i < w.size(); ++i)
      ASSERT_NEAR(w[i], want.data[i], 1e-6 * std::max(1.0, std::abs(double(want.data[i]))))
          << GetParam() << " step " << k << " element " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TorchOptim,
                         ::testing::Values("sgd", "sgd_wd", "momentum", "nesterov", "adagrad", "rmsprop", "adam",
                                           "adam_wd", "adamw"));

}  // namespace

TEST(Clip, ByValueIsElementwise) {
  Buffer<float> g = {-3.f, 0.5f, 2.f, -0.25f};
  clip_by_value(g, 1.f);
  EXPECT_EQ(g, (Buffer<float>{-1.f, 0.5f, 1.f, -0.25f}));
}

TEST(Clip, ByGlobalNormScalesEverythingLikePyTorch) {
  Buffer<double> g = {3, 4, 0};  // norm 5
  EXPECT_DOUBLE_EQ(clip_by_global_norm(g, 1.0), 5.0);
  const double scale = 1.0 / (5.0 + 1e-6);
  EXPECT_DOUBLE_EQ(g[0], 3 * scale);
  EXPECT_DOUBLE_EQ(g[1], 4 * scale);
  Buffer<double> small = {0.1, 0.2};
  clip_by_global_norm(small, 1.0);  // below the limit: untouched
  EXPECT_EQ(small, (Buffer<double>{0.1, 0.2}));
}

// Long buffers and ranges: the norm (sixteen running sums) is the sum of
// every square in the ranges, whatever their lengths.
TEST(Clip, ByGlobalNormOverLongRanges) {
  Buffer<float> g(1003);
  for (std::size_t i = 0; i < g.size(); ++i) g[i] = float(std::sin(0.37 * double(i)) * (1 + i % 7));
  const Ranges ranges = {{3, 40}, {40, 41}, {100, 1003}};
  long double sq = 0;
  for (const auto& [i0, i1] : ranges)
    for (std::size_t i = i0; i < i1; ++i) sq += (long double)g[i] * g[i];
  const Buffer<float> before = g;
  const double norm = clip_by_global_norm(g, 1e9, &ranges);
  EXPECT_NEAR(norm, double(std::sqrt(sq)), 1e-12 * norm);
  EXPECT_EQ(g, before);  // below the limit
  clip_by_global_norm(g, 1.0, &ranges);
  const float scale = float(1.0 / (norm + 1e-6));
  EXPECT_EQ(g[0], before[0]);  // outside the ranges: untouched
  EXPECT_EQ(g[50], before[50]);
  EXPECT_EQ(g[3], before[3] * scale);
  EXPECT_EQ(g[1002], before[1002] * scale);
}

TEST(Schedule, ConstantStepCosine) {
  Schedule s;
  EXPECT_EQ(s.lr(0.1, 7, 10), 0.1);
  s.kind = Schedule::step;
  s.step_size = 3;
  s.gamma = 0.5;
  EXPECT_DOUBLE_EQ(s.lr(0.1, 2, 10), 0.1);
  EXPECT_DOUBLE_EQ(s.lr(0.1, 3, 10), 0.05);
  EXPECT_DOUBLE_EQ(s.lr(0.1, 7, 10), 0.025);
  s.kind = Schedule::cosine;
  s.min_lr = 0.01;
  EXPECT_DOUBLE_EQ(s.lr(0.1, 0, 10), 0.1);
  EXPECT_NEAR(s.lr(0.1, 5, 10), 0.055, 1e-12);
  // every epoch trains: the last one just above the floor, a single one at the base rate
  EXPECT_NEAR(s.lr(0.1, 9, 10), 0.01 + 0.045 * (1 + std::cos(3.14159265358979323846 * 0.9)), 1e-12);
  EXPECT_GT(s.lr(0.1, 9, 10), 0.01);
  EXPECT_DOUBLE_EQ(s.lr(0.1, 0, 1), 0.1);
}

TEST(Names, RoundTripAndErrors) {
  for (const char* n : {"sgd", "momentum", "adagrad", "rmsprop", "adam", "adamw"})
    EXPECT_EQ(to_string(optimizer_from_string(n)), n);
  EXPECT_THROW(optimizer_from_string("lbfgs"), Error);
  EXPECT_THROW(schedule_from_string("linear"), Error);
}
