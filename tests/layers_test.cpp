#include <gtest/gtest.h>

#include <cmath>

#include "recur/layers.hpp"

using namespace recur;

TEST(Softmax, RowsArePositiveAndSumToOne) {
  Matrix<double> y(2, 3), p;
  y << 1, 2, 3, -5, 0, 5;
  softmax_rows<double>(y, p);
  for (int b = 0; b < 2; ++b) {
    EXPECT_NEAR(p.row(b).sum(), 1.0, 1e-15);
    EXPECT_GT(p.row(b).minCoeff(), 0.0);
  }
  // exp(1)/(exp(1)+exp(2)+exp(3))
  EXPECT_NEAR(p(0, 0), std::exp(1.0) / (std::exp(1.0) + std::exp(2.0) + std::exp(3.0)), 1e-15);
}

TEST(Softmax, LargeLogitsDoNotOverflow) {
  Matrix<float> y(1, 2), p;
  y << 1000.f, 999.f;
  softmax_rows<float>(y, p);
  EXPECT_TRUE(std::isfinite(p(0, 0)));
  EXPECT_NEAR(p(0, 0), 1.0 / (1.0 + std::exp(-1.0)), 1e-6);
  // A confidently wrong answer: large but finite loss.
  EXPECT_NEAR(cross_entropy_sum<float>(y, {1}), std::log(1.0 + std::exp(1.0)), 1e-5);
  Matrix<float> z(1, 2);
  z << 200.f, -200.f;
  EXPECT_NEAR(cross_entropy_sum<float>(z, {1}), 400.0, 1e-3);
}

// dy is the derivative of cross_entropy_sum(y, t, smoothing), element by
// element, by central differences.
void expect_central_differences(const Matrix<double>& y, const std::vector<int>& t, const Matrix<double>& dy,
                                double smoothing) {
  const double eps = 1e-6;
  for (Eigen::Index b = 0; b < y.rows(); ++b)
    for (Eigen::Index c = 0; c < y.cols(); ++c) {
      Matrix<double> yp = y, ym = y;
      yp(b, c) += eps;
      ym(b, c) -= eps;
      const double num =
          (cross_entropy_sum<double>(yp, t, smoothing) - cross_entropy_sum<double>(ym, t, smoothing)) / (2 * eps);
      EXPECT_NEAR(dy(b, c), num, 1e-8) << "b=" << b << " c=" << c;
    }
}

TEST(CrossEntropy, ValueAndGradientMatchFiniteDifferences) {
  Matrix<double> y(2, 4), p, dy;
  y << 0.3, -1.2, 2.0, 0.1, -0.7, 0.4, 0.0, 1.5;
  const std::vector<int> t = {2, 0};
  softmax_rows<double>(y, p);
  EXPECT_NEAR(cross_entropy_sum<double>(y, t), -std::log(p(0, 2)) - std::log(p(1, 0)), 1e-14);
  cross_entropy_grad<double>(p, t, 1.0, dy);  // p - onehot
  expect_central_differences(y, t, dy, 0.0);
}

// Label smoothing 0.1: PyTorch's own numbers, from
//   F.cross_entropy(y, t, reduction='sum', label_smoothing=0.1, ignore_index=-100)
// in float64 on these logits (the third row padding), and its gradient.
TEST(CrossEntropy, LabelSmoothingIsPyTorchs) {
  Matrix<double> y(3, 4), p, dy;
  y << 0.3, -1.2, 2.0, 0.1, -0.7, 0.4, 0.0, 1.5, 1.0, 1.0, -2.0, 0.5;
  const std::vector<int> t = {2, 0, -1};
  softmax_rows<double>(y, p);
  EXPECT_NEAR(cross_entropy_sum<double>(y, t, 0.1), 3.0979168379736497, 1e-14);
  Matrix<double> want(3, 4);
  want << 0.10805288791638126, 0.004688112188993218, -0.1966754912283536, 0.08393449112297913,  //
      -0.8585235986805063, 0.1747061462382509, 0.10886703314002447, 0.574950419302231,          //
      0, 0, 0, 0;
  cross_entropy_grad<double>(p, t, 1.0, dy, 0.1);
  EXPECT_LT((dy - want).cwiseAbs().maxCoeff(), 1e-15);
  // ε = 0 is the plain loss, to the bit.
  Matrix<double> plain;
  cross_entropy_grad<double>(p, t, 0.5, plain);
  cross_entropy_grad<double>(p, t, 0.5, dy, 0.0);
  EXPECT_EQ(dy, plain);
  EXPECT_EQ(cross_entropy_sum<double>(y, t, 0.0), cross_entropy_sum<double>(y, t));
  // And the smoothed gradient is the smoothed loss's, by central differences.
  cross_entropy_grad<double>(p, t, 1.0, dy, 0.3);
  expect_central_differences(y, t, dy, 0.3);
}
