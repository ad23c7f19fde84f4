// The recurrent model: construction, the seed's initialisation, forward and
// backward (what they compute: include/recur/model.hpp; the math: docs/bptt.md).
#include "recur/model.hpp"

#include <Eigen/QR>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <numeric>

#include "recur/layers.hpp"

namespace recur {

std::string cell_name(CellKind k) {
  switch (k) {
    case CellKind::rnn_tanh: return "rnn_tanh";
    case CellKind::rnn_relu: return "rnn_relu";
    case CellKind::lstm: return "lstm";
    case CellKind::gru: return "gru";
  }
  return "?";
}

CellKind cell_from_name(const std::string& s) {
  if (s == "rnn_tanh" || s == "rnn") return CellKind::rnn_tanh;
  if (s == "rnn_relu") return CellKind::rnn_relu;
  if (s == "lstm") return CellKind::lstm;
  if (s == "gru") return CellKind::gru;
  throw Error("unknown cell '" + s + "' (known: rnn, rnn_tanh, rnn_relu, lstm, gru)");
}

std::string to_string(Task t) { return t == Task::lm ? "lm" : "classify"; }

std::string to_string(InitKind k) {
  switch (k) {
    case InitKind::seed: return "seed";
    case InitKind::pytorch: return "pytorch";
    case InitKind::xavier: return "xavier";
    case InitKind::orthogonal: return "orthogonal";
    case InitKind::normal: return "normal";
  }
  return "?";
}

InitKind init_from_string(const std::string& s) {
  for (InitKind k : {InitKind::seed, InitKind::pytorch, InitKind::xavier, InitKind::orthogonal, InitKind::normal})
    if (to_string(k) == s) return k;
  throw Error("unknown init '" + s + "' (known: seed, pytorch, xavier, orthogonal, normal)");
}

std::uint64_t max_tensor_bytes() {
  const char* v = std::getenv("RECUR_MAX_TENSOR_BYTES");
  if (!v || !*v) return std::uint64_t(4) << 30;  // 4 GiB: a billion float32 parameters
  const std::string s = v;
  std::size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
  const std::string suffix = s.substr(digits);
  int shift = -1;
  if (suffix.empty()) shift = 0;
  else if (suffix == "K" || suffix == "k") shift = 10;
  else if (suffix == "M" || suffix == "m") shift = 20;
  else if (suffix == "G" || suffix == "g") shift = 30;
  else if (suffix == "T" || suffix == "t") shift = 40;
  std::uint64_t n = 0;
  bool ok = digits > 0 && digits <= 15 && shift >= 0;
  if (ok) {
    n = std::stoull(s.substr(0, digits)) << shift;
    ok = n > 0 && (n >> shift) == std::stoull(s.substr(0, digits));
  }
  if (!ok)
    throw Error("RECUR_MAX_TENSOR_BYTES='" + s.substr(0, 40) +
                "' is not a positive number of bytes (e.g. 4294967296, or 4G with a K, M, G or T suffix)");
  return n;
}

std::vector<TensorShape> parameter_shapes(const ModelConfig& c) {
  // Arithmetic only, nothing built: what a file must hold, checked before a
  // model is allocated.
  const long H = c.hidden, GH = long(gates_of(c.cell)) * H, D = c.directions();
  std::vector<TensorShape> out;
  if (c.embed > 0) out.push_back({"embedding.weight", {c.vocab, c.embed}});
  if (c.subwords.enabled()) out.push_back({"subwords.weight", {c.subwords.buckets, c.embed}});
  for (int k = 0; k < c.layers; ++k)
    for (long d = 0; d < D; ++d) {
      const std::string s = "_l" + std::to_string(k) + (d ? "_reverse" : "");
      const long in = k > 0 ? D * H : c.embed > 0 ? c.embed : c.vocab;
      out.push_back({"rnn.weight_ih" + s, {GH, in}});
      out.push_back({"rnn.weight_hh" + s, {GH, H}});
      out.push_back({"rnn.bias_ih" + s, {GH}});
      if (c.bias_hh) out.push_back({"rnn.bias_hh" + s, {GH}});
    }
  if (c.task == Task::classify && c.pool == PoolKind::attention) out.push_back({"pool.query", {D * H}});
  out.push_back({"head.weight", {c.classes, D * H}});
  out.push_back({"head.bias", {c.classes}});
  return out;
}

void check_model_size(const ModelConfig& c) {
  if (c.vocab < 1 || c.hidden < 1 || c.layers < 1 || c.classes < 2 || c.embed < 0)
    throw Error("invalid model size (vocab " + std::to_string(c.vocab) + ", hidden " + std::to_string(c.hidden) +
                ", layers " + std::to_string(c.layers) + ", classes " + std::to_string(c.classes) + ", embed " +
                std::to_string(c.embed) + ")");
  if (c.layers > kMaxLayers)
    throw Error("a model of " + std::to_string(c.layers) + " layers (at most " + std::to_string(kMaxLayers) + ")");
  // Every dimension the engine indexes with an int must fit one: G*H, D*H.
  const std::int64_t H = c.hidden, GH = std::int64_t(gates_of(c.cell)) * H, D = c.directions();
  if (GH > INT32_MAX || D * H > INT32_MAX)
    throw Error("hidden size " + std::to_string(c.hidden) + " is too large for this cell");
  // Each tensor, and all of them (one parameter buffer), within the limit;
  // counted in 128 bits so that no product can wrap.
  const std::uint64_t limit = max_tensor_bytes();
  unsigned __int128 total = 0;
  auto tensor = [&](const char* name, std::int64_t rows, std::int64_t cols, std::int64_t copies) {
    const unsigned __int128 bytes = (unsigned __int128)(std::uint64_t(rows)) * std::uint64_t(cols) * 4;
    if (bytes > limit)
      throw Error(std::string("the model's ") + name + " of shape (" + std::to_string(rows) + ", " +
                  std::to_string(cols) + ") would take " + std::to_string(std::uint64_t(bytes)) +
                  " bytes, more than RECUR_MAX_TENSOR_BYTES allows (" + std::to_string(limit) +
                  "): a smaller vocabulary, hidden size or embedding");
    total += bytes * std::uint64_t(copies);
  };
  const std::int64_t in0 = c.embed > 0 ? c.embed : c.vocab, layers = c.layers;
  if (c.embed > 0) tensor("embedding.weight", c.vocab, c.embed, 1);
  if (c.subwords.enabled()) tensor("subwords.weight", c.subwords.buckets, c.embed, 1);
  tensor("rnn.weight_ih_l0", GH, in0, D);
  if (layers > 1) tensor("rnn.weight_ih_l1", GH, D * H, D * (layers - 1));
  tensor("rnn.weight_hh_l0", GH, H, D * layers);
  tensor("rnn.bias_ih_l0", GH, 1, D * layers * (c.bias_hh ? 2 : 1));
  tensor("head.weight", c.classes, D * H, 1);
  tensor("pool.query", D * H, 1, 1);
  tensor("head.bias", c.classes, 1, 1);
  if (total > limit)
    throw Error("the model's parameters would take " + std::to_string(std::uint64_t(total)) +
                " bytes, more than RECUR_MAX_TENSOR_BYTES allows (" + std::to_string(limit) +
                "): a smaller vocabulary, hidden size, embedding or fewer layers");
}

long Batch::tokens() const {
  if (dec_T > 0) return std::accumulate(dec_lengths.begin(), dec_lengths.end(), 0L);
  return std::accumulate(lengths.begin(), lengths.end(), 0L);
}

Batch make_batch(const std::vector<std::vector<int>>& seqs, const std::vector<int>& targets,
                 const std::vector<int>& which) {
  Batch b;
  b.B = int(which.size());
  for (int i : which) b.T = std::max(b.T, int(seqs[std::size_t(i)].size()));
  b.ids.assign(std::size_t(b.T) * b.B, -1);
  for (int j = 0; j < b.B; ++j) {
    const auto& s = seqs[std::size_t(which[std::size_t(j)])];
    for (std::size_t t = 0; t < s.size(); ++t) b.ids[t * b.B + std::size_t(j)] = s[t];
    b.lengths.push_back(int(s.size()));
    if (!targets.empty()) b.targets.push_back(targets[std::size_t(which[std::size_t(j)])]);
  }
  return b;
}

Batch make_pair_batch(const std::vector<std::vector<int>>& src, const std::vector<std::vector<int>>& tgt,
                      const std::vector<int>& which, int bos, int eos) {
  Batch b = make_batch(src, {}, which);
  for (const int i : which) b.dec_T = std::max(b.dec_T, int(tgt[std::size_t(i)].size()) + 1);
  b.dec_ids.assign(std::size_t(b.dec_T) * b.B, -1);
  b.targets.assign(std::size_t(b.dec_T) * b.B, -1);
  for (int j = 0; j < b.B; ++j) {
    const auto& y = tgt[std::size_t(which[std::size_t(j)])];
    const std::size_t n = y.size();
    for (std::size_t t = 0; t <= n; ++t) {
      b.dec_ids[t * b.B + std::size_t(j)] = t == 0 ? bos : y[t - 1];
      b.targets[t * b.B + std::size_t(j)] = t == n ? eos : y[t];
    }
    b.dec_lengths.push_back(int(n) + 1);
  }
  return b;
}

template <class T>
Model<T>::Model(const ModelConfig& cfg) : cfg_(cfg) {
  if (cfg.task == Task::lm && (cfg.bidirectional || cfg.classes != cfg.vocab))
    throw Error("a language model is unidirectional and predicts its own vocabulary");
  if (cfg.task == Task::lm && cfg.pool != PoolKind::last)
    throw Error("a language model predicts at every step: pooling over time is for classifiers");
  check_model_size(cfg);  // before anything is allocated
  if (!(cfg.dropout >= 0 && cfg.dropout < 1)) throw Error("dropout must be in [0, 1)");
  const int H = cfg.hidden, D = cfg.directions();
  if (!(cfg.word_dropout >= 0 && cfg.word_dropout < 1) || !(cfg.embed_dropout >= 0 && cfg.embed_dropout < 1))
    throw Error("word and embedding dropout must be in [0, 1)");
  if (cfg.embed_dropout > 0 && cfg.embed == 0) throw Error("embedding dropout needs an embedding (--embed)");
  if (cfg.subwords.enabled() && (cfg.embed == 0 || cfg.task != Task::classify))
    throw Error("subwords are the input of a classifier with an embedding (--task classify --embed E)");
  stack_ = Stack({cfg.cell, cfg.vocab, cfg.embed, cfg.hidden, cfg.layers, cfg.bidirectional, cfg.bias_hh, cfg.dropout,
                  cfg.word_dropout, cfg.embed_dropout, cfg.unknown_id, cfg.subwords.buckets},
                 table_, "");
  if (cfg.task == Task::classify && cfg.pool == PoolKind::attention) pool_q_ = table_.add_vector("pool.query", D * H);
  head_w_ = table_.add_matrix("head.weight", cfg.classes, D * H);
  head_b_ = table_.add_vector("head.bias", cfg.classes);
  w_.assign(table_.total(), T(0));
  g_.assign(table_.total(), T(0));
}

template <class T>
void Model<T>::init_seed(Rng& rng) {
  std::fill(w_.begin(), w_.end(), T(0));
  auto fill = [&](std::size_t off, int rows, int cols) {
    for (std::size_t i = 0; i < std::size_t(rows) * cols; ++i) w_[off + i] = T(rng.randn() / 1000.0);
  };
  stack_.for_each_weight_in_seed_order(fill);
  fill(head_w_, cfg_.classes, cfg_.directions() * cfg_.hidden);
}

template <class T>
void Model<T>::forward(const Batch& b, Workspace& ws, Rng* rng) const {
  const int H = cfg_.hidden, D = cfg_.directions();
  // Dropout on every layer's outputs; a classifier's head that reads final
  // states instead of the top layer's outputs draws its own mask below.
  stack_.template forward<T>(w_, b.ids, b.lengths, b.T, ws, rng, cfg_.task == Task::lm || pooled(), b.bags);
  const Matrix<T>& features = head_input(b, ws);
  if (cfg_.task == Task::classify && !pooled()) {
    if (rng && cfg_.dropout > 0) {
      draw_dropout_mask(ws.feature_mask, b.B, D * H, cfg_.dropout, *rng);
      ws.features.array() *= ws.feature_mask.array();
    } else {
      ws.feature_mask.resize(0, 0);
    }
  }
  ws.logits.noalias() = features * cmat(w_, head_w_, cfg_.classes, D * H).transpose();
  ws.logits.rowwise() += cmat(w_, head_b_, 1, cfg_.classes).row(0);
  softmax_rows<T>(ws.logits, ws.probs);
}

template <class T>
void Model<T>::backward(const Batch& b, Workspace& ws) {
  const int H = cfg_.hidden, L = cfg_.layers, D = cfg_.directions();
  const int C = cfg_.classes;
  // y = f W_hy^T + b_y:  dW_hy += dy^T f,  db_y += sum_b dy,  df = dy W_hy
  // f is the head's input as forward left it (dropout applied).
  const Matrix<T>& features = cfg_.task == Task::lm ? ws.y[std::size_t(L - 1)] : ws.features;
  mat(g_, head_w_, C, D * H).noalias() += ws.dlogits.transpose() * features;
  mat(g_, head_b_, 1, C) += ws.dlogits.colwise().sum();
  ws.dfeat.noalias() = ws.dlogits * cmat(w_, head_w_, C, D * H);
  if (pooled()) {  // the head read the top layer's outputs pooled over time
    ws.dy_top.resize(std::size_t(b.T) * b.B, D * H);
    const Matrix<T>& y = ws.y[std::size_t(L - 1)];
    pool_backward<T>(cfg_.pool, y.data(), int(y.cols()), b.T, b.B, b.lengths.data(), D * H,
                     cfg_.pool == PoolKind::attention ? w_.data() + pool_q_ : nullptr, ws.dfeat.data(),
                     int(ws.dfeat.cols()), ws.pool, ws.dy_top.data(), int(ws.dy_top.cols()),
                     cfg_.pool == PoolKind::attention ? g_.data() + pool_q_ : nullptr);
    if (ws.mask[std::size_t(L - 1)].size()) ws.dy_top.array() *= ws.mask[std::size_t(L - 1)].array();
    stack_.template backward<T>(w_, g_, b.ids, b.T, b.B, ws, &ws.dy_top, {}, {}, b.bags);
    return;
  }
  const Matrix<T>& top_mask = cfg_.task == Task::lm ? ws.mask[std::size_t(L - 1)] : ws.feature_mask;
  if (top_mask.size()) ws.dfeat.array() *= top_mask.array();
  if (cfg_.task == Task::lm) {  // the head read the top layer's output at every step
    stack_.template backward<T>(w_, g_, b.ids, b.T, b.B, ws, &ws.dfeat, {}, {}, b.bags);
  } else {  // ... or its final states
    std::vector<Matrix<T>> dfinal(std::size_t(L) * D);
    for (int d = 0; d < D; ++d) dfinal[std::size_t(L - 1) * D + d] = ws.dfeat.middleCols(std::size_t(d) * H, H);
    stack_.template backward<T>(w_, g_, b.ids, b.T, b.B, ws, nullptr, dfinal, {}, b.bags);
  }
}

template <class T>
const Matrix<T>& Model<T>::head_input(const Batch& b, Workspace& ws) const {
  if (cfg_.task == Task::lm) return ws.y[std::size_t(cfg_.layers - 1)];
  const int H = cfg_.hidden, D = cfg_.directions();
  ws.features.resize(b.B, D * H);
  if (pooled()) {
    const Matrix<T>& y = ws.y[std::size_t(cfg_.layers - 1)];
    pool_forward<T>(cfg_.pool, y.data(), int(y.cols()), b.T, b.B, b.lengths.data(), D * H,
                    cfg_.pool == PoolKind::attention ? w_.data() + pool_q_ : nullptr, ws.features.data(),
                    int(ws.features.cols()), &ws.pool);
    return ws.features;
  }
  for (int d = 0; d < D; ++d)
    ws.features.middleCols(std::size_t(d) * H, H) = ws.cache[std::size_t(cfg_.layers - 1) * D + d].final_state();
  return ws.features;
}

template <class T>
void init_weights(Model<T>& m, InitKind kind, Rng& rng, bool forget_bias_one) {
  if (kind == InitKind::seed) {
    m.init_seed(rng);
  } else {
    const ModelConfig& c = m.config();
    const int H = c.hidden, G = gates_of(c.cell);
    auto uniform = [&](MatrixMap<T> w, double a) {
      for (Eigen::Index i = 0; i < w.size(); ++i) w.data()[i] = T((2 * rng.uniform() - 1) * a);
    };
    for (const ParamSpec& p : m.table().specs()) {
      MatrixMap<T> w = m.param(p.name);
      const bool rnn = p.name.rfind("rnn.", 0) == 0;
      if (p.name == "pool.query") {
        w.setZero();  // attention pooling starts as the mean
      } else if (p.name == "embedding.weight" || p.name == "subwords.weight") {
        for (Eigen::Index i = 0; i < w.size(); ++i) w.data()[i] = T(rng.randn());
      } else if (kind == InitKind::normal) {  // biases zero, weights N(0, 0.01^2)
        for (Eigen::Index i = 0; i < w.size(); ++i) w.data()[i] = p.is_vector ? T(0) : T(0.01 * rng.randn());
      } else if (kind == InitKind::pytorch) {
        uniform(w, rnn ? 1.0 / std::sqrt(double(H)) : 1.0 / std::sqrt(double(m.param("head.weight").cols())));
      } else if (p.is_vector) {
        w.setZero();
      } else if (rnn) {  // per gate block (H, fan_in)
        const bool recurrent = p.name.find("weight_hh") != std::string::npos;
        for (int gate = 0; gate < G; ++gate) {
          auto block = w.middleRows(std::size_t(gate) * H, H);
          if (kind == InitKind::orthogonal && recurrent) {
            Matrix<double> a(H, H);
            for (Eigen::Index i = 0; i < a.size(); ++i) a.data()[i] = rng.randn();
            Eigen::HouseholderQR<Matrix<double>> qr(a);
            Matrix<double> q = qr.householderQ();
            // Sign fix so Q is uniformly distributed: multiply columns by sign(diag(R)).
            const Matrix<double> r = qr.matrixQR().template triangularView<Eigen::Upper>();
            for (int j = 0; j < H; ++j)
              if (r(j, j) < 0) q.col(j) *= -1;
            block = q.template cast<T>();
          } else {
            const double a = std::sqrt(6.0 / double(H + w.cols()));
            for (Eigen::Index i = 0; i < block.rows(); ++i)
              for (Eigen::Index j = 0; j < block.cols(); ++j) block(i, j) = T((2 * rng.uniform() - 1) * a);
          }
        }
      } else {
        uniform(w, std::sqrt(6.0 / double(w.rows() + w.cols())));
      }
    }
  }
  if (forget_bias_one && m.config().cell == CellKind::lstm) {
    const int H = m.config().hidden;
    for (const ParamSpec& p : m.table().specs()) {
      if (p.name.rfind("rnn.bias_ih", 0) == 0) m.param(p.name).middleRows(H, H).setConstant(T(1));
      if (p.name.rfind("rnn.bias_hh", 0) == 0) m.param(p.name).middleRows(H, H).setZero();
    }
  }
}

template class Model<float>;
template class Model<double>;
template void init_weights<float>(Model<float>&, InitKind, Rng&, bool);
template void init_weights<double>(Model<double>&, InitKind, Rng&, bool);

}  // namespace recur
