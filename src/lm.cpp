#include "recur/lm.hpp"

#include <chrono>
#include <memory>
#include <set>

#include "recur/error.hpp"

namespace recur {

std::string read_text_file(const std::string& path) {
  std::string s = read_file(path);
  const std::size_t bad = find_invalid_utf8(s);
  if (bad != std::string::npos)
    throw Error(path + ": invalid UTF-8 at byte offset " + std::to_string(bad) + " (not a UTF-8 text file?)");
  if (s.substr(0, 3) == "\xEF\xBB\xBF") s.erase(0, 3);
  return s;
}

Vocabulary build_lm_vocab(const std::string& text, TokenizerKind tok) {
  std::set<std::string> seen;
  for (auto& t : tokenize(tok, text)) seen.insert(std::move(t));
  seen.erase(kUnknownToken);
  Vocabulary v;
  for (const auto& t : seen) v.add(t);
  v.add(kUnknownToken);
  return v;
}

std::vector<int> encode_text(const std::string& text, const Vocabulary& vocab, TokenizerKind tok, long* n_unknown) {
  const int unk = vocab.id(kUnknownToken);
  std::vector<int> ids;
  for (const auto& t : tokenize(tok, text)) {
    int id = vocab.id(t);
    if (id == Vocabulary::unknown) {
      if (unk == Vocabulary::unknown) throw Error("the vocabulary has no unknown symbol");
      id = unk;
      if (n_unknown) ++*n_unknown;
    }
    ids.push_back(id);
  }
  return ids;
}

template <class T>
void train_lm(Model<T>& model, Optimizer<T>& optimizer, const std::vector<int>& train, const std::vector<int>* valid,
              const LmOptions& opt, Rng& rng, const std::function<bool(const LmLog&)>& on_log,
              const LmHooks<T>& hooks) {
  const int B = opt.batch, Tn = opt.seq_len;
  if (B < 1 || Tn < 1) throw Error("--batch and --seq-len must be at least 1");
  // Stream b reads train[b*span .. b*span + span]: span inputs, each followed by its target.
  const std::size_t span = train.size() > 1 ? (train.size() - 1) / std::size_t(B) : 0;
  const long per_pass = long(span / std::size_t(Tn));
  if (per_pass < 1)
    throw Error("the training text (" + std::to_string(train.size()) + " tokens) is too short for " +
                std::to_string(B) + " streams of " + std::to_string(Tn) + " (--batch x --seq-len)");
  std::unique_ptr<SerialBlas> serial;
  if (B == 1) serial = std::make_unique<SerialBlas>();  // min-char-rnn's single stream
  typename Model<T>::Workspace ws;
  Batch b;
  b.T = Tn, b.B = B;
  b.ids.resize(std::size_t(Tn) * B);
  b.targets.resize(std::size_t(Tn) * B);
  b.lengths.assign(std::size_t(B), Tn);
  double lr_scale = 1, best = std::numeric_limits<double>::infinity(), loss_sum = 0;
  long since_log = 0, bad_evals = 0, first = 1;
  if (const LmPoint<T>* r = hooks.resume) {
    first = r->steps + 1;
    rng = r->rng;
    ws.h0 = r->h;
    ws.c0 = r->c;
    lr_scale = r->lr_scale, best = r->best, loss_sum = r->loss_sum;
    bad_evals = r->bad_evals, since_log = r->since_log;
  }
  auto t0 = std::chrono::steady_clock::now();
  for (long step = first; step <= opt.steps; ++step) {
    const long j = (step - 1) % per_pass;
    if (j == 0) {  // a new pass over the text: streams start from zero state
      ws.h0.clear();
      ws.c0.clear();
    }
    const std::size_t pos = std::size_t(j) * std::size_t(Tn);
    for (int t = 0; t < Tn; ++t)
      for (int s = 0; s < B; ++s) {
        const std::size_t at = std::size_t(s) * span + pos + std::size_t(t);
        b.ids[std::size_t(t) * B + s] = train[at];
        b.targets[std::size_t(t) * B + s] = train[at + 1];
      }
    model.forward(b, ws, &rng);
    loss_sum += cross_entropy_sum<T>(ws.logits, b.targets) / double(Tn * B);
    ++since_log;
    cross_entropy_grad<T>(ws.probs, b.targets, T(1) / T(Tn * B), ws.dlogits);
    model.zero_grad();
    model.backward(b, ws);
    const double lr = opt.step.schedule.lr(opt.step.lr, int(step - 1), int(opt.steps)) * lr_scale;
    clip_and_step(optimizer, model.weights(), model.grads(), lr, opt.step);
    // Carry the state to the next chunk; no gradient flows back across it.
    std::swap(ws.h0, ws.final_h);  // the final state becomes the next initial state
    std::swap(ws.c0, ws.final_c);

    if (step % std::max(1L, opt.eval_every) == 0 || step == opt.steps) {
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      LmLog log;
      log.step = step, log.steps = opt.steps, log.lr = lr;
      log.train_loss = loss_sum / double(since_log);
      log.tokens_per_s = secs > 0 ? double(since_log) * Tn * B / secs : 0;
      if (valid) {
        log.has_valid = true;
        log.valid = evaluate_lm(model, *valid);
        log.best = log.valid.loss < best;
        if (log.best) {
          best = log.valid.loss;
          bad_evals = 0;
        } else {
          ++bad_evals;
          lr_scale *= opt.plateau_decay;
        }
      }
      const bool go_on = on_log(log);
      if (!go_on || (opt.patience > 0 && bad_evals >= opt.patience)) return;
      loss_sum = 0, since_log = 0;
      t0 = std::chrono::steady_clock::now();
    }
    if (hooks.after_step && !hooks.after_step(step, since_log ? loss_sum / double(since_log) : 0.0, [&] {
          return LmPoint<T>{step, rng, ws.h0, ws.c0, lr_scale, best, loss_sum, bad_evals, since_log};
        }))
      return;
  }
}

template void train_lm<float>(Model<float>&, Optimizer<float>&, const std::vector<int>&, const std::vector<int>*,
                              const LmOptions&, Rng&, const std::function<bool(const LmLog&)>&,
                              const LmHooks<float>&);
template void train_lm<double>(Model<double>&, Optimizer<double>&, const std::vector<int>&, const std::vector<int>*,
                               const LmOptions&, Rng&, const std::function<bool(const LmLog&)>&,
                               const LmHooks<double>&);

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

void generate(const Model<float>& model, const std::vector<int>& prime, long length, const SampleOptions& o, Rng& rng,
              const std::function<void(int)>& emit) {
  SerialBlas serial;  // batch 1
  Model<float>::Workspace ws;
  std::vector<int> start = prime;
  if (start.empty()) start.push_back(0);
  Batch b;
  b.B = 1;
  b.T = int(start.size());
  b.ids = start;
  b.lengths = {b.T};
  model.forward(b, ws);
  std::vector<double> scratch;
  const int V = int(ws.logits.cols());
  b.T = 1;
  b.ids.assign(1, 0);
  b.lengths = {1};
  for (long i = 0; i < length; ++i) {
    const int next = sample_next(ws.logits.row(ws.logits.rows() - 1).data(), V, o, rng, scratch);
    emit(next);
    std::swap(ws.h0, ws.final_h);  // the final state becomes the next initial state
    std::swap(ws.c0, ws.final_c);
    b.ids[0] = next;
    model.forward(b, ws);
  }
}

}  // namespace recur
