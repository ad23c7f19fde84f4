// recur/classifier.hpp — a text classifier (many-to-one): everything a model
// file holds (normalization, tokenizer, vocabulary, labels, configuration,
// weights) and everything done with it — train, save, load, predict, evaluate.
// The command line, the Python package and the server all call this; none of
// them tokenizes, batches or scores text itself.
//
//   recur::ClassifierData data;
//   data.train = recur::load_labeled("train.tsv", {});
//   recur::TrainOptions o;                      // the seed's settings; see options.hpp
//   recur::ClassifierRun run = recur::Classifier::train(data, o);
//   run.model.save("model.safetensors");
//   recur::Prediction p = run.model.predict("i am very happy");
//
// No engine types (Eigen) appear here: a program using this header needs no
// compiler flags beyond C++17.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "recur/config.hpp"
#include "recur/error.hpp"
#include "recur/explain.hpp"
#include "recur/data.hpp"
#include "recur/options.hpp"
#include "recur/run.hpp"
#include "recur/safetensors.hpp"

namespace recur {

template <class T>
class Model;
class Communicator;

struct Prediction {
  int label = 0;                      // the most probable label's index in labels()
  std::vector<double> probabilities;  // one per label, in labels() order
  int unknown = 0;                    // tokens the vocabulary does not know
  // The k most probable labels' indices, most probable first (a tie keeps label order).
  std::vector<int> top(int k) const;
  // One JSON object, as `recur predict --format jsonl` prints it:
  // {"label": "pos", "probabilities": {"neg": 0.03, "pos": 0.97}}
  std::string json(const std::vector<std::string>& labels) const;
};

struct ClassScores {
  double precision = 0, recall = 0, f1 = 0;
  long support = 0;  // examples of the class in the data
};

// A classifier on labelled data: `recur eval`'s report.
struct EvalReport {
  std::vector<std::string> labels;
  Metrics metrics;                          // n, mean cross-entropy, accuracy
  double macro_f1 = 0;                      // mean F1 over the classes present or predicted
  std::vector<ClassScores> per_class;       // in label order
  std::vector<std::vector<long>> confusion; // [true][predicted]
  long unknown_words = 0;
  std::string json() const;                 // one JSON object, as `recur eval --format json` prints
};

// What a classifier learns from: labelled examples, with optional validation
// (picks the best epoch, drives patience) and test data (reported at each
// evaluation). Names are for messages.
struct ClassifierData {
  std::vector<LabeledText> train, valid, test;
  std::string train_name = "train", valid_name = "valid", test_name = "test";
  static ClassifierData seed();  // the seed experiment's built-in data
};

struct ClassifierRun;

class Classifier {
 public:
  static Classifier load(const std::string& path);  // throws recur::Error naming the file
  Classifier(Classifier&&) noexcept;
  Classifier& operator=(Classifier&&) noexcept;
  ~Classifier();

  void save(const std::string& path) const;  // atomically: temporary file, fsync, rename
  // A model file's contents in memory: the tensors under PyTorch's names and the
  // metadata (docs/model-format.md), exactly what save() writes; from_safetensors
  // checks them as load() checks a file (`name` is for messages).
  SafeTensors to_safetensors() const;
  static Classifier from_safetensors(SafeTensors st, const std::string& name);
  const ModelInfo& info() const;
  const std::vector<std::string>& labels() const { return info().labels; }

  // Label probabilities of texts. Each text is normalized and tokenized as in
  // training; texts are read in batches, and a text's answer is exactly the
  // one it gets alone (recur/inference.hpp), whatever else is in the call. An
  // empty text gets the prediction of the empty sequence (the initial state
  // through the head). `threads` > 1 reads large calls on that many threads.
  Prediction predict(const std::string& text) const;
  std::vector<Prediction> predict(const std::vector<std::string>& texts, int threads = 1) const;

  // What the network does as it reads a text (explain.hpp).
  ClassifierExplanation explain(const std::string& text) const;
  HiddenStates hidden_states(const std::string& text) const;

  // Loss, accuracy, macro-F1, per-class scores and confusion on labelled data.
  // A label the model does not know is an error naming name:line.
  EvalReport evaluate(const std::vector<LabeledText>& data, const std::string& name = "data") const;

  // Trains a classifier as `recur train` does: the options' preset and checks,
  // a held-out validation fraction, the vocabulary, checkpoints (--checkpoint,
  // --resume) and the model file (--save, written at every new best and at the end).
  // With `processes` (recur/mpi.hpp: the ranks mpirun started, every one
  // calling train with the same data and options) one model is trained data-
  // parallel: each step's batch is --batch x ranks x --accumulate sequences,
  // the batch one process with that --batch would take, shared among the
  // ranks; rank 0 writes the files, every rank returns the same model.
  static ClassifierRun train(const ClassifierData& data, const TrainOptions& options,
                             const TrainCallbacks& callbacks = {}, Communicator* processes = nullptr);

  const Model<float>& model() const;  // the engine's model (recur/model.hpp)

 private:
  struct Impl;
  explicit Classifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  friend struct ClassifierTraining;
};

// How a training run went, and what it made.
struct ClassifierRun {
  Classifier model;                    // as the run ended: with validation, the best weights
  TrainResult result;
  std::vector<Evaluation> history;     // every evaluation
  ClassifierData data;                 // as trained on (valid: what --valid-fraction held out)
  double seconds = 0;                  // training time
  std::string checkpoint;              // written when the run was interrupted ("" if none)
  bool has_test = false;               // test data given: the final model's metrics on it,
  Metrics test;                        // in the run's precision
};

// k-fold cross-validation of a set of options, as `recur cv` does.
struct Summary {
  double mean = 0, std = 0;  // sample standard deviation (n - 1)
};
Summary summarize(const std::vector<double>& xs);

// Each example's fold (0..k-1): stratified by label, seeded by `seed`.
std::vector<int> cv_folds(const std::vector<LabeledText>& rows, int folds, std::uint32_t seed);

struct CvFold {
  EvalReport test;      // the fold's model on the fold
  TrainResult result;
  double seconds = 0;
};
struct CvResult {
  std::vector<CvFold> folds;
  Summary accuracy, macro_f1, loss;
};
struct CvCallbacks {
  std::function<void(int fold)> on_fold_begin;                     // 0-based
  std::function<void(int fold, const CvFold&)> on_fold_end;
  TrainCallbacks train;                                            // of each fold's run
};
// Trains on all folds but one and tests on that one, for each fold. `fold_of`
// from cv_folds; the options are train's (validation: valid_fraction).
CvResult cross_validate(const std::vector<LabeledText>& rows, const std::string& name, const std::vector<int>& fold_of,
                        int folds, const TrainOptions& options, const CvCallbacks& callbacks = {});

}  // namespace recur
