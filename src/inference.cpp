// The inference pass (include/recur/inference.hpp): every sequence read the same
// way whatever else is in its batch.
#include "recur/inference.hpp"

#include <algorithm>
#include <numeric>

#include "kernels.hpp"
#include "recur/cells/gru.hpp"
#include "recur/cells/lstm.hpp"
#include "recur/cells/rnn.hpp"
#include "recur/layers.hpp"

namespace recur {

using kernels::padded;
using kernels::rows_times;

template <class T>
struct Reader<T>::Layer {
  CellKind cell = CellKind::rnn_tanh;
  int in = 0, H = 0, G = 0;
  Matrix<T> table;          // layer 0: (V + 1, GHp), the input half of the gates for every symbol; row V: unknown
  Matrix<T> wih_t;          // layers above, and layer 0 with subwords: W_ih^T (in, GHp)
  std::vector<T> b_ih;      // (GH)
  Matrix<T> whh_t;          // W_hh^T (H, GHp)
  std::vector<T> b_hh;      // (GH), empty when the model has no second bias
};

namespace {

// W (rows, cols) -> W^T (cols, padded rows), zero in the padding.
template <class T>
Matrix<T> transposed_padded(const ConstMatrixMap<T>& w) {
  Matrix<T> t = Matrix<T>::Zero(w.cols(), padded<T>(int(w.rows())));
  t.leftCols(w.rows()) = w.transpose();
  return t;
}

template <class T>
std::vector<T> vector_of(const ConstMatrixMap<T>& v) {
  return std::vector<T>(v.data(), v.data() + v.size());
}

// y[j] += b[j], j < n: one rounding per element, the same in any row.
template <class T>
void add_bias(T* y, const std::vector<T>& b) {
  for (std::size_t j = 0; j < b.size(); ++j) y[j] += b[j];
}

}  // namespace

template <class T>
Reader<T>::Reader(const Model<T>& m, const TokenBags* bags) : cfg_(m.config()) {
  if (cfg_.subwords.enabled()) {
    if (!bags || bags->vocab() != cfg_.vocab || bags->spec().buckets != cfg_.subwords.buckets)
      throw Error("a model with subwords is read through its vocabulary's subword bags (internal: none given)");
    const ConstMatrixMap<T> E = m.param("embedding.weight"), S = m.param("subwords.weight");
    inputs_.resize(E.rows() + S.rows(), cfg_.embed);
    inputs_.topRows(E.rows()) = E;
    inputs_.bottomRows(S.rows()) = S;
  }
  const int H = cfg_.hidden, G = gates_of(cfg_.cell), GH = G * H, D = cfg_.directions();
  Hp_ = padded<T>(H);
  GHp_ = padded<T>(GH);
  for (int k = 0; k < cfg_.layers; ++k)
    for (int d = 0; d < D; ++d) {
      const std::string s = "_l" + std::to_string(k) + (d ? "_reverse" : "");
      auto l = std::make_shared<Layer>();
      l->cell = cfg_.cell, l->H = H, l->G = G;
      const ConstMatrixMap<T> W_ih = m.param("rnn.weight_ih" + s);
      l->in = int(W_ih.cols());
      l->b_ih = vector_of<T>(m.param("rnn.bias_ih" + s));
      if (m.table().find("rnn.bias_hh" + s)) l->b_hh = vector_of<T>(m.param("rnn.bias_hh" + s));
      l->whh_t = transposed_padded<T>(m.param("rnn.weight_hh" + s));
      if (k == 0) {
        // table[v] = W_ih x_v + b_ih: x_v one-hot (column v of W_ih) or embedding row v.
        l->table = Matrix<T>::Zero(cfg_.vocab + 1, GHp_);
        if (cfg_.subwords.enabled()) {  // the bag's mean, then W_ih: reading a word outside the vocabulary does the same
          std::vector<int> vocab_ids(static_cast<std::size_t>(cfg_.vocab));
          std::iota(vocab_ids.begin(), vocab_ids.end(), 0);
          const Matrix<T> X = bag_means(vocab_ids, *bags);
          l->wih_t = transposed_padded<T>(W_ih);
          rows_times<T>(X.data(), cfg_.embed, cfg_.vocab, cfg_.embed, l->wih_t.data(), GHp_, l->table.data(), GHp_, false);
        } else if (cfg_.embed > 0) {
          const ConstMatrixMap<T> E = m.param("embedding.weight");
          const Matrix<T> wih_t = transposed_padded<T>(W_ih);
          rows_times<T>(E.data(), cfg_.embed, cfg_.vocab, cfg_.embed, wih_t.data(), GHp_, l->table.data(), GHp_, false);
        } else {
          l->table.topLeftCorner(cfg_.vocab, GH) = W_ih.transpose();
        }
        for (int v = 0; v <= cfg_.vocab; ++v) add_bias(l->table.row(v).data(), l->b_ih);  // row V: x = 0
      } else {
        l->wih_t = transposed_padded<T>(W_ih);
      }
      layers_.push_back(std::move(l));
    }
  head_wt_ = transposed_padded<T>(m.param("head.weight"));
  Cp_ = int(head_wt_.cols());
  const ConstMatrixMap<T> hb = m.param("head.bias");
  head_b_ = Eigen::Map<const Vector<T>>(hb.data(), hb.size());
  if (cfg_.task == Task::classify && cfg_.pool == PoolKind::attention) {
    const auto q = m.param("pool.query");
    pool_q_ = Eigen::Map<const Vector<T>>(q.data(), q.size());
  }
}

template <class T>
Matrix<T> Reader<T>::bag_means(const std::vector<int>& ids, const TokenBags& bags) const {
  Matrix<T> X = Matrix<T>::Zero(Eigen::Index(ids.size()), cfg_.embed);
  for (std::size_t r = 0; r < ids.size(); ++r) {
    const int *first = bags.begin(ids[r]), *last = bags.end(ids[r]);
    for (const int* q = first; q != last; ++q) X.row(Eigen::Index(r)) += inputs_.row(*q);
    X.row(Eigen::Index(r)) /= T(last - first);
  }
  return X;
}

// One step of a layer-direction for `rows` rows: hh = h W_hh^T (+ b_hh), then
// the cell on each row alone, h and c updated in place. zx row r is
// zx_rows[r]. gates_out, when given, receives each row's gate
// activations (stride ld_gates).
template <class T>
void Reader<T>::cell_rows(const Layer& l, int rows, const T* const* zx_rows, T* h, T* c, T* scratch,
                          T* gates_out, int ld_gates) const {
  const int H = l.H, GH = l.G * l.H;
  T* hh = scratch;                                     // (rows, GHp)
  T* gates = scratch + std::size_t(rows) * GHp_;       // (1, GHp)
  T* aux = gates + GHp_;                               // (1, Hp): tanh(c) or W_hn h + b_hn
  rows_times<T>(h, Hp_, rows, H, l.whh_t.data(), GHp_, hh, GHp_, false);
  for (int r = 0; r < rows; ++r) {
    T* hh_r = hh + std::size_t(r) * GHp_;
    if (!l.b_hh.empty()) add_bias(hh_r, l.b_hh);
    const T* zx_r = zx_rows[r];
    T* h_r = h + std::size_t(r) * Hp_;
    T* c_r = c + std::size_t(r) * Hp_;
    switch (l.cell) {
      case CellKind::rnn_tanh:
      case CellKind::rnn_relu:
        rnn_cell::forward(l.cell == CellKind::rnn_relu, 1, H, zx_r, hh_r, h_r);
        break;
      case CellKind::lstm:
        lstm_cell::forward(1, H, zx_r, hh_r, c_r, gates, aux, c_r, h_r);
        break;
      case CellKind::gru:
        gru_cell::forward(1, H, zx_r, hh_r, h_r, gates, aux, h_r);
        break;
    }
    if (gates_out && l.G > 1) std::copy(gates, gates + GH, gates_out + std::size_t(r) * ld_gates);
  }
}

template <class T>
void Reader<T>::head_rows(const T* features, int ld, int rows, Matrix<T>& logits) const {
  const int C = cfg_.classes, DH = cfg_.directions() * cfg_.hidden;
  Matrix<T> y(rows, Cp_);
  rows_times<T>(features, ld, rows, DH, head_wt_.data(), Cp_, y.data(), Cp_, false);
  logits.resize(rows, C);
  for (int r = 0; r < rows; ++r)
    for (int j = 0; j < C; ++j) logits(r, j) = y(r, j) + head_b_[j];
}

template <class T>
void Reader<T>::classify(const std::vector<std::vector<int>>& seqs, Matrix<T>& probs,
                         std::vector<ReadTrace<T>>* traces, Matrix<T>* logits_out, const TokenBags* bags) const {
  const int B = int(seqs.size()), H = cfg_.hidden, L = cfg_.layers, D = cfg_.directions(), G = gates_of(cfg_.cell);
  const int DH = D * H, DHp = padded<T>(DH);
  // Subwords: the words outside the vocabulary, each once, and the mean of
  // each one's rows; their input half of the gates follows the table's rows.
  std::vector<int> outside;
  std::vector<int> outside_row;  // [id - V]: its index in `outside`, -1 when absent
  if (cfg_.subwords.enabled())
    for (const auto& seq : seqs)
      for (const int id : seq) {
        if (id < cfg_.vocab) continue;
        if (!bags || id >= bags->size()) throw Error("a word outside the vocabulary without its subword bag (internal)");
        if (outside_row.empty()) outside_row.assign(std::size_t(bags->size() - cfg_.vocab), -1);
        int& row = outside_row[std::size_t(id - cfg_.vocab)];
        if (row < 0) row = int(outside.size()), outside.push_back(id);
      }
  const Matrix<T> outside_x = outside.empty() ? Matrix<T>() : bag_means(outside, *bags);
  Matrix<T> outside_zx;  // layer 0: their input half of the gates (outside.size(), GHp)
  // Longest first, so the sequences still reading at any step are the first rows.
  std::vector<int> order(static_cast<std::size_t>(B));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return seqs[std::size_t(a)].size() > seqs[std::size_t(b)].size(); });
  std::vector<int> len(static_cast<std::size_t>(B));
  for (int r = 0; r < B; ++r) len[std::size_t(r)] = int(seqs[std::size_t(order[std::size_t(r)])].size());
  const int Tn = B ? len[0] : 0;
  auto active = [&](int s) {  // sequences with more than s tokens: a prefix of the rows
    return int(std::upper_bound(len.begin(), len.end(), s, [](int s, int l) { return l <= s; }) - len.begin());
  };
  if (traces) {
    traces->assign(std::size_t(B), ReadTrace<T>());
    for (int b = 0; b < B; ++b) {
      ReadTrace<T>& tr = (*traces)[std::size_t(b)];
      tr.steps = int(seqs[std::size_t(b)].size()), tr.units = L * D, tr.hidden = H;
      tr.h.setZero(tr.steps, L * D * H);
      if (cfg_.cell == CellKind::lstm) tr.c.setZero(tr.steps, L * D * H);
      if (G > 1) tr.gates.setZero(tr.steps, L * D * G * H);
    }
  }

  Matrix<T> out = Matrix<T>::Zero(std::size_t(Tn) * B, DHp);  // this layer's outputs, row t*B + r
  Matrix<T> below, zx, feat = Matrix<T>::Zero(B, DHp);
  Matrix<T> h(B, Hp_), c(B, Hp_), gates_rows(B, GHp_);
  Matrix<T> scratch(std::size_t(B) + 2, GHp_);
  std::vector<const T*> zx_of(static_cast<std::size_t>(B));
  for (int k = 0; k < L; ++k) {
    if (k > 0) {  // the input half of every gate, every step, from the layer below: one product
      below.swap(out);
      out.setZero(std::size_t(Tn) * B, DHp);
    }
    for (int d = 0; d < D; ++d) {
      const Layer& l = *layers_[std::size_t(k) * D + d];
      if (k > 0) {
        zx.resize(std::size_t(Tn) * B, GHp_);
        rows_times<T>(below.data(), DHp, Tn * B, DH, l.wih_t.data(), GHp_, zx.data(), GHp_, false);
        for (Eigen::Index r = 0; r < zx.rows(); ++r) add_bias(zx.row(r).data(), l.b_ih);
      } else if (!outside.empty()) {
        outside_zx.resize(Eigen::Index(outside.size()), GHp_);
        rows_times<T>(outside_x.data(), cfg_.embed, int(outside.size()), cfg_.embed, l.wih_t.data(), GHp_,
                      outside_zx.data(), GHp_, false);
        for (Eigen::Index r = 0; r < outside_zx.rows(); ++r) add_bias(outside_zx.row(r).data(), l.b_ih);
      }
      h.setZero();
      c.setZero();
      for (int s = 0; s < Tn; ++s) {
        const int n = active(s);
        for (int r = 0; r < n; ++r) {  // the row of each sequence's input at this step
          const int t = d == 0 ? s : len[std::size_t(r)] - 1 - s;
          if (k == 0) {
            const int id = seqs[std::size_t(order[std::size_t(r)])][std::size_t(t)];
            zx_of[std::size_t(r)] = id >= 0 && id < cfg_.vocab                 ? l.table.row(id).data()
                                    : id >= cfg_.vocab && !outside.empty() ? outside_zx.row(outside_row[std::size_t(id - cfg_.vocab)]).data()
                                                                           : l.table.row(cfg_.vocab).data();
          } else {
            zx_of[std::size_t(r)] = zx.row(std::size_t(t) * B + r).data();
          }
        }
        cell_rows(l, n, zx_of.data(), h.data(), c.data(), scratch.data(),
                  traces && G > 1 ? gates_rows.data() : nullptr, GHp_);
        for (int r = 0; r < n; ++r) {
          const int t = d == 0 ? s : len[std::size_t(r)] - 1 - s;
          std::copy(h.row(r).data(), h.row(r).data() + H, out.row(std::size_t(t) * B + r).data() + std::size_t(d) * H);
          if (!traces) continue;
          ReadTrace<T>& tr = (*traces)[std::size_t(order[std::size_t(r)])];
          const std::size_t unit = std::size_t(k) * D + d;
          std::copy(h.row(r).data(), h.row(r).data() + H, tr.h.row(t).data() + unit * H);
          if (tr.c.size()) std::copy(c.row(r).data(), c.row(r).data() + H, tr.c.row(t).data() + unit * H);
          if (tr.gates.size())
            std::copy(gates_rows.row(r).data(), gates_rows.row(r).data() + G * H, tr.gates.row(t).data() + unit * G * H);
        }
      }
      if (k == L - 1 && cfg_.pool == PoolKind::last)  // final states: forward at the last token, reverse at the first (PyTorch's h_n)
        for (int r = 0; r < B; ++r) std::copy(h.row(r).data(), h.row(r).data() + H, feat.row(r).data() + std::size_t(d) * H);
    }
  }
  if (cfg_.pool != PoolKind::last)  // the top layer's outputs pooled over time, each sequence alone
    pool_forward<T>(cfg_.pool, out.data(), DHp, Tn, B, len.data(), DH, pool_q_.data(), feat.data(), DHp, nullptr);
  Matrix<T> logits, one(1, cfg_.classes), p;
  head_rows(feat.data(), DHp, B, logits);
  probs.resize(B, cfg_.classes);
  if (logits_out) logits_out->resize(B, cfg_.classes);
  for (int r = 0; r < B; ++r) {  // each row's softmax on its own aligned buffer
    one = logits.row(r);
    softmax_rows<T>(one, p);
    probs.row(order[std::size_t(r)]) = p;
    if (logits_out) logits_out->row(order[std::size_t(r)]) = one;
  }
}

template <class T>
void Reader<T>::step(const std::vector<int>& ids, State& state, Matrix<T>& logits) const {
  const int B = int(ids.size()), H = cfg_.hidden, L = cfg_.layers;
  if (cfg_.bidirectional) throw Error("a bidirectional model does not read one step at a time");
  if (state.streams != B || int(state.h.size()) != L) {
    state.streams = B;
    state.h.assign(std::size_t(L), Matrix<T>::Zero(B, Hp_));
    state.c.assign(std::size_t(L), Matrix<T>::Zero(B, Hp_));
  }
  std::vector<const T*> zx_of(static_cast<std::size_t>(B));
  Matrix<T> zx(B, GHp_), scratch(std::size_t(B) + 2, GHp_);
  for (int k = 0; k < L; ++k) {
    const Layer& l = *layers_[std::size_t(k)];
    for (int b = 0; b < B; ++b) {
      const int id = ids[std::size_t(b)];
      zx_of[std::size_t(b)] = k == 0 ? l.table.row(id >= 0 && id < cfg_.vocab ? id : cfg_.vocab).data() : zx.row(b).data();
    }
    if (k > 0) {
      rows_times<T>(state.h[std::size_t(k) - 1].data(), Hp_, B, H, l.wih_t.data(), GHp_, zx.data(), GHp_, false);
      for (int b = 0; b < B; ++b) add_bias(zx.row(b).data(), l.b_ih);
    }
    cell_rows(l, B, zx_of.data(), state.h[std::size_t(k)].data(),
              state.c[std::size_t(k)].data(), scratch.data(), nullptr, 0);
  }
  head_rows(state.h[std::size_t(L) - 1].data(), Hp_, B, logits);
}

template <class T>
void Reader<T>::read(const std::vector<int>& ids, State& state, Matrix<T>& logits, ReadTrace<T>* trace) const {
  const int Tn = int(ids.size()), H = cfg_.hidden, L = cfg_.layers, G = gates_of(cfg_.cell);
  if (cfg_.bidirectional) throw Error("a bidirectional model does not read one step at a time");
  if (state.streams != 1 || int(state.h.size()) != L) {
    state.streams = 1;
    state.h.assign(std::size_t(L), Matrix<T>::Zero(1, Hp_));
    state.c.assign(std::size_t(L), Matrix<T>::Zero(1, Hp_));
  }
  if (trace) {
    trace->steps = Tn, trace->units = L, trace->hidden = H;
    trace->h.setZero(Tn, L * H);
    trace->c.resize(cfg_.cell == CellKind::lstm ? Tn : 0, L * H);
    trace->gates.resize(G > 1 ? Tn : 0, L * G * H);
  }
  logits.resize(Tn, cfg_.classes);
  Matrix<T> zx(1, GHp_), scratch(3, GHp_), gates(1, GHp_), step_logits;
  for (int t = 0; t < Tn; ++t) {
    for (int k = 0; k < L; ++k) {
      const Layer& l = *layers_[std::size_t(k)];
      const int id = ids[std::size_t(t)];
      const T* row = zx.data();
      if (k == 0) {
        row = l.table.row(id >= 0 && id < cfg_.vocab ? id : cfg_.vocab).data();
      } else {
        rows_times<T>(state.h[std::size_t(k) - 1].data(), Hp_, 1, H, l.wih_t.data(), GHp_, zx.data(), GHp_, false);
        add_bias(zx.data(), l.b_ih);
      }
      cell_rows(l, 1, &row, state.h[std::size_t(k)].data(),
                state.c[std::size_t(k)].data(), scratch.data(), trace && G > 1 ? gates.data() : nullptr, GHp_);
      if (trace) {
        std::copy(state.h[std::size_t(k)].data(), state.h[std::size_t(k)].data() + H,
                  trace->h.row(t).data() + std::size_t(k) * H);
        if (trace->c.size())
          std::copy(state.c[std::size_t(k)].data(), state.c[std::size_t(k)].data() + H,
                    trace->c.row(t).data() + std::size_t(k) * H);
        if (trace->gates.size())
          std::copy(gates.data(), gates.data() + G * H, trace->gates.row(t).data() + std::size_t(k) * G * H);
      }
    }
    head_rows(state.h[std::size_t(L) - 1].data(), Hp_, 1, step_logits);
    logits.row(t) = step_logits.row(0);
  }
  if (trace) trace->logits = logits;
}

HiddenStates hidden_states_of(const ReadTrace<float>& tr, const ModelConfig& c) {
  HiddenStates s;
  s.steps = tr.steps, s.units = tr.units, s.hidden = tr.hidden, s.gates = gates_of(c.cell);
  for (int k = 0; k < c.layers; ++k)
    for (int d = 0; d < c.directions(); ++d)
      s.unit_names.push_back("layer " + std::to_string(k) + (c.bidirectional ? d ? " reverse" : " forward" : ""));
  s.h.assign(tr.h.data(), tr.h.data() + tr.h.size());
  s.c.assign(tr.c.data(), tr.c.data() + tr.c.size());
  s.gate_values.assign(tr.gates.data(), tr.gates.data() + tr.gates.size());
  return s;
}

template class Reader<float>;
template class Reader<double>;

}  // namespace recur
