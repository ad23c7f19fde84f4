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
