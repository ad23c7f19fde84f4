// Central-difference gradient checks, in double precision, of the classifier's
// backward pass (BPTT, docs/bptt.md) over every parameter tensor.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "recur/layers.hpp"
#include "recur/model.hpp"
#include "test_util.hpp"

using namespace recur;
using recur_test::check_with_draws;
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
    check_with_draws(m, b, 123, true, [&](const Model<double>::Workspace& ws) {
      ASSERT_GT(ws.mask[0].size(), 0);  // the masks really are there
      ASSERT_GT(task == Task::lm ? ws.mask[1].size() : ws.feature_mask.size(), 0);
    });
  }
}

// Pooling over time (--pool mean|max|attention, docs/bptt.md): the head reads
// the top layer's outputs at every real step of a ragged batch, through
// dropout on those outputs; and a padded batch's gradients are the sum of its
// sequences' own.
struct PoolCase {
  PoolKind pool;
  CellKind cell;
  int layers;
  bool bidirectional;
};

class GradCheckPool : public ::testing::TestWithParam<PoolCase> {};

TEST_P(GradCheckPool, EveryParameterThroughDropout) {
  const PoolCase k = GetParam();
  ModelConfig c;
  c.cell = k.cell;
  c.vocab = 6;
  c.embed = 3;
  c.hidden = 4;
  c.layers = k.layers;
  c.bidirectional = k.bidirectional;
  c.classes = 3;
  c.bias_hh = true;
  c.pool = k.pool;
  for (const double dropout : {0.0, 0.3}) {
    c.dropout = dropout;
    Model<double> m(c);
    EXPECT_EQ(m.table().find("pool.query") != nullptr, k.pool == PoolKind::attention);
    Rng rng(20 + int(k.pool) * 8 + int(k.cell) * 2 + k.bidirectional);
    init_uniform(m, rng, 0.8);
    const std::vector<std::vector<int>> seqs = {{1, 2, 3, 4, 0}, {5, 0}, {2, -1, 1}, {4}};
    const Batch b = make_batch(seqs, {0, 2, 1, 2}, {0, 1, 2, 3});
    check_with_draws(
        m, b, 321, dropout > 0,
        [&](const Model<double>::Workspace& ws) {
          ASSERT_EQ(ws.mask[std::size_t(c.layers - 1)].size() > 0, dropout > 0);  // on the pooled outputs
          ASSERT_EQ(ws.feature_mask.size(), 0);
        },
        k.pool == PoolKind::attention);  // (the query's gradient can be small: the five-point difference)
    if (dropout > 0) continue;
    // The batch's gradients are the sum of each sequence's alone (padding is never read).
    analytic(m, b);
    const Buffer<double> batch_g = m.grads();
    std::vector<double> sum_g(batch_g.size(), 0.0);
    for (int i = 0; i < 4; ++i) {
      analytic(m, make_batch(seqs, {0, 2, 1, 2}, {i}));
      for (std::size_t j = 0; j < sum_g.size(); ++j) sum_g[j] += m.grads()[j];
    }
    for (std::size_t j = 0; j < sum_g.size(); ++j) ASSERT_NEAR(batch_g[j], sum_g[j], 1e-12) << j;
  }
}

std::vector<PoolCase> pool_cases() {
  std::vector<PoolCase> out;
  for (PoolKind pool : {PoolKind::mean, PoolKind::max, PoolKind::attention})
    for (CellKind cell : {CellKind::rnn_tanh, CellKind::lstm, CellKind::gru})
      for (bool bi : {false, true}) out.push_back({pool, cell, cell == CellKind::lstm ? 2 : 1, bi});
  return out;
}

INSTANTIATE_TEST_SUITE_P(Pools, GradCheckPool, ::testing::ValuesIn(pool_cases()), [](const auto& info) {
  const PoolCase& k = info.param;
  return to_string(k.pool) + "_" + cell_name(k.cell) + "_l" + std::to_string(k.layers) +
         (k.bidirectional ? "_bi" : "_uni");
});

// What each pooling computes, on numbers small enough to check by hand.
TEST(Pooling, MeanMaxAndAttentionByHand) {
  // Two sequences, T = 3, B = 2, F = 2; sequence 1 has 2 steps (row 2*2+1 is padding).
  const std::vector<double> y = {1, 2, 10, 0,    // t=0: b0, b1
                                 3, -1, 20, 5,   // t=1
                                 -2, 4, 99, 99}; // t=2 (b1: padding)
  const int lengths[2] = {3, 2};
  std::vector<double> f(4);
  PoolCache<double> cache;
  pool_forward<double>(PoolKind::mean, y.data(), 2, 3, 2, lengths, 2, nullptr, f.data(), 2, &cache);
  EXPECT_EQ(f, (std::vector<double>{2.0 / 3, 5.0 / 3, 15, 2.5}));
  pool_forward<double>(PoolKind::max, y.data(), 2, 3, 2, lengths, 2, nullptr, f.data(), 2, &cache);
  EXPECT_EQ(f, (std::vector<double>{3, 4, 20, 5}));
  EXPECT_EQ(cache.argmax, (std::vector<int>{1, 2, 1, 1}));
  const double q[2] = {0, 0};  // a zero query: every step weighs the same, the mean
  pool_forward<double>(PoolKind::attention, y.data(), 2, 3, 2, lengths, 2, q, f.data(), 2, &cache);
  EXPECT_NEAR(f[0], 2.0 / 3, 1e-15);
  EXPECT_NEAR(f[3], 2.5, 1e-15);
  EXPECT_EQ(cache.alpha[2 * 2 + 1], 0.0);  // nothing on padding
  const double q2[2] = {1, 0};  // scores y_t0: sequence 1 weighs 10 and 20
  pool_forward<double>(PoolKind::attention, y.data(), 2, 3, 2, lengths, 2, q2, f.data(), 2, &cache);
  const double a = 1 / (1 + std::exp(10.0));
  EXPECT_NEAR(f[2], a * 10 + (1 - a) * 20, 1e-12);
  const int empty[2] = {0, 0};  // empty sequences pool to zero
  pool_forward<double>(PoolKind::max, y.data(), 2, 3, 2, empty, 2, nullptr, f.data(), 2, &cache);
  EXPECT_EQ(f, (std::vector<double>(4, 0.0)));
  EXPECT_THROW(pool_from_string("median"), Error);
  EXPECT_EQ(pool_from_string("attention"), PoolKind::attention);
}

// Word dropout (a token read as <unk>, or as the zero input without one) and
// embedding dropout: with the same draws in every evaluation, backward is the
// exact gradient, and it reaches <unk>'s row, not the dropped words'.
TEST(GradCheck, WordAndEmbeddingDropout) {
  for (const int embed : {0, 3}) {
    ModelConfig c;
    c.cell = CellKind::lstm;
    c.vocab = 6;
    c.embed = embed;
    c.hidden = 4;
    c.classes = 3;
    c.bias_hh = true;
    c.bidirectional = true;
    c.pool = PoolKind::max;
    c.word_dropout = 0.4;
    c.embed_dropout = embed ? 0.3 : 0;
    c.unknown_id = embed ? 5 : -1;  // with an embedding: id 5 plays <unk>
    Model<double> m(c);
    Rng init(78);
    init_uniform(m, init, 0.8);
    const std::vector<std::vector<int>> seqs = {{1, 2, 3, 4, 0, 2}, {4, 0, 2, 1}, {3, 3}};
    const Batch b = make_batch(seqs, {0, 2, 1}, {0, 1, 2});
    Model<double>::Workspace probe;
    Rng draws(124);
    m.forward(b, probe, &draws);
    int dropped = 0;
    for (std::size_t r = 0; r < b.ids.size(); ++r)
      if (probe.dropped_ids[r] != b.ids[r]) {
        ++dropped;
        EXPECT_EQ(probe.dropped_ids[r], c.unknown_id);
      }
    EXPECT_GT(dropped, 0);
    EXPECT_EQ(probe.x_mask.size() > 0, embed > 0);
    check_with_draws(m, b, 124);
    if (embed) {
      EXPECT_GT(m.grad("embedding.weight").row(5).cwiseAbs().maxCoeff(), 0.0);  // <unk> learned
    }
    // Without a generator (evaluation) nothing is dropped.
    Model<double>::Workspace eval;
    m.forward(b, eval);
    EXPECT_TRUE(eval.dropped_ids.empty());
    EXPECT_EQ(eval.x_mask.size(), 0);
  }
}

// With one BLAS thread (recur train --threads) the float time loop's products
// run on the rows kernel, W_hh laid out once a sequence, and the gate math in
// one pass over each row: its probabilities and every gradient equal the
// double-precision model's (the BLAS path, the array expressions) to float
// rounding, for each cell, on three shapes: bidirectional and two layers over
// a ragged batch of 5 (the kernel's rows in fours and one); one direction over
// sequences of one length (the kernel writes dh_{t-1} without a zeroed start,
// and more symbols than steps: the input's own columns); and a hidden size
// that ends in part of a packet.
TEST(Batching, OneBlasThreadFloatProductsEqualDouble) {
  const int saved = blas_threads();
  set_blas_threads(1);
  struct Shape {
    int hidden, vocab;
    bool bidirectional;
    std::vector<std::vector<int>> seqs;
  };
  const std::vector<Shape> shapes = {
      {32, 9, true, {{1, 2, 3, 4, 5, 6}, {5}, {2, 0, 1}, {8, 7, 6, 5}, {3, 3}}},
      {32, 40, false, {{1, 22, 3}, {39, 0, 5}, {2, 30, 1}, {8, 7, 16}, {3, 3, 3}}},
      {20, 9, false, {{1, 2, 3, 4, 5, 6}, {5}, {2, 0, 1}, {8, 7, 6, 5}, {3, 3}}}};
  for (const Shape& shape : shapes)
    for (const CellKind cell : {CellKind::rnn_tanh, CellKind::lstm, CellKind::gru}) {
      SCOPED_TRACE(std::string(cell_name(cell)) + ", hidden " + std::to_string(shape.hidden));
      ModelConfig c;
      c.cell = cell;
      c.vocab = shape.vocab;
      c.hidden = shape.hidden;
      c.layers = 2;
      c.bidirectional = shape.bidirectional;
      c.classes = 3;
      c.bias_hh = true;
      Model<double> md(c);
      Rng rng(11);
      init_uniform(md, rng, 0.3);
      Model<float> mf(c);
      for (std::size_t i = 0; i < md.weights().size(); ++i) mf.weights()[i] = float(md.weights()[i]);
      const Batch b = make_batch(shape.seqs, {0, 2, 1, 1, 0}, {0, 1, 2, 3, 4});
      Model<double>::Workspace wd;
      md.forward(b, wd);
      cross_entropy_grad<double>(wd.probs, b.targets, 1.0, wd.dlogits);
      md.zero_grad();
      md.backward(b, wd);
      Model<float>::Workspace wf;
      mf.forward(b, wf);
      cross_entropy_grad<float>(wf.probs, b.targets, 1.0f, wf.dlogits);
      mf.zero_grad();
      mf.backward(b, wf);
      for (Eigen::Index r = 0; r < wd.probs.rows(); ++r)
        for (Eigen::Index k = 0; k < wd.probs.cols(); ++k) EXPECT_NEAR(wf.probs(r, k), wd.probs(r, k), 1e-5);
      recur_test::expect_grads_close(md.table(), md.grads(), mf.grads());
    }
  set_blas_threads(saved);
}
