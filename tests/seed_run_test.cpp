// The seed experiment end to end in the library: it reproduces the numpy
// reference (bench/reference/seed_rnn.py) and is deterministic.
#include <gtest/gtest.h>

#include "recur/data.hpp"
#include "recur/train.hpp"

using namespace recur;

namespace {

const std::string kSrc = RECUR_SOURCE_DIR;

struct SeedRun {
  std::string log;        // "N unique words found" + the seed's log lines
  std::vector<double> w;  // final parameters
};

template <class T>
SeedRun run_seed(std::uint32_t seed, int epochs = 1000) {
  const auto train_rows = load_tsv(kSrc + "/data/seed_train.tsv");
  const auto test_rows = load_tsv(kSrc + "/data/seed_test.tsv");
  const Vocabulary vocab = build_vocab(train_rows, TokenizerKind::whitespace);
  const auto labels = sorted_labels(train_rows);
  const EncodedSet train = encode_set(train_rows, vocab, TokenizerKind::whitespace, labels, "train");
  const EncodedSet test = encode_set(test_rows, vocab, TokenizerKind::whitespace, labels, "test");
  ModelConfig c;
  c.vocab = vocab.size();
  c.hidden = 64;
  c.classes = int(labels.size());
  Model<T> model(c);
  Rng rng(seed);
  model.init_seed(rng);
  SeedRun r;
  r.log = std::to_string(vocab.size()) + " unique words found\n";
  TrainOptions opt;
  opt.epochs = epochs;
  train_classifier<T>(model, train, &test, opt, rng, [&](const EpochLog& l) { r.log += format_seed_log(l); });
  r.w.assign(model.weights().begin(), model.weights().end());
  return r;
}

}  // namespace

// In float64, as numpy computes, recur prints exactly the numpy reference's log:
// same initial weights, same shuffles, same arithmetic up to rounding.
TEST(SeedRun, Float64ReproducesNumpyReferenceLog) {
  for (int seed : {1, 2, 5}) {
    const std::string want =
        read_file(kSrc + "/tests/fixtures/seed_log_numpy_seed" + std::to_string(seed) + ".txt");
    EXPECT_EQ(run_seed<double>(std::uint32_t(seed)).log, want) << "seed " << seed;
  }
}

// The default (float32) run reaches test accuracy 1.000 with the default seed and
// ends on the same final test line as the float64 run.
TEST(SeedRun, Float32DefaultRunLearnsAndTracksFloat64) {
  const SeedRun f32 = run_seed<float>(1), f64 = run_seed<double>(1);
  EXPECT_NE(f32.log.find("--- Epoch 1000\nTrain:\tLoss 0.00"), std::string::npos) << f32.log;
  EXPECT_EQ(f32.log.substr(f32.log.rfind("Test:")), f64.log.substr(f64.log.rfind("Test:")));
  EXPECT_NE(f32.log.substr(f32.log.rfind("Test:")).find("Accuracy: 1.000"), std::string::npos);
}

TEST(SeedRun, SameSeedGivesBitIdenticalWeights) {
  const SeedRun a = run_seed<float>(7, 50), b = run_seed<float>(7, 50), c = run_seed<float>(8, 50);
  EXPECT_EQ(a.w, b.w);
  EXPECT_EQ(a.log, b.log);
  EXPECT_NE(a.w, c.w);
}
