// Subword input (include/recur/subwords.hpp): the n-grams and their buckets,
// the bags, the gradient through a bag's mean, the inference pass that reads
// words outside the vocabulary, and the sparse optimizer step that keeps a
// large bucket table cheap.
#include <gtest/gtest.h>

#include <set>

#include "recur/inference.hpp"
#include "recur/layers.hpp"
#include "recur/model.hpp"
#include "recur/optim.hpp"
#include "recur/subwords.hpp"
#include "test_util.hpp"

using namespace recur;
using recur_test::error_of;

TEST(Subwords, CharacterNgramsAsFastTextCutsThem) {
  // The fastText paper's example: "where", n = 3.
  EXPECT_EQ(char_ngrams("where", 3, 3), (std::vector<std::string>{"<wh", "whe", "her", "ere", "re>"}));
  // Lengths 1-2: no lone "<" or ">", in order of start then length.
  EXPECT_EQ(char_ngrams("ab", 1, 2), (std::vector<std::string>{"<a", "a", "ab", "b", "b>"}));
  // Characters, not bytes: "é" is one character of two bytes.
  EXPECT_EQ(char_ngrams("né", 2, 2), (std::vector<std::string>{"<n", "né", "é>"}));
  // The whole word with its markers when it is short enough; nothing when every n-gram is too long.
  EXPECT_EQ(char_ngrams("a", 3, 6), (std::vector<std::string>{"<a>"}));
  EXPECT_TRUE(char_ngrams("a", 4, 6).empty());
}

TEST(Subwords, BucketsAreFnv1aOfTheBytes) {
  const SubwordSpec s = subword_spec("3-3", 1000003);
  // FNV-1a 32 of "<wh": computed by hand from the definition.
  std::uint32_t h = 2166136261u;
  for (const unsigned char ch : std::string("<wh")) h = (h ^ ch) * 16777619u;
  const std::vector<int> b = ngram_buckets("where", s);
  ASSERT_EQ(b.size(), 5u);
  EXPECT_EQ(b[0], int(h % 1000003u));
  for (const int x : ngram_buckets("where", subword_spec("3-6", 7))) EXPECT_TRUE(x >= 0 && x < 7);
}

TEST(Subwords, SpecErrorsNameTheFlag) {
  EXPECT_EQ(to_string(subword_spec("3-6", 10)), "3-6");
  for (const char* bad : {"6-3", "0-2", "3", "a-b", "3-", "-3", "3-6-7", "3-17", "100-200"})
    EXPECT_NE(error_of([&] { subword_spec(bad, 10); }).find("--subwords '"), std::string::npos) << bad;
  EXPECT_NE(error_of([] { subword_spec("3-6", 0); }).find("--buckets"), std::string::npos);
}

TEST(Subwords, BagsOfTheVocabularyAndOfWordsOutsideIt) {
  Vocabulary v;
  v.add("good");
  v.add("bad");
  v.add(kUnknownToken);
  const SubwordSpec s = subword_spec("3-4", 50);
  const TokenBags vocab(v, s);
  ASSERT_EQ(vocab.size(), 3);
  // A word reads its own row, then its n-grams' rows after the vocabulary's.
  const std::vector<int> good(vocab.begin(0), vocab.end(0));
  std::vector<int> want = {0};
  for (const int b : ngram_buckets("good", s)) want.push_back(3 + b);
  EXPECT_EQ(good, want);
  // <unk> reads only its own row.
  EXPECT_EQ(std::vector<int>(vocab.begin(2), vocab.end(2)), std::vector<int>{2});
  // An extension adds words after the vocabulary, once each, n-grams only.
  TokenBags call(vocab, true);
  const int goodness = call.add("goodness", 2);
  EXPECT_EQ(goodness, 3);
  EXPECT_EQ(call.add("goodness", 2), 3);
  EXPECT_EQ(call.add("badly", 2), 4);
  EXPECT_EQ(call.size(), 5);
  std::vector<int> ngrams;
  for (const int b : ngram_buckets("goodness", s)) ngrams.push_back(3 + b);
  EXPECT_EQ(std::vector<int>(call.begin(goodness), call.end(goodness)), ngrams);
  EXPECT_EQ(std::vector<int>(call.begin(0), call.end(0)), good);  // the base's bags through the extension
  // A word with no n-gram of these lengths is the unknown word.
  EXPECT_EQ(TokenBags(vocab, true).add("", 2), 2);
  // Encoding: known words keep their ids, the others are added and counted.
  const Encoded e = encode(v, TokenizerKind::word, "good goodness badly good", call);
  EXPECT_EQ(e.ids, (std::vector<int>{0, 3, 4, 0}));
  EXPECT_EQ(e.n_unknown, 2);
}

namespace {

ModelConfig subword_config(CellKind cell, bool bidirectional, PoolKind pool) {
  ModelConfig c;
  c.cell = cell;
  c.vocab = 4;  // "good", "bad", "movie", <unk>
  c.embed = 3;
  c.hidden = 4;
  c.bidirectional = bidirectional;
  c.bias_hh = true;
  c.classes = 2;
  c.pool = pool;
  c.subwords = subword_spec("2-3", 11);
  return c;
}

Vocabulary subword_vocab() {
  Vocabulary v;
  for (const char* w : {"good", "bad", "movie", kUnknownToken.c_str()}) v.add(w);
  return v;
}

}  // namespace

// Finite differences through the bag's mean: every row of embedding.weight
// and subwords.weight that a word read, words outside the vocabulary among
// them, in a ragged batch, through word and embedding dropout.
TEST(GradCheck, SubwordInputThroughDropout) {
  for (const CellKind cell : {CellKind::lstm, CellKind::gru})
    for (const bool bi : {false, true}) {
      ModelConfig c = subword_config(cell, bi, bi ? PoolKind::max : PoolKind::last);
      c.word_dropout = 0.2;
      c.embed_dropout = 0.3;
      c.unknown_id = 3;
      Model<double> m(c);
      Rng init(5 + int(bi));
      recur_test::init_uniform(m, init, 0.7);
      const Vocabulary v = subword_vocab();
      const TokenBags vocab(v, c.subwords);
      TokenBags bags(vocab, true);
      const std::vector<std::vector<int>> seqs = {encode(v, TokenizerKind::word, "good moviegoer bad", bags).ids,
                                                  encode(v, TokenizerKind::word, "baddest", bags).ids,
                                                  encode(v, TokenizerKind::word, "movie good goods", bags).ids};
      ASSERT_EQ(bags.size(), 7);
      Batch b = make_batch(seqs, {1, 0, 1}, {0, 1, 2});
      b.bags = &bags;
      recur_test::check_with_draws(m, b, 9);
    }
}

TEST(Subwords, AModelWithSubwordsRefusesToReadWithoutBags) {
  Model<double> m(subword_config(CellKind::lstm, false, PoolKind::last));
  Model<double>::Workspace ws;
  EXPECT_NE(error_of([&] { m.forward(make_batch({{0, 1}}, {0}, {0}), ws); }).find("subword bags"), std::string::npos);
  ModelConfig lm = subword_config(CellKind::lstm, false, PoolKind::last);
  lm.task = Task::lm;
  lm.classes = lm.vocab;
  EXPECT_NE(error_of([&] { Model<double> x(lm); }).find("subwords are the input of a classifier"), std::string::npos);
}

// The inference pass agrees with the training pass on words in and outside
// the vocabulary, and a batch's answers are each sequence's alone, bit for bit.
TEST(Subwords, ReaderAgreesWithTheTrainingPassAndBatchesExactly) {
  for (const bool bi : {false, true}) {
    const ModelConfig c = subword_config(CellKind::lstm, bi, bi ? PoolKind::mean : PoolKind::last);
    Model<double> m(c);
    Rng init(12);
    recur_test::init_uniform(m, init, 0.8);
    const Vocabulary v = subword_vocab();
    const TokenBags vocab(v, c.subwords);
    const Reader<double> reader(m, &vocab);
    TokenBags bags(vocab, true);
    const std::vector<std::string> texts = {"good movie", "moviegoers were bad", "goodish", "bad", "unseen words only"};
    std::vector<std::vector<int>> seqs;
    for (const auto& t : texts) seqs.push_back(encode(v, TokenizerKind::word, t, bags).ids);
    Matrix<double> all, one;
    reader.classify(seqs, all, nullptr, nullptr, &bags);
    Model<double>::Workspace ws;
    for (std::size_t i = 0; i < seqs.size(); ++i) {
      Batch b = make_batch(seqs, {}, {int(i)});
      b.bags = &bags;
      m.forward(b, ws);
      EXPECT_LT((all.row(Eigen::Index(i)) - ws.probs).cwiseAbs().maxCoeff(), 1e-12) << texts[i];
      // Alone, through a call's own bags (other ids for the same words): the same bits.
      TokenBags own(vocab, true);
      reader.classify({encode(v, TokenizerKind::word, texts[i], own).ids}, one, nullptr, nullptr, &own);
      for (Eigen::Index k = 0; k < one.cols(); ++k) ASSERT_EQ(all(Eigen::Index(i), k), one(0, k)) << texts[i];
    }
    // A word outside the vocabulary is not the unknown word: its n-grams move the answer.
    Matrix<double> unk;
    reader.classify({{3}}, unk, nullptr, nullptr, &bags);
    EXPECT_GT((all.row(2) - unk.row(0)).cwiseAbs().maxCoeff(), 1e-6);
  }
}

// The sparse step: rows of a sparse block with no gradient stay as they are,
// moments included; every other element takes the dense step.
TEST(SparseStep, OnlyTheRowsAStepReadMove) {
  const std::size_t n = 2 + 4 * 3 + 2;  // 2 dense, a (4, 3) block, 2 dense
  Buffer<double> w(n), g(n, 0.0);
  for (std::size_t i = 0; i < n; ++i) w[i] = 0.1 * double(i + 1);
  g[0] = 0.5, g[1] = -0.2, g[14] = 0.3, g[15] = 0.1;
  g[2 + 3 * 1 + 1] = 0.7;                                   // row 1 of the block
  g[2 + 3 * 3 + 0] = -0.4;                                  // row 3
  g[2 + 3 * 2 + 1] = -0.0;                                  // row 2: -0 counts as zero
  const std::vector<RowBlock> blocks = {{2, 4, 3}};
  const Ranges r = step_ranges(g, blocks);
  EXPECT_EQ(r, (Ranges{{0, 2}, {5, 8}, {11, 16}}));
  StepOptions o;
  o.optimizer.kind = OptimizerKind::adam;
  o.optimizer.weight_decay = 0.1;  // so that the dense step moves rows without a gradient
  o.clip = 0;
  o.clip_norm = 1.0;
  o.sparse = blocks;
  OptimizerOptions oo = o.optimizer;
  Optimizer<double> sparse(oo, n), dense(oo, n);
  Buffer<double> ws = w, wd = w, gs = g, gd = g;
  clip_and_step(sparse, ws, gs, 0.01, o);
  StepOptions od = o;
  od.sparse.clear();
  clip_and_step(dense, wd, gd, 0.01, od);
  std::set<std::size_t> untouched = {2, 3, 4, 8, 9, 10};  // rows 0 and 2 of the block
  for (std::size_t i = 0; i < n; ++i) {
    if (untouched.count(i)) {
      EXPECT_EQ(ws[i], w[i]) << i;
      EXPECT_EQ(sparse.first_moment()[i], 0.0) << i;
      EXPECT_NE(wd[i], w[i]) << i;  // the dense step decays them
    } else {
      EXPECT_DOUBLE_EQ(ws[i], wd[i]) << i;  // the same norm (zero rows add nothing to it), the same rule
    }
  }
}
