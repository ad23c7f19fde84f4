// recur/vectors.hpp — pretrained word vectors in the word2vec / fastText text
// format (`recur train --vectors FILE.vec`): a header line `N D`, then N lines
// `word v1 ... vD` (separated by spaces; a trailing space is allowed, as
// fastText writes one).
#pragma once

#include <string>
#include <vector>

namespace recur {

struct WordVectors {
  int dim = 0;                     // D
  std::vector<std::string> words;  // N, in file order
  std::vector<float> values;       // (N, D), row-major
  const float* row(std::size_t i) const { return values.data() + i * std::size_t(dim); }
};

// Throws recur::Error naming the file and line: a bad header, a line of
// another dimension, a value that is not a finite number, a word twice, fewer
// or more lines than the header says.
WordVectors read_word_vectors(const std::string& path);

}  // namespace recur
