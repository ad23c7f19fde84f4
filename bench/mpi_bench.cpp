// Data-parallel training throughput (bench/mpi_bench.py runs it; results in
// docs/distributed.md). The engine benchmark's models — one-hot over V symbols
// -> L-layer RNN/LSTM/GRU (H) -> linear head on the last state -> mean
// cross-entropy -> Adam, every sequence T long — trained through the library's
// one trainer (run_training, BucketBatcher split by rank) by the processes
// mpirun started, or by this process alone.
//
//   --batch b     sequences per process and step (the job's step: N x b)
//
// Prints one line of JSON on rank 0: the job's tokens/s, the time of a step
// and of its gradient sum as the trainer saw them (rank 0: the sum includes
// waiting for the slower rank), and the bare cost of summing a buffer of the
// model's size, P floats, both as the trainer does it (nonblocking, polled
// against the deadline: recur::mpi) and with MPI's blocking MPI_Allreduce.
//
// Also the CPU time of a step's computation (the process's CPU time less what
// it spent in the sums; the slowest rank's): on a machine shared with other
// work, wall time measures the scheduler as much as the training, while CPU
// time is what a step costs when the process has its core.
#include <sys/resource.h>
#include <time.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "recur/mpi.hpp"
#include "recur/trainer.hpp"

#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// CPU seconds of this process so far (all its threads).
double cpu_now() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

// The trainer's communicator, timing its gradient sums.
class Timed : public recur::Communicator {
 public:
  explicit Timed(recur::Communicator& c) : c_(c) {}
  int rank() const override { return c_.rank(); }
  int size() const override { return c_.size(); }
  void sum(float* g, std::size_t n, double* x, std::size_t m, const char* what) override {
    const auto t = Clock::now();
    const double c = cpu_now();
    c_.sum(g, n, x, m, what);
    seconds += since(t);
    cpu_seconds += cpu_now() - c;
  }
  void sum(double* g, std::size_t n, double* x, std::size_t m, const char* what) override { c_.sum(g, n, x, m, what); }
  void broadcast(double* x, std::size_t n, const char* what) override { c_.broadcast(x, n, what); }
  void gather(const float* a, std::size_t n, float* b, const char* what) override { c_.gather(a, n, b, what); }
  void gather(const double* a, std::size_t n, double* b, const char* what) override { c_.gather(a, n, b, what); }
  void expect_same(std::uint64_t v, const char* what) override { c_.expect_same(v, what); }
  double seconds = 0, cpu_seconds = 0;

 private:
  recur::Communicator& c_;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  recur::use_blas_core_for_cpu(argv);  // as the recur program does
  CLI::App app{"recur data-parallel training throughput on synthetic data"};
  std::string cell = "lstm";
  int layers = 1, hidden = 128, vocab = 80, classes = 2, batch = 32, seq_len = 64, steps = 20, warmup = 2, reps = 21;
  app.add_option("--cell", cell)->check(CLI::IsMember({"rnn", "lstm", "gru"}));
  app.add_option("--layers", layers);
  app.add_option("--hidden", hidden);
  app.add_option("--vocab", vocab);
  app.add_option("--batch", batch, "sequences per process and step");
  app.add_option("--seq-len", seq_len);
  app.add_option("--steps", steps, "timed steps");
  app.add_option("--warmup", warmup);
  app.add_option("--reps", reps, "repetitions of the bare allreduce");
  CLI11_PARSE(app, argc, argv);

  recur::Communicator* world = recur::launched_ranks() > 1 ? &recur::mpi_world(60) : nullptr;
  const int N = world ? world->size() : 1, rank = world ? world->rank() : 0;

  recur::ModelConfig c;
  c.cell = recur::cell_from_name(cell);
  c.vocab = vocab, c.hidden = hidden, c.layers = layers, c.classes = classes, c.bias_hh = true;
  recur::Model<float> model(c);
  recur::Rng rng(0);
  recur::init_weights(model, recur::InitKind::pytorch, rng);
  recur::TrainerOptions to;
  to.by_epoch = false;
  to.length = warmup + steps;
  to.every = 0;
  to.step.lr = 2e-3;
  to.step.optimizer.kind = recur::OptimizerKind::adam;
  to.step.clip = 0;
  recur::Optimizer<float> opt(to.step.optimizer, model.weights().size());
  recur::ManyToOne<float> objective(model);

  // Eight steps' worth of full-length sequences (the same on every rank),
  // cycled: every step is N x batch x seq_len tokens.
  recur::EncodedSet data;
  recur::Rng drng(1);
  for (int i = 0; i < 8 * N * batch; ++i) {
    std::vector<int> s(static_cast<std::size_t>(seq_len));
    for (int& id : s) id = int(drng.interval(std::uint64_t(vocab - 1)));
    data.ids.push_back(std::move(s));
    data.targets.push_back(int(drng.interval(std::uint64_t(classes - 1))));
  }
  recur::BucketBatcher batcher(data, batch, recur::BatchSplit{rank, N, 1});

  std::unique_ptr<Timed> timed;
  recur::TrainerHooks<float> hooks;
  if (world) hooks.processes = (timed = std::make_unique<Timed>(*world)).get();
  Clock::time_point t0;
  double sum_at_warmup = 0, cpu_at_warmup = 0, sum_cpu_at_warmup = 0;
  hooks.on_step = [&](const recur::StepEvent& e) {
    if (e.step == warmup) {
      t0 = Clock::now();
      cpu_at_warmup = cpu_now();
      if (timed) sum_at_warmup = timed->seconds, sum_cpu_at_warmup = timed->cpu_seconds;
    }
    return true;
  };
  recur::run_training<float>(objective, batcher, opt, to, rng, {}, hooks);
  const double seconds = since(t0);
  const double sum_seconds = timed ? timed->seconds - sum_at_warmup : 0;
  double compute_cpu = cpu_now() - cpu_at_warmup - (timed ? timed->cpu_seconds - sum_cpu_at_warmup : 0);
  if (world) MPI_Allreduce(MPI_IN_PLACE, &compute_cpu, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);  // the slowest rank

  // The bare sum of P floats, without the imbalance of real steps.
  const std::size_t P = model.weights().size();
  double polled = 0, blocking = 0, polled_min = 0, blocking_min = 0;
  if (world) {
    std::vector<float> buf(P, 1.0f);
    std::vector<double> a, b;
    double x[6] = {};
    for (int k = 0; k < reps; ++k) {
      MPI_Barrier(MPI_COMM_WORLD);
      auto t = Clock::now();
      world->sum(buf.data(), P, x, 6, "bench");
      a.push_back(since(t));
      MPI_Barrier(MPI_COMM_WORLD);
      t = Clock::now();
      MPI_Allreduce(MPI_IN_PLACE, buf.data(), int(P), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      b.push_back(since(t));
    }
    polled = median(a), blocking = median(b);
    polled_min = *std::min_element(a.begin(), a.end()), blocking_min = *std::min_element(b.begin(), b.end());
  }
  if (rank == 0) {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    nlohmann::ordered_json j;
    j["cell"] = cell;
    j["layers"] = layers;
    j["hidden"] = hidden;
    j["ranks"] = N;
    j["batch_per_rank"] = batch;
    j["global_batch"] = N * batch;
    j["seq_len"] = seq_len;
    j["params"] = P;
    j["gradient_bytes"] = P * 4;
    j["steps"] = steps;
    j["seconds"] = seconds;
    j["tokens_per_s"] = double(N) * batch * seq_len * steps / seconds;
    j["step_s"] = seconds / steps;
    j["sum_s_per_step"] = sum_seconds / steps;
    j["compute_cpu_s_per_step"] = compute_cpu / steps;
    j["allreduce_polled_s"] = polled;
    j["allreduce_blocking_s"] = blocking;
    j["allreduce_polled_min_s"] = polled_min;
    j["allreduce_blocking_min_s"] = blocking_min;
    j["peak_rss_mb"] = double(ru.ru_maxrss) / 1024.0;
    std::printf("%s\n", j.dump().c_str());
  }
  recur::mpi_finalize();
}
