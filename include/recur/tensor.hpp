// recur/tensor.hpp — matrix aliases, the parameter table, and the one RNG.
//
// Shape legend used in every kernel comment of the project:
//   B batch   T time   I input   H hidden   G gates (1 rnn, 3 gru, 4 lstm)
//   V vocabulary   C classes   D directions (1 or 2)
//
// All matrices are row-major, as PyTorch stores them, so a tensor named
// `rnn.weight_hh_l0` with shape (G*H, H) is the same bytes in memory, in a
// safetensors file and in a torch.Tensor.
#pragma once

#include <Eigen/Core>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace recur {

template <class T>
using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using Vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;
template <class T>
using MatrixMap = Eigen::Map<Matrix<T>>;
template <class T>
using ConstMatrixMap = Eigen::Map<const Matrix<T>>;
template <class T>
using VectorMap = Eigen::Map<Vector<T>>;
template <class T>
using RowMap = Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>>;

// Parameter, gradient and moment buffers: 64-byte aligned (and every parameter
// starts on a 64-byte boundary, see ParamTable), so the vectorized kernels take
// the same path whatever address the allocator returns — needed for runs that
// are bit-identical from one process (or one allocation) to the next.
template <class T>
using Buffer = std::vector<T, Eigen::aligned_allocator<T>>;

// Threads of the BLAS behind Eigen's products (OpenBLAS when built with it; a
// no-op otherwise). Batch-1 work — the seed's per-example training, evaluation
// one sequence at a time, generation — runs products too small to share: there
// two threads were measured 2-5x slower than one, so those loops hold a
// SerialBlas for their duration.
int blas_threads();
void set_blas_threads(int n);
class SerialBlas {
 public:
  SerialBlas() : saved_(blas_threads()) { set_blas_threads(1); }
  ~SerialBlas() { set_blas_threads(saved_); }
  SerialBlas(const SerialBlas&) = delete;
  SerialBlas& operator=(const SerialBlas&) = delete;

 private:
  int saved_;
};

// y += A x or y += A^T x for a row-major A (rows, cols), with Eigen's own
// matrix-vector kernel rather than a BLAS call. For one sequence (batch 1) the
// products are 64x64-sized and a BLAS call's fixed cost is a large share of the
// time; Eigen's kernel is inlined and needs no call setup. Rows of A are read
// whole in both cases: A x as dot products (several rows at a time), A^T x as
// axpy over rows (A^T is A read as column-major).
template <class T>
void gemv_small(const T* A, Eigen::Index rows, Eigen::Index cols, bool transpose, const T* x, T* y) {
  using Eigen::Index;
  using namespace Eigen::internal;
  if (!transpose)
    general_matrix_vector_product<Index, T, const_blas_data_mapper<T, Index, Eigen::RowMajor>, Eigen::RowMajor, false,
                                  T, const_blas_data_mapper<T, Index, Eigen::ColMajor>, false, Eigen::BuiltIn>::
        run(rows, cols, const_blas_data_mapper<T, Index, Eigen::RowMajor>(A, cols),
            const_blas_data_mapper<T, Index, Eigen::ColMajor>(x, 1), y, 1, T(1));
  else  // A^T: (cols, rows), column-major with stride cols
    general_matrix_vector_product<Index, T, const_blas_data_mapper<T, Index, Eigen::ColMajor>, Eigen::ColMajor, false,
                                  T, const_blas_data_mapper<T, Index, Eigen::RowMajor>, false, Eigen::BuiltIn>::
        run(cols, rows, const_blas_data_mapper<T, Index, Eigen::ColMajor>(A, cols),
            const_blas_data_mapper<T, Index, Eigen::RowMajor>(x, 1), y, 1, T(1));
}

// The project's one random number generator: MT19937 with numpy's legacy
// RandomState algorithms on top (np.random.seed(n) / randn / shuffle), so a run
// seeded with n draws the same numbers as the numpy reference seeded with n.
// It is passed down explicitly; nothing in the library owns a global RNG.
class Rng {
 public:
  explicit Rng(std::uint32_t seed = 0) : mt_(seed) {}

  std::uint32_t next_u32() { return static_cast<std::uint32_t>(mt_()); }

  // numpy legacy random_sample: 53-bit double in [0, 1).
  double uniform() {
    const std::uint32_t a = next_u32() >> 5, b = next_u32() >> 6;
    return (a * 67108864.0 + b) / 9007199254740992.0;
  }

  // numpy legacy gauss: polar Box–Muller, second value cached.
  double randn() {
    if (has_gauss_) {
      has_gauss_ = false;
      return gauss_;
    }
    double x1, x2, r2;
    do {
      x1 = 2.0 * uniform() - 1.0;
      x2 = 2.0 * uniform() - 1.0;
      r2 = x1 * x1 + x2 * x2;
    } while (r2 >= 1.0 || r2 == 0.0);
    const double f = std::sqrt(-2.0 * std::log(r2) / r2);
    gauss_ = f * x1;
    has_gauss_ = true;
    return f * x2;
  }

  // numpy legacy random_interval: uniform integer in [0, max], by masked rejection.
  std::uint64_t interval(std::uint64_t max) {
    if (max == 0) return 0;
    std::uint64_t mask = max;
    for (int s = 1; s <= 32; s *= 2) mask |= mask >> s;
    std::uint64_t v;
    if (max <= 0xffffffffULL) {
      do v = next_u32() & mask; while (v > max);
    } else {
      do v = ((std::uint64_t(next_u32()) << 32) | next_u32()) & mask; while (v > max);
    }
    return v;
  }

  // numpy legacy shuffle (Fisher–Yates from the end).
  template <class Seq>
  void shuffle(Seq& xs) {
    for (std::size_t i = xs.size(); i-- > 1;) {
      const std::size_t j = interval(i);
      std::swap(xs[i], xs[j]);
    }
  }

  // The full state, for checkpoints: same state -> same future draws.
  struct State {
    std::string mt;  // std::mt19937's textual state
    bool has_gauss = false;
    double gauss = 0.0;
  };
  State state() const;
  void set_state(const State& s);

 private:
  std::mt19937 mt_;
  bool has_gauss_ = false;
  double gauss_ = 0.0;
};

// A named, shaped slot in a flat parameter buffer.
struct ParamSpec {
  std::string name;  // PyTorch's name, e.g. "rnn.weight_hh_l0"
  int rows = 0;
  int cols = 0;      // 1 for a vector (stored with shape (rows) in files)
  bool is_vector = false;
  std::size_t offset = 0;
  std::size_t size() const { return std::size_t(rows) * cols; }
};

// The table of every parameter of a model: one contiguous buffer for values,
// gradients and optimizer moments share the same layout (same offsets), so the
// optimizer and clipping are one flat loop and saving is one walk of the table.
class ParamTable {
 public:
  std::size_t add_matrix(const std::string& name, int rows, int cols) {
    return add(name, rows, cols, false);
  }
  std::size_t add_vector(const std::string& name, int rows) { return add(name, rows, 1, true); }

  const std::vector<ParamSpec>& specs() const { return specs_; }
  std::size_t total() const { return total_; }
  const ParamSpec* find(const std::string& name) const {
    for (const auto& s : specs_)
      if (s.name == name) return &s;
    return nullptr;
  }
  const ParamSpec& at(const std::string& name) const {
    const ParamSpec* s = find(name);
    if (!s) throw std::invalid_argument("no parameter named " + name);
    return *s;
  }

 private:
  std::size_t add(const std::string& name, int rows, int cols, bool vec) {
    // Each slot starts on a 64-byte boundary (16 floats) so vector loads stay aligned.
    const std::size_t off = (total_ + 15) / 16 * 16;
    specs_.push_back({name, rows, cols, vec, off});
    total_ = off + std::size_t(rows) * cols;
    return off;
  }
  std::vector<ParamSpec> specs_;
  std::size_t total_ = 0;
};

}  // namespace recur
