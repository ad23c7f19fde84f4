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
  }
  return "?";
}

InitKind init_from_string(const std::string& s) {
  for (InitKind k : {InitKind::seed, InitKind::pytorch, InitKind::xavier, InitKind::orthogonal})
    if (to_string(k) == s) return k;
  throw Error("unknown init '" + s + "' (known: seed, pytorch, xavier, orthogonal)");
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
  for (int k = 0; k < c.layers; ++k)
    for (long d = 0; d < D; ++d) {
      const std::string s = "_l" + std::to_string(k) + (d ? "_reverse" : "");
      const long in = k > 0 ? D * H : c.embed > 0 ? c.embed : c.vocab;
      out.push_back({"rnn.weight_ih" + s, {GH, in}});
      out.push_back({"rnn.weight_hh" + s, {GH, H}});
      out.push_back({"rnn.bias_ih" + s, {GH}});
      if (c.bias_hh) out.push_back({"rnn.bias_hh" + s, {GH}});
    }
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
  tensor("rnn.weight_ih_l0", GH, in0, D);
  if (layers > 1) tensor("rnn.weight_ih_l1", GH, D * H, D * (layers - 1));
  tensor("rnn.weight_hh_l0", GH, H, D * layers);
  tensor("rnn.bias_ih_l0", GH, 1, D * layers * (c.bias_hh ? 2 : 1));
  tensor("head.weight", c.classes, D * H, 1);
  tensor("head.bias", c.classes, 1, 1);
  if (total > limit)
    throw Error("the model's parameters would take " + std::to_string(std::uint64_t(total)) +
                " bytes, more than RECUR_MAX_TENSOR_BYTES allows (" + std::to_string(limit) +
                "): a smaller vocabulary, hidden size, embedding or fewer layers");
}

long Batch::tokens() const { return std::accumulate(lengths.begin(), lengths.end(), 0L); }

Batch make_batch(const std::vector<std::vector<int>>& seqs, const std::vector<int>& targets,
                 const std::vector<int>& which) {
  Batch b;
  b.B = int(which.size());
  for (int i : which) b.T = std::max(b.T, int(seqs[std::size_t(i)].size()));
  b.ids.assign(std::size_t(b.T) * b.B, -1);
  for (int j = 0; j < b.B; ++j) {
    const auto& s = seqs[std::size_t(which[std::size_t(j)])];
    if (s.empty()) throw Error("empty sequence in a batch");
    for (std::size_t t = 0; t < s.size(); ++t) b.ids[t * b.B + std::size_t(j)] = s[t];
    b.lengths.push_back(int(s.size()));
    if (!targets.empty()) b.targets.push_back(targets[std::size_t(which[std::size_t(j)])]);
  }
  return b;
}

template <class T>
Model<T>::Model(const ModelConfig& cfg) : cfg_(cfg) {
  if (cfg.task == Task::lm && (cfg.bidirectional || cfg.classes != cfg.vocab))
    throw Error("a language model is unidirectional and predicts its own vocabulary");
  check_model_size(cfg);  // before anything is allocated
  if (!(cfg.dropout >= 0 && cfg.dropout < 1)) throw Error("dropout must be in [0, 1)");
  const int H = cfg.hidden, GH = gates_of(cfg.cell) * H, D = cfg.directions();
  if (cfg.embed > 0) embedding_ = table_.add_matrix("embedding.weight", cfg.vocab, cfg.embed);
  for (int k = 0; k < cfg.layers; ++k)
    for (int d = 0; d < D; ++d) {
      const std::string s = "_l" + std::to_string(k) + (d ? "_reverse" : "");
      Slots l;
      l.in = k > 0 ? D * H : cfg.embed > 0 ? cfg.embed : cfg.vocab;
      l.W_ih = table_.add_matrix("rnn.weight_ih" + s, GH, l.in);
      l.W_hh = table_.add_matrix("rnn.weight_hh" + s, GH, H);
      l.b_ih = table_.add_vector("rnn.bias_ih" + s, GH);
      if (cfg.bias_hh) l.b_hh = table_.add_vector("rnn.bias_hh" + s, GH);
      slots_.push_back(l);
    }
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
  const int H = cfg_.hidden, GH = gates_of(cfg_.cell) * H;
  if (cfg_.embed > 0) fill(embedding_, cfg_.vocab, cfg_.embed);
  for (const Slots& l : slots_) {
    fill(l.W_hh, GH, H);
    fill(l.W_ih, GH, l.in);
  }
  fill(head_w_, cfg_.classes, cfg_.directions() * H);
}

template <class T>
void Model<T>::forward(const Batch& b, Workspace& ws, Rng* rng) const {
  const int H = cfg_.hidden, L = cfg_.layers, D = cfg_.directions(), GH = gates_of(cfg_.cell) * H;
  const std::size_t TB = std::size_t(b.T) * b.B;
  ws.cache.resize(std::size_t(L) * D);
  ws.zx.resize(std::size_t(L) * D);
  ws.y.resize(L);
  ws.mask.resize(L);
  if (cfg_.embed > 0) {
    const auto E = cmat(w_, embedding_, cfg_.vocab, cfg_.embed);
    ws.x.resize(TB, cfg_.embed);
    for (std::size_t r = 0; r < TB; ++r) {
      if (b.ids[r] >= 0)
        ws.x.row(r) = E.row(b.ids[r]);
      else
        ws.x.row(r).setZero();
    }
  }
  for (int k = 0; k < L; ++k) {
    const Matrix<T>* in = k > 0 ? &ws.y[k - 1] : cfg_.embed > 0 ? &ws.x : nullptr;
    for (int d = 0; d < D; ++d) {
      const Slots& l = slots_[std::size_t(k) * D + d];
      Matrix<T>& zx = ws.zx[std::size_t(k) * D + d];
      const auto W_ih = cmat(w_, l.W_ih, GH, l.in);
      if (in) {
        zx.noalias() = *in * W_ih.transpose();
      } else {
        zx.resize(TB, GH);
        for (std::size_t r = 0; r < TB; ++r) {
          if (b.ids[r] >= 0)
            zx.row(r) = W_ih.col(b.ids[r]).transpose();  // W_ih x_t for one-hot x_t
          else
            zx.row(r).setZero();  // unknown word or padding: x_t = 0
        }
      }
      zx.rowwise() += cmat(w_, l.b_ih, 1, GH).row(0);
      const bool carried = d == 0 && std::size_t(k) < ws.h0.size() && ws.h0[k].size();
      const bool carried_c = carried && std::size_t(k) < ws.c0.size() && ws.c0[k].size();
      recurrent_forward<T>(cfg_.cell, cmat(w_, l.W_hh, GH, H), l.b_hh ? w_.data() + l.b_hh : nullptr, zx,
                           b.lengths, d == 1, ws.cache[std::size_t(k) * D + d], carried ? &ws.h0[k] : nullptr,
                           carried_c ? &ws.c0[k] : nullptr);
    }
    Matrix<T>& y = ws.y[k];
    y.resize(TB, D * H);
    for (int d = 0; d < D; ++d)
      for (int t = 0; t < b.T; ++t)
        y.block(std::size_t(t) * b.B, std::size_t(d) * H, b.B, H) = ws.cache[std::size_t(k) * D + d].output(t);
    // Dropout on every layer's outputs; a classifier's head reads final
    // states instead of the top layer's outputs, so its mask is drawn below.
    Matrix<T>& mask = ws.mask[k];
    if (rng && cfg_.dropout > 0 && (k < L - 1 || cfg_.task == Task::lm)) {
      draw_dropout_mask(mask, TB, D * H, *rng);
      y.array() *= mask.array();
    } else {
      mask.resize(0, 0);
    }
  }
  ws.final_h.resize(L);
  ws.final_c.resize(L);
  for (int k = 0; k < L; ++k) {
    const auto& c = ws.cache[std::size_t(k) * D];
    ws.final_h[k] = c.final_state();
    if (cfg_.cell == CellKind::lstm) ws.final_c[k] = c.c.bottomRows(b.B);
  }
  const Matrix<T>& features = head_input(b, ws);
  if (cfg_.task == Task::classify) {
    if (rng && cfg_.dropout > 0) {
      draw_dropout_mask(ws.feature_mask, b.B, D * H, *rng);
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
  const int H = cfg_.hidden, L = cfg_.layers, D = cfg_.directions(), GH = gates_of(cfg_.cell) * H;
  const int C = cfg_.classes;
  const std::size_t TB = std::size_t(b.T) * b.B;
  // y = f W_hy^T + b_y:  dW_hy += dy^T f,  db_y += sum_b dy,  df = dy W_hy
  // f is the head's input as forward left it (dropout applied).
  const Matrix<T>& features = cfg_.task == Task::lm ? ws.y[std::size_t(L - 1)] : ws.features;
  mat(g_, head_w_, C, D * H).noalias() += ws.dlogits.transpose() * features;
  mat(g_, head_b_, 1, C) += ws.dlogits.colwise().sum();
  ws.dfeat.noalias() = ws.dlogits * cmat(w_, head_w_, C, D * H);
  const Matrix<T>& top_mask = cfg_.task == Task::lm ? ws.mask[std::size_t(L - 1)] : ws.feature_mask;
  if (top_mask.size()) ws.dfeat.array() *= top_mask.array();
  for (int k = L - 1; k >= 0; --k) {
    const Matrix<T>* in = k > 0 ? &ws.y[k - 1] : cfg_.embed > 0 ? &ws.x : nullptr;
    const bool top = (k == L - 1);
    if (in) {
      ws.din.resize(TB, in->cols());
      ws.din.setZero();
    }
    for (int d = 0; d < D; ++d) {
      const Slots& l = slots_[std::size_t(k) * D + d];
      // The gradient reaching this layer: at its final state (classify, top
      // layer) or at every step's output (lm top layer, or from the layer above).
      const bool at_final = top && cfg_.task == Task::classify;
      if (at_final)
        ws.dh_final = ws.dfeat.middleCols(std::size_t(d) * H, H);
      else
        ws.dh_steps = (top ? ws.dfeat : ws.dy).middleCols(std::size_t(d) * H, H);
      auto dW_hh = mat(g_, l.W_hh, GH, H);
      recurrent_backward<T>(cmat(w_, l.W_hh, GH, H), dW_hh, l.b_hh ? g_.data() + l.b_hh : nullptr,
                            ws.cache[std::size_t(k) * D + d], at_final ? &ws.dh_final : nullptr,
                            at_final ? nullptr : &ws.dh_steps, ws.dzx, ws.scratch);
      mat(g_, l.b_ih, 1, GH) += ws.dzx.colwise().sum();
      auto dW_ih = mat(g_, l.W_ih, GH, l.in);
      if (in) {
        dW_ih.noalias() += ws.dzx.transpose() * *in;
        ws.din.noalias() += ws.dzx * cmat(w_, l.W_ih, GH, l.in);
      } else {
        for (std::size_t r = 0; r < TB; ++r)  // dW_ih x_t^T: column id only
          if (b.ids[r] >= 0) dW_ih.col(b.ids[r]) += ws.dzx.row(r).transpose();
      }
    }
    if (k > 0) {
      ws.dy.swap(ws.din);  // gradient into layer k-1's outputs
      if (ws.mask[k - 1].size()) ws.dy.array() *= ws.mask[k - 1].array();
    } else if (cfg_.embed > 0) {
      auto dE = mat(g_, embedding_, cfg_.vocab, cfg_.embed);
      for (std::size_t r = 0; r < TB; ++r)
        if (b.ids[r] >= 0) dE.row(b.ids[r]) += ws.din.row(r);
    }
  }
}

template <class T>
void Model<T>::draw_dropout_mask(Matrix<T>& mask, std::size_t rows, int cols, Rng& rng) const {
  mask.resize(rows, cols);
  const T keep = T(1 - cfg_.dropout);
  for (Eigen::Index i = 0; i < mask.size(); ++i) mask.data()[i] = rng.uniform() < double(keep) ? T(1) / keep : T(0);
}

template <class T>
const Matrix<T>& Model<T>::head_input(const Batch& b, Workspace& ws) const {
  if (cfg_.task == Task::lm) return ws.y[std::size_t(cfg_.layers - 1)];
  const int H = cfg_.hidden, D = cfg_.directions();
  ws.features.resize(b.B, D * H);
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
      if (p.name == "embedding.weight") {
        for (Eigen::Index i = 0; i < w.size(); ++i) w.data()[i] = T(rng.randn());
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
