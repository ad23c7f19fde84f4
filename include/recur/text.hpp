// recur/text.hpp — UTF-8 checking, normalization, tokenizers, vocabulary.
//
// Data flows text -> normalized text -> tokens -> ids. normalize() is the one
// place text is changed before it is tokenized (training, prediction,
// evaluation and generation all call it, with the normalization the model
// file records); a tokenizer turns one line into tokens; a Vocabulary maps
// tokens to ids and back.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace recur {

// Byte offset of the first invalid UTF-8 sequence in s, or npos when s is valid.
std::size_t find_invalid_utf8(std::string_view s);

enum class TokenizerKind {
  whitespace,  // the seed's: split on each single space, exactly Python's text.split(' ')
  word,        // words and punctuation marks: "good." -> "good", "."; runs of whitespace separate
  chr,         // one token per Unicode code point (UTF-8 decoded); named "char"
  symbols,     // symbols separated by runs of spaces, tabs or newlines ("K AE T": phonemes)
};

// How text is normalized before it is tokenized. A model file records it
// (metadata "normalization"), so a model reads text the way it was trained.
enum class Normalization {
  none,          // the text as given: models written before normalization was recorded
  ascii_lower,   // ASCII letters lowercased: such models trained with --lowercase
  nfc,           // Unicode NFC: a composed and a decomposed "é" are the same text (the default)
  nfc_casefold,  // NFC, then Unicode case folding (É -> é, Σ -> σ, ß -> ss): --lowercase
};
std::string to_string(Normalization n);
Normalization normalization_from_string(const std::string& s);  // throws recur::Error
bool lowercases(Normalization n);  // ascii_lower or nfc_casefold
// The normalization a new model gets: NFC, with case folding when lowercasing.
inline Normalization normalization_for(bool lowercase) {
  return lowercase ? Normalization::nfc_casefold : Normalization::nfc;
}

// The normalized text (Unicode forms by utf8proc). Throws recur::Error on text
// that is not valid UTF-8.
std::string normalize(std::string_view text, Normalization n);

std::string to_string(TokenizerKind k);
TokenizerKind tokenizer_from_string(const std::string& s);  // throws on an unknown name

// The seed's tokenizer, exactly Python's text.split(' '): split on each single
// space, so "a  b" gives "a", "", "b" and an empty text gives one empty token.
std::vector<std::string> split_spaces(std::string_view text);

// The length of the UTF-8 sequence a byte starts (1 for a byte that starts none).
inline std::size_t utf8_sequence_length(unsigned char c) {
  return c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
}

// The code points of valid UTF-8 text, each as its UTF-8 bytes.
std::vector<std::string> split_code_points(std::string_view text);

// Words: maximal runs of letters, digits, apostrophes and non-ASCII bytes; every
// other non-space ASCII character is a token of its own.
std::vector<std::string> split_words(std::string_view text);

// Symbols: maximal runs of characters other than spaces, tabs and line breaks.
std::vector<std::string> split_symbols(std::string_view text);

std::vector<std::string> tokenize(TokenizerKind kind, std::string_view text);

// The same tokens one at a time, to `visit` (a std::string_view each, valid
// during the call). Characters are cut where they lie in `text`, with no token
// stored: a language model's text of N characters is read without N strings
// (32 bytes each and their copies) held at once. The other tokenizers visit
// tokenize()'s list.
template <class F>
void for_each_token(TokenizerKind kind, std::string_view text, F&& visit) {
  if (kind == TokenizerKind::chr) {
    std::size_t i = 0;
    while (i < text.size()) {
      const std::size_t len = utf8_sequence_length(static_cast<unsigned char>(text[i]));
      const std::size_t n = len < text.size() - i ? len : text.size() - i;
      visit(text.substr(i, n));
      i += n;
    }
    return;
  }
  for (const std::string& t : tokenize(kind, text)) visit(std::string_view(t));
}

// Tokens written back as text: concatenated for characters, else joined by a space.
std::string detokenize(TokenizerKind kind, const std::vector<std::string>& tokens);

// The unknown symbol. A vocabulary that holds it maps every token it does not
// know to it (a language model's always does; a classifier's when training
// dropped rare words, so the model learned what an unknown word looks like).
inline const std::string kUnknownToken = "<unk>";

class Vocabulary {
 public:
  static constexpr int unknown = -1;

  // Adds a token if new; returns its id.
  int add(const std::string& token);
  // The token's id, or Vocabulary::unknown.
  int id(const std::string& token) const;
  // The token's id; a token not in the vocabulary gets the unknown symbol's id
  // when the vocabulary has one, else Vocabulary::unknown.
  int id_or_unknown(const std::string& token) const;
  const std::string& token(int id) const { return tokens_.at(std::size_t(id)); }
  int size() const { return int(tokens_.size()); }
  const std::vector<std::string>& tokens() const { return tokens_; }

 private:
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int> ids_;
};

// Token ids of a text. A token not in the vocabulary gets the unknown symbol's
// id when the vocabulary has one; otherwise id Vocabulary::unknown (-1): its
// one-hot vector would be all zeros, so the model gives that step a zero input
// (z_t = W_hh h_{t-1} + b_h) — the step still counts, the word adds nothing.
// Either way the number of such tokens is returned so the caller can report it.
struct Encoded {
  std::vector<int> ids;  // Vocabulary::unknown (-1) marks an unknown token
  int n_unknown = 0;
};
// `text` must already be normalized.
Encoded encode(const Vocabulary& vocab, TokenizerKind kind, std::string_view text);

// What happens to a word the vocabulary does not know, for messages:
// "mapped to <unk>" or "each given a zero input vector".
std::string unknown_words_policy(const Vocabulary& vocab);

}  // namespace recur
