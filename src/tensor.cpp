#include "recur/tensor.hpp"

#include <unistd.h>

#if defined(__x86_64__) || defined(__SSE__)
#include <xmmintrin.h>
#define RECUR_HAVE_MXCSR 1
#endif

#include <cstdlib>
#include <mutex>
#include <sstream>
#include <stdexcept>

#ifdef RECUR_OPENBLAS
extern "C" {
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char* openblas_get_corename(void);
int blas_thread_shutdown_(void);
}
#endif

namespace recur {

#ifdef RECUR_OPENBLAS
int blas_threads() { return openblas_get_num_threads(); }
void set_blas_threads(int n) { openblas_set_num_threads(n); }
std::string blas_core() { return openblas_get_corename(); }
void stop_idle_blas_threads() { blas_thread_shutdown_(); }
#else
int blas_threads() { return 1; }
void set_blas_threads(int) {}
std::string blas_core() { return "none"; }
void stop_idle_blas_threads() {}
#endif

#ifdef RECUR_HAVE_MXCSR
FlushDenormals::FlushDenormals() : saved_(_mm_getcsr()) {
  _mm_setcsr(saved_ | 0x8040u);  // FTZ (bit 15), DAZ (bit 6)
#ifdef RECUR_OPENBLAS
  // OpenBLAS's worker threads keep the mode of the thread that started them
  // (at load, before main) and do half of every threaded product: measured
  // 200x slower on denormal inputs. Stopped once, they start again at the next
  // product from this thread, with its mode. (Not while another thread of the
  // process is inside OpenBLAS: the first training run of a process should not
  // overlap another thread's products.)
  static std::once_flag once;
  std::call_once(once, [] { blas_thread_shutdown_(); });
#endif
}
FlushDenormals::~FlushDenormals() { _mm_setcsr(saved_); }
#else
FlushDenormals::FlushDenormals() {}
FlushDenormals::~FlushDenormals() {}
#endif

std::string blas_core_for_cpu() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
  return "";
}

void use_blas_core_for_cpu(char** argv) {
#ifdef RECUR_OPENBLAS
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;  // the user's choice, or the restart
  const char* keep = std::getenv("RECUR_BLAS_CORE");
  if (keep != nullptr && std::string(keep) == "keep") return;
  const std::string want = blas_core_for_cpu();
  if (want.empty() || want == blas_core()) return;
  if (setenv("OPENBLAS_CORETYPE", want.c_str(), 1) != 0) return;
  execv("/proc/self/exe", argv);  // returns only on failure: go on with the kernels we have
  unsetenv("OPENBLAS_CORETYPE");
#else
  (void)argv;
#endif
}

Rng::State Rng::state() const {
  std::ostringstream ss;
  ss << mt_;
  return {ss.str(), has_gauss_, gauss_};
}

bool Rng::set_state(const State& s) {
  std::istringstream ss(s.mt);
  std::mt19937 mt;
  ss >> mt;
  if (ss.fail() || !(ss >> std::ws).eof()) return false;
  mt_ = mt;
  has_gauss_ = s.has_gauss;
  gauss_ = s.gauss;
  return true;
}

const ParamSpec* ParamTable::find(const std::string& name) const {
  for (const auto& s : specs_)
    if (s.name == name) return &s;
  return nullptr;
}

const ParamSpec& ParamTable::at(const std::string& name) const {
  const ParamSpec* s = find(name);
  if (!s) throw std::invalid_argument("no parameter named " + name);
  return *s;
}

std::size_t ParamTable::add(const std::string& name, int rows, int cols, bool vec) {
  // Each slot starts on a 64-byte boundary (16 floats) so vector loads stay aligned.
  const std::size_t off = (total_ + 15) / 16 * 16;
  specs_.push_back({name, rows, cols, vec, off});
  total_ = off + std::size_t(rows) * cols;
  return off;
}

}  // namespace recur
