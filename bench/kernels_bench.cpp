// The rows kernel (src/kernels.hpp) against OpenBLAS's sgemm on the same
// products, one core each, in one process: the per-step products recur runs
// on the kernel instead of BLAS (a decoder step of the g2p preset forward and
// backward, a step of the engine benchmark's LSTM 2x512 on one rank's 16 rows
// and on 32, the sentiment model's recurrent product at predict time).
//
//   kernels_bench [--seconds S]
//
// Prints the machine, the instruction set the kernels were compiled for and
// OpenBLAS's kernels, then one row a product: GFLOP/s of the kernel on packed
// panels, of the kernel on the plain transposed weight, of sgemm, and panels /
// sgemm. Each figure is the best of five timings of S/5 seconds.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "kernels.hpp"  // (a private header of the library, in src/)
#include "recur/rng.hpp"
#include "recur/tensor.hpp"

extern "C" void sgemm_(const char* ta, const char* tb, const int* m, const int* n, const int* k, const float* alpha,
                       const float* a, const int* lda, const float* b, const int* ldb, const float* beta, float* c,
                       const int* ldc);

namespace {

std::string cpu_name() {
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "?";
}

struct Shape {
  const char* what;
  int R, K, J;  // y (R x J) = x (R x K) * WT (K x J)
};

template <class F>
double gflops(const Shape& s, double seconds, F f) {
  double best = 0;
  for (int round = 0; round < 5; ++round) {
    long calls = 0;
    const auto t0 = std::chrono::steady_clock::now();
    double t = 0;
    do {
      f();
      ++calls;
      t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    } while (t < seconds / 5);
    best = std::max(best, 2.0 * s.R * s.K * s.J * calls / t / 1e9);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  recur::use_blas_core_for_cpu(argv);  // as the recur program does
  CLI::App app{"The rows kernel against OpenBLAS's sgemm, one core each"};
  double seconds = 2.5;
  app.add_option("--seconds", seconds, "Time per product and method")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  recur::set_blas_threads(1);
  constexpr int L = recur::kernels::lanes<float>;
  std::printf("machine: %s; kernels compiled for %s (%d floats a packet); OpenBLAS kernels %s\n", cpu_name().c_str(),
              L >= 16 ? "AVX-512" : L == 8 ? "AVX2" : "128-bit vectors", L, recur::blas_core().c_str());
  const std::vector<Shape> shapes = {
      {"g2p decoder step, input (u W_ih^T)", 32, 320, 1024},
      {"g2p decoder step, recurrent (h W_hh^T)", 32, 256, 1024},
      {"g2p decoder step, backward (dG W_ih)", 32, 1024, 320},
      {"g2p attention combine", 32, 512, 256},
      {"LSTM 2x512 step, one rank's 16 rows", 16, 512, 2048},
      {"LSTM 2x512 step, 32 rows", 32, 512, 2048},
      {"sentiment predict, h W_hh^T (BiLSTM 64)", 32, 64, 256},
  };
  std::printf("| product | R x K x J | panels GFLOP/s | plain GFLOP/s | sgemm GFLOP/s | panels / sgemm |\n");
  std::printf("|---|---|---:|---:|---:|---:|\n");
  recur::Rng rng(1);
  for (const Shape& s : shapes) {
    std::vector<float> x(std::size_t(s.R) * s.K), WT(std::size_t(s.K) * s.J), y(std::size_t(s.R) * s.J);
    for (float& v : x) v = float(2 * rng.uniform() - 1);
    for (float& v : WT) v = float(2 * rng.uniform() - 1);
    std::vector<float> panels(WT.size());
    recur::kernels::pack_panels<float>(s.K, s.J, [&](int k, int j) { return WT[std::size_t(k) * s.J + j]; },
                                       panels.data());
    const double on_panels = gflops(s, seconds, [&] {
      recur::kernels::rows_times_panels<float>(x.data(), s.K, s.R, s.K, panels.data(), s.J, y.data(), s.J, false);
    });
    const double plain = gflops(s, seconds, [&] {
      recur::kernels::rows_times<float>(x.data(), s.K, s.R, s.K, WT.data(), s.J, y.data(), s.J, false);
    });
    // Row-major y = x WT is column-major y^T = WT^T x^T: sgemm("N", "N", J, R, K, WT, x).
    const float one = 1, zero = 0;
    const double blas = gflops(s, seconds, [&] {
      sgemm_("N", "N", &s.J, &s.R, &s.K, &one, WT.data(), &s.J, x.data(), &s.K, &zero, y.data(), &s.J);
    });
    std::printf("| %s | %d x %d x %d | %.1f | %.1f | %.1f | %.2f |\n", s.what, s.R, s.K, s.J, on_panels, plain, blas,
                on_panels / blas);
  }
  return 0;
}
