// The encoder–decoder: central differences in double precision for every
// tensor — encoder, bridge, attention of every kind, decoder, head — with
// source and target lengths that differ within the batch; decoding steps that
// agree with the teacher-forced pass; beam rows that follow their hypotheses.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "recur/layers.hpp"
#include "recur/seq2seq.hpp"
#include "test_util.hpp"

using namespace recur;

namespace {

struct Case {
  AttentionKind attention;
  bool feeding;
  CellKind cell;
  int enc_layers, dec_layers;
  bool bidirectional;
  int embed;       // both sides; 0 = one-hot
  int enc_hidden;  // the decoder's is 4
};

Seq2SeqConfig config_of(const Case& k) {
  Seq2SeqConfig c;
  c.encoder.cell = k.cell;
  c.encoder.vocab = 6;
  c.encoder.embed = k.embed;
  c.encoder.hidden = k.enc_hidden;
  c.encoder.layers = k.enc_layers;
  c.encoder.bidirectional = k.bidirectional;
  c.encoder.bias_hh = true;
  c.cell = k.cell;
  c.tgt_vocab = 5;
  c.embed = k.embed;
  c.hidden = 4;
  c.layers = k.dec_layers;
  c.attention = k.attention;
  c.input_feeding = k.feeding;
  return c;
}

// Three pairs: sources of 3, 1 and 4 tokens (one unknown), targets of 2, 4 and 1 steps.
Batch ragged() {
  Batch b;
  b.T = 4, b.dec_T = 4, b.B = 3;
  b.ids = {0, 5, 2, 1, -1, 3, 4, -1, -1, -1, -1, 1};
  b.lengths = {3, 1, 4};
  b.dec_ids = {0, 0, 0, 2, 3, -1, -1, 4, -1, -1, 1, -1};
  b.targets = {2, 3, 1, 1, 4, -1, -1, 1, -1, -1, 1, -1};
  b.dec_lengths = {2, 4, 1};
  return b;
}

void init(Seq2Seq<double>& m, std::uint32_t seed) {
  Rng rng(seed);
  for (double& w : m.weights()) w = 0.5 * (2 * rng.uniform() - 1);
}

class Seq2SeqGradCheck : public ::testing::TestWithParam<Case> {};

TEST_P(Seq2SeqGradCheck, EveryParameter) {
  Seq2Seq<double> m(config_of(GetParam()));
  init(m, 11);
  const Batch b = ragged();
  recur_test::check_gradients(
      m,
      [&] {
        Seq2Seq<double>::Workspace ws;
        m.forward(b, ws);
        cross_entropy_grad<double>(ws.probs, b.targets, 1.0, ws.dlogits);
        m.zero_grad();
        m.backward(b, ws);
      },
      [&] {
        Seq2Seq<double>::Workspace ws;
        m.forward(b, ws);
        return cross_entropy_sum<double>(ws.logits, b.targets);
      },
      /*five_point=*/true);
}

INSTANTIATE_TEST_SUITE_P(
    Attention, Seq2SeqGradCheck,
    ::testing::Values(
        Case{AttentionKind::none, false, CellKind::lstm, 1, 1, false, 0, 4},       // copies h and c
        Case{AttentionKind::dot, true, CellKind::lstm, 2, 2, false, 3, 4},         // copies, two layers
        Case{AttentionKind::dot, false, CellKind::gru, 1, 2, true, 3, 2},          // bridge from both directions
        Case{AttentionKind::general, true, CellKind::lstm, 2, 1, true, 0, 3},      // bridge, one-hot
        Case{AttentionKind::general, false, CellKind::rnn_tanh, 1, 1, false, 2, 5},
        Case{AttentionKind::additive, true, CellKind::gru, 2, 2, true, 3, 3},
        Case{AttentionKind::additive, false, CellKind::lstm, 1, 2, false, 0, 6},
        Case{AttentionKind::none, true, CellKind::gru, 1, 1, true, 2, 4}),
    [](const auto& info) {
      const Case& k = info.param;
      return to_string(k.attention) + (k.feeding ? "_feed_" : "_") + cell_name(k.cell) + "_e" +
             std::to_string(k.enc_layers) + "d" + std::to_string(k.dec_layers) + (k.bidirectional ? "_bi" : "_uni") +
             (k.embed ? "_embed" : "_onehot");
    });

// The objective with label smoothing: its gradients are those of the
// smoothed loss it reports, per target symbol.
TEST(Seq2SeqObjective, LabelSmoothedGradientsAreThoseOfItsLoss) {
  Seq2Seq<double> m(config_of(Case{AttentionKind::general, true, CellKind::lstm, 1, 1, true, 3, 4}));
  init(m, 5);
  const Batch b = ragged();
  Seq2SeqObjective<double> objective(m, 0.2);
  Rng rng(1);  // (no dropout: nothing drawn)
  const double tokens = double(b.tokens());
  recur_test::check_gradients(
      m,
      [&] {
        m.zero_grad();
        objective.forward_backward(b, rng);
      },
      [&] { return objective.forward_backward(b, rng).value / tokens; }, /*five_point=*/true);
  // ... and not those of the plain loss.
  Seq2SeqObjective<double> plain(m, 0);
  m.zero_grad();
  objective.forward_backward(b, rng);
  const Buffer<double> smoothed = m.grads();
  m.zero_grad();
  plain.forward_backward(b, rng);
  double differ = 0;
  for (std::size_t i = 0; i < smoothed.size(); ++i) differ = std::max(differ, std::abs(smoothed[i] - m.grads()[i]));
  EXPECT_GT(differ, 1e-3);
}

// Stepping the decoder on the reference tokens gives the teacher-forced logits.
TEST(Seq2SeqDecode, StepsEqualTheTeacherForcedPass) {
  for (AttentionKind a : {AttentionKind::none, AttentionKind::general, AttentionKind::additive}) {
    Seq2Seq<double> m(config_of({a, true, CellKind::lstm, 2, 1, true, 3, 3}));
    init(m, 5);
    const Batch b = ragged();
    Seq2Seq<double>::Workspace ws;
    m.forward(b, ws);
    const std::vector<std::vector<int>> sources = {{0, 1, 4}, {5}, {2, 3, -1, 1}};  // ragged()'s, untangled
    Seq2Seq<double>::DecodeState st;
    m.encode(sources, st);
    Matrix<double> logits, attention;
    for (int t = 0; t < b.dec_T; ++t) {
      std::vector<int> prev(3);
      for (int r = 0; r < 3; ++r) prev[std::size_t(r)] = std::max(0, b.dec_ids[std::size_t(t) * 3 + r]);
      m.step(prev, st, logits, &attention);
      for (int r = 0; r < 3; ++r) {
        if (t >= b.dec_lengths[std::size_t(r)]) continue;  // the batch's padded steps
        EXPECT_LT((logits.row(r) - ws.logits.row(std::size_t(t) * 3 + r)).cwiseAbs().maxCoeff(), 1e-12)
            << to_string(a) << " step " << t << " row " << r;
        if (a != AttentionKind::none) {
          EXPECT_NEAR(attention.row(r).sum(), 1.0, 1e-12);
          for (int s = b.lengths[std::size_t(r)]; s < b.T; ++s) EXPECT_EQ(attention(r, s), 0.0);  // padding
        }
      }
    }
  }
}

// Beam search duplicates and reorders rows: a selected row carries on exactly
// as the row it came from.
TEST(Seq2SeqDecode, SelectedRowsFollowTheirHypotheses) {
  Seq2Seq<double> m(config_of({AttentionKind::additive, true, CellKind::gru, 1, 2, true, 3, 3}));
  init(m, 8);
  Seq2Seq<double>::DecodeState a, b;
  m.encode({{0, 1, 2}, {3, 4}}, a);
  m.encode({{0, 1, 2}, {3, 4}}, b);
  Matrix<double> la, lb;
  m.step({0, 0}, a, la);
  m.step({0, 0}, b, lb);
  m.select(b, {1, 0, 0});  // source 1's row, then source 0's twice
  m.step({2, 3}, a, la);
  m.step({3, 2, 2}, b, lb);
  // Equal to rounding: BLAS may sum a batch of three in another order than a
  // batch of two (OpenBLAS does on AMD Zen 4), while a wrong row is far off.
  const auto gap = [](const auto& x, const auto& y) { return (x - y).cwiseAbs().maxCoeff(); };
  EXPECT_LT(gap(lb.row(0), la.row(1)), 1e-13);
  EXPECT_LT(gap(lb.row(1), la.row(0)), 1e-13);
  EXPECT_LT(gap(lb.row(2), la.row(0)), 1e-13);
  EXPECT_GT(gap(la.row(0), la.row(1)), 1e-3);  // the two sources' rows do differ
}

TEST(Seq2SeqConfigCheck, DotAttentionNeedsMatchingWidths) {
  Case k{AttentionKind::dot, true, CellKind::lstm, 1, 1, true, 0, 4};  // encoder output 8, decoder 4
  EXPECT_NE(recur_test::error_of([&] { Seq2Seq<double> m(config_of(k)); }).find("--attention dot"), std::string::npos);
}

// Pairs from token lists: sources (ids < 6, -1 unknown), targets (ids 2..4;
// <bos> 0 and <eos> 1 added), time-major as PairBatcher lays them out.
Batch batch_of(const std::vector<std::vector<int>>& src, const std::vector<std::vector<int>>& tgt) {
  Batch b;
  b.B = int(src.size());
  for (const auto& s : src) b.T = std::max(b.T, int(s.size()));
  for (const auto& t : tgt) b.dec_T = std::max(b.dec_T, int(t.size()) + 1);
  b.ids.assign(std::size_t(b.T) * b.B, -1);
  b.dec_ids.assign(std::size_t(b.dec_T) * b.B, -1);
  b.targets.assign(std::size_t(b.dec_T) * b.B, -1);
  for (int i = 0; i < b.B; ++i) {
    const auto& s = src[std::size_t(i)];
    const auto& t = tgt[std::size_t(i)];
    b.lengths.push_back(int(s.size()));
    b.dec_lengths.push_back(int(t.size()) + 1);
    for (std::size_t k = 0; k < s.size(); ++k) b.ids[k * std::size_t(b.B) + std::size_t(i)] = s[k];
    for (std::size_t k = 0; k <= t.size(); ++k) {
      b.dec_ids[k * std::size_t(b.B) + std::size_t(i)] = k == 0 ? 0 : t[k - 1];
      b.targets[k * std::size_t(b.B) + std::size_t(i)] = k < t.size() ? t[k] : 1;
    }
  }
  return b;
}

// On one BLAS thread (recur train --threads) the float decoder's per-step
// products run on the rows kernel, its weights packed in panels once a batch:
// probabilities and every gradient equal the double model's (BLAS) to float
// rounding — every cell and attention, two decoder layers, one-hot and
// embedded targets, a ragged batch of 5 (the kernel's rows in fours and one).
TEST(Seq2SeqPanels, OneBlasThreadFloatEqualsDouble) {
  const int saved = blas_threads();
  set_blas_threads(1);
  const Batch b = batch_of({{0, 1, 4}, {5}, {2, 3, -1, 1}, {4, 4}, {1, 2, 3, 4, 5}},
                           {{2, 3}, {4, 4, 3, 2}, {3}, {2, 2, 4}, {4, 3}});
  for (const Case k : {Case{AttentionKind::general, true, CellKind::lstm, 2, 2, true, 16, 8},
                       Case{AttentionKind::additive, true, CellKind::gru, 1, 2, true, 0, 8},
                       Case{AttentionKind::dot, false, CellKind::rnn_tanh, 1, 1, true, 16, 8},
                       Case{AttentionKind::none, true, CellKind::lstm, 1, 1, false, 16, 16}}) {
    Seq2SeqConfig c = config_of(k);
    c.hidden = 16;  // a multiple of the packet width (and every product's width): the kernel's case
    SCOPED_TRACE(to_string(k.attention) + " " + cell_name(k.cell));
    Seq2Seq<double> md(c);
    init(md, 3);
    Seq2Seq<float> mf(c);
    for (std::size_t i = 0; i < md.weights().size(); ++i) mf.weights()[i] = float(md.weights()[i]);
    Seq2Seq<double>::Workspace wd;
    md.forward(b, wd);
    cross_entropy_grad<double>(wd.probs, b.targets, 1.0, wd.dlogits);
    md.zero_grad();
    md.backward(b, wd);
    Seq2Seq<float>::Workspace wf;
    mf.forward(b, wf);
    ASSERT_TRUE(wf.panels.on);
    cross_entropy_grad<float>(wf.probs, b.targets, 1.0f, wf.dlogits);
    mf.zero_grad();
    mf.backward(b, wf);
    EXPECT_LT((wf.probs.cast<double>() - wd.probs).cwiseAbs().maxCoeff(), 1e-5);
    recur_test::expect_grads_close(md.table(), md.grads(), mf.grads());
  }
  set_blas_threads(saved);
}

// Decoding on one BLAS thread: the step's products on the rows kernel, the
// weights packed once (decode_panels) for every state that decodes with them.
// Each step's logits equal the float model's without panels, and the double
// model's, to float rounding, for many rows and for one.
TEST(Seq2SeqPanels, DecodingStepsOnPanelsEqualThePlainProducts) {
  const int saved = blas_threads();
  set_blas_threads(1);
  for (const Case k : {Case{AttentionKind::general, true, CellKind::lstm, 2, 2, true, 16, 8},
                       Case{AttentionKind::additive, false, CellKind::gru, 1, 1, true, 0, 8}}) {
    Seq2SeqConfig c = config_of(k);
    c.hidden = 16;
    SCOPED_TRACE(to_string(k.attention) + " " + cell_name(k.cell));
    Seq2Seq<double> md(c);
    init(md, 4);
    Seq2Seq<float> mf(c);
    for (std::size_t i = 0; i < md.weights().size(); ++i) mf.weights()[i] = float(md.weights()[i]);
    const auto panels = mf.decode_panels();
    ASSERT_NE(panels, nullptr);
    EXPECT_TRUE(panels->ih_back.empty() || panels->ih_back[0].empty());  // forward only
    const std::vector<std::vector<int>> sources = {{0, 1, 4}, {5}, {2, 3, -1, 1}, {4, 4}, {1, 2, 3, 4, 5}};
    Seq2Seq<float>::DecodeState on, off;
    Seq2Seq<double>::DecodeState exact;
    on.panels = panels;
    mf.encode(sources, on), mf.encode(sources, off), md.encode(sources, exact);
    Matrix<float> l_on, l_off;
    Matrix<double> l_exact;
    std::vector<int> prev(sources.size(), 0);
    for (int t = 0; t < 4; ++t) {
      mf.step(prev, on, l_on), mf.step(prev, off, l_off), md.step(prev, exact, l_exact);
      EXPECT_LT((l_on - l_off).cwiseAbs().maxCoeff(), 1e-5) << "step " << t;
      EXPECT_LT((l_on.cast<double>() - l_exact).cwiseAbs().maxCoeff(), 1e-5) << "step " << t;
      for (std::size_t r = 0; r < prev.size(); ++r) prev[r] = 2 + int((r + std::size_t(t)) % 3);
    }
    mf.select(on, {2}), mf.select(off, {2});  // one row
    mf.step({3}, on, l_on), mf.step({3}, off, l_off);
    EXPECT_LT((l_on - l_off).cwiseAbs().maxCoeff(), 1e-5);
  }
  set_blas_threads(saved);
}

}  // namespace

// Pairs are bucketed by source length, and pairs of one source length by
// target length: the decoder's steps in a batch end together.
TEST(PairBatcher, PairsOfOneSourceLengthAreBatchedByTargetLength) {
  Rng data_rng(3);
  std::vector<std::vector<int>> src, tgt;
  for (int i = 0; i < 64; ++i) {
    src.push_back({1, 2, 3});
    tgt.push_back(std::vector<int>(std::size_t(1 + int(data_rng.uniform() * 8)), 2));
  }
  PairBatcher batcher(src, tgt, 8, {}, 0, 1);
  Rng rng(5);
  batcher.begin_epoch(rng);
  ASSERT_EQ(batcher.steps_per_epoch(), 8u);
  std::vector<std::pair<int, int>> spans;  // each batch's shortest and longest target
  for (std::size_t k = 0; k < 8; ++k) {
    const Batch& b = batcher.batch(k, 0);
    const auto [lo, hi] = std::minmax_element(b.dec_lengths.begin(), b.dec_lengths.end());
    spans.emplace_back(*lo, *hi);
  }
  std::sort(spans.begin(), spans.end());
  for (std::size_t k = 1; k < spans.size(); ++k) EXPECT_LE(spans[k - 1].second, spans[k].first);  // none overlap
}

// Models trained together (Seq2SeqEnsemble, recur train --members N) take the
// very steps each would take alone from its initial weights on the same
// batches: each member's gradient clipped by its own norm, its loss averaged
// over the same target symbols. Clipped by one norm over both, as one network
// would be, they take other steps (which the last check shows the clip here
// makes visible).
TEST(Seq2SeqEnsemble, MembersTrainedTogetherTakeTheStepsEachTakesAlone) {
  const Seq2SeqConfig c = config_of({AttentionKind::general, true, CellKind::lstm, 1, 1, true, 3, 4});
  Rng data_rng(5);
  std::vector<std::vector<int>> src, tgt;
  for (int i = 0; i < 22; ++i) {
    std::vector<int> s, t;
    for (int k = 0, n = 1 + int(data_rng.uniform() * 4); k < n; ++k) s.push_back(int(data_rng.uniform() * 6));
    for (int k = 0, n = 1 + int(data_rng.uniform() * 3); k < n; ++k) t.push_back(2 + int(data_rng.uniform() * 3));
    src.push_back(s), tgt.push_back(t);
  }
  TrainerOptions o;
  o.length = 3;  // epochs, of 6 steps (the last of 2 pairs)
  o.every = 0;
  o.step.lr = 0.5;
  o.step.clip = 0;
  o.step.clip_norm = 0.05;
  const auto train = [&](Objective<double>& objective, const TrainerOptions& to) {
    PairBatcher batcher(src, tgt, 4, {}, 0, 1);
    Optimizer<double> optimizer(to.step.optimizer, objective.weights().size());
    Rng rng(11);  // draws the batches' order
    run_training<double>(objective, batcher, optimizer, to, rng);
  };
  const auto ensemble_after = [&](bool own_norms) {
    Seq2SeqEnsemble<double> e(c, 2);
    Rng init_rng(7);
    init_seq2seq(e, init_rng);
    Seq2SeqEnsembleObjective<double> objective(e);
    TrainerOptions to = o;
    if (own_norms) to.step.norm_groups = e.groups();
    train(objective, to);
    Buffer<double> w = e.weights();
    return std::make_pair(w, e.release());
  };
  const auto [together, members] = ensemble_after(true);
  ASSERT_EQ(members.size(), 2u);
  Seq2SeqEnsemble<double> start(c, 2);  // the initial weights again
  Rng init_rng(7);
  init_seq2seq(start, init_rng);
  const std::size_t n = start.member_size();
  EXPECT_NE(start.member(0).weights(), start.member(1).weights());  // each member its own draw
  for (int k = 0; k < 2; ++k) {
    Seq2Seq<double> alone(c);
    alone.weights() = start.member(k).weights();
    Seq2SeqObjective<double> objective(alone);
    train(objective, o);
    double worst = 0;
    for (std::size_t i = 0; i < n; ++i) {
      worst = std::max(worst, std::abs(alone.weights()[i] - together[std::size_t(k) * n + i]));
      ASSERT_EQ(members[std::size_t(k)].weights()[i], together[std::size_t(k) * n + i]);  // release() hands them over
    }
    EXPECT_LT(worst, 1e-12) << "member " << k;
    double moved = 0;
    for (std::size_t i = 0; i < n; ++i) moved = std::max(moved, std::abs(alone.weights()[i] - start.member(k).weights()[i]));
    EXPECT_GT(moved, 1e-3) << "member " << k;
  }
  const auto one_norm = ensemble_after(false).first;
  double apart = 0;
  for (std::size_t i = 0; i < together.size(); ++i) apart = std::max(apart, std::abs(one_norm[i] - together[i]));
  EXPECT_GT(apart, 1e-4);
}
