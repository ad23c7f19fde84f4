// recur/tensor.hpp — matrix aliases, the parameter table, BLAS threads.
//
// Shape legend used in every kernel comment of the project:
//   B batch   T time   I input   H hidden   G gates (1 rnn, 3 gru, 4 lstm)
//   V vocabulary   C classes   D directions (1 or 2)
//
// All matrices are row-major, as PyTorch stores them, so a tensor named
// `rnn.weight_hh_l0` with shape (G*H, H) is the same bytes in memory, in a
// safetensors file and in a torch.Tensor.
//
// This is the engine's header: it brings in Eigen. The application API
// (classifier.hpp, language_model.hpp) does not, and needs no Eigen to use.
#pragma once

// Eigen's heap alignment is part of the library's binary interface: a matrix
// allocated inside the library (compiled for this machine's CPU, where Eigen
// aligns to 64 bytes with AVX-512) may be freed in a program compiled for
// plain x86-64 (where Eigen would align to 16 and free differently). Pinning it
// to 64 bytes for every translation unit that includes recur's headers makes
// both sides agree, whatever instruction set each is compiled for.
#ifndef EIGEN_MAX_ALIGN_BYTES
#define EIGEN_MAX_ALIGN_BYTES 64
#endif
#include <Eigen/Core>
#if EIGEN_MAX_ALIGN_BYTES != 64
#error "recur's headers need EIGEN_MAX_ALIGN_BYTES == 64: include them before any Eigen header"
#endif

#include <cstddef>
#include <string>
#include <vector>

#include "recur/error.hpp"
#include "recur/rng.hpp"

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

// OpenBLAS's worker threads spin (sched_yield) for about a tenth of a second
// whenever they have nothing to do — after the process starts and after each
// threaded product — before they sleep. A program whose own threads do the
// work on every core loses that time to them: `recur predict` (30,000 texts on
// two threads, 0.43 s) ran 9% faster without them. Stops them; the next
// threaded product starts them again. Call it only while no other thread of
// the process is inside BLAS.
void stop_idle_blas_threads();

// Denormal floats (below 1.2e-38; softmax probabilities of the symbols a
// trained model rules out, the gradients that flow from them) cost x86 cores a
// slow microcode path per operation: a sequence-to-sequence run was measured
// slowing from 5,200 to 2,400 target symbols/s over its first five epochs as
// they appeared. While a FlushDenormals lives, this thread's SSE/AVX arithmetic
// treats denormal inputs as zero and writes zero for denormal results
// (MXCSR's DAZ and FTZ), as PyTorch's set_flush_denormal(True) does; the
// previous mode comes back after. OpenBLAS's worker threads are restarted
// with the mode once per process, and keep it. run_training holds one for the
// whole run.
class FlushDenormals {
 public:
  FlushDenormals();
  ~FlushDenormals();
  FlushDenormals(const FlushDenormals&) = delete;
  FlushDenormals& operator=(const FlushDenormals&) = delete;

 private:
  unsigned saved_ = 0;
};

// The kernels OpenBLAS chose for this CPU ("SkylakeX", "Haswell", ...; "none"
// without OpenBLAS). Debian's OpenBLAS 0.3.21 picks them at load from a table
// of known CPU models; on a newer model than it knows (a Sapphire Rapids Xeon
// that reports itself generically, for one) it falls back to the SSE3
// "Prescott" kernels, and every product runs 2-3x slower. OpenBLAS reads
// OPENBLAS_CORETYPE only when it loads, before main, so the fix is a fresh
// start of the program with the variable set:
//  - blas_core_for_cpu(): the kernels for this CPU's instruction set
//    ("SkylakeX" with AVX-512 F/BW/VL/DQ, "Haswell" with AVX2 and FMA, "" else);
//  - use_blas_core_for_cpu(argv): when OPENBLAS_CORETYPE is unset and OpenBLAS
//    runs other kernels than blas_core_for_cpu(), sets the variable and
//    re-executes the program (/proc/self/exe with argv), so it returns only when
//    nothing needs to change or the restart is impossible. Call it first thing in
//    main. RECUR_BLAS_CORE=keep turns it off; an explicit OPENBLAS_CORETYPE wins.
// python/recur/__init__.py applies the same rule before it loads the library.
std::string blas_core();
std::string blas_core_for_cpu();
void use_blas_core_for_cpu(char** argv);
class SerialBlas {
 public:
  SerialBlas() : saved_(blas_threads()) { set_blas_threads(1); }
  ~SerialBlas() { set_blas_threads(saved_); }
  SerialBlas(const SerialBlas&) = delete;
  SerialBlas& operator=(const SerialBlas&) = delete;

 private:
  int saved_;
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
  std::size_t add_matrix(const std::string& name, int rows, int cols) { return add(name, rows, cols, false); }
  std::size_t add_vector(const std::string& name, int rows) { return add(name, rows, 1, true); }

  const std::vector<ParamSpec>& specs() const { return specs_; }
  std::size_t total() const { return total_; }
  const ParamSpec* find(const std::string& name) const;
  const ParamSpec& at(const std::string& name) const;  // throws std::invalid_argument

 private:
  std::size_t add(const std::string& name, int rows, int cols, bool vec);
  std::vector<ParamSpec> specs_;
  std::size_t total_ = 0;
};

}  // namespace recur
