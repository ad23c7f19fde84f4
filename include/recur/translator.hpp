// recur/translator.hpp — a sequence-to-sequence model (the post's translation
// shape): everything its model file holds (both vocabularies, tokenizers and
// normalizations, the encoder's and decoder's configuration, the weights) and
// what is done with it — train, save, load, translate (greedy or beam search),
// evaluate. No engine types here (Eigen): like classifier.hpp, a program that
// uses it needs nothing beyond C++17.
//
//   recur::Translator g2p = recur::Translator::load("g2p.safetensors");
//   recur::DecodeOptions o;
//   o.beam = 5;
//   std::string phonemes = g2p.translate("recurrent", o).nbest[0].text;   // "R IH K ER AH N T"
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "recur/config.hpp"
#include "recur/data.hpp"
#include "recur/error.hpp"
#include "recur/options.hpp"
#include "recur/run.hpp"
#include "recur/safetensors.hpp"

namespace recur {

template <class T>
class Seq2Seq;
class Communicator;

// The target side's markers: every target starts from <bos> and ends with <eos>.
inline const std::string kBeginToken = "<bos>";
inline const std::string kEndToken = "<eos>";

// What a sequence-to-sequence model file holds besides its tensors.
struct Seq2SeqInfo {
  Seq2SeqConfig config;
  Vocabulary src_vocab;  // ..., <unk> last
  Vocabulary tgt_vocab;  // <bos>, <eos>, <unk>, then the target symbols
  TokenizerKind src_tokenizer = TokenizerKind::chr, tgt_tokenizer = TokenizerKind::symbols;
  Normalization src_normalization = Normalization::nfc, tgt_normalization = Normalization::nfc;
  // Models the file holds: 1, or an ensemble's members (recur train --members
  // N), each of this configuration, reading and writing these vocabularies.
  int members = 1;
};

// Refuses (recur::Error naming `path`) a model whose vocabularies would not fit
// in a model file's header (as check_storable in recur/io.hpp for the others).
void check_storable(const Seq2SeqInfo& info, const std::string& path);

struct DecodeOptions {
  int beam = 1;                // hypotheses kept at each step; 1: greedy
  int nbest = 1;               // hypotheses returned, best first (at most beam)
  double length_penalty = 1;   // rank by log p / length^a (a = 0: log p; 1: per symbol)
  int max_length = 0;          // output symbols at most, then <eos> (0: 3 x the source's length + 10)
  bool attention = false;      // keep the best hypotheses' attention weights
  // Threads that decode (and score) chunks of the sources side by side, each
  // with BLAS on one thread; the answers do not depend on it.
  int threads = 1;
};
void check(const DecodeOptions& o);  // throws recur::Error naming the flag

struct Hypothesis {
  std::vector<std::string> tokens;  // the output, without <eos>
  std::string text;                 // joined: by a space (symbols, words), or not at all (characters)
  double log_prob = 0;              // of the tokens and <eos>
  double score = 0;                 // what the search ranks by: log_prob / (tokens + 1)^length_penalty
  bool finished = true;             // ended with <eos> (always: at max_length <eos> is the only choice)
  // (output step, source token): how much each output step attended to each
  // source token; empty unless DecodeOptions::attention.
  std::vector<std::vector<float>> attention;
};

struct Translation {
  std::vector<std::string> source_tokens;  // as the model read them
  std::vector<Hypothesis> nbest;           // best first
  int unknown = 0;                         // source tokens not in the vocabulary
};

// A sequence-to-sequence model on reference pairs: `recur eval`'s report.
struct Seq2SeqReport {
  std::string name;           // of the data
  long n = 0;                 // distinct sources (a source may have several references)
  long pairs = 0;
  double loss = 0;            // teacher-forced cross-entropy per target symbol (nats), every pair
  long target_symbols = 0;    // the loss's: every pair's target symbols and end symbols
  double token_error_rate = 0;     // edit distance to the closest reference / its length (phoneme error rate)
  double sequence_error_rate = 0;  // outputs equal to no reference (word error rate)
  double sequence_accuracy = 0;    // 1 - sequence_error_rate
  bool has_bleu = false;           // word targets: corpus BLEU-4 of the outputs against all references
  double bleu = 0;
  long unknown = 0;           // source tokens not in the vocabulary
  std::string json() const;  // as `recur eval --format json` prints it
};

// Pairs to learn from: source<TAB>target (LabeledText's text and label).
struct Seq2SeqData {
  std::vector<LabeledText> train, valid, test;
  std::string train_name = "train", valid_name = "valid", test_name = "test";
};

struct TranslatorRun;

class Translator {
 public:
  static Translator load(const std::string& path);  // throws recur::Error naming the file
  static Translator from_safetensors(SafeTensors st, const std::string& name);  // errors name `name`
  Translator(Translator&&) noexcept;
  Translator& operator=(Translator&&) noexcept;
  ~Translator();

  void save(const std::string& path) const;
  SafeTensors to_safetensors() const;  // what save writes
  const Seq2SeqInfo& info() const;

  // Outputs for sources, read in batches (greedy, or beam search with o.beam > 1).
  Translation translate(const std::string& source, const DecodeOptions& o = {}) const;
  std::vector<Translation> translate(const std::vector<std::string>& sources, const DecodeOptions& o = {}) const;

  // Loss, and the error rates of the decoded outputs against the references;
  // a source with several references (pronunciations) is right if it matches one.
  Seq2SeqReport evaluate(const std::vector<LabeledText>& pairs, const DecodeOptions& o = {},
                         const std::string& name = "data") const;

  // Trains as `recur train --task seq2seq` does (validation picks the best
  // epoch by the outputs' sequence error, then loss; checkpoints; --save).
  // Under mpirun, `processes` are the run's (data parallelism; recur/mpi.hpp).
  static TranslatorRun train(const Seq2SeqData& data, const TrainOptions& options,
                             const TrainCallbacks& callbacks = {}, Communicator* processes = nullptr);

  // The model (an ensemble's first member), and each member (0 .. members-1;
  // info().members).
  const Seq2Seq<float>& model(int member = 0) const;

 private:
  struct Impl;
  explicit Translator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  friend struct TranslatorTraining;
};

struct TranslatorRun {
  Translator model;                  // as the run ended: with validation, the best weights
  TrainResult result;
  std::vector<Evaluation> history;
  double seconds = 0;
  std::string checkpoint;            // written when the run was interrupted ("" if none)
  Seq2SeqData data;                  // as trained: with --valid-fraction, the pairs held out in valid
};

// Several models decoding as one (an ensemble): one search, in which each
// symbol's log probability is the mean of the models' (each reads the source
// through its own vocabulary; the attention weights are the first model's).
// The models must write the same target symbols, in any order (throws
// recur::Error naming the model that does not). evaluate's loss is the mean of
// the models' losses. One model: the same as its own translate and evaluate.
std::vector<Translation> translate(const std::vector<const Translator*>& ensemble,
                                   const std::vector<std::string>& sources, const DecodeOptions& o = {});
Seq2SeqReport evaluate(const std::vector<const Translator*>& ensemble, const std::vector<LabeledText>& pairs,
                       const DecodeOptions& o = {}, const std::string& name = "data");

// Writes a model and what it reads as a sequence-to-sequence model file; an
// ensemble's members (info.members of them) under members.0., members.1., ...
void save_seq2seq(const std::string& path, const Seq2Seq<float>& model, const Seq2SeqInfo& info);
void save_seq2seq(const std::string& path, const std::vector<const Seq2Seq<float>*>& members, const Seq2SeqInfo& info);

// Corpus BLEU (Papineni et al., 2002): the geometric mean of the clipped
// n-gram precisions, n = 1..max_n, over all outputs, times the brevity penalty
// against the closest reference lengths; refs[i] are output i's references.
double corpus_bleu(const std::vector<std::vector<std::string>>& outputs,
                   const std::vector<std::vector<std::vector<std::string>>>& refs, int max_n = 4);

// Edit (Levenshtein) distance between two token sequences.
long edit_distance(const std::vector<std::string>& a, const std::vector<std::string>& b);

}  // namespace recur
