// recur/seq2seq.hpp — the encoder–decoder, the post's translation shape: one
// recurrent network reads the source, another writes the target, looking back
// at the source through attention.
//
// Encoder: a Stack (stack.hpp) over the source: outputs E_s (S*B, D_e*H_e), the
// top layer's states at every source position, and every layer's final states.
//
// Bridge: the decoder's initial state. When the encoder and the decoder have
// the same cell, layers and hidden size and the encoder reads one way, the
// encoder's final states are copied (h and, for an LSTM, c: Sutskever et al.'s
// setup). Otherwise, per decoder layer k, from encoder layer k' = min(k, L_e-1):
//   h^k_0 = tanh(W_b^k [final forward; final reverse]_{k'} + b_b^k),   c^k_0 = 0
//
// Decoder, one step t (teacher forcing: y_{t-1} is the reference, <bos> first):
//   u^0_t = [emb(y_{t-1}); h~_{t-1}]    (input feeding: h~_{t-1} fed back, h~_{-1} = 0;
//                                         without it u^0_t = emb(y_{t-1}))
//   h^k_t = cell(W_ih^k u^k_t + b_ih^k, W_hh^k h^k_{t-1} + b_hh^k),  u^{k+1}_t = h^k_t
//   q_t = h^{L_d-1}_t
//   attention (Luong et al. 2015), over the source positions s < S_b:
//     dot       e_{t,s} = q_t . E_s                        (needs H_d = D_e*H_e)
//     general   e_{t,s} = q_t . (W_a E_s)                   W_a (H_d, D_e*H_e)
//     additive  e_{t,s} = v . tanh(W_q q_t + W_k E_s)      (Bahdanau et al.'s score; W_q (H_d, H_d),
//                                                           W_k (H_d, D_e*H_e), v (H_d))
//     a_t = softmax_s(e_t),  ctx_t = sum_s a_{t,s} E_s
//     h~_t = tanh(W_c [ctx_t; q_t] + b_c)                    W_c (H_d, D_e*H_e + H_d)
//   none: h~_t = q_t
//   logits_t = W_o h~_t + b_o,  p_t = softmax(logits_t)
// The loss is the cross-entropy of y_t (y_n = <eos>) summed over the real target
// steps; padded steps (target -1) contribute nothing. docs/seq2seq.md derives
// the backward pass, attention included.
//
// Tensors (the file contract, docs/model-format.md): encoder.embedding.weight,
// encoder.rnn.*; bridge.weight_l{k}, bridge.bias_l{k}; decoder.embedding.weight,
// decoder.rnn.* (as torch.nn.LSTM/GRU/RNN name them); attention.weight (general),
// attention.query.weight, attention.key.weight, attention.v (additive);
// attention.combine.weight, attention.combine.bias; head.weight, head.bias.
//
// Shapes: S source steps, T target steps, B pairs, V_s / V_t vocabularies.
// Bodies in src/seq2seq.cpp, instantiated for float and double.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "recur/model.hpp"  // Batch
#include "recur/stack.hpp"
#include "recur/trainer.hpp"

namespace recur {

template <class T>
class Seq2Seq {
 public:
  explicit Seq2Seq(const Seq2SeqConfig& c);
  const Seq2SeqConfig& config() const { return cfg_; }
  const ParamTable& table() const { return table_; }
  Buffer<T>& weights() { return w_; }
  const Buffer<T>& weights() const { return w_; }
  Buffer<T>& grads() { return g_; }
  const Buffer<T>& grads() const { return g_; }
  void zero_grad() { std::fill(g_.begin(), g_.end(), T(0)); }
  MatrixMap<T> param(const std::string& name);
  ConstMatrixMap<T> param(const std::string& name) const;

  // One decoder step over R rows, as forward keeps it for backward.
  struct Step {
    std::vector<Matrix<T>> u, zx, hh, gates, aux, h, c;  // [layer]: input, pre-activations, cell outputs (R, .)
    std::vector<Matrix<T>> mask;                         // [layer] dropout on h between layers
    Matrix<T> alpha, ctx, htilde, htilde_mask, tz;       // (R,S) (R,DeHe) (R,Hd) (R,Hd) (R*S,Hd) additive tanh
  };
  // The decoder step's weights packed in the rows kernel's panels, once a
  // batch (training on one BLAS thread: recur train --threads, each rank's):
  // the per-step products then read them as one stream instead of a BLAS call
  // packing them again at every step. Empty: the products go to BLAS.
  struct StepPanels {
    std::vector<Buffer<T>> ih, hh;        // [layer] W_ih^T (its dense columns), W_hh^T: u W_ih^T, h W_hh^T
    Buffer<T> comb;                       // W_c^T: [ctx; q] W_c^T
    std::vector<Buffer<T>> ih_back, hh_back;  // [layer] W_ih (dense columns), W_hh: da W_ih, da W_hh
    Buffer<T> comb_back;                  // W_c: da W_c
    bool on = false;
  };
  struct Workspace {
    bool forward_only = false;               // no backward to follow: forward packs no panels for it
    StackWorkspace<T> enc;
    StepPanels panels;
    Matrix<T> E, K;                          // encoder outputs (S*B, DeHe), keys (S*B, Hd) (general, additive)
    std::vector<Matrix<T>> h0, c0;           // [decoder layer] (B, Hd) initial states
    std::vector<Step> steps;                 // [t]
    Matrix<T> logits, probs, dlogits;        // (T*B, V_t)
    // backward
    Matrix<T> dE, dK;
    std::vector<Matrix<T>> dh, dc;           // [layer] (B, Hd) gradient reaching h^k_{t}, c^k_t from later steps
    Matrix<T> dhtilde_next;                  // (B, Hd) from the next step's input feeding
    // Every step's gradients at the products' outputs, stacked (dec_T*B, .),
    // and the inputs they met: each weight's gradient is then one product over
    // all steps instead of a thin one per step.
    std::vector<Matrix<T>> dzx, dzh;         // [layer] dL/d(u W_ih^T); dL/d(h W_hh^T) (GRU; else dzx)
    Matrix<T> dcomb, cq, stacked;            // dL/d(W_c [ctx; q]), [ctx; q]; a layer's inputs
  };

  // Teacher-forced forward over a batch of pairs (Batch's sequence-to-sequence
  // fields): ws.logits and ws.probs (dec_T*B, V_t). With `rng` (training)
  // dropout is applied.
  void forward(const Batch& b, Workspace& ws, Rng* rng = nullptr) const;
  // Backward from ws.dlogits (dec_T*B, V_t); gradients are added to grads().
  void backward(const Batch& b, Workspace& ws);

  // Decoding: the sources read once, then the decoder stepped for any rows
  // (hypotheses), each row reading one source.
  struct DecodeState {
    // The decoder's weights packed for the rows kernel (decode_panels), shared
    // by every state that decodes with these weights; null: plain products.
    std::shared_ptr<const StepPanels> panels;
    Workspace ws;                  // the encoder's pass, E and K
    int S = 0, sources = 0;
    std::vector<int> src_lengths;  // (sources)
    std::vector<int> src_of;       // (rows) the source each row reads
    std::vector<Matrix<T>> h, c;   // [layer] (rows, Hd)
    Matrix<T> htilde;              // (rows, Hd) fed back
    Step step;
  };
  // The step's products packed once for decoding with the weights as they
  // are now (forward only); null where the rows kernel does not pay (BLAS on
  // several threads splits each product instead).
  std::shared_ptr<const StepPanels> decode_panels() const;
  void encode(const std::vector<std::vector<int>>& sources, DecodeState& st) const;
  // Each row reads prev[r] (the token it wrote last; <bos> first): logits (rows,
  // V_t), and the attention over its source (rows, S) when asked.
  void step(const std::vector<int>& prev, DecodeState& st, Matrix<T>& logits, Matrix<T>* attention = nullptr) const;
  // Keeps rows `which` (in that order, repeats allowed): beam search's reorder.
  void select(DecodeState& st, const std::vector<int>& which) const;

 private:
  void pack_panels(int B, StepPanels& p, bool backward = true) const;
  void run_step(const StepPanels* panels, int R, const std::vector<Matrix<T>>& h_prev, const std::vector<Matrix<T>>& c_prev,
                const Matrix<T>& htilde_prev, const int* tokens, const int* active, const Matrix<T>& E,
                const Matrix<T>& K, int S, int B, const std::vector<int>& src_of, const std::vector<int>& src_len,
                Step& st, Rng* rng) const;
  void bridge_forward(int B, Workspace& ws) const;

  Seq2SeqConfig cfg_;
  ParamTable table_;
  Stack encoder_;
  struct Layer {
    int in = 0;
    std::size_t W_ih = 0, W_hh = 0, b_ih = 0, b_hh = 0;
  };
  std::vector<Layer> dec_;                       // [decoder layer]
  std::vector<std::size_t> bridge_w_, bridge_b_; // [decoder layer], when bridged
  std::size_t embedding_ = 0, att_w_ = 0, att_q_ = 0, att_k_ = 0, att_v_ = 0, comb_w_ = 0, comb_b_ = 0, head_w_ = 0,
              head_b_ = 0;
  Buffer<T> w_, g_;
};

// What a sequence-to-sequence model learns from a batch of pairs (the
// trainer's Objective): the cross-entropy of every target symbol and <eos>,
// teacher forced, averaged over the step's target symbols (PairBatcher's
// batches; over all parts and processes of a split step); with label
// smoothing ε when `smoothing` > 0 (layers.hpp).
template <class T>
class Seq2SeqObjective : public Objective<T> {
 public:
  explicit Seq2SeqObjective(Seq2Seq<T>& model, double smoothing = 0) : model_(model), smoothing_(smoothing) {}
  Buffer<T>& weights() override { return model_.weights(); }
  Buffer<T>& grads() override { return model_.grads(); }
  StepLoss forward_backward(const Batch& b, Rng& rng) override;
  bool draws_random() const override { return model_.config().dropout > 0 || model_.config().encoder.dropout > 0; }

 private:
  Seq2Seq<T>& model_;
  double smoothing_;
  typename Seq2Seq<T>::Workspace ws_;
};

// Several models of one configuration trained together: an ensemble (recur
// train --members N), which decodes as one (recur::translate). To the trainer
// it is one network: the members' weights one after another in one buffer,
// member k's from k x member_size(), which the optimizer, the weights'
// average and checkpoints see; its global-norm clipping is each member's own
// (StepOptions::norm_groups = groups()), so every member takes the very steps
// it would take trained alone on the same batches. Each member computes on
// weights of its own (Seq2Seq keeps them): sync() copies the buffer's into them.
template <class T>
class Seq2SeqEnsemble {
 public:
  Seq2SeqEnsemble(const Seq2SeqConfig& c, int members);
  int size() const { return int(members_.size()); }
  const Seq2SeqConfig& config() const { return members_[0].config(); }
  std::size_t member_size() const { return members_[0].weights().size(); }
  Seq2Seq<T>& member(int k) { return members_[std::size_t(k)]; }
  const Seq2Seq<T>& member(int k) const { return members_[std::size_t(k)]; }
  Buffer<T>& weights() { return w_; }
  const Buffer<T>& weights() const { return w_; }
  Buffer<T>& grads() { return g_; }
  const Buffer<T>& grads() const { return g_; }
  void sync();  // the buffer's weights into the members
  std::vector<std::pair<std::size_t, std::size_t>> groups() const;  // (offset, count) of each member's
  std::vector<Seq2Seq<T>> release();  // the members, synced; the ensemble is left empty

 private:
  std::vector<Seq2Seq<T>> members_;
  Buffer<T> w_, g_;
};

// The members' Seq2SeqObjective on the same batch, one after the other: each
// member's gradients land in its part of the ensemble's buffer; the loss
// reported is the members' mean.
template <class T>
class Seq2SeqEnsembleObjective : public Objective<T> {
 public:
  explicit Seq2SeqEnsembleObjective(Seq2SeqEnsemble<T>& ensemble, double smoothing = 0);
  Buffer<T>& weights() override { return ensemble_.weights(); }
  Buffer<T>& grads() override { return ensemble_.grads(); }
  StepLoss forward_backward(const Batch& b, Rng& rng) override;
  bool draws_random() const override;

 private:
  Seq2SeqEnsemble<T>& ensemble_;
  std::vector<Seq2SeqObjective<T>> members_;
};

// PyTorch-style initialisation (uniform ±1/√fan, as nn.LSTM and nn.Linear do;
// embeddings N(0, 1)). An ensemble's members in turn, from the one generator.
template <class T>
void init_seq2seq(Seq2Seq<T>& m, Rng& rng);
template <class T>
void init_seq2seq(Seq2SeqEnsemble<T>& m, Rng& rng);

}  // namespace recur
