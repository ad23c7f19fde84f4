// recur/data.hpp — labelled text files, plain text, splits, vocabularies, and
// the id sequences built from them.
#pragma once

#include <array>
#include <cstddef>
#include <iosfwd>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "recur/rng.hpp"
#include "recur/subwords.hpp"
#include "recur/text.hpp"

namespace recur {

struct LabeledText {
  std::string text;
  std::string label;
  long line = 0;  // 1-based line in the source file, for error messages
};

// Labelled data in any of the supported formats.
enum class DataFormat { tsv, csv, jsonl };
DataFormat format_from_string(const std::string& s);  // "tsv" | "csv" | "jsonl"; throws
DataFormat format_from_path(const std::string& path);  // by extension: .csv, .jsonl/.json, else tsv

struct LoadOptions {
  // csv: a column name (the first row is then the header) or a 0-based index;
  // jsonl: the field names.
  std::string text_col = "text", label_col = "label";
  bool header = false;     // csv with column indices: the first row is a header to skip
  bool skip_bad = false;   // skip malformed records (counted) instead of stopping
  // A line (a CSV record) longer than this is a malformed record naming its
  // line: what a binary file, a file without line breaks or an unclosed CSV
  // quote looks like. 0 = no limit. (--max-line-bytes)
  std::size_t max_line_bytes = std::size_t(1) << 20;
};

struct LoadReport {
  long skipped = 0;         // malformed records skipped (skip_bad)
  std::string first_error;  // the first of them, "file:line: what"
};

// Parses TSV `text<TAB>label`, one record a line. A UTF-8 byte-order mark and
// the CRs at line ends (CRLF, or CRCRLF converted twice) are removed; blank lines are skipped. Anything else that is
// not exactly two columns with a non-empty label, is not valid UTF-8 or is
// longer than o.max_line_bytes throws recur::Error naming `name:line` (or is
// skipped and counted, with o.skip_bad). An input with no record is an error.
std::vector<LabeledText> parse_tsv(const std::string& content, const std::string& name, const LoadOptions& o = {},
                                   LoadReport* report = nullptr);
std::vector<LabeledText> load_tsv(const std::string& path);

// RFC 4180 CSV: fields separated by commas, optionally in double quotes, in
// which commas, newlines and doubled quotes ("") are literal. A BOM and CRLF line
// ends are accepted; blank lines are skipped; every row must have the header's
// (or the first row's) number of fields.
std::vector<LabeledText> parse_csv(const std::string& content, const std::string& name, const LoadOptions& o,
                                   LoadReport* report = nullptr);
// JSON Lines: one object per line with a string text field and a string or
// number label field.
std::vector<LabeledText> parse_jsonl(const std::string& content, const std::string& name, const LoadOptions& o,
                                     LoadReport* report = nullptr);
// TSV, CSV or JSONL from memory (`name` for messages) or from a file.
std::vector<LabeledText> parse_labeled(const std::string& content, const std::string& name, DataFormat format,
                                       const LoadOptions& o, LoadReport* report = nullptr);
std::vector<LabeledText> load_labeled(const std::string& path, DataFormat format, const LoadOptions& o,
                                      LoadReport* report = nullptr);

// How to read a labelled file, as the command line's data flags say it.
struct DataOptions {
  std::string format;  // "tsv", "csv" or "jsonl"; empty: by the file's extension
  LoadOptions load;
};
std::vector<LabeledText> load_labeled(const std::string& path, const DataOptions& o, LoadReport* report = nullptr);

// The built-in data set of the seed experiment (data/seed_{train,test}.tsv,
// compiled into the library), named "<built-in>/seed_train.tsv" and ".../seed_test.tsv".
std::vector<LabeledText> builtin_seed_train();
std::vector<LabeledText> builtin_seed_test();

// Reads a whole file; throws recur::Error naming the path when it cannot.
std::string read_file(const std::string& path);

// Reads one line of a stream (stdin) into `line`, without its '\n' or the
// '\r's before it; false when the stream had nothing left. A line
// longer than max_bytes (0: no limit) throws recur::Error as soon as it is
// (nothing past the limit is kept); the caller names the line.
bool read_line(std::istream& in, std::string& line, std::size_t max_bytes);

// Writes bytes to path via path.tmp-<pid>-<n> + fsync + rename, so a crash
// never leaves a half-written file. When the write fails (a full disk, a file
// size limit) the temporary file is removed and the error, one line naming
// the path, says the previous file is unchanged. Temporary files of the same
// path left by a process that no longer runs (killed mid-write) are removed
// first. (A process under RLIMIT_FSIZE should ignore SIGXFSZ, as the recur
// tool does, to get the error instead of being killed.)
void write_file_atomic(const std::string& path, const std::string& bytes);

// Reads a whole text file, checks it is UTF-8 (the error names the byte
// offset) and drops a byte-order mark.
std::string read_text_file(const std::string& path);

// Cuts `text` at the start of the UTF-8 code point at or after byte `at`.
std::size_t code_point_boundary(const std::string& text, std::size_t at);

// Stratified splits: every label is spread over the parts in proportion to its
// share of the data, so a small class is not left out of a part by chance.
//
// The examples held out for validation, sorted: of each label's examples
// (shuffled with rng), round(fraction * count).
std::vector<int> stratified_holdout(const std::vector<LabeledText>& data, double fraction, Rng& rng);
// The fold (0..folds-1) of each example for k-fold cross-validation: each
// label's examples, shuffled with rng, dealt to the folds in turn, each label
// starting where the previous one stopped, so fold sizes differ by at most one.
std::vector<int> stratified_folds(const std::vector<LabeledText>& data, int folds, Rng& rng);
// The examples whose index is (keep = true) or is not (keep = false) in `which` (sorted).
std::vector<LabeledText> select(const std::vector<LabeledText>& data, const std::vector<int>& which, bool keep = true);

// The distinct labels of a data set, sorted, so class ids do not depend on the
// order of the file (the seed's False/True become 0/1 as neg/pos do).
std::vector<std::string> sorted_labels(const std::vector<LabeledText>& data);

// A data set turned into ids: one sequence and one class id per example.
struct EncodedSet {
  std::vector<std::vector<int>> ids;  // per example, time order; -1 = unknown token
  std::vector<int> targets;           // class ids
  long n_unknown = 0;                 // tokens not in the vocabulary
  const TokenBags* bags = nullptr;    // subwords: what each id reads (not owned), else null
};

// Label not in `labels` -> recur::Error naming `name:line`. The texts must
// already be normalized. With `bags` (a model with subwords), words outside
// the vocabulary are added to them and read through their n-grams.
EncodedSet encode_set(const std::vector<LabeledText>& data, const Vocabulary& vocab,
                      TokenizerKind tok, const std::vector<std::string>& labels,
                      const std::string& name, TokenBags* bags = nullptr);

// A language model's vocabulary of a training text: its distinct tokens sorted
// (code point order for characters), then kUnknownToken (last in every
// language model's vocabulary).
Vocabulary build_lm_vocab(const std::string& text, TokenizerKind tok);

// The same over a text given in pieces (token_stream.hpp's TextFilePieces):
// add() each piece, then vocabulary(). Each distinct token is copied once.
class LmVocabularyBuilder {
 public:
  explicit LmVocabularyBuilder(TokenizerKind tok) : tok_(tok) {}
  void add(std::string_view text);
  Vocabulary vocabulary() const;

 private:
  TokenizerKind tok_;
  std::array<bool, 128> ascii_{};              // one-byte tokens seen (no hashing: most of most text)
  std::unordered_set<std::string> owned_;      // the others
  std::unordered_set<std::string_view> seen_;  // views of owned_
};

// Token ids of a (normalized) text; tokens not in the vocabulary become the
// unknown symbol (counted in *n_unknown when given).
std::vector<int> encode_text(const std::string& text, const Vocabulary& vocab, TokenizerKind tok,
                             long* n_unknown = nullptr);

// The same, piece by piece: encode() hands each id to `emit`.
class LmEncoder {
 public:
  LmEncoder(const Vocabulary& vocab, TokenizerKind tok);  // (the vocabulary must outlive it)
  template <class F>
  void encode(std::string_view text, F&& emit) {
    for_each_token(tok_, text, [&](std::string_view t) {
      int id = Vocabulary::unknown;
      if (t.size() == 1 && static_cast<unsigned char>(t[0]) < 0x80) {
        id = ascii_[static_cast<unsigned char>(t[0])];
      } else {
        const auto it = ids_of_.find(t);
        if (it != ids_of_.end()) id = it->second;
      }
      emit(id == Vocabulary::unknown ? unknown_id() : id);
    });
  }
  long unknown = 0;  // tokens read as the unknown symbol so far

 private:
  int unknown_id();  // counts one; throws when the vocabulary has no unknown symbol
  TokenizerKind tok_;
  int unk_;
  std::array<int, 128> ascii_;                        // ids of one-byte tokens (or Vocabulary::unknown)
  std::unordered_map<std::string_view, int> ids_of_;  // views of the vocabulary's own strings
};

// Which tokens of the training texts a classifier's vocabulary keeps.
struct VocabOptions {
  int min_count = 1;  // drop tokens seen fewer times than this
  int max_vocab = 0;  // keep at most this many, the most frequent (0 = all)
  // Whether the vocabulary ends with kUnknownToken. Dropped tokens then encode
  // as it in training too, so the model learns an input for words it does not
  // know; without it an unknown word is a zero input.
  bool unknown_symbol() const { return min_count > 1 || max_vocab > 0; }
};

// The training vocabulary: the kept tokens in first-seen order over the texts
// (with the defaults: every token, as the seed builds it), then kUnknownToken
// when the options drop rare tokens. Ties at the max_vocab cut keep the token
// seen first.
Vocabulary build_vocab(const std::vector<LabeledText>& data, TokenizerKind tok, const VocabOptions& o = {});

}  // namespace recur
