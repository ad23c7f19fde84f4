// Training throughput of recur's engine on synthetic data, the C++ side of
// bench/engine_bench.sh (bench/torch_train_bench.py is the PyTorch side and
// trains the same model on the same shapes).
//
//   one-hot over V symbols -> L-layer RNN/LSTM/GRU (H) -> linear head on the last
//   state -> mean cross-entropy -> Adam; every sequence full length T, batch B.
//
// --threads N: the step as `recur train --threads N` takes it (threads.hpp):
// N ranks on threads, each with its replica of the model, its share of the
// batch (B/N sequences, the loss averaged over all B) and one BLAS thread; the
// gradients summed through the team before each rank's (identical) Adam step.
//
// Prints one line of JSON: tokens/s over the timed steps, and peak RSS.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "recur/threads.hpp"
#include "recur/trainer.hpp"

namespace {

// Sequences [from, to) of a batch (ids time-major), the loss averaged over all of it.
recur::Batch rows_of(const recur::Batch& b, int from, int to) {
  recur::Batch p;
  p.T = b.T, p.B = to - from, p.global_B = b.B;
  for (int t = 0; t < b.T; ++t)
    for (int s = from; s < to; ++s) p.ids.push_back(b.ids[std::size_t(t) * std::size_t(b.B) + std::size_t(s)]);
  p.lengths.assign(b.lengths.begin() + from, b.lengths.begin() + to);
  p.targets.assign(b.targets.begin() + from, b.targets.begin() + to);
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  recur::use_blas_core_for_cpu(argv);  // as the recur program does
  CLI::App app{"recur training throughput on synthetic data"};
  std::string cell = "lstm";
  int layers = 1, hidden = 128, vocab = 80, classes = 2, batch = 32, seq_len = 64, steps = 50, warmup = 3,
      batches = 8, threads = 1;
  double lr = 2e-3;
  std::uint32_t seed = 0;
  app.add_option("--cell", cell)->check(CLI::IsMember({"rnn", "lstm", "gru"}));
  app.add_option("--layers", layers);
  app.add_option("--hidden", hidden);
  app.add_option("--vocab", vocab);
  app.add_option("--classes", classes);
  app.add_option("--batch", batch);
  app.add_option("--seq-len", seq_len);
  app.add_option("--steps", steps);
  app.add_option("--warmup", warmup);
  app.add_option("--batches", batches);
  app.add_option("--lr", lr);
  app.add_option("--seed", seed);
  app.add_option("--threads", threads, "ranks on threads, as recur train --threads")->check(CLI::Range(1, 64));
  CLI11_PARSE(app, argc, argv);

  recur::ModelConfig c;
  c.cell = recur::cell_from_name(cell);
  c.vocab = vocab, c.hidden = hidden, c.layers = layers, c.classes = classes, c.bias_hh = true;
  recur::StepOptions so;  // Adam, no clipping
  so.lr = lr;
  so.optimizer.kind = recur::OptimizerKind::adam;
  so.clip = 0;
  std::vector<recur::Batch> data(static_cast<std::size_t>(batches));
  {
    recur::Rng rng(seed + 1);
    for (auto& b : data) {
      b.T = seq_len, b.B = batch;
      for (int i = 0; i < seq_len * batch; ++i) b.ids.push_back(int(rng.interval(std::uint64_t(vocab - 1))));
      b.lengths.assign(std::size_t(batch), seq_len);
      for (int j = 0; j < batch; ++j) b.targets.push_back(int(rng.interval(std::uint64_t(classes - 1))));
    }
  }
  double loss = 0, seconds = 0;
  // One rank's run (with no communicator: the library's train_step on whole batches).
  auto rank = [&](recur::Communicator* comm) {
    recur::Model<float> model(c);
    recur::Rng rng(seed);
    recur::init_weights(model, recur::InitKind::pytorch, rng);
    recur::Optimizer<float> opt(so.optimizer, model.weights().size());
    recur::ManyToOne<float> objective(model);
    std::vector<recur::Batch> mine;  // this rank's sequences of every batch
    for (const auto& b : data)
      mine.push_back(comm ? rows_of(b, batch * comm->rank() / comm->size(), batch * (comm->rank() + 1) / comm->size())
                          : b);
    auto step = [&](int k) {
      const recur::Batch& b = mine[std::size_t(k % batches)];
      if (!comm) {  // the library's one training step
        const recur::StepLoss s = recur::train_step(objective, opt, b, lr, so, rng);
        loss = s.value / s.weight;
        return;
      }
      // As the trainer's data-parallel step: this rank's share, the sum, the update.
      std::fill(objective.grads().begin(), objective.grads().end(), 0.0f);
      const recur::StepLoss s = objective.forward_backward(b, rng);
      double x[2] = {s.value, s.weight};
      comm->sum(objective.grads().data(), objective.grads().size(), x, 2, "the sum of the gradients");
      recur::clip_and_step(opt, objective.weights(), objective.grads(), lr, so);
      if (comm->rank() == 0) loss = x[0] / x[1];
    };
    recur::FlushDenormals flush;  // as run_training holds it (recur train): no microcode assists on tiny gradients
    for (int k = 0; k < warmup; ++k) step(k);
    const auto t0 = std::chrono::steady_clock::now();
    for (int k = 0; k < steps; ++k) step(warmup + k);
    if (!comm || comm->rank() == 0)
      seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  if (threads == 1) {
    rank(nullptr);
  } else {
    recur::SerialBlas serial;  // one BLAS thread per rank, as recur train --threads
    recur::ThreadTeam team(threads);
    team.run([&](recur::Communicator& comm) { rank(&comm); });
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  nlohmann::ordered_json j;
  j["impl"] = "recur";
  j["cell"] = cell;
  j["layers"] = layers;
  j["hidden"] = hidden;
  j["vocab"] = vocab;
  j["batch"] = batch;
  j["seq_len"] = seq_len;
  j["steps"] = steps;
  j["threads"] = threads;
  j["blas_core"] = recur::blas_core();
  j["seconds"] = seconds;
  j["tokens_per_s"] = seconds > 0 ? double(batch) * seq_len * steps / seconds : 0.0;
  j["final_loss"] = loss;
  j["peak_rss_mb"] = double(ru.ru_maxrss) / 1024.0;
  std::printf("%s\n", j.dump().c_str());
}
