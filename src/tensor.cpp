#include "recur/tensor.hpp"

#include <sstream>

#ifdef RECUR_OPENBLAS
extern "C" {
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
}
#endif

namespace recur {

#ifdef RECUR_OPENBLAS
int blas_threads() { return openblas_get_num_threads(); }
void set_blas_threads(int n) { openblas_set_num_threads(n); }
#else
int blas_threads() { return 1; }
void set_blas_threads(int) {}
#endif

Rng::State Rng::state() const {
  std::ostringstream ss;
  ss << mt_;
  return {ss.str(), has_gauss_, gauss_};
}

void Rng::set_state(const State& s) {
  std::istringstream ss(s.mt);
  ss >> mt_;
  has_gauss_ = s.has_gauss;
  gauss_ = s.gauss;
}

}  // namespace recur
