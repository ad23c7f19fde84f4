// Training a classifier from the command line: shared by `recur train` and
// `recur cv` (which runs it once per fold).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "recur/data.hpp"
#include "recur/io.hpp"
#include "recur/train.hpp"
#include "train_args.hpp"

namespace recur_cli {

// A classifier's data, encoded with the vocabulary and labels of its training part.
struct ClassifySets {
  recur::ModelInfo info;  // tokenizer, vocabulary, labels and model sizes
  recur::EncodedSet train;
  std::unique_ptr<recur::EncodedSet> valid, test;  // null when absent
  std::string train_name, valid_name, test_name;
};

// Lowercases (when asked), builds the vocabulary (--min-count, --max-vocab)
// and label set from `train`, the model's sizes from the flags, and encodes all
// three sets. Unknown words in valid/test are reported on stderr unless `quiet`.
ClassifySets prepare_classify(const TrainArgs& a, std::vector<recur::LabeledText> train,
                              std::vector<recur::LabeledText> valid, std::vector<recur::LabeledText> test,
                              const std::string& train_name, const std::string& valid_name,
                              const std::string& test_name, bool quiet = false);

// Splits --valid-fraction of `rows` off for validation, stratified, with a
// generator of its own seeded by --seed (so the split does not move the
// training run's random numbers). Returns the validation rows; `rows` keeps the rest.
std::vector<recur::LabeledText> split_validation(const TrainArgs& a, std::vector<recur::LabeledText>& rows);

struct ClassifyOutcome {
  recur::TrainResult result;
  std::vector<recur::EpochLog> history;  // every evaluation
  std::unique_ptr<recur::Model<float>> model;  // as the run ended (with validation: the best weights)
  double seconds = 0;
};

// How a run talks: `train` prints its log, checkpoints, saves and writes the
// report and JSON log as the flags say; a cross-validation fold only shows a
// progress bar headed `head`.
enum class RunMode { train, fold };
ClassifyOutcome run_classifier(const TrainArgs& a, const ClassifySets& d, RunMode mode, const std::string& head = "");

// `recur train` for --task classify.
void train_classify_command(const TrainArgs& a);

}  // namespace recur_cli
