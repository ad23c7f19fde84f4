// What a training run reports (include/recur/run.hpp).
#include "recur/run.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace recur {

bool better(const Metrics& a, const Metrics& b) {
  if (a.has_accuracy && b.has_accuracy) return a.accuracy > b.accuracy || (a.accuracy == b.accuracy && a.loss < b.loss);
  return a.loss < b.loss;
}

std::string format_seed_log(const Evaluation& e) {
  char buf[160];
  std::string s;
  std::snprintf(buf, sizeof buf, "--- Epoch %ld\nTrain:\tLoss %.3f | Accuracy: %.3f\n", e.epoch, e.train.loss,
                e.train.accuracy);
  s += buf;
  if (e.has_valid) {
    std::snprintf(buf, sizeof buf, "Valid:\tLoss %.3f | Accuracy: %.3f%s\n", e.valid.loss, e.valid.accuracy,
                  e.best ? " *" : "");
    s += buf;
  }
  if (e.has_test) {
    std::snprintf(buf, sizeof buf, "Test:\tLoss %.3f | Accuracy: %.3f\n", e.test.loss, e.test.accuracy);
    s += buf;
  }
  return s;
}

std::string to_json(const Evaluation& e) {
  nlohmann::ordered_json j;
  if (e.epochs > 0) {
    j["epoch"] = e.epoch;
    j["train_loss"] = e.train.loss;
    j["train_accuracy"] = e.train.accuracy;
    if (e.has_valid) {
      j["valid_loss"] = e.valid.loss;
      j["valid_accuracy"] = e.valid.accuracy;
      j["best"] = e.best;
    }
    if (e.has_test) {
      j["test_loss"] = e.test.loss;
      j["test_accuracy"] = e.test.accuracy;
    }
  } else {
    j["step"] = e.step;
    j["lr"] = e.lr;
    j["train_loss"] = e.train.loss;
    if (e.has_valid) {
      j["valid_loss"] = e.valid.loss;
      j["valid_bits"] = e.valid.bits();
      j["best"] = e.best;
    }
    j["tokens_per_s"] = e.tokens_per_s;
  }
  return j.dump();
}

}  // namespace recur
