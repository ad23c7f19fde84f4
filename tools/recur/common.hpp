// Shared pieces of the recur command-line tool.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "recur/data.hpp"
#include "recur/io.hpp"
#include "recur/train.hpp"

namespace recur_cli {

extern const char* const kBuiltinTrain;  // data/seed_train.tsv, compiled in
extern const char* const kBuiltinTest;   // data/seed_test.tsv

void setup_train(CLI::App& app);
void setup_predict(CLI::App& app);
void setup_eval(CLI::App& app);
void setup_generate(CLI::App& app);
void setup_info(CLI::App& app);

// Lowercases ASCII letters when the model was trained lowercased.
std::string normalize(const std::string& text, const recur::ModelInfo& info);

// Predicted class of each example and the summary metrics the CLI reports.
struct Report {
  recur::Metrics metrics;
  double macro_f1 = 0;
  std::vector<std::vector<long>> confusion;  // [true][predicted]
};
Report report(const recur::Model<float>& model, const recur::EncodedSet& data, int classes);

}  // namespace recur_cli
