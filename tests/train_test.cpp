// The one trainer (run_training): the best evaluation's weights are the ones a
// run ends with, patience stops a run that no longer improves, and a run
// stopped and resumed from its RunState ends exactly where an uninterrupted
// run does — for both shapes (many-to-one batches, many-to-many streams).
#include <gtest/gtest.h>

#include <cmath>

#include "recur/data.hpp"
#include "recur/layers.hpp"
#include "recur/trainer.hpp"

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

struct RunLog {
  TrainResult result;
  std::vector<Evaluation> logs;
};

RunLog train_contrary(Model<double>& model, const Data& s, const TrainerOptions& o, int batch = 1) {
  Rng rng(3);
  init_weights(model, InitKind::pytorch, rng);
  Optimizer<double> optimizer(o.step.optimizer, model.weights().size());
  ManyToOne<double> objective(model);
  BucketBatcher batcher(s.train, batch);
  Evaluators ev;
  ev.valid = [&] { return evaluate_many_to_one(model, s.valid); };
  RunLog r;
  TrainerHooks<double> hooks;
  hooks.on_evaluation = [&](const Evaluation& e) {
    r.logs.push_back(e);
    return true;
  };
  r.result = run_training<double>(objective, batcher, optimizer, o, rng, ev, hooks);
  return r;
}

}  // namespace

TEST(Trainer, EndsWithTheBestWeightsAndStopsOnPatience) {
  Data s = contrary();
  Model<double> model(s.config);
  TrainerOptions o;
  o.length = 200;
  o.every = 5;
  o.patience = 3;
  o.step.lr = 0.1;
  const RunLog r = train_contrary(model, s, o);
  ASSERT_TRUE(r.result.has_best);
  EXPECT_TRUE(r.result.stopped_early);
  ASSERT_EQ(r.logs.size(), std::size_t(1 + o.patience));  // the best, then `patience` worse ones
  EXPECT_EQ(r.result.best_at, 5);
  EXPECT_EQ(r.result.epochs_run, 5L * (1 + o.patience));
  EXPECT_TRUE(r.logs.front().best);
  for (std::size_t i = 1; i < r.logs.size(); ++i) {
    EXPECT_FALSE(r.logs[i].best);
    EXPECT_TRUE(better(r.logs.front().valid, r.logs[i].valid));
  }
  // The model holds the best evaluation's weights, not the last epoch's.
  const Metrics now = evaluate_many_to_one(model, s.valid);
  EXPECT_EQ(now.loss, r.result.best.loss);
  EXPECT_EQ(now.accuracy, r.result.best.accuracy);
  EXPECT_NE(now.loss, r.logs.back().valid.loss);
}

TEST(Trainer, WithoutPatienceRunsEveryEpochAndEvaluatesTheLast) {
  Data s = contrary();
  Model<double> model(s.config);
  TrainerOptions o;
  o.length = 23;  // not a multiple of `every`: the last epoch is evaluated too
  o.every = 10;
  const RunLog r = train_contrary(model, s, o);
  EXPECT_FALSE(r.result.stopped_early);
  EXPECT_EQ(r.result.epochs_run, 23);
  std::vector<long> epochs;
  for (const auto& e : r.logs) epochs.push_back(e.epoch);
  EXPECT_EQ(epochs, (std::vector<long>{10, 20, 23}));
}

TEST(Trainer, BetterIsAccuracyThenLossForClassifiersAndLossOtherwise) {
  auto m = [](double loss, double acc, bool has_acc) {
    Metrics x;
    x.n = 10, x.loss = loss, x.accuracy = acc, x.has_accuracy = has_acc;
    return x;
  };
  EXPECT_TRUE(better(m(0.8, 0.9, true), m(0.7, 0.1, true)));
  EXPECT_TRUE(better(m(0.4, 0.5, true), m(0.8, 0.5, true)));
  EXPECT_FALSE(better(m(0.8, 0.5, true), m(0.8, 0.5, true)));
  EXPECT_TRUE(better(m(0.7, 0, false), m(0.8, 0, false)));
  EXPECT_FALSE(better(m(0.8, 0, false), m(0.7, 0, false)));
}

TEST(Trainer, PlateauDecayScalesTheLearningRateAfterAWorseEvaluation) {
  Data s = contrary();
  Model<double> model(s.config);
  TrainerOptions o;
  o.length = 20;
  o.every = 5;
  o.step.lr = 0.1;
  o.plateau_decay = 0.5;
  const RunLog r = train_contrary(model, s, o);
  ASSERT_EQ(r.logs.size(), 4u);
  EXPECT_DOUBLE_EQ(r.logs[0].lr, 0.1);   // the lr of the steps before each evaluation:
  EXPECT_DOUBLE_EQ(r.logs[1].lr, 0.1);   // the first evaluation was the best,
  EXPECT_DOUBLE_EQ(r.logs[2].lr, 0.05);  // every later one worse
  EXPECT_DOUBLE_EQ(r.logs[3].lr, 0.025);
}

namespace {

// Trains `steps_total` units in one go, or stops after `stop_after` steps (the
// on_step callback says stop), keeps the RunState the trainer hands the
// checkpoint hook, and resumes from it with a new model, optimizer and
// objective restored from that state: both must end with the same weights.
template <class MakeData>
void check_resume(MakeData make, bool by_epoch, long length, long stop_after, double average = 0) {
  auto run = [&](long stop, const RunState<double>* resume, RunState<double>* saved,
                 const Buffer<double>* weights, const Buffer<double>* m1, const Buffer<double>* m2, long opt_steps,
                 Buffer<double>* w_out, Buffer<double>* m1_out, Buffer<double>* m2_out, long* steps_out) {
    auto d = make();
    Model<double> model(d.config);
    Rng rng(5);
    init_weights(model, InitKind::pytorch, rng);
    TrainerOptions o;
    o.by_epoch = by_epoch;
    o.length = length;
    o.every = 3;
    o.step.lr = 0.05;
    o.step.clip = 0;
    o.step.optimizer.kind = OptimizerKind::adam;
    o.plateau_decay = 0.7;
    o.average = average;
    Optimizer<double> optimizer(o.step.optimizer, model.weights().size());
    if (weights) {
      model.weights() = *weights;
      optimizer.first_moment() = *m1;
      optimizer.second_moment() = *m2;
      optimizer.set_steps(opt_steps);
    }
    auto objective = d.objective(model);
    auto batcher = d.batcher();
    Evaluators ev;
    ev.valid = [&] { return d.evaluate(model); };
    TrainerHooks<double> hooks;
    hooks.on_step = [&](const StepEvent& e) { return stop == 0 || e.step < stop; };
    hooks.checkpoint = [&](const RunState<double>& s) {
      if (saved) *saved = s;
    };
    const TrainResult r = run_training<double>(*objective, *batcher, optimizer, o, rng, ev, hooks, resume);
    *w_out = model.weights();
    *m1_out = optimizer.first_moment();
    *m2_out = optimizer.second_moment();
    *steps_out = optimizer.steps();
    return r;
  };
  Buffer<double> w_full, m1_full, m2_full, w_half, m1_half, m2_half, w_end, m1_end, m2_end;
  long s_full = 0, s_half = 0, s_end = 0;
  const TrainResult full = run(0, nullptr, nullptr, nullptr, nullptr, nullptr, 0, &w_full, &m1_full, &m2_full, &s_full);
  RunState<double> state;
  const TrainResult half =
      run(stop_after, nullptr, &state, nullptr, nullptr, nullptr, 0, &w_half, &m1_half, &m2_half, &s_half);
  ASSERT_TRUE(half.interrupted);
  EXPECT_EQ(state.steps, stop_after);
  EXPECT_EQ(state.average.size(), average > 0 ? w_half.size() : 0u);
  const TrainResult end = run(0, &state, nullptr, &w_half, &m1_half, &m2_half, s_half, &w_end, &m1_end, &m2_end, &s_end);
  EXPECT_FALSE(end.interrupted);
  EXPECT_EQ(end.steps_run, full.steps_run);
  EXPECT_EQ(end.best_at, full.best_at);
  EXPECT_EQ(s_end, s_full);
  EXPECT_EQ(w_end, w_full);
  EXPECT_EQ(m1_end, m1_full);
  EXPECT_NE(m1_half, m1_full);  // (the weights may be equal: a run ends with its best evaluation's)
}

struct Classify {
  Data s = contrary();
  ModelConfig config = [] {
    ModelConfig c = contrary().config;
    c.dropout = 0.2;  // the generator matters mid-epoch
    return c;
  }();
  std::unique_ptr<Objective<double>> objective(Model<double>& m) { return std::make_unique<ManyToOne<double>>(m); }
  std::unique_ptr<Batcher> batcher() { return std::make_unique<BucketBatcher>(s.train, 2); }
  Metrics evaluate(const Model<double>& m) { return evaluate_many_to_one(m, s.valid); }
};

struct Stream {
  std::vector<int> text = {0, 1, 2, 3, 4, 0, 2, 4, 1, 3, 0, 0, 1, 2, 3, 4, 4, 3, 2, 1, 0, 1, 3, 2, 4, 0, 1};
  std::vector<int> valid = {1, 2, 3, 0, 4, 2};
  ModelConfig config = [] {
    ModelConfig c;
    c.task = Task::lm;
    c.cell = CellKind::lstm;
    c.vocab = c.classes = 5;
    c.hidden = 6;
    c.layers = 2;
    c.bias_hh = true;
    c.dropout = 0.1;
    return c;
  }();
  std::unique_ptr<Objective<double>> objective(Model<double>& m) { return std::make_unique<ManyToMany<double>>(m); }
  std::unique_ptr<Batcher> batcher() { return std::make_unique<StreamBatcher>(text, 2, 4); }  // 3 steps a pass
  Metrics evaluate(const Model<double>& m) { return evaluate_many_to_many(m, valid); }
};

}  // namespace

TEST(TrainerResume, ManyToOneMidEpochEqualsUninterrupted) {
  check_resume([] { return Classify(); }, true, 7, 8);  // 3 batches an epoch: stops inside epoch 3
}

TEST(TrainerResume, ManyToOneAtAnEpochEndEqualsUninterrupted) {
  check_resume([] { return Classify(); }, true, 7, 9);
}

TEST(TrainerResume, ManyToManyStreamsMidPassEqualsUninterrupted) {
  check_resume([] { return Stream(); }, false, 20, 7);  // the carried state and the generator matter
}

TEST(TrainerResume, ManyToManyAtAPassEndEqualsUninterrupted) {
  check_resume([] { return Stream(); }, false, 20, 9);
}

TEST(TrainerResume, TheWeightsAverageResumesToo) {
  check_resume([] { return Classify(); }, true, 7, 8, 0.8);
  check_resume([] { return Stream(); }, false, 20, 7, 0.8);
}

// --average: training goes on from the weights themselves (the same steps as
// without it), while what each evaluation scores, and what the run ends with,
// is a <- a + (1 - d)(w - a) over the steps, d = min(D, (1 + n)/(10 + n)).
TEST(Trainer, TheWeightsAverageIsScoredAndKept) {
  const Data s = contrary();
  std::vector<Buffer<double>> seen;  // what the evaluation callback sees (and the CLI saves as the best)
  auto run = [&](double average, bool validate, std::vector<Buffer<double>>* steps, std::vector<double>* scores) {
    Model<double> model(s.config);
    Rng rng(3);
    init_weights(model, InitKind::pytorch, rng);
    if (steps) steps->push_back(model.weights());
    TrainerOptions o;
    o.length = 6;
    o.every = 2;
    o.step.lr = 0.1;
    o.step.optimizer.kind = OptimizerKind::adam;
    o.average = average;
    Optimizer<double> optimizer(o.step.optimizer, model.weights().size());
    ManyToOne<double> objective(model);
    BucketBatcher batcher(s.train, 2);
    Evaluators ev;
    if (validate) ev.valid = [&] { return evaluate_many_to_one(model, s.valid); };
    TrainerHooks<double> hooks;
    hooks.on_step = [&](const StepEvent&) {
      if (steps) steps->push_back(model.weights());
      return true;
    };
    hooks.on_evaluation = [&](const Evaluation& e) {
      if (scores) scores->push_back(e.valid.loss), seen.push_back(model.weights());
      return true;
    };
    run_training<double>(objective, batcher, optimizer, o, rng, ev, hooks);
    return model.weights();
  };
  std::vector<Buffer<double>> plain, averaged;
  run(0, false, &plain, nullptr);
  const Buffer<double> end = run(0.9, false, &averaged, nullptr);
  ASSERT_EQ(plain.size(), 1u + 6 * 3);  // the initial weights, then 3 steps an epoch
  EXPECT_EQ(averaged, plain);           // the same steps
  // The average by hand, at every step.
  std::vector<Buffer<double>> by_hand = {plain[0]};
  for (std::size_t n = 1; n < plain.size(); ++n) {
    const double d = std::min(0.9, (1.0 + double(n)) / (10.0 + double(n)));
    Buffer<double> a = by_hand.back();
    for (std::size_t i = 0; i < a.size(); ++i) a[i] += (1 - d) * (plain[n][i] - a[i]);
    by_hand.push_back(a);
  }
  double gap = 0, moved = 0;
  for (std::size_t i = 0; i < end.size(); ++i) {
    gap = std::max(gap, std::abs(end[i] - by_hand.back()[i]));
    moved = std::max(moved, std::abs(end[i] - plain.back()[i]));
  }
  EXPECT_LT(gap, 1e-14);
  EXPECT_GT(moved, 1e-3);  // the average is not the last weights
  // With validation: each evaluation (epochs 2, 4, 6: steps 6, 12, 18) scores
  // the average, and the run ends with the best-scored average.
  std::vector<double> scores;
  const Buffer<double> best = run(0.9, true, nullptr, &scores);
  ASSERT_EQ(scores.size(), 3u);
  Model<double> m(s.config);
  std::vector<double> expected;
  for (std::size_t at : {6, 12, 18}) {
    m.weights() = by_hand[at];
    expected.push_back(evaluate_many_to_one(m, s.valid).loss);
    EXPECT_NEAR(scores[expected.size() - 1], expected.back(), 1e-12) << "step " << at;
    double off = 0;
    for (std::size_t i = 0; i < m.weights().size(); ++i)
      off = std::max(off, std::abs(seen[expected.size() - 1][i] - by_hand[at][i]));
    EXPECT_LT(off, 1e-14) << "step " << at;
  }
  m.weights() = best;
  const double kept = evaluate_many_to_one(m, s.valid).loss;
  EXPECT_TRUE(kept == scores[0] || kept == scores[1] || kept == scores[2]);
}

// --init normal (--preset min-char-rnn): every weight drawn N(0, 0.01^2),
// every bias zero.
TEST(Init, NormalDrawsSmallWeightsAndZeroBiases) {
  ModelConfig c;
  c.task = Task::lm;
  c.vocab = c.classes = 90;
  c.hidden = 100;
  Model<double> m(c);
  Rng rng(1);
  init_weights(m, InitKind::normal, rng);
  for (const ParamSpec& p : m.table().specs()) {
    const auto w = m.param(p.name);
    if (p.is_vector) {
      EXPECT_EQ(w.cwiseAbs().maxCoeff(), 0.0) << p.name;
      continue;
    }
    const double mean = w.mean(), sd = std::sqrt((w.array() - mean).square().mean());
    EXPECT_NEAR(mean, 0.0, 0.001) << p.name;
    EXPECT_NEAR(sd, 0.01, 0.0005) << p.name;  // 9,000-10,000 draws: about 0.7% of 0.01 by chance
  }
  EXPECT_EQ(init_from_string("normal"), InitKind::normal);
  EXPECT_EQ(to_string(InitKind::normal), "normal");
}
