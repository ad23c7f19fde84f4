// recur/optim.hpp — optimizers, gradient clipping and learning-rate schedules.
//
// Parameters, gradients and optimizer moments share one flat layout, so every
// update below is one loop over the whole model. The update rules are
// PyTorch's (torch.optim), so a run can be compared step for step:
//
//   sgd        w -= lr * g
//   momentum   b = μ b + g (b = g at the first step);  w -= lr * (nesterov ? g + μ b : b)
//   adagrad    s += g²;  w -= lr * g / (√s + 1e-10)
//   rmsprop    v = α v + (1 - α) g²;  w -= lr * g / (√v + ε)          α = 0.99
//   adam       m = β1 m + (1 - β1) g;  v = β2 v + (1 - β2) g²
//              w -= lr / (1 - β1^t) * m / (√v / √(1 - β2^t) + ε)
//   adamw      w *= 1 - lr λ, then adam without weight decay in g
// Weight decay λ (all but adamw) is L2: g += λ w before the rule.
// Sparse rows (an embedding's, --sparse-embedding): a row whose gradient is
// all zero — a word the step did not read — is left as it is, moments
// included (PyTorch's sparse embedding gradients with SparseAdam; for SGD
// without weight decay exactly the dense update), so a step costs what the
// batch read, not the size of the table.
// Bodies in src/optim.cpp, instantiated for float and double.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "recur/error.hpp"
#include "recur/tensor.hpp"

namespace recur {

// x clipped into [-c, c].
template <class T>
T clip_value(T x, T c) {
  return std::min(std::max(x, -c), c);
}

// The bound c of a value clip given as an option: the option when positive,
// else none (infinity, which clip_value leaves every x alone with).
template <class T>
T clip_bound(double clip) {
  return clip > 0 ? T(clip) : std::numeric_limits<T>::infinity();
}

// Element ranges [begin, end) of a buffer; null where one is expected: all of it.
using Ranges = std::vector<std::pair<std::size_t, std::size_t>>;

// The seed's clipping: every gradient element into [-c, c] (c <= 0: off).
template <class T>
void clip_by_value(Buffer<T>& g, T c, const Ranges* r = nullptr);

// PyTorch's clip_grad_norm_: if the global L2 norm exceeds max_norm, scale all
// gradients by max_norm / (norm + 1e-6). Returns the norm before clipping.
template <class T>
double clip_by_global_norm(Buffer<T>& g, double max_norm, const Ranges* r = nullptr);

// Whether every element is finite (no NaN, no inf): one pass, vectorized (the
// trainer checks each step's gradients with it).
template <class T>
bool all_finite(const T* x, std::size_t n);
template <class T>
bool all_finite(const Buffer<T>& b) {
  return all_finite(b.data(), b.size());
}
template <class T>
bool all_finite(const Buffer<T>& b, const Ranges& r);

enum class OptimizerKind { sgd, momentum, adagrad, rmsprop, adam, adamw };

// Rows of a tensor in the parameter buffer: rows x cols from offset.
struct RowBlock {
  std::size_t offset = 0, rows = 0, cols = 0;
};
// What a step with sparse blocks (sorted by offset) touches: everything outside
// them, and their rows whose gradient is not all zero; one pass over the blocks.
template <class T>
Ranges step_ranges(const Buffer<T>& g, const std::vector<RowBlock>& sparse);

std::string to_string(OptimizerKind k);
OptimizerKind optimizer_from_string(const std::string& s);  // throws recur::Error

struct OptimizerOptions {
  OptimizerKind kind = OptimizerKind::sgd;
  double momentum = 0.9;  // μ
  bool nesterov = false;
  double alpha = 0.99;    // rmsprop
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;  // λ
};

template <class T>
class Optimizer {
 public:
  Optimizer(const OptimizerOptions& o, std::size_t n) : o_(o) {
    if (o.kind != OptimizerKind::sgd) m_.assign(n, T(0));
    if (o.kind == OptimizerKind::adam || o.kind == OptimizerKind::adamw) v_.assign(n, T(0));
  }

  const OptimizerOptions& options() const { return o_; }
  long steps() const { return t_; }
  // State, for checkpoints: the moments in the parameters' layout and the step count.
  Buffer<T>& first_moment() { return m_; }
  Buffer<T>& second_moment() { return v_; }
  const Buffer<T>& first_moment() const { return m_; }
  const Buffer<T>& second_moment() const { return v_; }
  void set_steps(long t) { t_ = t; }

  // One update. `clip` > 0 first clips every gradient element into [-clip, clip]
  // as it is read (clip_by_value fused into the update's single pass).
  // With `ranges`, only those elements (the rest of a sparse step's rows stay as they are).
  void step(Buffer<T>& w, const Buffer<T>& grad, double lr, double clip = 0, const Ranges* ranges = nullptr);

 private:
  OptimizerOptions o_;
  Buffer<T> m_, v_;
  long t_ = 0;
};

// Learning rate by epoch (0-based) for a run of `epochs` epochs.
struct Schedule {
  enum Kind { constant, step, cosine } kind = constant;
  int step_size = 10;   // step: multiply by gamma every step_size epochs
  double gamma = 0.5;
  double min_lr = 0;    // cosine: the floor (approached, never trained at)
  double lr(double base, int epoch, int epochs) const {
    switch (kind) {
      case constant: return base;
      case step: return base * std::pow(gamma, double(epoch / std::max(1, step_size)));
      case cosine: {  // PyTorch's CosineAnnealingLR with T_max = epochs: the floor comes after the last epoch
        const double x = double(epoch) / double(std::max(1, epochs));
        return min_lr + 0.5 * (base - min_lr) * (1 + std::cos(3.14159265358979323846 * x));
      }
    }
    return base;
  }
};
Schedule::Kind schedule_from_string(const std::string& s);  // throws recur::Error

// How every optimizer step is taken: gradient clipping, the update rule, and its
// learning rate over time.
struct StepOptions {
  double lr = 0.02;            // base learning rate
  OptimizerOptions optimizer;  // sgd by default
  Schedule schedule;           // constant by default
  double clip = 1.0;           // every gradient element into [-clip, clip]; 0 = off
  double clip_norm = 0;        // then the global L2 norm; 0 = off
  // Parameters kept as they are (offset, count in the parameter buffer): a
  // frozen embedding. Their gradients are left out of the clipping.
  std::vector<std::pair<std::size_t, std::size_t>> frozen;
  // Tensors updated row by row, only the rows with a gradient (sorted by offset).
  std::vector<RowBlock> sparse;
  // Parts of the buffer (offset, count) clipped by global norm each on its
  // own (several models trained together: an ensemble's members); empty: the
  // whole buffer is one.
  std::vector<std::pair<std::size_t, std::size_t>> norm_groups;
};

// Clipping (by value, then by global norm) and one optimizer step. Without norm
// clipping the value clip happens inside the update's pass over the gradients.
// With sparse blocks, only `ranges` (step_ranges of g; computed when null).
template <class T>
void clip_and_step(Optimizer<T>& optimizer, Buffer<T>& w, Buffer<T>& g, double lr, const StepOptions& o,
                   const Ranges* ranges = nullptr);

}  // namespace recur
