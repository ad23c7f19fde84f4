// The recurrent stack (what it computes: include/recur/stack.hpp; the math:
// docs/bptt.md and docs/cells.md).
#include "recur/stack.hpp"

#include "recur/error.hpp"
#include "views.hpp"

namespace recur {

template <class T>
void draw_dropout_mask(Matrix<T>& mask, std::size_t rows, int cols, double p, Rng& rng) {
  mask.resize(rows, cols);
  const T keep = T(1 - p);
  for (Eigen::Index i = 0; i < mask.size(); ++i) mask.data()[i] = rng.uniform() < double(keep) ? T(1) / keep : T(0);
}

Stack::Stack(const StackConfig& c, ParamTable& table, const std::string& prefix) : cfg_(c) {
  const int H = c.hidden, GH = gates_of(c.cell) * H, D = c.directions();
  if (c.embed > 0) embedding_ = table.add_matrix(prefix + "embedding.weight", c.vocab, c.embed);
  if (c.buckets > 0) {
    if (c.embed < 1) throw Error("subwords need an embedding (--embed)");
    subwords_ = table.add_matrix(prefix + "subwords.weight", c.buckets, c.embed);
  }
  for (int k = 0; k < c.layers; ++k)
    for (int d = 0; d < D; ++d) {
      const std::string s = "_l" + std::to_string(k) + (d ? "_reverse" : "");
      Slots l;
      l.in = k > 0 ? D * H : c.embed > 0 ? c.embed : c.vocab;
      l.W_ih = table.add_matrix(prefix + "rnn.weight_ih" + s, GH, l.in);
      l.W_hh = table.add_matrix(prefix + "rnn.weight_hh" + s, GH, H);
      l.b_ih = table.add_vector(prefix + "rnn.bias_ih" + s, GH);
      if (c.bias_hh) l.b_hh = table.add_vector(prefix + "rnn.bias_hh" + s, GH);
      slots_.push_back(l);
    }
}

bool Stack::subwords_read(const TokenBags* bags) const {
  if (cfg_.buckets == 0) return false;
  if (!bags || bags->vocab() != cfg_.vocab || bags->spec().buckets != cfg_.buckets)
    throw Error("a model with subwords reads text through its subword bags (internal: none given, or another model's)");
  return true;
}

template <class T>
void Stack::forward(const Buffer<T>& w, const std::vector<int>& ids, const std::vector<int>& lengths, int Tn,
                    StackWorkspace<T>& ws, Rng* rng, bool dropout_top, const TokenBags* bags) const {
  const int H = cfg_.hidden, L = cfg_.layers, D = cfg_.directions(), GH = gates_of(cfg_.cell) * H;
  const int B = int(lengths.size());
  const std::size_t TB = std::size_t(Tn) * B;
  ws.cache.resize(std::size_t(L) * D);
  ws.zx.resize(std::size_t(L) * D);
  ws.y.resize(L);
  ws.mask.resize(L);
  // Word dropout (training): each real token read as the unknown word instead.
  ws.dropped_ids.clear();
  if (rng && cfg_.word_dropout > 0) {
    ws.dropped_ids = ids;
    for (int b = 0; b < B; ++b)
      for (int t = 0; t < lengths[std::size_t(b)]; ++t)
        if (rng->uniform() < cfg_.word_dropout) ws.dropped_ids[std::size_t(t) * B + std::size_t(b)] = cfg_.unknown_id;
  }
  const std::vector<int>& in_ids = ws.dropped_ids.empty() ? ids : ws.dropped_ids;
  if (cfg_.embed > 0) {
    const auto E = cmat(w, embedding_, cfg_.vocab, cfg_.embed);
    ws.x.resize(TB, cfg_.embed);
    if (subwords_read(bags)) {
      const auto S = cmat(w, subwords_, cfg_.buckets, cfg_.embed);
      for (std::size_t r = 0; r < TB; ++r) {  // the mean of the bag's rows
        ws.x.row(r).setZero();
        if (in_ids[r] < 0) continue;
        const int *first = bags->begin(in_ids[r]), *last = bags->end(in_ids[r]);
        for (const int* q = first; q != last; ++q) ws.x.row(r) += *q < cfg_.vocab ? E.row(*q) : S.row(*q - cfg_.vocab);
        ws.x.row(r) /= T(last - first);
      }
    } else {
      for (std::size_t r = 0; r < TB; ++r) {
        if (in_ids[r] >= 0)
          ws.x.row(r) = E.row(in_ids[r]);
        else
          ws.x.row(r).setZero();
      }
    }
    // Embedding dropout (training): on the embedded vectors' elements.
    if (rng && cfg_.embed_dropout > 0) {
      draw_dropout_mask(ws.x_mask, TB, cfg_.embed, cfg_.embed_dropout, *rng);
      ws.x.array() *= ws.x_mask.array();
    } else {
      ws.x_mask.resize(0, 0);
    }
  }
  for (int k = 0; k < L; ++k) {
    const Matrix<T>* in = k > 0 ? &ws.y[k - 1] : cfg_.embed > 0 ? &ws.x : nullptr;
    for (int d = 0; d < D; ++d) {
      const Slots& l = slots_[std::size_t(k) * D + d];
      Matrix<T>& zx = ws.zx[std::size_t(k) * D + d];
      const auto W_ih = cmat(w, l.W_ih, GH, l.in);
      const auto b_ih = cmat(w, l.b_ih, 1, GH).row(0);
      // For the RNN and LSTM, b_ih joins b_hh, added to each step's rows while
      // they are in cache instead of in a pass of its own over zx (the GRU's
      // b_hn is inside the reset gate's product, so b_ih cannot move there).
      const T* b_step = l.b_hh ? w.data() + l.b_hh : nullptr;
      if (in) {
        zx.noalias() = *in * W_ih.transpose();
        if (cfg_.cell == CellKind::gru) {
          zx.rowwise() += b_ih;
        } else {
          thread_local Matrix<T> bias;  // (1, GH): b_ih + b_hh
          bias = b_ih;
          if (b_step) bias += cmat(w, l.b_hh, 1, GH);
          b_step = bias.data();
        }
      } else if (std::size_t(l.in) <= TB) {  // W_ih x_t + b_ih for one-hot x_t: a row of a table
        thread_local Matrix<T> table;         // (in, GH): W_ih^T + b_ih, read a row at a time
        table = W_ih.transpose();
        table.rowwise() += b_ih;
        zx.resize(TB, GH);
        for (std::size_t r = 0; r < TB; ++r) {
          if (in_ids[r] >= 0)
            zx.row(r) = table.row(in_ids[r]);
          else
            zx.row(r) = b_ih;  // unknown word or padding: x_t = 0
        }
      } else {  // more symbols than steps: the columns of W_ih themselves
        zx.resize(TB, GH);
        for (std::size_t r = 0; r < TB; ++r) {
          if (in_ids[r] >= 0)
            zx.row(r) = W_ih.col(in_ids[r]).transpose() + b_ih;
          else
            zx.row(r) = b_ih;
        }
      }
      const bool carried = d == 0 && std::size_t(k) < ws.h0.size() && ws.h0[k].size();
      const bool carried_c = carried && std::size_t(k) < ws.c0.size() && ws.c0[k].size();
      recurrent_forward<T>(cfg_.cell, cmat(w, l.W_hh, GH, H), b_step, zx, lengths,
                           d == 1, ws.cache[std::size_t(k) * D + d], carried ? &ws.h0[k] : nullptr,
                           carried_c ? &ws.c0[k] : nullptr);
    }
    Matrix<T>& y = ws.y[k];
    y.resize(TB, D * H);
    for (int d = 0; d < D; ++d)
      for (int t = 0; t < Tn; ++t)
        y.block(std::size_t(t) * B, std::size_t(d) * H, B, H) = ws.cache[std::size_t(k) * D + d].output(t);
    Matrix<T>& mask = ws.mask[k];
    if (rng && cfg_.dropout > 0 && (k < L - 1 || dropout_top)) {
      draw_dropout_mask(mask, TB, D * H, cfg_.dropout, *rng);
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
    if (cfg_.cell == CellKind::lstm) ws.final_c[k] = c.c.bottomRows(B);
  }
}

template <class T>
void Stack::backward(const Buffer<T>& w, Buffer<T>& g, const std::vector<int>& ids, int Tn, int B,
                     StackWorkspace<T>& ws, const Matrix<T>* dy_top, const std::vector<Matrix<T>>& dfinal,
                     const std::vector<Matrix<T>>& dfinal_c, const TokenBags* bags) const {
  const int H = cfg_.hidden, L = cfg_.layers, D = cfg_.directions(), GH = gates_of(cfg_.cell) * H;
  const std::size_t TB = std::size_t(Tn) * B;
  const std::vector<int>& in_ids = ws.dropped_ids.empty() ? ids : ws.dropped_ids;  // what forward read
  for (int k = L - 1; k >= 0; --k) {
    const Matrix<T>* in = k > 0 ? &ws.y[k - 1] : cfg_.embed > 0 ? &ws.x : nullptr;
    const bool top = (k == L - 1);
    for (int d = 0; d < D; ++d) {
      const Slots& l = slots_[std::size_t(k) * D + d];
      // What reaches this layer: the gradient at its final state (a
      // classifier's head, a decoder's bridge) and at every step's output (a
      // language model's head, attention, the layer above).
      const std::size_t u = std::size_t(k) * D + d;
      const bool at_final = u < dfinal.size() && dfinal[u].size();
      const bool at_final_c = u < dfinal_c.size() && dfinal_c[u].size();
      const Matrix<T>* steps = top ? dy_top : &ws.dy;
      if (at_final) ws.dh_final = dfinal[u];
      if (steps && steps->cols() != H) {  // this direction's half of both directions' outputs
        ws.dh_steps = steps->middleCols(std::size_t(d) * H, H);
        steps = &ws.dh_steps;
      }
      auto dW_hh = mat(g, l.W_hh, GH, H);
      recurrent_backward<T>(cmat(w, l.W_hh, GH, H), dW_hh, l.b_hh ? g.data() + l.b_hh : nullptr,
                            ws.cache[u], at_final ? &ws.dh_final : nullptr, steps, ws.dzx,
                            ws.scratch, at_final_c ? &dfinal_c[u] : nullptr);
      mat(g, l.b_ih, 1, GH) += ws.scratch.dzx_sum;
      auto dW_ih = mat(g, l.W_ih, GH, l.in);
      if (in) {
        dW_ih.noalias() += ws.dzx.transpose() * *in;
        if (d == 0)  // the gradient into this layer's input: the directions' sum
          ws.din.noalias() = ws.dzx * cmat(w, l.W_ih, GH, l.in);
        else
          ws.din.noalias() += ws.dzx * cmat(w, l.W_ih, GH, l.in);
      } else if (std::size_t(l.in) <= TB) {  // dW_ih x_t^T: column id only, summed as rows of dW_ih^T
        thread_local Matrix<T> dWt;
        dWt.setZero(l.in, GH);
        for (std::size_t r = 0; r < TB; ++r)
          if (in_ids[r] >= 0) dWt.row(in_ids[r]) += ws.dzx.row(r);
        dW_ih += dWt.transpose();
      } else {
        for (std::size_t r = 0; r < TB; ++r)
          if (in_ids[r] >= 0) dW_ih.col(in_ids[r]) += ws.dzx.row(r).transpose();
      }
    }
    if (k > 0) {
      ws.dy.swap(ws.din);  // gradient into layer k-1's outputs
      if (ws.mask[k - 1].size()) ws.dy.array() *= ws.mask[k - 1].array();
    } else if (cfg_.embed > 0) {
      auto dE = mat(g, embedding_, cfg_.vocab, cfg_.embed);
      if (ws.x_mask.size()) ws.din.array() *= ws.x_mask.array();
      if (subwords_read(bags)) {  // x = mean of the bag's rows: each row gets dx / |bag|
        auto dS = mat(g, subwords_, cfg_.buckets, cfg_.embed);
        for (std::size_t r = 0; r < TB; ++r) {
          if (in_ids[r] < 0) continue;
          const int *first = bags->begin(in_ids[r]), *last = bags->end(in_ids[r]);
          const T share = T(1) / T(last - first);
          for (const int* q = first; q != last; ++q) {
            if (*q < cfg_.vocab)
              dE.row(*q) += share * ws.din.row(r);
            else
              dS.row(*q - cfg_.vocab) += share * ws.din.row(r);
          }
        }
      } else {
        for (std::size_t r = 0; r < TB; ++r)
          if (in_ids[r] >= 0) dE.row(in_ids[r]) += ws.din.row(r);
      }
    }
  }
}

#define RECUR_INSTANTIATE(T)                                                                                        \
  template void draw_dropout_mask<T>(Matrix<T>&, std::size_t, int, double, Rng&);                                  \
  template void Stack::forward<T>(const Buffer<T>&, const std::vector<int>&, const std::vector<int>&, int,         \
                                  StackWorkspace<T>&, Rng*, bool, const TokenBags*) const;                         \
  template void Stack::backward<T>(const Buffer<T>&, Buffer<T>&, const std::vector<int>&, int, int,                \
                                   StackWorkspace<T>&, const Matrix<T>*, const std::vector<Matrix<T>>&,           \
                                   const std::vector<Matrix<T>>&, const TokenBags*) const;
RECUR_INSTANTIATE(float)
RECUR_INSTANTIATE(double)
#undef RECUR_INSTANTIATE

}  // namespace recur
