// Data parallelism and gradient accumulation, without MPI: N ranks as N threads
// of this process, exchanging through a barrier what MPI exchanges between
// processes (ThreadRank below), so the split of every batch, the averaging over
// the whole step, the carried state of streams and the agreement between ranks
// are tested in every build. tests/mpi_test.cpp runs the same through mpirun.
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

using namespace recur;

namespace {

// What the ranks share: one slot per rank for the exchange in progress.
class ThreadWorld {
 public:
  explicit ThreadWorld(int n) : n_(n), slots_(std::size_t(n)), values_(std::size_t(n)) {}
  int size() const { return n_; }
  void barrier() {
    std::unique_lock<std::mutex> lock(mu_);
    const long generation = generation_;
    if (++arrived_ == n_) {
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
    } else {
      cv_.wait(lock, [&] { return generation_ != generation; });
    }
  }
  std::vector<const void*>& slots() { return slots_; }
  std::vector<std::uint64_t>& values() { return values_; }

 private:
  int n_;
  std::mutex mu_;
  std::condition_variable cv_;
  int arrived_ = 0;
  long generation_ = 0;
  std::vector<const void*> slots_;
  std::vector<std::uint64_t> values_;
};

// One rank. Each exchange: every rank publishes its buffer, a barrier, every
// rank reads what it needs (all in rank order, so every rank computes the same
// bits), a barrier, then writes its own buffer.
class ThreadRank : public Communicator {
 public:
  ThreadRank(ThreadWorld& w, int rank) : w_(w), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return w_.size(); }
  void sum(float* g, std::size_t n, double* x, std::size_t m, const char*) override { sum_of(g, n), sum_of(x, m); }
  void sum(double* g, std::size_t n, double* x, std::size_t m, const char*) override { sum_of(g, n), sum_of(x, m); }
  void broadcast(double* x, std::size_t n, const char*) override {
    w_.slots()[std::size_t(rank_)] = x;
    w_.barrier();
    std::vector<double> from0(static_cast<const double*>(w_.slots()[0]), static_cast<const double*>(w_.slots()[0]) + n);
    w_.barrier();
    std::copy(from0.begin(), from0.end(), x);
  }
  void gather(const float* mine, std::size_t n, float* all, const char*) override { gather_of(mine, n, all); }
  void gather(const double* mine, std::size_t n, double* all, const char*) override { gather_of(mine, n, all); }
  void expect_same(std::uint64_t value, const char* what) override {
    w_.values()[std::size_t(rank_)] = value;
    w_.barrier();
    const bool same = std::all_of(w_.values().begin(), w_.values().end(), [&](std::uint64_t v) { return v == w_.values()[0]; });
    w_.barrier();
    if (!same) throw DistributedError(std::string(what) + " differ");
  }

 private:
  template <class T>
  void sum_of(T* a, std::size_t n) {
    w_.slots()[std::size_t(rank_)] = a;
    w_.barrier();
    std::vector<T> total(n, T(0));
    for (int k = 0; k < size(); ++k) {
      const T* p = static_cast<const T*>(w_.slots()[std::size_t(k)]);
      for (std::size_t i = 0; i < n; ++i) total[i] += p[i];
    }
    w_.barrier();
    std::copy(total.begin(), total.end(), a);
  }
  template <class T>
  void gather_of(const T* mine, std::size_t n, T* all) {
    w_.slots()[std::size_t(rank_)] = mine;
    w_.barrier();
    if (rank_ == 0)
      for (int k = 0; k < size(); ++k) {
        const T* p = static_cast<const T*>(w_.slots()[std::size_t(k)]);
        std::copy(p, p + n, all + std::size_t(k) * n);
      }
    w_.barrier();
  }
  ThreadWorld& w_;
  int rank_;
};

// `n` ranks, each running train(rank's communicator) on a thread of its own.
template <class Run>
std::vector<Run> on_ranks(int n, const std::function<Run(Communicator*)>& train) {
  ThreadWorld world(n);
  std::vector<std::unique_ptr<ThreadRank>> ranks;
  for (int r = 0; r < n; ++r) ranks.push_back(std::make_unique<ThreadRank>(world, r));
  std::vector<std::unique_ptr<Run>> out(static_cast<std::size_t>(n));
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r)
    threads.emplace_back([&, r] { out[std::size_t(r)] = std::make_unique<Run>(train(ranks[std::size_t(r)].get())); });
  for (auto& t : threads) t.join();
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
