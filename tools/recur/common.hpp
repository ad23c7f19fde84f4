// Shared pieces of the recur command-line tool.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdio>
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
void setup_cv(CLI::App& app);

// The flags that say how to read a labelled data file (train and eval).
struct DataFlags {
  std::string format;  // --data-format: tsv, csv or jsonl; empty: by the extension
  recur::LoadOptions load;
};
void add_data_flags(CLI::App* cmd, DataFlags& f);
// Loads a labelled file; skipped records (--skip-bad) are counted on stderr.
std::vector<recur::LabeledText> load_data(const std::string& path, const DataFlags& f);

// --log-json FILE: one JSON object per line, one line per evaluation, flushed as
// it is written so a run can be followed (or plotted) while it trains.
class JsonLog {
 public:
  explicit JsonLog(const std::string& path);  // empty path: a log that writes nothing
  ~JsonLog();
  void write(const std::string& json_object);

 private:
  std::FILE* f_ = nullptr;
};

// What happens to a word the vocabulary does not know, for messages:
// "mapped to <unk>" or "each given a zero input vector".
std::string unknown_words_policy(const recur::Vocabulary& vocab);

// Lowercases ASCII letters when the model was trained lowercased.
std::string normalize(const std::string& text, const recur::ModelInfo& info);

// Predicted class of each example and the summary metrics the CLI reports.
struct ClassScores {
  double precision = 0, recall = 0, f1 = 0;
  long support = 0;  // examples of this class in the data
};
struct Report {
  recur::Metrics metrics;
  double macro_f1 = 0;
  std::vector<ClassScores> per_class;
  std::vector<std::vector<long>> confusion;  // [true][predicted]
};
Report report(const recur::Model<float>& model, const recur::EncodedSet& data, int classes);

}  // namespace recur_cli
