// recur/language_model.hpp — a language model (many-to-many): everything a
// model file holds and everything done with it — train, save, load, score a
// text, generate. Like classifier.hpp it needs no engine types (Eigen).
//
//   recur::LanguageModelData data;
//   data.text = recur::read_text_file("book.txt");
//   recur::TrainOptions o;
//   o.task = "lm";
//   recur::apply_defaults(o, {});              // LSTM 2x128, Adam, ...
//   recur::LanguageModelRun run = recur::LanguageModel::train(data, o);
//   std::string text = run.model.generate("Call me ", 200, {}, 1);
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "recur/config.hpp"
#include "recur/error.hpp"
#include "recur/explain.hpp"
#include "recur/options.hpp"
#include "recur/run.hpp"
#include "recur/safetensors.hpp"
#include "recur/sample.hpp"

namespace recur {

template <class T>
class Model;
template <class T>
class Reader;
class Generator;
class Communicator;

// A language model on a text: `recur eval --text`'s report.
struct LmReport {
  Metrics metrics;           // n predicted tokens, loss in nats per token; bits() per token
  long unknown_tokens = 0;   // tokens not in the vocabulary (read as <unk>)
  std::string json() const;  // one JSON object, as `recur eval --format json` prints
};

// The text a language model learns, and optional validation text (or
// options.valid_fraction: the end of the text). Names are for messages.
// Each is given in memory or as a file (text_file, valid_file: read as
// read_text_file() reads them; a text file in pieces, its ids kept on disk —
// token_stream.hpp —, so a text far larger than memory trains in little of
// it). Either way gives the same vocabulary, ids and training.
struct LanguageModelData {
  std::string text, valid_text;
  std::string text_name = "text", valid_name = "valid text";
  std::string text_file, valid_file;
};

struct LanguageModelRun;

class LanguageModel {
 public:
  static LanguageModel load(const std::string& path);  // throws recur::Error naming the file
  LanguageModel(LanguageModel&&) noexcept;
  LanguageModel& operator=(LanguageModel&&) noexcept;
  ~LanguageModel();

  void save(const std::string& path) const;
  // In memory, as Classifier's: what save() writes, checked as load() checks a file.
  SafeTensors to_safetensors() const;
  static LanguageModel from_safetensors(SafeTensors st, const std::string& name);
  const ModelInfo& info() const;

  // Loss of the model on a text (normalized and tokenized as in training),
  // read as one stream: the loss of predicting each token from those before
  // it. `name` is for messages.
  LmReport evaluate(const std::string& text, const std::string& name = "text") const;

  // What the network does as it reads a text: its states, and the `top` most
  // likely next symbols after each token (explain.hpp).
  LmExplanation explain(const std::string& text, int top = 5) const;
  HiddenStates hidden_states(const std::string& text) const;

  // Ids of a text as the model reads it: normalized, tokenized, <unk> for
  // tokens it does not know (counted in *unknown).
  std::vector<int> encode(const std::string& text, long* unknown = nullptr) const;
  // How a token is written out: a word model puts a space before each word.
  std::string piece(int id) const;

  // Sampling, one symbol at a time: the prime's symbols are read first (an
  // empty prime starts from a newline, or symbol 0 when the vocabulary has no
  // newline). Same seed, same text.
  class Generation {
   public:
    Generation(Generation&&) noexcept;
    ~Generation();
    int next_id();        // the next symbol
    std::string next();   // ... as text, piece(next_id())

   private:
    friend class LanguageModel;
    Generation(const LanguageModel& lm, std::unique_ptr<Generator> g);
    const LanguageModel* lm_;
    std::unique_ptr<Generator> g_;
  };
  Generation start(const std::string& prime, const SampleOptions& o, std::uint32_t seed) const;
  // `length` symbols after the prime, as text (the prime itself not included);
  // each piece also goes to `emit` as it is made.
  std::string generate(const std::string& prime, long length, const SampleOptions& o, std::uint32_t seed,
                       const std::function<void(const std::string&)>& emit = {}) const;

  // Trains a language model as `recur train --task lm` does (truncated BPTT
  // over parallel streams; validation, checkpoints and --save as for classifiers).
  // With `processes` (recur/mpi.hpp) one model is trained data-parallel: the
  // text is cut into --batch x ranks x --accumulate streams, as one process
  // with that --batch cuts it, and each rank trains on its own streams.
  static LanguageModelRun train(const LanguageModelData& data, const TrainOptions& options,
                                const TrainCallbacks& callbacks = {}, Communicator* processes = nullptr);

  const Model<float>& model() const;  // the engine's model (recur/model.hpp)

 private:
  struct Impl;
  explicit LanguageModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  friend struct LanguageModelTraining;
};

struct LanguageModelRun {
  LanguageModel model;                 // as the run ended: with validation, the best weights
  TrainResult result;
  std::vector<Evaluation> history;     // every evaluation
  double seconds = 0;
  std::string checkpoint;              // written when the run was interrupted ("" if none)
};

// Which kind of model a file holds ("classify" or "lm"), from its metadata.
std::string model_task(const std::string& path);

}  // namespace recur
