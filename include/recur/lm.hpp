// recur/lm.hpp — many-to-many: language models on text, and generation.
//
// Training is truncated backpropagation through time with carried state, as
// char-rnn does: the text is cut into B parallel streams; each step trains on the
// next T symbols of every stream (predicting each next symbol), and the hidden
// (and cell) state is carried from one step to the next without gradient
// flowing across the boundary. At the end of the text the streams start over
// from zero state.
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "recur/data.hpp"
#include "recur/layers.hpp"
#include "recur/model.hpp"
#include "recur/optim.hpp"

namespace recur {

// Reads a whole text file and checks it is UTF-8; the error names the byte offset.
std::string read_text_file(const std::string& path);

// Vocabulary of a training text: its distinct tokens sorted (code point order for
// characters), then kUnknownToken (last in every language model's vocabulary).
Vocabulary build_lm_vocab(const std::string& text, TokenizerKind tok);

// Token ids of a text; tokens not in the vocabulary become the unknown symbol
// (counted in *n_unknown when given).
std::vector<int> encode_text(const std::string& text, const Vocabulary& vocab, TokenizerKind tok,
                             long* n_unknown = nullptr);

struct LmMetrics {
  long n = 0;        // predicted tokens
  double loss = 0;   // mean cross-entropy, nats per token
  double bits() const { return loss / std::log(2.0); }
};

// Loss of the model on a sequence of ids, read in one stream with carried state
// (exactly the loss of one long pass), `chunk` symbols at a time.
template <class T>
LmMetrics evaluate_lm(const Model<T>& model, const std::vector<int>& ids, int chunk = 256) {
  SerialBlas serial;  // one stream: products too small to share between threads
  typename Model<T>::Workspace ws;
  LmMetrics m;
  for (std::size_t start = 0; start + 1 < ids.size(); start += std::size_t(chunk)) {
    const int len = int(std::min<std::size_t>(std::size_t(chunk), ids.size() - 1 - start));
    Batch b;
    b.T = len, b.B = 1;
    b.ids.assign(ids.begin() + std::ptrdiff_t(start), ids.begin() + std::ptrdiff_t(start) + len);
    b.targets.assign(ids.begin() + std::ptrdiff_t(start) + 1, ids.begin() + std::ptrdiff_t(start) + len + 1);
    b.lengths = {len};
    model.forward(b, ws);
    m.loss += cross_entropy_sum<T>(ws.logits, b.targets);
    m.n += len;
    std::swap(ws.h0, ws.final_h);  // the final state becomes the next initial state
    std::swap(ws.c0, ws.final_c);
  }
  if (m.n) m.loss /= double(m.n);
  return m;
}

struct LmOptions {
  long steps = 2000;           // optimizer steps
  int batch = 32;              // B parallel streams
  int seq_len = 64;            // T symbols per step
  StepOptions step{2e-3, {}, {}, 0, 5};  // lr 2e-3, clipping the global norm to 5; schedule over steps
  long eval_every = 200;       // steps between validations (and log lines)
  int patience = 0;            // stop after this many validations without improvement; 0 = never
  double plateau_decay = 1;    // multiply the learning rate by this when validation does not improve
};

struct LmLog {
  long step = 0, steps = 0;
  double lr = 0;
  double train_loss = 0;        // mean over the steps since the last log
  bool has_valid = false;
  LmMetrics valid;
  bool best = false;            // the best validation so far (the model worth keeping)
  double tokens_per_s = 0;
};

// Where a language-model run stands after a step: enough to resume it exactly.
template <class T>
struct LmPoint {
  long steps = 0;                    // completed
  Rng rng;
  std::vector<Matrix<T>> h, c;       // the state carried into the next step
  double lr_scale = 1, best = std::numeric_limits<double>::infinity(), loss_sum = 0;
  long bad_evals = 0, since_log = 0;
};

template <class T>
struct LmHooks {
  const LmPoint<T>* resume = nullptr;  // continue from here instead of step 1
  // After every step, with the mean training loss since the last log line;
  // `at` builds the resumable point on demand. Return false to stop.
  std::function<bool(long step, double loss, const std::function<LmPoint<T>()>& at)> after_step;
};

// Trains with truncated BPTT on `train` (ids), validating on `valid` when given.
// on_log gets a line's worth every eval_every steps (and at the end); it may
// return false to stop early.
template <class T>
void train_lm(Model<T>& model, Optimizer<T>& optimizer, const std::vector<int>& train, const std::vector<int>* valid,
              const LmOptions& opt, Rng& rng, const std::function<bool(const LmLog&)>& on_log,
              const LmHooks<T>& hooks = {});

// Next-symbol sampling: temperature (0 = the most likely symbol), then top-k
// (0 = all) and top-p (1 = all) filtering of the distribution.
struct SampleOptions {
  double temperature = 1.0;
  int top_k = 0;
  double top_p = 1.0;
};
int sample_next(const float* logits, int V, const SampleOptions& o, Rng& rng, std::vector<double>& scratch);

// Runs the prime through the model, then samples `length` symbols, handing each
// to emit as it is made. An empty prime starts from symbol 0 (the CLI primes
// with a newline when the vocabulary has one).
void generate(const Model<float>& model, const std::vector<int>& prime, long length, const SampleOptions& o,
              Rng& rng, const std::function<void(int)>& emit);

}  // namespace recur
