// The inference pass (Reader): a sequence read in a batch gets exactly — bit
// for bit — the answer it gets alone, whatever else is in the batch and
// wherever it sits; and those answers are the training pass's (Model::forward)
// up to rounding, for every cell, depth, direction and input kind.
#include <gtest/gtest.h>

#include "recur/inference.hpp"
#include "recur/layers.hpp"
#include "test_util.hpp"

using namespace recur;

namespace {

struct Case {
  CellKind cell;
  int layers;
  bool bidirectional;
  int embed;
  int hidden;  // odd sizes too: rows not a whole number of SIMD packets
  PoolKind pool = PoolKind::last;
};

ModelConfig config_of(const Case& k, Task task = Task::classify) {
  ModelConfig c;
  c.task = task;
  c.cell = k.cell;
  c.vocab = 7;
  c.classes = task == Task::lm ? 7 : 3;
  c.embed = k.embed;
  c.hidden = k.hidden;
  c.layers = k.layers;
  c.bidirectional = k.bidirectional;
  c.bias_hh = true;
  if (task == Task::classify) c.pool = k.pool;
  return c;
}

template <class T>
void init(Model<T>& m, std::uint32_t seed) {
  Rng rng(seed);
  for (T& w : m.weights()) w = T(0.6 * (2 * rng.uniform() - 1));
}

const std::vector<std::vector<int>> kSeqs = {{0, 1, 2, 3}, {4}, {5, 6, 0, 1, 2, 3, 4}, {}, {2, -1, 3},
                                             {6, 6, 6, 6, 6, 6, 6, 6, 1}, {1, 2}, {3, 4, 5, 6, 0}};

class ReaderCase : public ::testing::TestWithParam<Case> {};

TEST_P(ReaderCase, BatchedEqualsAloneBitForBit) {
  Model<float> m(config_of(GetParam()));
  init(m, 3);
  const Reader<float> reader(m);
  Matrix<float> all, one;
  std::vector<ReadTrace<float>> traces, single;
  reader.classify(kSeqs, all, &traces);
  for (std::size_t i = 0; i < kSeqs.size(); ++i) {
    reader.classify({kSeqs[i]}, one, &single);
    for (Eigen::Index c = 0; c < one.cols(); ++c)
      ASSERT_EQ(all(Eigen::Index(i), c), one(0, c)) << "sequence " << i << " class " << c;
    ASSERT_EQ(traces[i].h, single[0].h) << "sequence " << i;
    ASSERT_EQ(traces[i].c, single[0].c);
    ASSERT_EQ(traces[i].gates, single[0].gates);
  }
  // Another batch, another order, the same sequence twice: the same answers.
  std::vector<std::vector<int>> shuffled = {kSeqs[5], kSeqs[2], kSeqs[2], kSeqs[0], kSeqs[3]};
  reader.classify(shuffled, one);
  for (Eigen::Index c = 0; c < one.cols(); ++c) {
    EXPECT_EQ(one(0, c), all(5, c));
    EXPECT_EQ(one(1, c), all(2, c));
    EXPECT_EQ(one(2, c), all(2, c));
    EXPECT_EQ(one(4, c), all(3, c));
  }
}

TEST_P(ReaderCase, AgreesWithTheTrainingPass) {
  Model<double> m(config_of(GetParam()));
  init(m, 4);
  const Reader<double> reader(m);
  Matrix<double> probs;
  std::vector<ReadTrace<double>> traces;
  reader.classify(kSeqs, probs, &traces);
  typename Model<double>::Workspace ws;
  for (std::size_t i = 0; i < kSeqs.size(); ++i) {
    if (kSeqs[i].empty()) {  // the initial state through the head: softmax(b_y)
      Matrix<double> b = m.param("head.bias").transpose(), p;
      softmax_rows<double>(b, p);
      EXPECT_LT((probs.row(Eigen::Index(i)) - p).cwiseAbs().maxCoeff(), 1e-14);
      continue;
    }
    m.forward(make_batch(kSeqs, {}, {int(i)}), ws);
    EXPECT_LT((probs.row(Eigen::Index(i)) - ws.probs).cwiseAbs().maxCoeff(), 1e-12) << "sequence " << i;
    // The trace holds every layer-direction's outputs (the training cache's states).
    const int H = m.config().hidden, D = m.config().directions();
    for (int k = 0; k < m.config().layers; ++k)
      for (int d = 0; d < D; ++d)
        for (int t = 0; t < int(kSeqs[i].size()); ++t) {
          const auto want = ws.cache[std::size_t(k * D + d)].output(t);
          const auto got = traces[i].h.row(t).segment(std::size_t(k * D + d) * H, H);
          EXPECT_LT((want.transpose() - got.transpose()).cwiseAbs().maxCoeff(), 1e-12);
        }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cells, ReaderCase,
    ::testing::Values(Case{CellKind::rnn_tanh, 1, false, 0, 64}, Case{CellKind::rnn_relu, 2, true, 5, 13},
                      Case{CellKind::lstm, 1, false, 0, 16}, Case{CellKind::lstm, 2, true, 6, 19},
                      Case{CellKind::gru, 1, true, 0, 33}, Case{CellKind::gru, 2, false, 4, 7},
                      Case{CellKind::lstm, 2, true, 6, 19, PoolKind::mean}, Case{CellKind::gru, 1, true, 0, 33, PoolKind::max},
                      Case{CellKind::rnn_tanh, 2, true, 5, 13, PoolKind::attention},
                      Case{CellKind::lstm, 1, false, 0, 16, PoolKind::attention}),
    [](const auto& info) {
      const Case& k = info.param;
      return cell_name(k.cell) + "_l" + std::to_string(k.layers) + (k.bidirectional ? "_bi" : "_uni") +
             (k.embed ? "_embed" : "_onehot") + "_h" + std::to_string(k.hidden) +
             (k.pool == PoolKind::last ? "" : "_pool_" + to_string(k.pool));
    });

// A language model read step by step (generation) or a chunk at a time
// (evaluation) agrees with the training pass over the whole sequence.
TEST(ReaderStream, StepsAndChunksAgreeWithOneLongPass) {
  for (CellKind cell : {CellKind::rnn_tanh, CellKind::lstm, CellKind::gru}) {
    Model<double> m(config_of({cell, 2, false, 3, 9}, Task::lm));
    init(m, 5);
    const Reader<double> reader(m);
    const std::vector<int> ids = {0, 1, 2, 3, 4, 5, 6, 6, 5, 1, 3};
    typename Model<double>::Workspace ws;
    Batch b;
    b.B = 1, b.T = int(ids.size());
    b.ids = ids;
    b.lengths = {b.T};
    m.forward(b, ws);
    Reader<double>::State chunked, stepped;
    Matrix<double> a, c, step_logits;
    reader.read({ids.begin(), ids.begin() + 4}, chunked, a);
    reader.read({ids.begin() + 4, ids.end()}, chunked, c);
    Matrix<double> whole(ids.size(), m.config().vocab);
    whole << a, c;
    EXPECT_LT((whole - ws.logits).cwiseAbs().maxCoeff(), 1e-12) << cell_name(cell);
    for (std::size_t t = 0; t < ids.size(); ++t) {
      reader.step({ids[t]}, stepped, step_logits);
      EXPECT_EQ(step_logits.row(0), whole.row(Eigen::Index(t)));  // the same arithmetic, one token at a time
    }
  }
}

// Several streams stepped together are each what they are alone.
TEST(ReaderStream, StreamsAreIndependent) {
  Model<float> m(config_of({CellKind::lstm, 2, false, 0, 21}, Task::lm));
  init(m, 6);
  const Reader<float> reader(m);
  Reader<float>::State both, first, second;
  Matrix<float> lb, l1, l2;
  const std::vector<int> s1 = {1, 2, 3, 4}, s2 = {6, 0, 5, 5};
  for (std::size_t t = 0; t < s1.size(); ++t) {
    reader.step({s1[t], s2[t]}, both, lb);
    reader.step({s1[t]}, first, l1);
    reader.step({s2[t]}, second, l2);
    EXPECT_EQ(lb.row(0), l1.row(0));
    EXPECT_EQ(lb.row(1), l2.row(0));
  }
}

}  // namespace
