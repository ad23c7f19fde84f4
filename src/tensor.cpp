#include "recur/tensor.hpp"

#include <sstream>

namespace recur {

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
