#include "recur/checkpoint.hpp"

#include <cstdio>
#include <cstring>

#include "recur/error.hpp"

namespace recur {

namespace {

const char* kPrefix = "checkpoint.";

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
  r.set_state(s);
  return r;
}

TensorF32 flat(const Buffer<float>& b) { return {{std::int64_t(b.size())}, std::vector<float>(b.begin(), b.end())}; }

TensorF32 matrix(const Matrix<float>& m) {
  return {{std::int64_t(m.rows()), std::int64_t(m.cols())}, std::vector<float>(m.data(), m.data() + m.size())};
}

}  // namespace

void save_checkpoint(const std::string& path, const Model<float>& model, const ModelInfo& info,
                     Optimizer<float>& optimizer, const TrainingState& s) {
  SafeTensors st = model_to_safetensors(model, info);
  if (!optimizer.first_moment().empty()) st.tensors["optimizer.m"] = flat(optimizer.first_moment());
  if (!optimizer.second_moment().empty()) st.tensors["optimizer.v"] = flat(optimizer.second_moment());
  for (std::size_t k = 0; k < s.lm.h.size(); ++k) st.tensors["state.h.l" + std::to_string(k)] = matrix(s.lm.h[k]);
  for (std::size_t k = 0; k < s.lm.c.size(); ++k) st.tensors["state.c.l" + std::to_string(k)] = matrix(s.lm.c[k]);
  auto& meta = st.metadata;
  meta["checkpoint"] = "recur-train/1";
  meta[std::string(kPrefix) + "epoch"] = std::to_string(s.point.epoch);
  meta[std::string(kPrefix) + "position"] = std::to_string(s.point.position);
  meta[std::string(kPrefix) + "steps"] = std::to_string(s.lm.steps);
  put_rng(meta, "lm.rng", s.lm.rng);
  const std::map<std::string, double> numbers = {{"lr_scale", s.lm.lr_scale},
                                                 {"best", s.lm.best},
                                                 {"loss_sum", s.lm.loss_sum},
                                                 {"bad_evals", double(s.lm.bad_evals)},
                                                 {"since_log", double(s.lm.since_log)}};
  meta[std::string(kPrefix) + "optimizer_steps"] = std::to_string(optimizer.steps());
  put_rng(meta, "rng", s.point.rng);
  if (s.point.position > 0) {
    put_rng(meta, "rng_epoch", s.point.rng_epoch);
    meta[std::string(kPrefix) + "partial.loss"] = exact(s.point.partial.loss);
    meta[std::string(kPrefix) + "partial.accuracy"] = exact(s.point.partial.accuracy);
  }
  for (const auto& [k, v] : numbers) meta[std::string(kPrefix) + "number." + k] = exact(v);
  if (s.point.has_best) {  // a classifier with validation: the best weights so far
    st.tensors["best.weights"] = flat(s.point.best_weights);
    meta[std::string(kPrefix) + "best.epoch"] = std::to_string(s.point.best_epoch);
    meta[std::string(kPrefix) + "best.bad_evals"] = std::to_string(s.point.bad_evals);
    meta[std::string(kPrefix) + "best.loss"] = exact(s.point.best.loss);
    meta[std::string(kPrefix) + "best.accuracy"] = exact(s.point.best.accuracy);
    meta[std::string(kPrefix) + "best.n"] = std::to_string(s.point.best.n);
  }
  write_safetensors(path, st);
}

LoadedCheckpoint load_checkpoint(const std::string& path) {
  SafeTensors st = read_safetensors(path);
  const auto& meta = st.metadata;
  if (!meta.count("checkpoint") || meta.at("checkpoint") != "recur-train/1")
    throw Error(path + ": not a recur training checkpoint (a model file? --resume takes the .ckpt file)");
  Buffer<float> m, v;
  long optimizer_steps = 0;
  TrainingState state;
  try {
    auto take_flat = [&](const std::string& name, Buffer<float>& b) {
      const auto it = st.tensors.find(name);
      if (it == st.tensors.end()) return;
      b.assign(it->second.data.begin(), it->second.data.end());
      st.tensors.erase(it);
    };
    take_flat("optimizer.m", m);
    take_flat("optimizer.v", v);
    take_flat("best.weights", state.point.best_weights);
    for (int k = 0;; ++k) {
      const auto h = st.tensors.find("state.h.l" + std::to_string(k));
      if (h == st.tensors.end()) break;
      state.lm.h.push_back(ConstMatrixMap<float>(h->second.data.data(), int(h->second.shape[0]), int(h->second.shape[1])));
      st.tensors.erase(h);
      const auto c = st.tensors.find("state.c.l" + std::to_string(k));
      if (c != st.tensors.end()) {
        state.lm.c.push_back(ConstMatrixMap<float>(c->second.data.data(), int(c->second.shape[0]), int(c->second.shape[1])));
        st.tensors.erase(c);
      }
    }
    const std::string p = kPrefix;
    state.point.epoch = std::stol(meta.at(p + "epoch"));
    state.point.position = std::stol(meta.at(p + "position"));
    state.lm.steps = std::stol(meta.at(p + "steps"));
    state.lm.rng = get_rng(meta, "lm.rng", path);
    optimizer_steps = std::stol(meta.at(p + "optimizer_steps"));
    state.point.rng = get_rng(meta, "rng", path);
    if (state.point.position > 0) {
      state.point.rng_epoch = get_rng(meta, "rng_epoch", path);
      state.point.partial.loss = from_exact(meta.at(p + "partial.loss"), path);
      state.point.partial.accuracy = from_exact(meta.at(p + "partial.accuracy"), path);
    }
    state.point.has_best = meta.count(p + "best.epoch") > 0;
    if (state.point.has_best) {
      state.point.best_epoch = std::stol(meta.at(p + "best.epoch"));
      state.point.bad_evals = std::stol(meta.at(p + "best.bad_evals"));
      state.point.best.loss = from_exact(meta.at(p + "best.loss"), path);
      state.point.best.accuracy = from_exact(meta.at(p + "best.accuracy"), path);
      state.point.best.n = std::stol(meta.at(p + "best.n"));
    }
    auto number = [&](const char* k) { return from_exact(meta.at(p + "number." + k), path); };
    state.lm.lr_scale = number("lr_scale");
    state.lm.best = number("best");
    state.lm.loss_sum = number("loss_sum");
    state.lm.bad_evals = long(number("bad_evals"));
    state.lm.since_log = long(number("since_log"));
  } catch (const std::out_of_range&) {
    throw Error(path + ": checkpoint metadata is incomplete");
  } catch (const std::invalid_argument&) {
    throw Error(path + ": checkpoint metadata is corrupt");
  }
  LoadedCheckpoint out{model_from_safetensors(std::move(st), path), std::move(m), std::move(v), optimizer_steps,
                       std::move(state)};
  const std::size_t n = out.loaded.model.weights().size();
  if ((!out.m.empty() && out.m.size() != n) || (!out.v.empty() && out.v.size() != n) ||
      (out.state.point.has_best && out.state.point.best_weights.size() != n))
    throw Error(path + ": optimizer state or best weights do not match the model");
  return out;
}

}  // namespace recur
