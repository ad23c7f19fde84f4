#include "recur/tensor.hpp"

#include <sstream>
#include <stdexcept>

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
