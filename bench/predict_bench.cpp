// The model's own time for one short text, the C++ side of bench/python_bench.py:
// Classifier::predict(text) and Classifier::predict({text}) called in a loop, the
// calls recur.Classifier.predict_proba([text]) makes from Python. The Python
// bench subtracts these to get the binding's overhead per call.
//
//   predict_bench MODEL TEXT [CALLS] [ROUNDS]
// Prints one line of JSON: the best round's microseconds per call, for each.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "recur/classifier.hpp"
#include "recur/tensor.hpp"

int main(int argc, char** argv) {
  recur::use_blas_core_for_cpu(argv);  // as the recur program does
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s MODEL TEXT [CALLS] [ROUNDS]\n", argv[0]);
    return 2;
  }
  try {
    const recur::Classifier model = recur::Classifier::load(argv[1]);
    const std::string text = argv[2];
    const int calls = argc > 3 ? std::atoi(argv[3]) : 20000, rounds = argc > 4 ? std::atoi(argv[4]) : 7;
    double sink = 0;
    auto best_us = [&](auto call) {
      double best = 1e30;
      for (int r = 0; r < rounds; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < calls; ++i) sink += call();
        const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / calls;
        best = std::min(best, us);
      }
      return best;
    };
    const std::vector<std::string> one = {text};
    nlohmann::ordered_json j;
    j["text"] = text;
    j["tokens"] = model.info().encode(text).ids.size();
    j["predict_text_us"] = best_us([&] { return model.predict(text).probabilities[0]; });
    j["predict_list_us"] = best_us([&] { return model.predict(one, 1)[0].probabilities[0]; });
    j["calls"] = calls;
    j["rounds"] = rounds;
    j["checksum"] = sink;
    std::printf("%s\n", j.dump().c_str());
  } catch (const recur::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
