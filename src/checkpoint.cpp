// Checkpoint files (what they hold: include/recur/checkpoint.hpp, docs/model-format.md).
#include "recur/checkpoint.hpp"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "recur/error.hpp"

namespace recur {

namespace {

const std::string kPrefix = "checkpoint.";

// Doubles as their exact bits, so a resumed run continues from the same numbers.
std::string exact(double x) {
  std::uint64_t u;
  std::memcpy(&u, &x, 8);
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(u));
  return buf;
}

double from_exact(const std::string& s, const std::string& where) {
  if (s.size() != 16 || s.find_first_not_of("0123456789abcdef") != std::string::npos)
    throw Error(where + ": not a number written by recur");
  const std::uint64_t u = std::stoull(s, nullptr, 16);
  double x;
  std::memcpy(&x, &u, 8);
  return x;
}

void put_rng(std::map<std::string, std::string>& meta, const std::string& key, const Rng& rng) {
  const Rng::State s = rng.state();
  meta[kPrefix + key] = s.mt;
  meta[kPrefix + key + ".has_gauss"] = s.has_gauss ? "1" : "0";
  meta[kPrefix + key + ".gauss"] = exact(s.gauss);
}

Rng get_rng(const std::map<std::string, std::string>& meta, const std::string& key, const std::string& path) {
  Rng::State s;
  s.mt = meta.at(kPrefix + key);
  s.has_gauss = meta.at(kPrefix + key + ".has_gauss") == "1";
  s.gauss = from_exact(meta.at(kPrefix + key + ".gauss"), path);
  Rng r;
  if (!r.set_state(s)) throw Error(path + ": the random generator's state in the checkpoint is corrupt");
  return r;
}

// A counter written by recur: a decimal integer in [lo, hi].
// (std::invalid_argument, which load_checkpoint reports as corrupt metadata, when it is not)
long counter(const std::string& s, long lo, long hi) {
  std::size_t used = 0;
  long v = 0;
  try {
    v = std::stol(s, &used);
  } catch (const std::out_of_range&) {  // (out_of_range means a missing key there)
    throw std::invalid_argument("out of range");
  }
  if (used != s.size() || v < lo || v > hi) throw std::invalid_argument("out of range");
  return v;
}

TensorF32 flat(const Buffer<float>& b) { return {{std::int64_t(b.size())}, std::vector<float>(b.begin(), b.end())}; }

TensorF32 matrix(const Matrix<float>& m) {
  return {{std::int64_t(m.rows()), std::int64_t(m.cols())}, std::vector<float>(m.data(), m.data() + m.size())};
}

}  // namespace

// Keys of the first version are all still written, with their meaning:
// "rng" (a classifier's generator) and "lm.rng" (a language model's) both hold
// the generator; "number.loss_sum" and "number.since_log" a language model's
// running loss and steps since its last evaluation, "partial.loss" and
// "partial.accuracy" a classifier's sums over the epoch so far.
void save_checkpoint(const std::string& path, const Model<float>& model, const ModelInfo& info,
                     const Optimizer<float>& optimizer, const RunState<float>& s) {
  save_checkpoint(path, model_to_safetensors(model, info), optimizer, s);
}

void save_checkpoint(const std::string& path, SafeTensors st, const Optimizer<float>& optimizer,
                     const RunState<float>& s) {
  if (!optimizer.first_moment().empty()) st.tensors["optimizer.m"] = flat(optimizer.first_moment());
  if (!optimizer.second_moment().empty()) st.tensors["optimizer.v"] = flat(optimizer.second_moment());
  for (std::size_t k = 0; k < s.h.size(); ++k) st.tensors["state.h.l" + std::to_string(k)] = matrix(s.h[k]);
  for (std::size_t k = 0; k < s.c.size(); ++k) st.tensors["state.c.l" + std::to_string(k)] = matrix(s.c[k]);
  auto& meta = st.metadata;
  meta["checkpoint"] = "recur-train/1";
  meta[kPrefix + "epoch"] = std::to_string(s.epoch);
  meta[kPrefix + "position"] = std::to_string(s.position);
  meta[kPrefix + "steps"] = std::to_string(s.steps);
  meta[kPrefix + "optimizer_steps"] = std::to_string(optimizer.steps());
  // Sequences per step over all processes and parts, which a resumed run must
  // take too; the processes only as a note (any number with the same total resumes).
  if (s.step_size > 0) meta[kPrefix + "step_size"] = std::to_string(s.step_size);
  meta[kPrefix + "ranks"] = std::to_string(s.ranks);
  meta[kPrefix + "nonfinite_skipped"] = std::to_string(s.nonfinite_skipped);
  put_rng(meta, "rng", s.rng);
  put_rng(meta, "lm.rng", s.rng);
  put_rng(meta, "rng_epoch", s.rng_epoch);
  meta[kPrefix + "partial.loss"] = exact(s.running.loss);
  meta[kPrefix + "partial.accuracy"] = exact(s.running.correct);
  meta[kPrefix + "partial.weight"] = exact(s.running.weight);
  meta[kPrefix + "partial.n"] = std::to_string(s.running.n);
  const double inf = std::numeric_limits<double>::infinity();
  const std::map<std::string, double> numbers = {{"lr_scale", s.lr_scale},
                                                 {"best", s.has_best ? s.best.loss : inf},
                                                 {"loss_sum", s.running.loss},
                                                 {"bad_evals", double(s.bad_evals)},
                                                 {"since_log", s.running.weight}};
  for (const auto& [k, v] : numbers) meta[kPrefix + "number." + k] = exact(v);
  if (!s.average.empty()) st.tensors["average.weights"] = flat(s.average);  // --average
  if (s.has_best) {  // with validation: the best weights so far
    st.tensors["best.weights"] = flat(s.best_weights);
    meta[kPrefix + "best.epoch"] = std::to_string(s.best_at);
    meta[kPrefix + "best.bad_evals"] = std::to_string(s.bad_evals);
    meta[kPrefix + "best.loss"] = exact(s.best.loss);
    meta[kPrefix + "best.accuracy"] = exact(s.best.accuracy);
    meta[kPrefix + "best.has_accuracy"] = s.best.has_accuracy ? "1" : "0";
    meta[kPrefix + "best.n"] = std::to_string(s.best.n);
  }
  write_safetensors(path, st);
}

CheckpointFile read_checkpoint(const std::string& path) { return checkpoint_file_from_safetensors(read_safetensors(path), path); }

CheckpointFile checkpoint_file_from_safetensors(SafeTensors st, const std::string& path) {
  const auto& meta = st.metadata;
  if (!meta.count("checkpoint") || meta.at("checkpoint") != "recur-train/1")
    throw Error(path + ": not a recur training checkpoint (a model file? --resume takes the .ckpt file)");
  Buffer<float> m, v;
  long optimizer_steps = 0;
  RunState<float> state;
  const bool lm = meta.count("task") && meta.at("task") == "lm";
  try {
    auto take_flat = [&](const std::string& name, Buffer<float>& b) {
      const auto it = st.tensors.find(name);
      if (it == st.tensors.end()) return;
      b.assign(it->second.data.begin(), it->second.data.end());
      st.tensors.erase(it);
    };
    take_flat("optimizer.m", m);
    take_flat("optimizer.v", v);
    take_flat("best.weights", state.best_weights);
    take_flat("average.weights", state.average);
    auto take_matrix = [&](const std::string& name, std::vector<Matrix<float>>& into) {
      const auto it = st.tensors.find(name);
      if (it == st.tensors.end()) return false;
      if (it->second.shape.size() != 2) throw Error(path + ": tensor " + name + " is not a matrix");
      into.push_back(ConstMatrixMap<float>(it->second.data.data(), it->second.shape[0], it->second.shape[1]));
      st.tensors.erase(it);
      return true;
    };
    for (int k = 0; take_matrix("state.h.l" + std::to_string(k), state.h); ++k)
      take_matrix("state.c.l" + std::to_string(k), state.c);
    auto has = [&](const std::string& k) { return meta.count(kPrefix + k) > 0; };
    auto get = [&](const std::string& k) -> const std::string& { return meta.at(kPrefix + k); };
    auto number = [&](const std::string& k) { return from_exact(get("number." + k), path); };
    // Counters in the ranges a run can reach (a corrupt one must not send the
    // trainer outside its data).
    const long most = std::numeric_limits<long>::max() / 2;
    auto count = [&](const std::string& k, long lo) { return counter(get(k), lo, most); };
    state.epoch = count("epoch", 1);
    state.position = count("position", 0);
    state.steps = count("steps", 0);
    optimizer_steps = count("optimizer_steps", 0);
    if (has("nonfinite_skipped")) state.nonfinite_skipped = count("nonfinite_skipped", 0);
    if (has("step_size")) state.step_size = count("step_size", 1);
    if (has("ranks")) state.ranks = int(counter(get("ranks"), 1, 1 << 20));
    state.rng = get_rng(meta, lm ? "lm.rng" : "rng", path);
    state.rng_epoch = has("rng_epoch") ? get_rng(meta, "rng_epoch", path) : state.rng;
    state.lr_scale = number("lr_scale");
    if (!(state.lr_scale > 0 && std::isfinite(state.lr_scale))) throw std::invalid_argument("lr_scale");
    const double bad = number("bad_evals");
    if (!(bad >= 0 && bad < double(most))) throw std::invalid_argument("bad_evals");
    state.bad_evals = long(bad);
    if (has("partial.weight")) {
      state.running.loss = from_exact(get("partial.loss"), path);
      state.running.correct = from_exact(get("partial.accuracy"), path);
      state.running.weight = from_exact(get("partial.weight"), path);
      state.running.n = count("partial.n", 0);
    } else if (lm) {  // written by the first version: the running numbers of a language model
      state.running.loss = number("loss_sum");
      state.running.weight = number("since_log");
    } else {  // ... and of a classifier, whose examples so far the trainer counts again
      if (state.position > 0) {
        state.running.loss = from_exact(get("partial.loss"), path);
        state.running.correct = from_exact(get("partial.accuracy"), path);
      }
      state.running.weight = -1;
    }
    if (has("best.epoch")) {
      state.has_best = true;
      state.best_at = count("best.epoch", 0);
      state.bad_evals = count("best.bad_evals", 0);
      state.best.loss = from_exact(get("best.loss"), path);
      state.best.accuracy = from_exact(get("best.accuracy"), path);
      state.best.has_accuracy = has("best.has_accuracy") ? get("best.has_accuracy") == "1" : !lm;
      state.best.n = count("best.n", 0);
    } else if (lm && std::isfinite(number("best"))) {  // the first version kept a language model's best loss only
      state.has_best = true;
      state.best.loss = number("best");
    }
  } catch (const std::out_of_range&) {
    throw Error(path + ": checkpoint metadata is incomplete");
  } catch (const std::invalid_argument&) {
    throw Error(path + ": checkpoint metadata is corrupt");
  }
  return {std::move(st), std::move(m), std::move(v), optimizer_steps, std::move(state)};
}

void CheckpointFile::check_fits(std::size_t n, const std::string& path) const {
  if ((!m.empty() && m.size() != n) || (!v.empty() && v.size() != n) ||
      (!state.best_weights.empty() && state.best_weights.size() != n) ||
      (!state.average.empty() && state.average.size() != n))
    throw Error(path + ": optimizer state, best or averaged weights do not match the model");
}

void check_carried_state(const RunState<float>& s, const ModelConfig& c, const std::string& path) {
  // Per layer (B, H), the cell state too for an LSTM, the same B throughout
  // (run_training checks B against the run's streams).
  const auto& h = s.h;
  const auto& cs = s.c;
  bool ok = h.size() <= std::size_t(c.layers) && (c.cell == CellKind::lstm ? cs.size() == h.size() : cs.empty());
  for (std::size_t k = 0; ok && k < h.size(); ++k)
    ok = h[k].cols() == c.hidden && h[k].rows() == h[0].rows() && h[k].rows() > 0 &&
         (cs.empty() || (cs[k].rows() == h[k].rows() && cs[k].cols() == c.hidden));
  if (!ok) throw Error(path + ": the carried state in the checkpoint does not match the model");
}

LoadedCheckpoint load_checkpoint(const std::string& path) { return checkpoint_from_safetensors(read_safetensors(path), path); }

LoadedCheckpoint checkpoint_from_safetensors(SafeTensors st, const std::string& path) {
  CheckpointFile f = checkpoint_file_from_safetensors(std::move(st), path);
  LoadedModel model = model_from_safetensors(std::move(f.model), path);
  f.check_fits(model.model.weights().size(), path);
  check_carried_state(f.state, model.info.config, path);
  return {std::move(model), std::move(f.m), std::move(f.v), f.optimizer_steps, std::move(f.state)};
}

}  // namespace recur
