// Training a classifier with validation data: the best evaluation's weights are
// the ones a run ends with, and patience stops a run that no longer improves.
#include <gtest/gtest.h>

#include "recur/data.hpp"
#include "recur/train.hpp"

using namespace recur;

namespace {

struct Data {
  Vocabulary vocab;
  std::vector<std::string> labels;
  EncodedSet train, valid;
  ModelConfig config;
};

// Validation labels are the training labels flipped: the more the model learns,
// the worse it does on validation, so the first evaluation is the best.
Data contrary() {
  const auto train_rows = parse_tsv("good\tpos\nbad\tneg\nvery good\tpos\nvery bad\tneg\nnot bad\tpos\nnot good\tneg\n", "t");
  const auto valid_rows = parse_tsv("good\tneg\nbad\tpos\nvery good\tneg\nvery bad\tpos\n", "v");
  Data s;
  s.vocab = build_vocab(train_rows, TokenizerKind::whitespace);
  s.labels = sorted_labels(train_rows);
  s.train = encode_set(train_rows, s.vocab, TokenizerKind::whitespace, s.labels, "t");
  s.valid = encode_set(valid_rows, s.vocab, TokenizerKind::whitespace, s.labels, "v");
  s.config.vocab = s.vocab.size();
  s.config.hidden = 8;
  s.config.classes = 2;
  return s;
}

}  // namespace

TEST(TrainWithValidation, EndsWithTheBestWeightsAndStopsOnPatience) {
  Data s = contrary();
  Model<double> model(s.config);
  Rng rng(3);
  init_weights(model, InitKind::pytorch, rng);
  TrainOptions opt;
  opt.epochs = 200;
  opt.log_every = 5;
  opt.patience = 3;
  opt.step.lr = 0.1;
  Optimizer<double> optimizer(opt.step.optimizer, model.weights().size());
  std::vector<EpochLog> logs;
  const TrainResult r = train_classifier<double>(model, optimizer, s.train, &s.valid, nullptr, opt, rng,
                                                 [&](const EpochLog& l) { logs.push_back(l); });
  ASSERT_TRUE(r.has_best);
  EXPECT_TRUE(r.stopped_early);
  ASSERT_EQ(logs.size(), std::size_t(1 + opt.patience));  // the best, then `patience` worse ones
  EXPECT_EQ(r.best_epoch, 5);
  EXPECT_EQ(r.epochs_run, 5L * (1 + opt.patience));
  EXPECT_TRUE(logs.front().best);
  for (std::size_t i = 1; i < logs.size(); ++i) {
    EXPECT_FALSE(logs[i].best);
    EXPECT_TRUE(better(logs.front().valid, logs[i].valid));
  }
  // The model holds the best evaluation's weights, not the last epoch's.
  const Metrics now = evaluate(model, s.valid);
  EXPECT_EQ(now.loss, r.best.loss);
  EXPECT_EQ(now.accuracy, r.best.accuracy);
  EXPECT_NE(now.loss, logs.back().valid.loss);
}

TEST(TrainWithValidation, WithoutPatienceRunsEveryEpochAndEvaluatesTheLast) {
  Data s = contrary();
  Model<double> model(s.config);
  Rng rng(3);
  init_weights(model, InitKind::pytorch, rng);
  TrainOptions opt;
  opt.epochs = 23;  // not a multiple of log_every: the last epoch is evaluated too
  opt.log_every = 10;
  Optimizer<double> optimizer(opt.step.optimizer, model.weights().size());
  std::vector<int> epochs;
  const TrainResult r = train_classifier<double>(model, optimizer, s.train, &s.valid, nullptr, opt, rng,
                                                 [&](const EpochLog& l) { epochs.push_back(l.epoch); });
  EXPECT_FALSE(r.stopped_early);
  EXPECT_EQ(r.epochs_run, 23);
  EXPECT_EQ(epochs, (std::vector<int>{10, 20, 23}));
}

TEST(TrainWithValidation, BetterIsAccuracyThenLoss) {
  EXPECT_TRUE(better({10, 0.9, 0.8}, {10, 0.1, 0.7}));
  EXPECT_TRUE(better({10, 0.4, 0.8}, {10, 0.5, 0.8}));
  EXPECT_FALSE(better({10, 0.5, 0.8}, {10, 0.5, 0.8}));
}
