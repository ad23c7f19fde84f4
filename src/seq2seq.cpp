// The encoder–decoder (what it computes: include/recur/seq2seq.hpp; the
// backward pass derived: docs/seq2seq.md).
#include "recur/seq2seq.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "recur/cells/gru.hpp"
#include "recur/cells/lstm.hpp"
#include "recur/cells/rnn.hpp"
#include "kernels.hpp"
#include "recur/layers.hpp"
#include "views.hpp"

namespace recur {

std::string to_string(AttentionKind a) {
  switch (a) {
    case AttentionKind::none: return "none";
    case AttentionKind::dot: return "dot";
    case AttentionKind::general: return "general";
    case AttentionKind::additive: return "additive";
  }
  return "?";
}

AttentionKind attention_from_string(const std::string& s) {
  for (AttentionKind a : {AttentionKind::none, AttentionKind::dot, AttentionKind::general, AttentionKind::additive})
    if (to_string(a) == s) return a;
  throw Error("unknown attention '" + s + "' (known: none, dot, general, additive)");
}

namespace {

// Row s*B + b of a time-major (S*B, W) matrix, for s = 0..S-1: sequence b's rows.
template <class M>
auto rows_of(M& m, int b, int S, int B) {
  using Scalar = typename std::remove_const_t<M>::Scalar;
  using Map = std::conditional_t<std::is_const_v<M>, Eigen::Map<const Matrix<Scalar>, 0, Eigen::OuterStride<>>,
                                 Eigen::Map<Matrix<Scalar>, 0, Eigen::OuterStride<>>>;
  return Map(m.data() + std::size_t(b) * m.cols(), S, m.cols(), Eigen::OuterStride<>(Eigen::Index(B) * m.cols()));
}

// Throws unless a configuration is one the engine can build: sizes of at least
// one, and — for a size a file may claim (hostile or corrupt) — every
// dimension the engine indexes with an int within reach, before anything is
// computed from them or allocated. (Each tensor's bytes are checked once the
// table is laid out.)
const Seq2SeqConfig& checked(const Seq2SeqConfig& c) {
  if (c.tgt_vocab < 2 || c.hidden < 1 || c.layers < 1 || c.embed < 0 || c.encoder.vocab < 1 || c.encoder.hidden < 1 ||
      c.encoder.layers < 1)
    throw Error("invalid sequence-to-sequence model size");
  constexpr int kMaxDim = 1 << 24;
  for (const int d : {c.tgt_vocab, c.hidden, c.embed, c.encoder.vocab, c.encoder.hidden, c.encoder.embed})
    if (d > kMaxDim)
      throw Error("a sequence-to-sequence model with a size of " + std::to_string(d) + " (at most " +
                  std::to_string(kMaxDim) + ")");
  if (c.layers > kMaxLayers || c.encoder.layers > kMaxLayers)
    throw Error("a sequence-to-sequence model of more than " + std::to_string(kMaxLayers) + " layers");
  return c;
}

// y = x A, or y += x A with `add`: on the rows kernel when A is given packed in
// its panels (Seq2Seq::StepPanels), else with BLAS.
template <class T, class A>
void times(const Matrix<T>& x, const Buffer<T>* packed, const A& a, Matrix<T>& y, bool add = false) {
  if (!packed) {
    if (add)
      y.noalias() += x * a;
    else
      y.noalias() = x * a;
    return;
  }
  const int cols = int(a.cols());
  if (!add) y.resize(x.rows(), cols);
  kernels::rows_times_panels<T>(x.data(), int(x.cols()), int(x.rows()), int(x.cols()), packed->data(), cols, y.data(),
                                cols, add);
}

}  // namespace

template <class T>
Seq2Seq<T>::Seq2Seq(const Seq2SeqConfig& c) : cfg_(checked(c)) {
  const int Hd = c.hidden, GH = gates_of(c.cell) * Hd, W = c.source_width();
  if (c.attention == AttentionKind::dot && Hd != W)
    throw Error("--attention dot compares decoder states with encoder outputs, so the decoder's hidden size (" +
                std::to_string(Hd) + ") must equal the encoder's output width (" + std::to_string(W) +
                "); use --attention general or additive");
  encoder_ = Stack(c.encoder, table_, "encoder.");
  if (!c.copies_state())
    for (int k = 0; k < c.layers; ++k) {
      bridge_w_.push_back(table_.add_matrix("bridge.weight_l" + std::to_string(k), Hd, W));
      bridge_b_.push_back(table_.add_vector("bridge.bias_l" + std::to_string(k), Hd));
    }
  if (c.embed > 0) embedding_ = table_.add_matrix("decoder.embedding.weight", c.tgt_vocab, c.embed);
  for (int k = 0; k < c.layers; ++k) {
    Layer l;
    l.in = k > 0 ? Hd : (c.embed > 0 ? c.embed : c.tgt_vocab) + (c.input_feeding ? Hd : 0);
    const std::string s = "_l" + std::to_string(k);
    l.W_ih = table_.add_matrix("decoder.rnn.weight_ih" + s, GH, l.in);
    l.W_hh = table_.add_matrix("decoder.rnn.weight_hh" + s, GH, Hd);
    l.b_ih = table_.add_vector("decoder.rnn.bias_ih" + s, GH);
    if (c.bias_hh) l.b_hh = table_.add_vector("decoder.rnn.bias_hh" + s, GH);
    dec_.push_back(l);
  }
  if (c.attention == AttentionKind::general) att_w_ = table_.add_matrix("attention.weight", Hd, W);
  if (c.attention == AttentionKind::additive) {
    att_q_ = table_.add_matrix("attention.query.weight", Hd, Hd);
    att_k_ = table_.add_matrix("attention.key.weight", Hd, W);
    att_v_ = table_.add_vector("attention.v", Hd);
  }
  if (c.attention != AttentionKind::none) {
    comb_w_ = table_.add_matrix("attention.combine.weight", Hd, W + Hd);
    comb_b_ = table_.add_vector("attention.combine.bias", Hd);
  }
  head_w_ = table_.add_matrix("head.weight", c.tgt_vocab, Hd);
  head_b_ = table_.add_vector("head.bias", c.tgt_vocab);
  const std::uint64_t limit = max_tensor_bytes();
  for (const ParamSpec& p : table_.specs())
    if (std::uint64_t(p.size()) * 4 > limit)
      throw Error("the model's " + p.name + " would take " + std::to_string(std::uint64_t(p.size()) * 4) +
                  " bytes, more than RECUR_MAX_TENSOR_BYTES allows (" + std::to_string(limit) + ")");
  if (std::uint64_t(table_.total()) * 4 > limit)
    throw Error("the model's parameters would take " + std::to_string(std::uint64_t(table_.total()) * 4) +
                " bytes, more than RECUR_MAX_TENSOR_BYTES allows (" + std::to_string(limit) + ")");
  w_.assign(table_.total(), T(0));
  g_.assign(table_.total(), T(0));
}

template <class T>
MatrixMap<T> Seq2Seq<T>::param(const std::string& name) {
  const ParamSpec& p = table_.at(name);
  return mat(w_, p.offset, p.rows, p.cols);
}

template <class T>
ConstMatrixMap<T> Seq2Seq<T>::param(const std::string& name) const {
  const ParamSpec& p = table_.at(name);
  return cmat(w_, p.offset, p.rows, p.cols);
}

// The decoder's initial states from the encoder's final ones (the bridge).
template <class T>
void Seq2Seq<T>::bridge_forward(int B, Workspace& ws) const {
  const int Hd = cfg_.hidden, W = cfg_.source_width(), De = cfg_.encoder.directions(), He = cfg_.encoder.hidden;
  ws.h0.resize(std::size_t(cfg_.layers));
  ws.c0.resize(std::size_t(cfg_.layers));
  for (int k = 0; k < cfg_.layers; ++k) {
    if (cfg_.copies_state()) {
      ws.h0[k] = ws.enc.final_h[std::size_t(k)];
      if (cfg_.cell == CellKind::lstm) ws.c0[k] = ws.enc.final_c[std::size_t(k)];
      continue;
    }
    const int ke = std::min(k, cfg_.encoder.layers - 1);
    Matrix<T> s(B, W);
    for (int d = 0; d < De; ++d) s.middleCols(std::size_t(d) * He, He) = ws.enc.cache[std::size_t(ke) * De + d].final_state();
    ws.h0[k].noalias() = s * cmat(w_, bridge_w_[std::size_t(k)], Hd, W).transpose();
    ws.h0[k].rowwise() += cmat(w_, bridge_b_[std::size_t(k)], 1, Hd).row(0);
    ws.h0[k] = ws.h0[k].array().tanh().matrix();
    if (cfg_.cell == CellKind::lstm) ws.c0[k].setZero(B, Hd);
  }
}

template <class T>
void Seq2Seq<T>::pack_panels(int B, StepPanels& p, bool backward) const {
  p.on = false;
  if constexpr (std::is_same_v<T, float>) {
    const int Hd = cfg_.hidden, GH = gates_of(cfg_.cell) * Hd, W = cfg_.source_width(), L = cfg_.layers;
    const bool attend = cfg_.attention != AttentionKind::none;
    if (!kernels::panels_pay(B, {Hd, GH, attend ? W + Hd : Hd})) return;
    std::vector<int> dense(static_cast<std::size_t>(L));
    for (int k = 0; k < L; ++k) {
      dense[k] = dec_[std::size_t(k)].in - (k == 0 && cfg_.embed == 0 ? cfg_.tgt_vocab : 0);
      if (!kernels::panels_pay(B, {dense[k]})) return;
    }
    p.ih.resize(std::size_t(L)), p.hh.resize(std::size_t(L)), p.ih_back.resize(std::size_t(L)), p.hh_back.resize(std::size_t(L));
    for (int k = 0; k < L; ++k) {
      const Layer& l = dec_[std::size_t(k)];
      const auto W_ih = cmat(w_, l.W_ih, GH, l.in);
      const auto W_hh = cmat(w_, l.W_hh, GH, Hd);
      const int n = dense[k], from = l.in - n;
      p.ih[k].resize(std::size_t(n) * GH), p.hh[k].resize(std::size_t(Hd) * GH);
      kernels::pack_panels_of_transpose<T>(W_ih.data() + from, l.in, n, GH, p.ih[k].data());
      kernels::pack_panels_of_transpose<T>(W_hh.data(), Hd, Hd, GH, p.hh[k].data());
      if (!backward) continue;
      p.ih_back[k].resize(std::size_t(n) * GH), p.hh_back[k].resize(std::size_t(Hd) * GH);
      kernels::pack_panels<T>(GH, n, [&](int i, int j) { return W_ih(i, from + j); }, p.ih_back[k].data());
      kernels::pack_panels<T>(GH, Hd, [&](int i, int j) { return W_hh(i, j); }, p.hh_back[k].data());
    }
    if (attend) {
      const auto W_c = cmat(w_, comb_w_, Hd, W + Hd);
      p.comb.resize(std::size_t(Hd) * (W + Hd));
      kernels::pack_panels_of_transpose<T>(W_c.data(), W + Hd, W + Hd, Hd, p.comb.data());
      if (backward) {
        p.comb_back.resize(std::size_t(Hd) * (W + Hd));
        kernels::pack_panels<T>(Hd, W + Hd, [&](int i, int j) { return W_c(i, j); }, p.comb_back.data());
      }
    }
    p.on = true;
  }
}

// One decoder step for R rows: layer 0 reads tokens[r] (and htilde_prev[r]),
// every layer its previous state; then attention, h~. Rows with active[r] == 0
// keep their state (a finished target).
template <class T>
void Seq2Seq<T>::run_step(const StepPanels* panels, int R, const std::vector<Matrix<T>>& h_prev, const std::vector<Matrix<T>>& c_prev,
                          const Matrix<T>& htilde_prev, const int* tokens, const int* active, const Matrix<T>& E,
                          const Matrix<T>& K, int S, int B, const std::vector<int>& src_of,
                          const std::vector<int>& src_len, Step& st, Rng* rng) const {
  const int Hd = cfg_.hidden, L = cfg_.layers, G = gates_of(cfg_.cell), GH = G * Hd, W = cfg_.source_width();
  const bool one_hot = cfg_.embed == 0, feed = cfg_.input_feeding;
  const StepPanels* pp = panels && panels->on ? panels : nullptr;
  st.u.resize(std::size_t(L)), st.zx.resize(std::size_t(L)), st.hh.resize(std::size_t(L)), st.gates.resize(std::size_t(L));
  st.aux.resize(std::size_t(L)), st.h.resize(std::size_t(L)), st.c.resize(std::size_t(L)), st.mask.resize(std::size_t(L));
  for (int k = 0; k < L; ++k) {
    const Layer& l = dec_[std::size_t(k)];
    Matrix<T>& u = st.u[k];
    Matrix<T>& zx = st.zx[k];
    if (k == 0) {  // [emb(y_{t-1}); h~_{t-1}] — or, one-hot, the column of W_ih plus the fed part
      const int E_ = cfg_.embed;
      u.resize(R, (one_hot ? 0 : E_) + (feed ? Hd : 0));
      if (!one_hot) {
        const auto Emb = cmat(w_, embedding_, cfg_.tgt_vocab, E_);
        for (int r = 0; r < R; ++r)
          if (tokens[r] >= 0)
            u.row(r).head(E_) = Emb.row(tokens[r]);
          else
            u.row(r).head(E_).setZero();
      }
      if (feed) u.rightCols(Hd) = htilde_prev;
      const auto W_ih = cmat(w_, l.W_ih, GH, l.in);
      const int dense_from = one_hot ? cfg_.tgt_vocab : 0;
      if (u.cols())
        times(u, pp ? &pp->ih[k] : nullptr, W_ih.rightCols(l.in - dense_from).transpose(), zx);
      else
        zx.setZero(R, GH);
      if (one_hot)
        for (int r = 0; r < R; ++r)
          if (tokens[r] >= 0) zx.row(r) += W_ih.col(tokens[r]).transpose();
    } else {
      u = st.h[k - 1];
      if (st.mask[k - 1].size()) u.array() *= st.mask[k - 1].array();
      times(u, pp ? &pp->ih[k] : nullptr, cmat(w_, l.W_ih, GH, l.in).transpose(), zx);
    }
    zx.rowwise() += cmat(w_, l.b_ih, 1, GH).row(0);
    times(h_prev[k], pp ? &pp->hh[k] : nullptr, cmat(w_, l.W_hh, GH, Hd).transpose(), st.hh[k]);
    if (l.b_hh) st.hh[k].rowwise() += cmat(w_, l.b_hh, 1, GH).row(0);
    st.h[k].resize(R, Hd);
    switch (cfg_.cell) {
      case CellKind::rnn_tanh:
      case CellKind::rnn_relu:
        rnn_cell::forward(cfg_.cell == CellKind::rnn_relu, R, Hd, zx.data(), st.hh[k].data(), st.h[k].data());
        break;
      case CellKind::lstm:
        st.gates[k].resize(R, GH), st.aux[k].resize(R, Hd), st.c[k].resize(R, Hd);
        lstm_cell::forward(R, Hd, zx.data(), st.hh[k].data(), c_prev[k].data(), st.gates[k].data(), st.aux[k].data(),
                           st.c[k].data(), st.h[k].data());
        break;
      case CellKind::gru:
        st.gates[k].resize(R, GH), st.aux[k].resize(R, Hd);
        gru_cell::forward(R, Hd, zx.data(), st.hh[k].data(), h_prev[k].data(), st.gates[k].data(), st.aux[k].data(),
                          st.h[k].data());
        break;
    }
    for (int r = 0; r < R; ++r)
      if (!active[r]) {  // a finished target: the state does not move
        st.h[k].row(r) = h_prev[k].row(r);
        if (cfg_.cell == CellKind::lstm) st.c[k].row(r) = c_prev[k].row(r);
      }
    if (rng && cfg_.dropout > 0 && k < L - 1)
      draw_dropout_mask(st.mask[k], std::size_t(R), Hd, cfg_.dropout, *rng);
    else
      st.mask[k].resize(0, 0);
  }
  const Matrix<T>& q = st.h[std::size_t(L) - 1];
  if (cfg_.attention == AttentionKind::none) {
    st.htilde = q;
  } else {
    st.alpha.setZero(R, S);
    st.ctx.setZero(R, W);
    Matrix<T> Q;  // additive: W_q q
    if (cfg_.attention == AttentionKind::additive) {
      Q.noalias() = q * cmat(w_, att_q_, Hd, Hd).transpose();
      st.tz.resize(std::size_t(R) * S, Hd);
    }
    Vector<T> e(S);
    for (int r = 0; r < R; ++r) {
      const int b = src_of[std::size_t(r)], Ls = src_len[std::size_t(b)];
      if (Ls == 0) continue;  // nothing to attend to: a_t = 0, ctx_t = 0
      const auto Eb = rows_of(E, b, Ls, B);
      switch (cfg_.attention) {
        case AttentionKind::dot: e.head(Ls).noalias() = Eb * q.row(r).transpose(); break;
        case AttentionKind::general: e.head(Ls).noalias() = rows_of(K, b, Ls, B) * q.row(r).transpose(); break;
        case AttentionKind::additive: {
          auto tz = st.tz.middleRows(std::size_t(r) * S, Ls);
          tz = (rows_of(K, b, Ls, B).rowwise() + Q.row(r)).array().tanh().matrix();
          e.head(Ls).noalias() = tz * cmat(w_, att_v_, Hd, 1);
          break;
        }
        case AttentionKind::none: break;
      }
      const T m = e.head(Ls).maxCoeff();
      auto a = st.alpha.row(r).head(Ls);
      a = (e.head(Ls).array() - m).exp().matrix().transpose();
      a /= a.sum();
      st.ctx.row(r).noalias() = a * Eb;
    }
    Matrix<T> cq(R, W + Hd);
    cq << st.ctx, q;
    times(cq, pp ? &pp->comb : nullptr, cmat(w_, comb_w_, Hd, W + Hd).transpose(), st.htilde);
    st.htilde.rowwise() += cmat(w_, comb_b_, 1, Hd).row(0);
    st.htilde = st.htilde.array().tanh().matrix();
  }
  if (rng && cfg_.dropout > 0)
    draw_dropout_mask(st.htilde_mask, std::size_t(R), Hd, cfg_.dropout, *rng);
  else
    st.htilde_mask.resize(0, 0);
}

template <class T>
void Seq2Seq<T>::forward(const Batch& b, Workspace& ws, Rng* rng) const {
  const int Hd = cfg_.hidden, W = cfg_.source_width(), B = b.B, Tn = b.dec_T;
  encoder_.template forward<T>(w_, b.ids, b.lengths, b.T, ws.enc, rng, true);
  ws.E = ws.enc.y[std::size_t(cfg_.encoder.layers) - 1];
  if (cfg_.attention == AttentionKind::general) ws.K.noalias() = ws.E * cmat(w_, att_w_, Hd, W).transpose();
  if (cfg_.attention == AttentionKind::additive) ws.K.noalias() = ws.E * cmat(w_, att_k_, Hd, W).transpose();
  bridge_forward(B, ws);
  pack_panels(B, ws.panels, !ws.forward_only);
  ws.steps.resize(std::size_t(Tn));
  std::vector<int> src_of(static_cast<std::size_t>(B)), active(static_cast<std::size_t>(B));
  for (int i = 0; i < B; ++i) src_of[std::size_t(i)] = i;
  Matrix<T> htilde0 = Matrix<T>::Zero(B, Hd), fed;
  Matrix<T> head_in(std::size_t(Tn) * B, Hd);
  for (int t = 0; t < Tn; ++t) {
    for (int i = 0; i < B; ++i) active[std::size_t(i)] = t < b.dec_lengths[std::size_t(i)];
    const Step* prev = t > 0 ? &ws.steps[std::size_t(t) - 1] : nullptr;
    if (prev) {
      fed = prev->htilde;
      if (prev->htilde_mask.size()) fed.array() *= prev->htilde_mask.array();
    }
    run_step(&ws.panels, B, prev ? prev->h : ws.h0, prev ? prev->c : ws.c0, prev ? fed : htilde0,
             b.dec_ids.data() + std::size_t(t) * B, active.data(), ws.E, ws.K, b.T, B, src_of, b.lengths,
             ws.steps[std::size_t(t)], rng);
    const Step& st = ws.steps[std::size_t(t)];
    head_in.middleRows(std::size_t(t) * B, B) = st.htilde;
    if (st.htilde_mask.size()) head_in.middleRows(std::size_t(t) * B, B).array() *= st.htilde_mask.array();
  }
  ws.logits.noalias() = head_in * cmat(w_, head_w_, cfg_.tgt_vocab, Hd).transpose();
  ws.logits.rowwise() += cmat(w_, head_b_, 1, cfg_.tgt_vocab).row(0);
  softmax_rows<T>(ws.logits, ws.probs);
}

template <class T>
void Seq2Seq<T>::backward(const Batch& b, Workspace& ws) {
  const int Hd = cfg_.hidden, W = cfg_.source_width(), L = cfg_.layers, G = gates_of(cfg_.cell), GH = G * Hd;
  const int B = b.B, Tn = b.dec_T, S = b.T, V = cfg_.tgt_vocab;
  const bool one_hot = cfg_.embed == 0, feed = cfg_.input_feeding;
  // logits = h~ W_o^T + b_o over every step at once.
  Matrix<T> head_in(std::size_t(Tn) * B, Hd);
  for (int t = 0; t < Tn; ++t) {
    const Step& st = ws.steps[std::size_t(t)];
    head_in.middleRows(std::size_t(t) * B, B) = st.htilde;
    if (st.htilde_mask.size()) head_in.middleRows(std::size_t(t) * B, B).array() *= st.htilde_mask.array();
  }
  mat(g_, head_w_, V, Hd).noalias() += ws.dlogits.transpose() * head_in;
  mat(g_, head_b_, 1, V) += ws.dlogits.colwise().sum();
  const Matrix<T> dhead = ws.dlogits * cmat(w_, head_w_, V, Hd);  // dL/d(masked h~), every step

  ws.dE.setZero(std::size_t(S) * B, W);
  if (cfg_.attention == AttentionKind::general || cfg_.attention == AttentionKind::additive) ws.dK.setZero(std::size_t(S) * B, Hd);
  ws.dh.assign(std::size_t(L), Matrix<T>::Zero(B, Hd));
  ws.dc.assign(std::size_t(L), Matrix<T>::Zero(B, Hd));
  ws.dhtilde_next.setZero(B, Hd);
  Matrix<T> dht, da, dcq, dq, dQ, dax, dah, ddirect, dc_prev, du;
  const std::size_t TB = std::size_t(Tn) * B;
  ws.dzx.resize(std::size_t(L)), ws.dzh.resize(std::size_t(L));
  for (int k = 0; k < L; ++k) {
    ws.dzx[k].resize(TB, GH);
    if (cfg_.cell == CellKind::gru) ws.dzh[k].resize(TB, GH);
  }
  if (cfg_.attention != AttentionKind::none) ws.dcomb.resize(TB, Hd), ws.cq.resize(TB, W + Hd);
  const StepPanels* pp = ws.panels.on ? &ws.panels : nullptr;
  Vector<T> dalpha(S), de(S);
  for (int t = Tn - 1; t >= 0; --t) {
    const Step& st = ws.steps[std::size_t(t)];
    const std::vector<Matrix<T>>& h_prev = t > 0 ? ws.steps[std::size_t(t) - 1].h : ws.h0;
    const std::vector<Matrix<T>>& c_prev = t > 0 ? ws.steps[std::size_t(t) - 1].c : ws.c0;
    // The masked h~ is read by the head and fed to the next step.
    dht = dhead.middleRows(std::size_t(t) * B, B) + ws.dhtilde_next;
    if (st.htilde_mask.size()) dht.array() *= st.htilde_mask.array();
    const Matrix<T>& q = st.h[std::size_t(L) - 1];
    if (cfg_.attention == AttentionKind::none) {
      dq = dht;
    } else {
      // h~ = tanh(W_c [ctx; q] + b_c)
      da = (dht.array() * (T(1) - st.htilde.array().square())).matrix();
      ws.dcomb.middleRows(std::size_t(t) * B, B) = da;  // W_c's gradient: after the loop
      ws.cq.middleRows(std::size_t(t) * B, B) << st.ctx, q;
      times(da, pp ? &pp->comb_back : nullptr, cmat(w_, comb_w_, Hd, W + Hd), dcq);
      dq = dcq.rightCols(Hd);
      if (cfg_.attention == AttentionKind::additive) dQ.setZero(B, Hd);
      for (int r = 0; r < B; ++r) {
        const int Ls = b.lengths[std::size_t(r)];
        if (Ls == 0) continue;
        const auto Eb = rows_of(std::as_const(ws.E), r, Ls, B);
        auto dEb = rows_of(ws.dE, r, Ls, B);
        const auto a = st.alpha.row(r).head(Ls);
        const auto dctx = dcq.row(r).head(W);
        // ctx = sum_s a_s E_s;  softmax: de_s = a_s (da_s - sum_r a_r da_r)
        dalpha.head(Ls).noalias() = Eb * dctx.transpose();
        dEb.noalias() += a.transpose() * dctx;
        const T mean = a.dot(dalpha.head(Ls).transpose());
        de.head(Ls) = (a.transpose().array() * (dalpha.head(Ls).array() - mean)).matrix();
        switch (cfg_.attention) {
          case AttentionKind::dot:  // e_s = q . E_s
            dq.row(r).noalias() += de.head(Ls).transpose() * Eb;
            dEb.noalias() += de.head(Ls) * q.row(r);
            break;
          case AttentionKind::general: {  // e_s = q . K_s
            dq.row(r).noalias() += de.head(Ls).transpose() * rows_of(std::as_const(ws.K), r, Ls, B);
            rows_of(ws.dK, r, Ls, B).noalias() += de.head(Ls) * q.row(r);
            break;
          }
          case AttentionKind::additive: {  // e_s = v . tanh(z_s), z_s = W_q q + K_s
            const auto tz = st.tz.middleRows(std::size_t(r) * S, Ls);
            mat(g_, att_v_, 1, Hd).noalias() += de.head(Ls).transpose() * tz;
            const Matrix<T> dz = ((de.head(Ls) * cmat(w_, att_v_, 1, Hd)).array() * (T(1) - tz.array().square())).matrix();
            dQ.row(r) += dz.colwise().sum();
            rows_of(ws.dK, r, Ls, B) += dz;
            break;
          }
          case AttentionKind::none: break;
        }
      }
      if (cfg_.attention == AttentionKind::additive) {
        mat(g_, att_q_, Hd, Hd).noalias() += dQ.transpose() * q;
        dq.noalias() += dQ * cmat(w_, att_q_, Hd, Hd);
      }
    }
    ws.dh[std::size_t(L) - 1] += dq;
    // The decoder's layers, top to bottom, at this step.
    for (int k = L - 1; k >= 0; --k) {
      const Layer& l = dec_[std::size_t(k)];
      Matrix<T>& dh = ws.dh[std::size_t(k)];
      Matrix<T>& dc = ws.dc[std::size_t(k)];
      dax.resize(B, GH);
      ddirect.setZero(B, Hd);
      switch (cfg_.cell) {
        case CellKind::rnn_tanh:
        case CellKind::rnn_relu:
          rnn_cell::backward(cfg_.cell == CellKind::rnn_relu, B, Hd, st.h[k].data(), dh.data(), dax.data());
          dah = dax;
          break;
        case CellKind::lstm:
          dc_prev.resize(B, Hd);
          lstm_cell::backward(B, Hd, st.gates[k].data(), c_prev[k].data(), st.aux[k].data(), dh.data(), dc.data(),
                              dax.data(), dc_prev.data());
          dah = dax;
          break;
        case CellKind::gru:
          dah.resize(B, GH);
          gru_cell::backward(B, Hd, st.gates[k].data(), st.aux[k].data(), h_prev[k].data(), dh.data(), dax.data(),
                             dah.data(), ddirect.data());
          break;
      }
      for (int r = 0; r < B; ++r)
        if (t >= b.dec_lengths[std::size_t(r)]) {  // inactive: gradients pass through untouched
          dax.row(r).setZero();
          dah.row(r).setZero();
          ddirect.row(r) = dh.row(r);
          if (cfg_.cell == CellKind::lstm) dc_prev.row(r) = dc.row(r);
        }
      // hh = h_{t-1} W_hh^T + b_hh;  zx = u W_ih^T + b_ih
      ws.dzx[k].middleRows(std::size_t(t) * B, B) = dax;  // the weights' gradients: after the loop
      if (cfg_.cell == CellKind::gru) ws.dzh[k].middleRows(std::size_t(t) * B, B) = dah;
      auto dW_ih = mat(g_, l.W_ih, GH, l.in);
      const auto W_ih = cmat(w_, l.W_ih, GH, l.in);
      const int dense_from = k == 0 && one_hot ? V : 0;
      if (st.u[k].cols())
        times(dax, pp ? &pp->ih_back[k] : nullptr, W_ih.rightCols(l.in - dense_from), du);
      if (k == 0 && one_hot) {
        const int* tokens = b.dec_ids.data() + std::size_t(t) * B;
        for (int r = 0; r < B; ++r)
          if (tokens[r] >= 0) dW_ih.col(tokens[r]) += dax.row(r).transpose();
      }
      // To the state before this step, and to this step's input.
      dh = ddirect;
      times(dah, pp ? &pp->hh_back[k] : nullptr, cmat(w_, l.W_hh, GH, Hd), dh, true);
      if (cfg_.cell == CellKind::lstm) dc = dc_prev;
      if (k > 0) {
        Matrix<T>& below = ws.dh[std::size_t(k) - 1];
        if (st.mask[k - 1].size())
          below += (du.array() * st.mask[k - 1].array()).matrix();
        else
          below += du;
      } else {
        const int E_ = one_hot ? 0 : cfg_.embed;
        if (!one_hot) {
          auto dEmb = mat(g_, embedding_, V, cfg_.embed);
          const int* tokens = b.dec_ids.data() + std::size_t(t) * B;
          for (int r = 0; r < B; ++r)
            if (tokens[r] >= 0) dEmb.row(tokens[r]) += du.row(r).head(E_);
        }
        if (feed)
          ws.dhtilde_next = du.rightCols(Hd);
        else
          ws.dhtilde_next.setZero();
      }
    }
  }
  // The weights' gradients, each one product over every step.
  if (cfg_.attention != AttentionKind::none) {
    mat(g_, comb_w_, Hd, W + Hd).noalias() += ws.dcomb.transpose() * ws.cq;
    mat(g_, comb_b_, 1, Hd) += ws.dcomb.colwise().sum();
  }
  for (int k = 0; k < L && Tn > 0; ++k) {
    const Layer& l = dec_[std::size_t(k)];
    const Matrix<T>& dzx = ws.dzx[k];
    const Matrix<T>& dzh = cfg_.cell == CellKind::gru ? ws.dzh[k] : dzx;
    ws.stacked.resize(TB, Hd);
    for (int t = 0; t < Tn; ++t)
      ws.stacked.middleRows(std::size_t(t) * B, B) = t > 0 ? ws.steps[std::size_t(t) - 1].h[k] : ws.h0[k];
    mat(g_, l.W_hh, GH, Hd).noalias() += dzh.transpose() * ws.stacked;
    if (l.b_hh) mat(g_, l.b_hh, 1, GH) += dzh.colwise().sum();
    mat(g_, l.b_ih, 1, GH) += dzx.colwise().sum();
    const Eigen::Index dense = ws.steps[0].u[k].cols();  // the same at every step
    if (dense == 0) continue;
    ws.stacked.resize(TB, dense);
    for (int t = 0; t < Tn; ++t) ws.stacked.middleRows(std::size_t(t) * B, B) = ws.steps[std::size_t(t)].u[k];
    mat(g_, l.W_ih, GH, l.in).rightCols(dense).noalias() += dzx.transpose() * ws.stacked;
  }
  // The initial states: through the bridge (or the copy) into the encoder's final states.
  const int De = cfg_.encoder.directions(), He = cfg_.encoder.hidden, Le = cfg_.encoder.layers;
  std::vector<Matrix<T>> dfinal(std::size_t(Le) * De), dfinal_c;
  if (cfg_.copies_state()) {
    for (int k = 0; k < L; ++k) dfinal[std::size_t(k)] = ws.dh[std::size_t(k)];
    if (cfg_.cell == CellKind::lstm) dfinal_c = ws.dc;
  } else {
    for (int k = 0; k < L; ++k) {
      const int ke = std::min(k, Le - 1);
      Matrix<T> s(B, W);
      for (int d = 0; d < De; ++d) s.middleCols(std::size_t(d) * He, He) = ws.enc.cache[std::size_t(ke) * De + d].final_state();
      const Matrix<T> dpre = (ws.dh[std::size_t(k)].array() * (T(1) - ws.h0[k].array().square())).matrix();
      mat(g_, bridge_w_[std::size_t(k)], Hd, W).noalias() += dpre.transpose() * s;
      mat(g_, bridge_b_[std::size_t(k)], 1, Hd) += dpre.colwise().sum();
      const Matrix<T> ds = dpre * cmat(w_, bridge_w_[std::size_t(k)], Hd, W);
      for (int d = 0; d < De; ++d) {
        Matrix<T>& f = dfinal[std::size_t(ke) * De + d];
        if (f.size() == 0) f.setZero(B, He);
        f += ds.middleCols(std::size_t(d) * He, He);
      }
    }
  }
  // Keys: K = E W^T.
  if (cfg_.attention == AttentionKind::general || cfg_.attention == AttentionKind::additive) {
    const std::size_t wk = cfg_.attention == AttentionKind::general ? att_w_ : att_k_;
    mat(g_, wk, Hd, W).noalias() += ws.dK.transpose() * ws.E;
    ws.dE.noalias() += ws.dK * cmat(w_, wk, Hd, W);
  }
  const Matrix<T>& top_mask = ws.enc.mask[std::size_t(Le) - 1];
  if (top_mask.size()) ws.dE.array() *= top_mask.array();
  encoder_.template backward<T>(w_, g_, b.ids, S, B, ws.enc, &ws.dE, dfinal, dfinal_c);
}

template <class T>
std::shared_ptr<const typename Seq2Seq<T>::StepPanels> Seq2Seq<T>::decode_panels() const {
  auto p = std::make_shared<StepPanels>();
  pack_panels(2, *p, false);  // (whether they pay does not depend on the rows past one)
  if (!p->on) return nullptr;
  return p;
}

template <class T>
void Seq2Seq<T>::encode(const std::vector<std::vector<int>>& sources, DecodeState& st) const {
  const int B = int(sources.size()), Hd = cfg_.hidden, W = cfg_.source_width();
  int S = 0;
  for (const auto& s : sources) S = std::max(S, int(s.size()));
  std::vector<int> ids(std::size_t(S) * B, -1), lengths(static_cast<std::size_t>(B));
  for (int b = 0; b < B; ++b) {
    lengths[std::size_t(b)] = int(sources[std::size_t(b)].size());
    for (int s = 0; s < lengths[std::size_t(b)]; ++s) ids[std::size_t(s) * B + b] = sources[std::size_t(b)][std::size_t(s)];
  }
  Workspace& ws = st.ws;
  encoder_.template forward<T>(w_, ids, lengths, S, ws.enc, nullptr, true);
  ws.E = ws.enc.y[std::size_t(cfg_.encoder.layers) - 1];
  if (cfg_.attention == AttentionKind::general) ws.K.noalias() = ws.E * cmat(w_, att_w_, Hd, W).transpose();
  if (cfg_.attention == AttentionKind::additive) ws.K.noalias() = ws.E * cmat(w_, att_k_, Hd, W).transpose();
  bridge_forward(B, ws);
  st.S = S, st.sources = B, st.src_lengths = lengths;
  st.src_of.resize(static_cast<std::size_t>(B));
  for (int b = 0; b < B; ++b) st.src_of[std::size_t(b)] = b;
  st.h = ws.h0;
  st.c = ws.c0;
  st.htilde.setZero(B, Hd);
}

template <class T>
void Seq2Seq<T>::step(const std::vector<int>& prev, DecodeState& st, Matrix<T>& logits, Matrix<T>* attention) const {
  const int R = int(prev.size()), Hd = cfg_.hidden;
  const std::vector<int> active(static_cast<std::size_t>(R), 1);
  // (one row: the matrix-vector products serve it better than panels)
  run_step(R > 1 ? st.panels.get() : nullptr, R, st.h, st.c, st.htilde, prev.data(), active.data(), st.ws.E, st.ws.K,
           st.S, st.sources, st.src_of, st.src_lengths, st.step, nullptr);
  st.h = st.step.h;
  if (cfg_.cell == CellKind::lstm) st.c = st.step.c;
  st.htilde = st.step.htilde;
  logits.noalias() = st.htilde * cmat(w_, head_w_, cfg_.tgt_vocab, Hd).transpose();
  logits.rowwise() += cmat(w_, head_b_, 1, cfg_.tgt_vocab).row(0);
  if (attention) {
    if (cfg_.attention == AttentionKind::none)
      attention->setZero(R, st.S);
    else
      *attention = st.step.alpha;
  }
}

template <class T>
void Seq2Seq<T>::select(DecodeState& st, const std::vector<int>& which) const {
  auto pick = [&](Matrix<T>& m) {
    if (m.size() == 0) return;
    Matrix<T> out(which.size(), m.cols());
    for (std::size_t i = 0; i < which.size(); ++i) out.row(Eigen::Index(i)) = m.row(which[i]);
    m.swap(out);
  };
  for (auto& h : st.h) pick(h);
  for (auto& c : st.c) pick(c);
  pick(st.htilde);
  std::vector<int> src(which.size());
  for (std::size_t i = 0; i < which.size(); ++i) src[i] = st.src_of[std::size_t(which[i])];
  st.src_of = src;
}

template <class T>
void init_seq2seq(Seq2Seq<T>& m, Rng& rng) {
  const Seq2SeqConfig& c = m.config();
  for (const ParamSpec& p : m.table().specs()) {
    MatrixMap<T> w = m.param(p.name);
    double a;
    if (p.name.find("embedding.weight") != std::string::npos) {
      for (Eigen::Index i = 0; i < w.size(); ++i) w.data()[i] = T(rng.randn());
      continue;
    }
    if (p.name.rfind("encoder.rnn.", 0) == 0)
      a = 1.0 / std::sqrt(double(c.encoder.hidden));
    else if (p.name.rfind("decoder.rnn.", 0) == 0 || p.name == "attention.v")
      a = 1.0 / std::sqrt(double(c.hidden));
    else if (!p.is_vector)  // a linear layer: U(±1/√fan_in) for its weight and bias
      a = 1.0 / std::sqrt(double(p.cols));
    else {  // a linear layer's bias: its weight's fan_in (bridge.bias_l0 goes with bridge.weight_l0)
      std::string weight = p.name;
      weight.replace(weight.rfind("bias"), 4, "weight");
      a = 1.0 / std::sqrt(double(m.param(weight).cols()));
    }
    for (Eigen::Index i = 0; i < w.size(); ++i) w.data()[i] = T((2 * rng.uniform() - 1) * a);
  }
}

template <class T>
StepLoss Seq2SeqObjective<T>::forward_backward(const Batch& b, Rng& rng) {
  model_.forward(b, ws_, &rng);
  const long tokens = b.tokens();
  const long step_tokens = b.global_tokens > 0 ? b.global_tokens : tokens;
  StepLoss s;
  s.value = cross_entropy_sum<T>(ws_.logits, b.targets, smoothing_);  // the loss reported: per target symbol
  s.weight = double(tokens);
  s.n = tokens;
  cross_entropy_grad<T>(ws_.probs, b.targets, T(1) / T(std::max(1L, step_tokens)), ws_.dlogits, smoothing_);
  model_.backward(b, ws_);
  return s;
}

template <class T>
Seq2SeqEnsemble<T>::Seq2SeqEnsemble(const Seq2SeqConfig& c, int members) {
  if (members < 1) throw Error("an ensemble needs at least one member (--members)");
  members_.reserve(std::size_t(members));
  for (int k = 0; k < members; ++k) members_.emplace_back(c);
  w_.assign(member_size() * std::size_t(members), T(0));
  g_.assign(w_.size(), T(0));
}

template <class T>
void Seq2SeqEnsemble<T>::sync() {
  const std::size_t n = member_size();
  for (std::size_t k = 0; k < members_.size(); ++k)
    std::copy(w_.begin() + std::ptrdiff_t(k * n), w_.begin() + std::ptrdiff_t((k + 1) * n), members_[k].weights().begin());
}

template <class T>
std::vector<std::pair<std::size_t, std::size_t>> Seq2SeqEnsemble<T>::groups() const {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  for (std::size_t k = 0; k < members_.size(); ++k) out.emplace_back(k * member_size(), member_size());
  return out;
}

template <class T>
std::vector<Seq2Seq<T>> Seq2SeqEnsemble<T>::release() {
  sync();
  w_.clear(), g_.clear();
  return std::move(members_);
}

template <class T>
Seq2SeqEnsembleObjective<T>::Seq2SeqEnsembleObjective(Seq2SeqEnsemble<T>& ensemble, double smoothing)
    : ensemble_(ensemble) {
  members_.reserve(std::size_t(ensemble.size()));
  for (int k = 0; k < ensemble.size(); ++k) members_.emplace_back(ensemble.member(k), smoothing);
}

template <class T>
bool Seq2SeqEnsembleObjective<T>::draws_random() const {
  return members_[0].draws_random();
}

template <class T>
StepLoss Seq2SeqEnsembleObjective<T>::forward_backward(const Batch& b, Rng& rng) {
  ensemble_.sync();  // (the optimizer has moved the buffer's weights since the last batch)
  const std::size_t n = ensemble_.member_size();
  const double N = double(members_.size());
  StepLoss s;
  for (std::size_t k = 0; k < members_.size(); ++k) {
    Seq2Seq<T>& m = ensemble_.member(int(k));
    m.zero_grad();
    const StepLoss one = members_[k].forward_backward(b, rng);
    T* __restrict g = ensemble_.grads().data() + k * n;  // added: parts of a step (--accumulate) add up
    const T* __restrict x = m.grads().data();
    for (std::size_t i = 0; i < n; ++i) g[i] += x[i];
    s.value += one.value / N;
    s.weight = one.weight, s.n = one.n;
  }
  return s;
}

template <class T>
void init_seq2seq(Seq2SeqEnsemble<T>& m, Rng& rng) {
  const std::size_t n = m.member_size();
  for (int k = 0; k < m.size(); ++k) {
    init_seq2seq(m.member(k), rng);
    std::copy(m.member(k).weights().begin(), m.member(k).weights().end(), m.weights().begin() + std::ptrdiff_t(std::size_t(k) * n));
  }
}

template class Seq2Seq<float>;
template class Seq2SeqObjective<float>;
template class Seq2SeqObjective<double>;
template class Seq2Seq<double>;
template class Seq2SeqEnsemble<float>;
template class Seq2SeqEnsemble<double>;
template class Seq2SeqEnsembleObjective<float>;
template class Seq2SeqEnsembleObjective<double>;
template void init_seq2seq<float>(Seq2Seq<float>&, Rng&);
template void init_seq2seq<double>(Seq2Seq<double>&, Rng&);
template void init_seq2seq<float>(Seq2SeqEnsemble<float>&, Rng&);
template void init_seq2seq<double>(Seq2SeqEnsemble<double>&, Rng&);

std::vector<TensorShape> parameter_shapes(const Seq2SeqConfig& c) {
  std::vector<TensorShape> out;
  const Seq2Seq<float> m(c);
  for (const ParamSpec& p : m.table().specs())
    out.push_back({p.name, p.is_vector ? std::vector<long>{p.rows} : std::vector<long>{p.rows, p.cols}});
  return out;
}

}  // namespace recur
