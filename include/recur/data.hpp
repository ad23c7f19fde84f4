// recur/data.hpp — labelled text files and the tensors built from them.
#pragma once

#include <string>
#include <vector>

#include "recur/text.hpp"

namespace recur {

struct LabeledText {
  std::string text;
  std::string label;
  long line = 0;  // 1-based line in the source file, for error messages
};

// Parses TSV `text<TAB>label`, one record a line. A UTF-8 byte-order mark and
// CR of CRLF endings are removed; blank lines are skipped. Anything else that is
// not exactly two columns with a non-empty label, or is not valid UTF-8, throws
// recur::Error naming `name:line`. An input with no record at all is an error.
std::vector<LabeledText> parse_tsv(const std::string& content, const std::string& name);
std::vector<LabeledText> load_tsv(const std::string& path);

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
};

struct LoadReport {
  long skipped = 0;         // malformed records skipped (skip_bad)
  std::string first_error;  // the first of them, "file:line: what"
};

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
// TSV, CSV or JSONL from a file.
std::vector<LabeledText> load_labeled(const std::string& path, DataFormat format, const LoadOptions& o,
                                      LoadReport* report = nullptr);

// Reads a whole file; throws recur::Error naming the path when it cannot.
std::string read_file(const std::string& path);

// The distinct labels of a data set, sorted, so class ids do not depend on the
// order of the file (the seed's False/True become 0/1 as neg/pos do).
std::vector<std::string> sorted_labels(const std::vector<LabeledText>& data);

// A data set turned into ids: one sequence and one class id per example.
struct EncodedSet {
  std::vector<std::vector<int>> ids;  // per example, time order; -1 = unknown token
  std::vector<int> targets;           // class ids
  long n_unknown = 0;                 // tokens not in the vocabulary
};

// Label not in `labels` -> recur::Error naming `name:line`.
EncodedSet encode_set(const std::vector<LabeledText>& data, const Vocabulary& vocab,
                      TokenizerKind tok, const std::vector<std::string>& labels,
                      const std::string& name);

// The training vocabulary: tokens in first-seen order over the texts.
Vocabulary build_vocab(const std::vector<LabeledText>& data, TokenizerKind tok);

}  // namespace recur
