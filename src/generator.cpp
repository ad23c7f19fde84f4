// Sampling and generation (include/recur/sample.hpp, include/recur/generator.hpp).
#include "recur/generator.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace recur {

void check(const SampleOptions& o) {
  if (!(o.temperature >= 0)) throw Error("--temperature must be >= 0 (0 = always the most likely symbol)");
  if (o.top_k < 0) throw Error("--top-k must be >= 0 (0 = no limit)");
  if (!(o.top_p > 0 && o.top_p <= 1)) throw Error("--top-p must be in (0, 1]");
}

int sample_next(const float* logits, int V, const SampleOptions& o, Rng& rng, std::vector<double>& p) {
  if (o.temperature <= 0) return int(std::max_element(logits, logits + V) - logits);
  p.resize(std::size_t(V));
  const double m = *std::max_element(logits, logits + V);
  for (int i = 0; i < V; ++i) p[std::size_t(i)] = std::exp((double(logits[i]) - m) / o.temperature);
  if ((o.top_k > 0 && o.top_k < V) || o.top_p < 1) {
    std::vector<int> order(static_cast<std::size_t>(V));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return p[std::size_t(a)] > p[std::size_t(b)]; });
    const double total = std::accumulate(p.begin(), p.end(), 0.0);
    double kept = 0;
    for (int r = 0; r < V; ++r) {
      const std::size_t i = std::size_t(order[std::size_t(r)]);
      // Keep the top k, and the smallest head of the ranking whose mass reaches p.
      const bool keep = (o.top_k <= 0 || r < o.top_k) && (r == 0 || kept < o.top_p * total);
      kept += p[i];
      if (!keep) p[i] = 0;
    }
  }
  const double total = std::accumulate(p.begin(), p.end(), 0.0);
  double u = rng.uniform() * total;
  for (int i = 0; i < V; ++i) {
    u -= p[std::size_t(i)];
    if (u < 0) return i;
  }
  for (int i = V - 1; i >= 0; --i)
    if (p[std::size_t(i)] > 0) return i;
  return 0;
}

Generator::Generator(const Reader<float>& reader, const std::vector<int>& prime, const SampleOptions& o, Rng rng)
    : reader_(reader), o_(o), rng_(rng) {
  Matrix<float> all;
  reader_.read(prime.empty() ? std::vector<int>{0} : prime, state_, all);
  logits_ = all.bottomRows(1);
}

int Generator::next() {
  const int id = sample_next(logits_.data(), int(logits_.cols()), o_, rng_, scratch_);
  reader_.step({id}, state_, logits_);
  return id;
}

void generate(const Model<float>& model, const std::vector<int>& prime, long length, const SampleOptions& o, Rng& rng,
              const std::function<void(int)>& emit) {
  const Reader<float> reader(model);
  Generator g(reader, prime, o, rng);
  for (long i = 0; i < length; ++i) emit(g.next());
  rng = g.rng();
}

}  // namespace recur
