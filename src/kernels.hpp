// kernels.hpp (private to the library) — small matrix-vector kernels for one
// sequence at a time.
//
// The seed's training step (seed_step.hpp) is, at H = 64, a few 64x64
// matrix-vector products and one low-rank update per sequence. At that size
// the data sits in L1 and the cost is keeping the FMA units busy. These
// kernels are written with Eigen's packet primitives — one SIMD register of
// `lanes` scalars: 16 floats with AVX-512, 8 with AVX2, 4 with SSE or NEON —
// so they compile to fused multiply-adds on every target, and each keeps
// several independent sums in flight so an FMA never waits for the one before.
//
// Shapes: A and W row-major (R, C); x, y, u, v plain arrays.
#pragma once

#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <type_traits>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "recur/tensor.hpp"  // (first: it pins Eigen's alignment)
#include "recur/optim.hpp"

namespace recur {
namespace kernels {

// Keeps a loaded packet in a register. Without it GCC folds each use of a
// packet loaded once and used several times into its multiply-add as a
// memory operand — rows_times_block loaded every packet of WT once per row
// instead of once, and ran at about half the FMA units' rate (60 against 112
// GFLOP/s on one Zen 4 core, 53 against 102 with AVX2; the (32, 576) x
// (576, 1024) product of the g2p preset's decoder step).
template <class P>
inline void in_register(P& p) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  __asm__("" : "+v"(p));
#else
  (void)p;
#endif
}

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

template <class T>
using Packet = typename Eigen::internal::packet_traits<T>::type;
template <class T>
constexpr int lanes = Eigen::internal::packet_traits<T>::size;

// y += A^T x: the rows of A, each scaled by its x_i, summed. Four packets of
// columns at a time, with two partial sums (even and odd rows) for each; the
// columns left (fewer than four packets) in one more pass over the rows, with
// AVX-512 and float its last packet masked, otherwise a packet at a time and
// then one column at a time.
template <class T>
void matvec_t(const T* A, int R, int C, const T* x, T* y) {
  using namespace Eigen::internal;
  using P = Packet<T>;
  constexpr int L = lanes<T>;
  int j0 = 0;
  for (; j0 + 4 * L <= C; j0 += 4 * L) {
    P a[4], b[4];
    for (int k = 0; k < 4; ++k) a[k] = b[k] = pzero(P());
    int i = 0;
    for (; i + 2 <= R; i += 2) {
      const T* r = A + std::size_t(i) * C + j0;
      const P x0 = pset1<P>(x[i]), x1 = pset1<P>(x[i + 1]);
      for (int k = 0; k < 4; ++k) a[k] = pmadd(x0, ploadu<P>(r + k * L), a[k]);
      for (int k = 0; k < 4; ++k) b[k] = pmadd(x1, ploadu<P>(r + C + k * L), b[k]);
    }
    if (i < R) {
      const T* r = A + std::size_t(i) * C + j0;
      const P x0 = pset1<P>(x[i]);
      for (int k = 0; k < 4; ++k) a[k] = pmadd(x0, ploadu<P>(r + k * L), a[k]);
    }
    for (int k = 0; k < 4; ++k) pstoreu(y + j0 + k * L, padd(ploadu<P>(y + j0 + k * L), padd(a[k], b[k])));
  }
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>) {
    if (j0 < C) {  // the rest (under four packets) in one pass over the rows, the last packet masked
      const int rest = C - j0;
      __mmask16 m[4];
      for (int k = 0; k < 4; ++k) {
        const int n = std::clamp(rest - 16 * k, 0, 16);
        m[k] = __mmask16((1u << n) - 1);
      }
      __m512 a[4], b[4];
      for (int k = 0; k < 4; ++k) a[k] = b[k] = _mm512_setzero_ps();
      int i = 0;
      for (; i + 2 <= R; i += 2) {
        const float* r = A + std::size_t(i) * C + j0;
        const __m512 x0 = _mm512_set1_ps(x[i]), x1 = _mm512_set1_ps(x[i + 1]);
        for (int k = 0; k < 4; ++k) a[k] = _mm512_fmadd_ps(x0, _mm512_maskz_loadu_ps(m[k], r + 16 * k), a[k]);
        for (int k = 0; k < 4; ++k) b[k] = _mm512_fmadd_ps(x1, _mm512_maskz_loadu_ps(m[k], r + C + 16 * k), b[k]);
      }
      if (i < R) {
        const float* r = A + std::size_t(i) * C + j0;
        const __m512 x0 = _mm512_set1_ps(x[i]);
        for (int k = 0; k < 4; ++k) a[k] = _mm512_fmadd_ps(x0, _mm512_maskz_loadu_ps(m[k], r + 16 * k), a[k]);
      }
      for (int k = 0; k < 4; ++k)
        _mm512_mask_storeu_ps(y + j0 + 16 * k, m[k],
                              _mm512_add_ps(_mm512_maskz_loadu_ps(m[k], y + j0 + 16 * k), _mm512_add_ps(a[k], b[k])));
      return;
    }
  }
#endif
  for (; j0 + L <= C; j0 += L) {  // then one packet of columns at a time
    P a = pzero(P()), b = pzero(P());
    int i = 0;
    for (; i + 2 <= R; i += 2) {
      const T* r = A + std::size_t(i) * C + j0;
      a = pmadd(pset1<P>(x[i]), ploadu<P>(r), a);
      b = pmadd(pset1<P>(x[i + 1]), ploadu<P>(r + C), b);
    }
    if (i < R) a = pmadd(pset1<P>(x[i]), ploadu<P>(A + std::size_t(i) * C + j0), a);
    pstoreu(y + j0, padd(ploadu<P>(y + j0), padd(a, b)));
  }
  for (int j = j0; j < C; ++j) {  // columns left over: one at a time
    T s = 0;
    for (int i = 0; i < R; ++i) s += x[i] * A[std::size_t(i) * C + j];
    y[j] += s;
  }
}

#if defined(__AVX512F__)
namespace detail {
// 16 rows' dot products at once: acc[r] holds row r's 16 partial sums. Adding
// neighbours pairwise, four times, folds them into one register whose lane r
// is row r's total — 15 adds and 30 shuffles instead of 16 separate
// horizontal sums.
inline __m512 sum_each_of_16(const __m512 (&acc)[16]) {
  __m512 l1[8], l2[4], l3[2];
  for (int k = 0; k < 8; ++k)  // 128-bit halves: (row 2k: blocks 0+2, 1+3), (row 2k+1: same)
    l1[k] = _mm512_add_ps(_mm512_shuffle_f32x4(acc[2 * k], acc[2 * k + 1], 0x44),
                          _mm512_shuffle_f32x4(acc[2 * k], acc[2 * k + 1], 0xEE));
  for (int k = 0; k < 4; ++k)  // one 128-bit block per row, 4 partial sums each
    l2[k] = _mm512_add_ps(_mm512_shuffle_f32x4(l1[2 * k], l1[2 * k + 1], 0x88),
                          _mm512_shuffle_f32x4(l1[2 * k], l1[2 * k + 1], 0xDD));
  for (int k = 0; k < 2; ++k)  // 2 partial sums per row
    l3[k] = _mm512_add_ps(_mm512_unpacklo_ps(l2[2 * k], l2[2 * k + 1]), _mm512_unpackhi_ps(l2[2 * k], l2[2 * k + 1]));
  const __m512d p = _mm512_castps_pd(l3[0]), q = _mm512_castps_pd(l3[1]);
  const __m512 s = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(p, q)), _mm512_castpd_ps(_mm512_unpackhi_pd(p, q)));
  // Lane k of s now holds row {0,4,8,12,1,5,9,13,2,6,10,14,3,7,11,15}[k]; put row r in lane r.
  return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), s);
}
}  // namespace detail
#endif

// y += A x: each y_i gains the dot product of row i with x. With AVX-512 and
// float, sixteen rows at a time (detail::sum_each_of_16); otherwise, and for
// the rows left over, Eigen's own matrix-vector kernel (gemv_small).
template <class T>
void matvec(const T* A, int R, int C, const T* x, T* y) {
  int i = 0;
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>) {
    const int full = C - C % 16;                          // columns in whole packets ...
    const __mmask16 tail = __mmask16((1u << (C % 16)) - 1);  // ... and the rest, read masked
    for (; i + 16 <= R; i += 16) {
      __m512 acc[16];
      for (int r = 0; r < 16; ++r) acc[r] = _mm512_setzero_ps();
      for (int j = 0; j < full; j += 16) {
        const __m512 xv = _mm512_loadu_ps(x + j);
        for (int r = 0; r < 16; ++r)
          acc[r] = _mm512_fmadd_ps(_mm512_loadu_ps(A + std::size_t(i + r) * C + j), xv, acc[r]);
      }
      if (tail) {
        const __m512 xv = _mm512_maskz_loadu_ps(tail, x + full);
        for (int r = 0; r < 16; ++r)
          acc[r] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, A + std::size_t(i + r) * C + full), xv, acc[r]);
      }
      _mm512_storeu_ps(y + i, _mm512_add_ps(_mm512_loadu_ps(y + i), detail::sum_each_of_16(acc)));
    }
  }
#endif
  if (i < R) gemv_small(A + std::size_t(i) * C, R - i, C, false, x, y + i);
}

// Columns j0 .. C-1 of row i of sgd_outer_update, one at a time.
template <class T>
void sgd_outer_update_tail(T* row, int i, int j0, int C, const T* u, int ldu, const T* v, int ldv, int n, T lr, T c) {
  for (int j = j0; j < C; ++j) {
    T g = 0;
    for (int s = 0; s < n; ++s) g += u[std::size_t(s) * ldu + i] * v[std::size_t(s) * ldv + j];
    row[j] -= lr * clip_value(g, c);
  }
}

// The seed's SGD update with the gradient formed in place:
//   W[i][:] -= lr * clip(sum_{s < n} u_s[i] v_s[:]),  clip into [-c, c] (c = inf: none)
// where u_s = u + s*ldu (R values) and v_s = v + s*ldv (C values), n >= 1. The
// gradient is a sum of n outer products (dW_hh = sum_s dz_s h_{s-1}^T), built
// four packets of a row at a time in registers and never stored.
template <class T>
void sgd_outer_update(T* W, int R, int C, const T* u, int ldu, const T* v, int ldv, int n, T lr, T c) {
  using namespace Eigen::internal;
  using P = Packet<T>;
  constexpr int L = lanes<T>;
  const P lo = pset1<P>(-c), hi = pset1<P>(c), neg_lr = pset1<P>(-lr);
  // Two rows at a time: each packet of v read serves both.
  int i = 0;
  for (; i + 2 <= R; i += 2) {
    T* row0 = W + std::size_t(i) * C;
    T* row1 = row0 + C;
    int j0 = 0;
    for (; j0 + 4 * L <= C; j0 += 4 * L) {
      P g0[4], g1[4];
      P d0 = pset1<P>(u[i]), d1 = pset1<P>(u[i + 1]);
      for (int k = 0; k < 4; ++k) {
        P vk = ploadu<P>(v + j0 + k * L);
        in_register(vk);
        g0[k] = pmul(d0, vk);
        g1[k] = pmul(d1, vk);
      }
      for (int s = 1; s < n; ++s) {
        const T* vs = v + std::size_t(s) * ldv + j0;
        d0 = pset1<P>(u[std::size_t(s) * ldu + i]);
        d1 = pset1<P>(u[std::size_t(s) * ldu + i + 1]);
        for (int k = 0; k < 4; ++k) {
          P vk = ploadu<P>(vs + k * L);
          in_register(vk);
          g0[k] = pmadd(d0, vk, g0[k]);
          g1[k] = pmadd(d1, vk, g1[k]);
        }
      }
      for (int k = 0; k < 4; ++k) {  // row -= lr * clip(g), as one FMA
        T* o0 = row0 + j0 + k * L;
        T* o1 = row1 + j0 + k * L;
        pstoreu(o0, pmadd(neg_lr, pmin(pmax(g0[k], lo), hi), ploadu<P>(o0)));
        pstoreu(o1, pmadd(neg_lr, pmin(pmax(g1[k], lo), hi), ploadu<P>(o1)));
      }
    }
    if (j0 < C) {
      sgd_outer_update_tail(row0, i, j0, C, u, ldu, v, ldv, n, lr, c);
      sgd_outer_update_tail(row1, i + 1, j0, C, u, ldu, v, ldv, n, lr, c);
    }
  }
  if (i < R) sgd_outer_update_tail(W + std::size_t(i) * C, i, 0, C, u, ldu, v, ldv, n, lr, c);
}

// ---- inference: products whose every output is independent of the batch -------
//
// y[r][j] (+)= sum_k x[r][k] * WT[k][j] for rows r < R and columns j < Jp, with
// WT the transposed weight (K, Jp), Jp a multiple of the packet width: the
// "broadcast x, load a packet of WT" orientation of a GEMM micro-kernel. Each
// y[r][j] sums its K products in increasing k, one multiply-add at a time, in
// its own lane: its bits depend on x[r], WT and its starting value only — not
// on R, on which rows share a call, or on where they sit. That is what lets a
// batch of sequences give each one exactly the answer it gets alone
// (Reader, inference.hpp). Rows are processed four at a time and columns a few
// packets at a time, every accumulator in a register.
template <class T, int RB, int JB>
inline void rows_times_block(const T* x, int ldx, int K, const T* WT, int Jp, T* y, int ldy, bool accumulate) {
  using namespace Eigen::internal;
  using P = Packet<T>;
  constexpr int L = lanes<T>;
  P acc[RB][JB];
  for (int r = 0; r < RB; ++r)
    for (int j = 0; j < JB; ++j) acc[r][j] = accumulate ? ploadu<P>(y + std::size_t(r) * ldy + j * L) : pzero(P());
  for (int k = 0; k < K; ++k) {
    P w[JB];
    for (int j = 0; j < JB; ++j) {
      w[j] = ploadu<P>(WT + std::size_t(k) * Jp + j * L);
      in_register(w[j]);
    }
    for (int r = 0; r < RB; ++r) {
      const P xb = pset1<P>(x[std::size_t(r) * ldx + k]);
      for (int j = 0; j < JB; ++j) acc[r][j] = pmadd(xb, w[j], acc[r][j]);
    }
  }
  for (int r = 0; r < RB; ++r)
    for (int j = 0; j < JB; ++j) pstoreu(y + std::size_t(r) * ldy + j * L, acc[r][j]);
}

template <class T, int RB>
inline void rows_times_rows(const T* x, int ldx, int K, const T* WT, int Jp, T* y, int ldy, bool accumulate) {
  constexpr int L = lanes<T>;
  constexpr int JB = L >= 16 ? 4 : 2;  // 4x4 accumulators with 32 registers (AVX-512), 4x2 with 16
  int j = 0;
  for (; j + JB * L <= Jp; j += JB * L) rows_times_block<T, RB, JB>(x, ldx, K, WT + j, Jp, y + j, ldy, accumulate);
  for (; j < Jp; j += L) rows_times_block<T, RB, 1>(x, ldx, K, WT + j, Jp, y + j, ldy, accumulate);
}

template <class T>
void rows_times(const T* x, int ldx, int R, int K, const T* WT, int Jp, T* y, int ldy, bool accumulate) {
  int r = 0;
  for (; r + 4 <= R; r += 4)
    rows_times_rows<T, 4>(x + std::size_t(r) * ldx, ldx, K, WT, Jp, y + std::size_t(r) * ldy, ldy, accumulate);
  for (; r < R; ++r)
    rows_times_rows<T, 1>(x + std::size_t(r) * ldx, ldx, K, WT, Jp, y + std::size_t(r) * ldy, ldy, accumulate);
}

// The same product with WT packed in panels: panel p holds columns
// [p*W, p*W + W) of WT for every k, contiguous (K x W values, W = 4 packets
// with AVX-512, 2 with 16 registers; the last panel as wide as the columns
// left). A block of WT is then one stream of memory rather than K rows a
// whole WT row apart (a new page every k for a wide WT), and it serves every
// row while it is in cache. pack_panels lays WT out so; `at(k, j)` reads WT[k][j].
template <class T>
constexpr int panel_width() {
  return (lanes<T> >= 16 ? 4 : 2) * lanes<T>;
}

// Whether a product of `rows` rows belongs on the rows kernel with panels:
// more than one row (one has its matrix-vector kernels), every width a whole
// number of packets, and BLAS on one thread (recur train --threads: each
// rank's); with BLAS's threads, BLAS splits each product between the cores.
inline bool panels_pay(int rows, std::initializer_list<int> widths) {
  if (rows < 2 || blas_threads() != 1) return false;
  for (const int w : widths)
    if (w % lanes<float>) return false;
  return true;
}

template <class T, class At>
void pack_panels(int K, int Jp, At at, T* panels) {
  constexpr int W = panel_width<T>();
  for (int j0 = 0; j0 < Jp; j0 += W) {
    const int w = std::min(W, Jp - j0);
    T* p = panels + std::size_t(j0) * K;
    for (int k = 0; k < K; ++k)
      for (int c = 0; c < w; ++c) p[std::size_t(k) * w + c] = at(k, j0 + c);
  }
}

// pack_panels of WT = the transpose of a row-major W: WT[k][j] = W[j][k], W's
// rows ldw apart (the forward panels of a layer's weight, read from the
// weight itself). Blocks of lanes x lanes are transposed in registers; read
// one value at a time, the Jp rows a panel gathers from cost the packing
// several times as much.
template <class T>
void pack_panels_of_transpose(const T* W, int ldw, int K, int Jp, T* panels) {
  using namespace Eigen::internal;
  using P = Packet<T>;
  constexpr int L = lanes<T>, PW = panel_width<T>();
  for (int j0 = 0; j0 < Jp; j0 += PW) {
    const int w = std::min(PW, Jp - j0);
    T* p = panels + std::size_t(j0) * K;
    int k = 0;
    if (w % L == 0)
      for (; k + L <= K; k += L)
        for (int c = 0; c < w; c += L) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"  // (a packet type as a template argument, as Eigen's own)
          PacketBlock<P, L> b;
#pragma GCC diagnostic pop
          for (int i = 0; i < L; ++i) b.packet[i] = ploadu<P>(W + std::size_t(j0 + c + i) * ldw + k);
          ptranspose(b);
          for (int i = 0; i < L; ++i) pstoreu(p + std::size_t(k + i) * w + c, b.packet[i]);
        }
    for (; k < K; ++k)
      for (int c = 0; c < w; ++c) p[std::size_t(k) * w + c] = W[std::size_t(j0 + c) * ldw + k];
  }
}

template <class T>
void rows_times_panels(const T* x, int ldx, int R, int K, const T* panels, int Jp, T* y, int ldy, bool accumulate) {
  constexpr int L = lanes<T>, JB = panel_width<T>() / L, W = panel_width<T>();
  int j0 = 0;
  for (; j0 + W <= Jp; j0 += W) {
    const T* p = panels + std::size_t(j0) * K;
    int r = 0;
    for (; r + 4 <= R; r += 4)
      rows_times_block<T, 4, JB>(x + std::size_t(r) * ldx, ldx, K, p, W, y + std::size_t(r) * ldy + j0, ldy, accumulate);
    for (; r < R; ++r)
      rows_times_block<T, 1, JB>(x + std::size_t(r) * ldx, ldx, K, p, W, y + std::size_t(r) * ldy + j0, ldy, accumulate);
  }
  if (j0 < Jp) {  // the last panel, Jp - j0 wide (whole packets)
    const int w = Jp - j0;
    const T* p = panels + std::size_t(j0) * K;
    for (int q = 0; q < w; q += L) {
      int r = 0;
      for (; r + 4 <= R; r += 4)
        rows_times_block<T, 4, 1>(x + std::size_t(r) * ldx, ldx, K, p + q, w, y + std::size_t(r) * ldy + j0 + q, ldy,
                                  accumulate);
      for (; r < R; ++r)
        rows_times_block<T, 1, 1>(x + std::size_t(r) * ldx, ldx, K, p + q, w, y + std::size_t(r) * ldy + j0 + q, ldy,
                                  accumulate);
    }
  }
}

// The padded width of a row of n values: a whole number of packets, so every
// row of a (rows, padded(n)) buffer starts on the same alignment and the
// elementwise math runs the same way on each.
template <class T>
constexpr int padded(int n) {
  return (n + lanes<T> - 1) / lanes<T> * lanes<T>;
}

}  // namespace kernels
}  // namespace recur
