// Data parallelism and gradient accumulation, without MPI: N ranks as N threads
// of this process, exchanging through shared memory what MPI exchanges between
// processes (ThreadTeam, recur/threads.hpp: what --threads runs), so the split of
// every batch, the averaging over the whole step, the carried state of streams
// and the agreement between ranks are tested in every build.
// tests/mpi_test.cpp runs the same through mpirun.
//
//   N ranks with --batch b  ==  one process with --batch N*b      (up to rounding)
//   --batch b --accumulate K  ==  --batch K*b                      (up to rounding)
// "Up to rounding": every tensor within 1e-5 of its largest magnitude.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "recur/classifier.hpp"
#include "recur/language_model.hpp"
#include "recur/model.hpp"
#include "recur/trainer.hpp"
#include "recur/translator.hpp"
#include "recur/seq2seq.hpp"
#include "recur/threads.hpp"

using namespace recur;

namespace {

// `n` ranks, each running train(rank's communicator) on a thread of its own
// (the library's ThreadTeam, which --threads uses too).
template <class Run>
std::vector<Run> on_ranks(int n, const std::function<Run(Communicator*)>& train) {
  ThreadTeam team(n);
  std::vector<std::unique_ptr<Run>> out(static_cast<std::size_t>(n));
  team.run([&](Communicator& c) { out[std::size_t(c.rank())] = std::make_unique<Run>(train(&c)); });
  std::vector<Run> runs;
  for (auto& o : out) runs.push_back(std::move(*o));
  return runs;
}

// Every tensor within 1e-5 of its largest magnitude.
void expect_close(const Model<float>& a, const Model<float>& b) {
  ASSERT_EQ(a.weights().size(), b.weights().size());
  for (const ParamSpec& p : a.table().specs()) {
    float largest = 0, diff = 0;
    for (std::size_t i = p.offset; i < p.offset + p.size(); ++i) {
      largest = std::max(largest, std::abs(a.weights()[i]));
      diff = std::max(diff, std::abs(a.weights()[i] - b.weights()[i]));
    }
    EXPECT_LE(diff, 1e-5f * largest) << p.name << ": largest " << largest << ", differs by " << diff;
  }
}

// The same for a sequence-to-sequence model's tensors.
void expect_close(const Seq2Seq<float>& a, const Seq2Seq<float>& b) {
  ASSERT_EQ(a.weights().size(), b.weights().size());
  for (const ParamSpec& p : a.table().specs()) {
    float largest = 0, diff = 0;
    for (std::size_t i = p.offset; i < p.offset + p.size(); ++i) {
      largest = std::max(largest, std::abs(a.weights()[i]));
      diff = std::max(diff, std::abs(a.weights()[i] - b.weights()[i]));
    }
    EXPECT_LE(diff, 1e-5f * largest) << p.name << ": largest " << largest << ", differs by " << diff;
  }
}

void expect_identical(const Model<float>& a, const Model<float>& b) {
  EXPECT_TRUE(std::equal(a.weights().begin(), a.weights().end(), b.weights().begin()));
}

TrainOptions classifier_options(int batch) {
  TrainOptions o;
  o.cell = "gru";
  o.hidden = 16;
  o.embed = 8;
  o.init = "pytorch";
  o.optimizer = "momentum";
  o.lr = 0.05;
  o.clip = 0;
  o.batch = batch;
  o.epochs = 12;
  o.checkpoints = false;
  return o;
}

std::string lm_text() {
  std::string t;
  for (int i = 0; i < 40; ++i) t += "the cat sat on the mat. a dog ran in the fog; " + std::to_string(i * 7 % 13) + "\n";
  return t;
}

TrainOptions lm_options(int batch) {
  TrainOptions o;
  o.task = "lm";
  apply_defaults(o, {});
  o.hidden = 24;
  o.batch = batch;
  o.seq_len = 12;
  o.steps = 40;
  o.eval_every = 20;
  o.checkpoints = false;
  return o;
}

class Parallel : public ::testing::Test {
 protected:
  void SetUp() override { set_blas_threads(1); }  // several training threads at once: one BLAS thread each
};

}  // namespace

// Rank r's parts of every step are, together, exactly the batch one process with
// the whole step's size takes, each sequence once; the parts are balanced.
TEST_F(Parallel, SplitBatchesCoverTheWholeBatchOnce) {
  EncodedSet data;
  for (int i = 0; i < 103; ++i) {
    data.ids.push_back(std::vector<int>(std::size_t(1 + (i * 37) % 11), i % 5));
    data.targets.push_back(i % 2);
  }
  const int N = 3, K = 2, b = 4;
  BucketBatcher whole(data, N * K * b);
  std::vector<std::unique_ptr<BucketBatcher>> ranks;
  for (int r = 0; r < N; ++r) ranks.push_back(std::make_unique<BucketBatcher>(data, b, BatchSplit{r, N, K}));
  ASSERT_EQ(ranks[0]->steps_per_epoch(), whole.steps_per_epoch());
  ASSERT_EQ(ranks[0]->step_size(), N * K * b);
  Rng rw(5);
  whole.begin_epoch(rw);
  for (auto& rb : ranks) {
    Rng rr(5);
    rb->begin_epoch(rr);
  }
  for (std::size_t k = 0; k < whole.steps_per_epoch(); ++k) {
    const Batch& w = whole.batch(k, 0);
    std::multiset<std::vector<int>> want, got;  // (token sequence, target) as one key
    for (int j = 0; j < w.B; ++j) {
      std::vector<int> key{w.targets[std::size_t(j)]};
      for (int t = 0; t < w.lengths[std::size_t(j)]; ++t) key.push_back(w.ids[std::size_t(t * w.B + j)]);
      want.insert(key);
    }
    for (auto& rb : ranks)
      for (int part = 0; part < K; ++part) {
        const Batch& p = rb->batch(k, part);
        EXPECT_LE(p.B, b + 1);
        if (p.B) {
          EXPECT_EQ(p.global_B, w.B);
        }
        for (int j = 0; j < p.B; ++j) {
          std::vector<int> key{p.targets[std::size_t(j)]};
          for (int t = 0; t < p.lengths[std::size_t(j)]; ++t) key.push_back(p.ids[std::size_t(t * p.B + j)]);
          got.insert(key);
        }
      }
    EXPECT_EQ(want, got) << "step " << k;
  }
}

TEST_F(Parallel, TwoRanksEqualOneProcessWithTwiceTheBatchClassifier) {
  const ClassifierData data = ClassifierData::seed();
  const ClassifierRun one = Classifier::train(data, classifier_options(8));
  const auto two = on_ranks<ClassifierRun>(
      2, [&](Communicator* c) { return Classifier::train(data, classifier_options(4), {}, c); });
  expect_close(one.model.model(), two[0].model.model());
  expect_identical(two[0].model.model(), two[1].model.model());
  // The training numbers are the whole step's, on every rank.
  ASSERT_EQ(one.history.size(), two[0].history.size());
  for (std::size_t i = 0; i < one.history.size(); ++i) {
    EXPECT_EQ(one.history[i].train.n, two[1].history[i].train.n);
    EXPECT_NEAR(one.history[i].train.loss, two[1].history[i].train.loss, 1e-5);
    EXPECT_DOUBLE_EQ(one.history[i].train.accuracy, two[1].history[i].train.accuracy);
    EXPECT_NEAR(one.history[i].test.loss, two[0].history[i].test.loss, 1e-5);
  }
}

TEST_F(Parallel, AccumulatedPartsEqualOneBatch) {
  const ClassifierData data = ClassifierData::seed();
  const ClassifierRun one = Classifier::train(data, classifier_options(8));
  TrainOptions o = classifier_options(4);
  o.accumulate = 2;
  expect_close(one.model.model(), Classifier::train(data, o).model.model());
  o = classifier_options(3);  // 60 examples, 9 a step: parts of 4 and 5, the last step 6 (3 + 3)
  o.accumulate = 3;
  expect_close(Classifier::train(data, classifier_options(9)).model.model(), Classifier::train(data, o).model.model());
  // Ranks and parts together: 2 ranks x 2 parts of 2.
  o = classifier_options(2);
  o.accumulate = 2;
  const auto two = on_ranks<ClassifierRun>(2, [&](Communicator* c) { return Classifier::train(data, o, {}, c); });
  expect_close(one.model.model(), two[1].model.model());
}

TEST_F(Parallel, TwoRanksEqualOneProcessWithTwiceTheStreamsLanguageModel) {
  LanguageModelData data;
  data.text = lm_text();
  TrainOptions o = lm_options(8);
  o.valid_fraction = 0.1;
  const LanguageModelRun one = LanguageModel::train(data, o);
  o.batch = 4;
  const auto two = on_ranks<LanguageModelRun>(2, [&](Communicator* c) { return LanguageModel::train(data, o, {}, c); });
  expect_close(one.model.model(), two[0].model.model());
  expect_identical(two[0].model.model(), two[1].model.model());
  ASSERT_EQ(one.history.size(), two[0].history.size());
  for (std::size_t i = 0; i < one.history.size(); ++i) {
    EXPECT_NEAR(one.history[i].train.loss, two[1].history[i].train.loss, 1e-5);
    EXPECT_NEAR(one.history[i].valid.loss, two[1].history[i].valid.loss, 1e-5);
  }
  // Accumulation: each group of streams carries its own state.
  o.batch = 2;
  o.accumulate = 4;
  expect_close(one.model.model(), LanguageModel::train(data, o).model.model());
  o.accumulate = 2;
  const auto acc = on_ranks<LanguageModelRun>(2, [&](Communicator* c) { return LanguageModel::train(data, o, {}, c); });
  expect_close(one.model.model(), acc[0].model.model());
}

// Dropout: each rank draws masks of its own, and the run is still the same run
// every time (the ranks' generators are seeded from the shared one).
TEST_F(Parallel, WithDropoutRanksAgreeAndRunsRepeat) {
  const ClassifierData data = ClassifierData::seed();
  TrainOptions o = classifier_options(4);
  o.dropout = 0.3;
  auto run = [&] { return on_ranks<ClassifierRun>(2, [&](Communicator* c) { return Classifier::train(data, o, {}, c); }); };
  const auto a = run(), b = run();
  expect_identical(a[0].model.model(), a[1].model.model());
  expect_identical(a[0].model.model(), b[0].model.model());
}

// A stop asked on one rank only (Ctrl-C reaching one process) stops every rank
// one step later, at the same step.
TEST_F(Parallel, AStopOnOneRankStopsAllTogether) {
  const ClassifierData data = ClassifierData::seed();
  const auto runs = on_ranks<ClassifierRun>(2, [&](Communicator* c) {
    TrainCallbacks cb;
    if (c->rank() == 1) cb.on_step = [](const StepEvent& e) { return e.step < 10; };
    return Classifier::train(data, classifier_options(4), cb, c);
  });
  for (const auto& r : runs) {
    EXPECT_TRUE(r.result.interrupted);
    EXPECT_EQ(r.result.steps_run, 11);
  }
  expect_identical(runs[0].model.model(), runs[1].model.model());
}

// Sequence to sequence: pairs of different lengths on both sides, the loss
// averaged over the whole step's target symbols.
TEST_F(Parallel, TwoRanksAndAccumulationEqualOneProcessSequenceToSequence) {
  Seq2SeqData data;
  for (int i = 0; i < 70; ++i) {
    std::string src, tgt;
    for (int k = 0; k <= (i * 7) % 6; ++k) src += char('a' + (i + k) % 5);
    for (int k = 0; k <= (i * 5) % 4; ++k) tgt += std::string(k ? " " : "") + char('A' + (i * k) % 4);
    data.train.push_back({src, tgt, i + 1});
  }
  data.valid.assign(data.train.begin(), data.train.begin() + 10);
  auto options = [](int batch) {
    TrainOptions o;
    o.task = "seq2seq";
    apply_defaults(o, {});
    o.hidden = 6, o.embed = 4, o.epochs = 3, o.batch = batch;
    o.optimizer = "momentum", o.lr = 0.1, o.clip_norm = 0;
    o.checkpoints = false;
    return o;
  };
  const TranslatorRun one = Translator::train(data, options(8));
  const auto two = on_ranks<TranslatorRun>(2, [&](Communicator* c) { return Translator::train(data, options(4), {}, c); });
  expect_close(one.model.model(), two[0].model.model());
  EXPECT_TRUE(std::equal(two[0].model.model().weights().begin(), two[0].model.model().weights().end(),
                         two[1].model.model().weights().begin()));
  ASSERT_EQ(one.history.size(), two[1].history.size());
  for (std::size_t i = 0; i < one.history.size(); ++i) {
    EXPECT_NEAR(one.history[i].train.loss, two[1].history[i].train.loss, 1e-5);
    EXPECT_NEAR(one.history[i].valid.loss, two[1].history[i].valid.loss, 1e-5);
  }
  TrainOptions o = options(2);
  o.accumulate = 4;
  expect_close(one.model.model(), Translator::train(data, o).model.model());
}

// The team's collectives: every rank gets the same sums (each element summed
// once, in rank order), rank 0's broadcast, every rank's values gathered on rank 0.
TEST(ThreadTeam, CollectivesGiveEveryRankTheSameBits) {
  for (const int n : {1, 2, 3, 5}) {
    ThreadTeam team(n);
    const std::size_t ranks = std::size_t(n);
    std::vector<std::vector<float>> sums(ranks);
    std::vector<std::vector<double>> numbers(ranks), gathered(ranks), told(ranks);
    team.run([&](Communicator& c) {
      const std::size_t r = std::size_t(c.rank());
      std::vector<float> g(1001);
      for (std::size_t i = 0; i < g.size(); ++i) g[i] = float(i) / 8 + float(r + 1) / 1024;  // (exact sums)
      double x[2] = {double(r), 1.0};
      c.sum(g.data(), g.size(), x, 2, "test");
      sums[r] = g;
      numbers[r] = {x[0], x[1]};
      double b[2] = {double(r) + 0.5, -double(r)};
      c.broadcast(b, 2, "test");
      told[r] = {b[0], b[1]};
      const double mine[2] = {double(r), double(r) * 10};
      std::vector<double> all(std::size_t(2 * n), -1.0);
      c.gather(mine, 2, all.data(), "test");
      gathered[r] = all;
      c.expect_same(42, "test");
    });
    for (int r = 0; r < n; ++r) {
      SCOPED_TRACE(std::to_string(r) + " of " + std::to_string(n));
      EXPECT_EQ(sums[std::size_t(r)], sums[0]);
      EXPECT_EQ(numbers[std::size_t(r)], (std::vector<double>{double(n * (n - 1) / 2), double(n)}));
      EXPECT_EQ(told[std::size_t(r)], (std::vector<double>{0.5, 0.0}));
    }
    EXPECT_EQ(sums[0][7], 7.0f / 8 * float(n) + float(n * (n + 1) / 2) / 1024);
    for (int k = 0; k < n; ++k) EXPECT_EQ(gathered[0][std::size_t(2 * k + 1)], double(k) * 10);
    if (n > 1) {
      EXPECT_EQ(gathered[1][0], -1.0);  // (untouched off rank 0)
    }
  }
}

// A rank that fails does not leave the others waiting: their exchange throws,
// and run() rethrows the failure itself, not its consequence.
TEST(ThreadTeam, AFailedRankBreaksTheExchangesOfTheOthers) {
  ThreadTeam team(3);
  std::vector<std::string> seen(3);
  try {
    team.run([&](Communicator& c) {
      try {
        if (c.rank() == 2) throw Error("rank 2 ran out of data");
        float g[4] = {1, 2, 3, 4};
        double x[1] = {0};
        c.sum(g, 4, x, 1, "test");
      } catch (const DistributedError& e) {
        seen[std::size_t(c.rank())] = e.what();
        throw;
      }
    });
    ADD_FAILURE() << "no exception";
  } catch (const DistributedError&) {
    ADD_FAILURE() << "the consequence was rethrown";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "rank 2 ran out of data");
  }
  EXPECT_EQ(seen[0], "another thread of the run failed");
  EXPECT_EQ(seen[1], "another thread of the run failed");
  // The team works again afterwards.
  double total = 0;
  team.run([&](Communicator& c) {
    float g[1] = {1};
    double x[1] = {1};
    c.sum(g, 1, x, 1, "test");
    if (c.rank() == 0) total = x[0];
  });
  EXPECT_EQ(total, 3.0);
}

// --threads N is N ranks on a team: the same model as the ranks run by hand,
// and as one process with N times the batch (up to rounding); only rank 0
// hears the callbacks.
TEST(ThreadsOption, TrainsAsRanksOnThreads) {
  set_blas_threads(1);  // (ranks by hand: one BLAS thread each)
  const ClassifierData data = ClassifierData::seed();
  TrainOptions o = classifier_options(4);
  const auto by_hand = on_ranks<ClassifierRun>(2, [&](Communicator* c) { return Classifier::train(data, o, {}, c); });
  set_blas_threads(2);  // (--threads holds it at one while the ranks run, and gives it back)
  o.threads = 2;
  std::set<std::thread::id> heard;
  TrainCallbacks cb;
  cb.on_evaluation = [&](const Evaluation&) {
    heard.insert(std::this_thread::get_id());
    return true;
  };
  const ClassifierRun threads = Classifier::train(data, o, cb);
  expect_identical(by_hand[0].model.model(), threads.model.model());
  EXPECT_EQ(heard, std::set<std::thread::id>{std::this_thread::get_id()});
  EXPECT_EQ(blas_threads(), 2);
  expect_close(Classifier::train(data, classifier_options(8)).model.model(), threads.model.model());

  LanguageModelData text;
  text.text = lm_text();
  TrainOptions lo = lm_options(4);
  lo.valid_fraction = 0.1;
  set_blas_threads(1);
  const auto lm_by_hand =
      on_ranks<LanguageModelRun>(2, [&](Communicator* c) { return LanguageModel::train(text, lo, {}, c); });
  lo.threads = 2;
  const LanguageModelRun lm = LanguageModel::train(text, lo);
  expect_identical(lm_by_hand[0].model.model(), lm.model.model());
  EXPECT_EQ(lm.history.back().valid.loss, lm_by_hand[0].history.back().valid.loss);
  set_blas_threads(1);
}
