#include "recur/optim.hpp"

namespace recur {

std::string to_string(OptimizerKind k) {
  switch (k) {
    case OptimizerKind::sgd: return "sgd";
    case OptimizerKind::momentum: return "momentum";
    case OptimizerKind::adagrad: return "adagrad";
    case OptimizerKind::rmsprop: return "rmsprop";
    case OptimizerKind::adam: return "adam";
    case OptimizerKind::adamw: return "adamw";
  }
  return "?";
}

OptimizerKind optimizer_from_string(const std::string& s) {
  for (OptimizerKind k : {OptimizerKind::sgd, OptimizerKind::momentum, OptimizerKind::adagrad, OptimizerKind::rmsprop,
                          OptimizerKind::adam, OptimizerKind::adamw})
    if (to_string(k) == s) return k;
  throw Error("unknown optimizer '" + s + "' (known: sgd, momentum, adagrad, rmsprop, adam, adamw)");
}

Schedule::Kind schedule_from_string(const std::string& s) {
  if (s == "constant") return Schedule::constant;
  if (s == "step") return Schedule::step;
  if (s == "cosine") return Schedule::cosine;
  throw Error("unknown schedule '" + s + "' (known: constant, step, cosine)");
}

}  // namespace recur
