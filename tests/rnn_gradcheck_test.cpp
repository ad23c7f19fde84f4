// Central-difference gradient checks, in double precision, of the classifier's
// backward pass (BPTT, docs/bptt.md) over every parameter tensor.
#include <gtest/gtest.h>

#include <cmath>

#include "recur/layers.hpp"
#include "recur/model.hpp"
#include "test_util.hpp"

using namespace recur;
using recur_test::init_uniform;

namespace {

double loss_of(const Model<double>& m, const Batch& b) {
  Model<double>::Workspace ws;
  m.forward(b, ws);
  return cross_entropy_sum<double>(ws.logits, b.targets);
}

// Analytic gradients of the summed cross-entropy into m.grads().
void analytic(Model<double>& m, const Batch& b) {
  Model<double>::Workspace ws;
  m.forward(b, ws);
  cross_entropy_grad<double>(ws.probs, b.targets, 1.0, ws.dlogits);
  m.zero_grad();
  m.backward(b, ws);
}

void check_all(Model<double>& m, const Batch& b) {
  recur_test::check_gradients(m, [&] { analytic(m, b); }, [&] { return loss_of(m, b); });
}

}  // namespace

TEST(GradCheck, SeedModelAllFiveParameters) {
  ModelConfig c;  // the seed's: one layer, tanh, single bias
  c.vocab = 7;
  c.hidden = 8;
  c.classes = 2;
  Model<double> m(c);
  Rng rng(3);
  init_uniform(m, rng, 0.5);
  ASSERT_EQ(m.table().specs().size(), 5u);  // W_xh, W_hh, b_h, W_hy, b_y
  const Batch b = make_batch({{0, 3, 5, 3, 1}}, {1}, {0});
  check_all(m, b);
}

TEST(GradCheck, UnknownWordsGiveZeroInput) {
  ModelConfig c;
  c.vocab = 5;
  c.hidden = 6;
  Model<double> m(c);
  Rng rng(4);
  init_uniform(m, rng, 0.5);
  check_all(m, make_batch({{2, -1, 4, -1}}, {0}, {0}));
  // An unknown word leaves its step with only W_hh h + b: the same as a model
  // whose W_ih column for that word is zero.
  Model<double>::Workspace ws;
  m.forward(make_batch({{2, -1, 4}}, {0}, {0}), ws);
  const double p_unknown = ws.probs(0, 0);
  auto W_ih = m.param("rnn.weight_ih_l0");
  W_ih.col(0).setZero();
  m.forward(make_batch({{2, 0, 4}}, {0}, {0}), ws);
  EXPECT_DOUBLE_EQ(ws.probs(0, 0), p_unknown);
}

TEST(GradCheck, TwoLayersReluBothBiasesRaggedBatch) {
  ModelConfig c;
  c.cell = CellKind::rnn_relu;
  c.vocab = 6;
  c.hidden = 5;
  c.layers = 2;
  c.classes = 3;
  c.bias_hh = true;
  Model<double> m(c);
  Rng rng(5);
  init_uniform(m, rng, 0.6);
  const std::vector<std::vector<int>> seqs = {{1, 2, 3, 4}, {5, 0}, {2, 2, 1}};
  check_all(m, make_batch(seqs, {0, 2, 1}, {0, 1, 2}));
}

// Every cell x {1, 2 layers} x {uni, bidirectional} x {one-hot, embedding}, on a
// padded batch of unequal lengths, both biases present.
struct Case {
  CellKind cell;
  int layers;
  bool bidirectional;
  int embed;
};

class GradCheckAll : public ::testing::TestWithParam<Case> {};

TEST_P(GradCheckAll, EveryParameter) {
  const Case k = GetParam();
  ModelConfig c;
  c.cell = k.cell;
  c.vocab = 6;
  c.embed = k.embed;
  c.hidden = 4;
  c.layers = k.layers;
  c.bidirectional = k.bidirectional;
  c.classes = 3;
  c.bias_hh = true;
  Model<double> m(c);
  Rng rng(10 + int(k.cell) * 8 + k.layers * 4 + k.bidirectional * 2 + (k.embed > 0));
  init_uniform(m, rng, k.cell == CellKind::rnn_relu ? 0.5 : 0.8);
  const std::vector<std::vector<int>> seqs = {{1, 2, 3, 4}, {5, 0}, {2, -1, 1}};
  check_all(m, make_batch(seqs, {0, 2, 1}, {0, 1, 2}));
}

std::vector<Case> all_cases() {
  std::vector<Case> out;
  for (CellKind cell : {CellKind::rnn_tanh, CellKind::rnn_relu, CellKind::lstm, CellKind::gru})
    for (int layers : {1, 2})
      for (bool bi : {false, true})
        for (int embed : {0, 3}) out.push_back({cell, layers, bi, embed});
  return out;
}

INSTANTIATE_TEST_SUITE_P(Cells, GradCheckAll, ::testing::ValuesIn(all_cases()), [](const auto& info) {
  const Case& k = info.param;
  return cell_name(k.cell) + "_l" + std::to_string(k.layers) + (k.bidirectional ? "_bi" : "_uni") +
         (k.embed ? "_embed" : "_onehot");
});

TEST(Batching, PaddedBatchEqualsEachSequenceAlone) {
  ModelConfig c;
  c.vocab = 6;
  c.hidden = 7;
  c.layers = 2;
  c.classes = 3;
  c.bias_hh = true;
  Model<double> m(c);
  Rng rng(6);
  init_uniform(m, rng, 0.5);
  const std::vector<std::vector<int>> seqs = {{1, 2, 3, 4, 5}, {5}, {2, 0, 1}};
  const std::vector<int> targets = {0, 2, 1};
  // Gradients of the batch = sum of each sequence's own gradients.
  analytic(m, make_batch(seqs, targets, {0, 1, 2}));
  const Buffer<double> batch_g = m.grads();
  std::vector<double> sum_g(batch_g.size(), 0.0);
  for (int i = 0; i < 3; ++i) {
    analytic(m, make_batch(seqs, targets, {i}));
    for (std::size_t k = 0; k < sum_g.size(); ++k) sum_g[k] += m.grads()[k];
  }
  for (std::size_t k = 0; k < sum_g.size(); ++k) ASSERT_NEAR(batch_g[k], sum_g[k], 1e-12) << k;
  // And the probabilities of each row are those of the sequence alone.
  Model<double>::Workspace all, one;
  m.forward(make_batch(seqs, targets, {0, 1, 2}), all);
  for (int i = 0; i < 3; ++i) {
    m.forward(make_batch(seqs, targets, {i}), one);
    for (int k = 0; k < 3; ++k) EXPECT_NEAR(all.probs(i, k), one.probs(0, k), 1e-14);
  }
}

// Dropout: with the same masks in every evaluation (the generator restarted from
// one seed), the loss is a smooth function of the weights and backward must
// be its exact gradient, through the masks between layers and on the head's
// input (a classifier's final states; a language model's top-layer outputs).
TEST(GradCheck, DropoutMasksBetweenLayersAndBeforeTheHead) {
  for (const Task task : {Task::classify, Task::lm}) {
    ModelConfig c;
    c.task = task;
    c.cell = CellKind::gru;
    c.vocab = 6;
    c.embed = 3;
    c.hidden = 4;
    c.layers = 2;
    c.classes = task == Task::lm ? 6 : 3;
    c.bias_hh = true;
    c.dropout = 0.4;
    Model<double> m(c);
    Rng init(77);
    init_uniform(m, init, 0.8);
    const std::vector<std::vector<int>> seqs = {{1, 2, 3, 4}, {5, 0, 2, 1}};
    Batch b = make_batch(seqs, {0, 2}, {0, 1});
    if (task == Task::lm) b.targets = {2, 0, 3, 2, 4, 1, 0, 5};  // (T*B): one target per step
    auto run = [&](Model<double>::Workspace& ws) {
      Rng masks(123);
      m.forward(b, ws, &masks);
    };
    recur_test::check_gradients(
        m,
        [&] {
          Model<double>::Workspace ws;
          run(ws);
          ASSERT_GT(ws.mask[0].size(), 0);  // the masks really are there
          ASSERT_GT(task == Task::lm ? ws.mask[1].size() : ws.feature_mask.size(), 0);
          cross_entropy_grad<double>(ws.probs, b.targets, 1.0, ws.dlogits);
          m.zero_grad();
          m.backward(b, ws);
        },
        [&] {
          Model<double>::Workspace ws;
          run(ws);
          return cross_entropy_sum<double>(ws.logits, b.targets);
        });
  }
}
