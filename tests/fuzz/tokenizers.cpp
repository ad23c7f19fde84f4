// Every tokenizer on any bytes (valid UTF-8 or not: a tokenizer must not
// crash on what a caller forgot to check), then vocabularies and ids.
//   - whitespace: tokens joined by single spaces give the text back (Python's split(' '))
//   - word: no token holds ASCII whitespace; the tokens are the text without it
//   - char: on valid UTF-8, one code point a token, concatenating to the text
//   - ids from a vocabulary are in range, or -1 for an unknown token
#include <algorithm>
#include <cctype>

#include "recur/data.hpp"
#include "recur/text.hpp"
#include "targets.hpp"

namespace recur_fuzz {

int tokenizers(const std::uint8_t* data, std::size_t size) {
  const std::string s = bytes_of(data, size);
  const bool valid = recur::find_invalid_utf8(s) == std::string::npos;

  const auto ws = recur::tokenize(recur::TokenizerKind::whitespace, s);
  std::string joined;
  for (std::size_t i = 0; i < ws.size(); ++i) joined += (i ? " " : "") + ws[i];
  check(joined == s, "whitespace tokens join back to the text");

  const auto words = recur::tokenize(recur::TokenizerKind::word, s);
  std::string kept, concat;
  for (const char c : s)
    if (!std::isspace(static_cast<unsigned char>(c))) kept.push_back(c);
  for (const auto& w : words) {
    check(!w.empty(), "no empty word");
    check(std::none_of(w.begin(), w.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); }),
          "no whitespace inside a word");
    concat += w;
  }
  check(concat == kept, "words are the text without its whitespace");

  const auto chars = recur::tokenize(recur::TokenizerKind::chr, s);
  std::string cat;
  for (const auto& c : chars) cat += c;
  check(cat == s, "characters concatenate back to the text");
  if (valid)
    for (const auto& c : chars) check(recur::split_code_points(c).size() == 1, "one code point a token");

  // Vocabularies of the text's lines, and ids through them.
  std::vector<recur::LabeledText> rows;
  for (const auto& line : recur::tokenize(recur::TokenizerKind::whitespace, s)) rows.push_back({line, "x", 1});
  for (const auto kind : {recur::TokenizerKind::whitespace, recur::TokenizerKind::word, recur::TokenizerKind::chr}) {
    recur::VocabOptions vo;
    vo.min_count = 1 + int(size % 3);
    vo.max_vocab = int(size % 5);
    const recur::Vocabulary v = recur::build_vocab(rows, kind, vo);
    const recur::Encoded e = recur::encode(v, kind, s);
    for (const int id : e.ids) check(id >= -1 && id < v.size(), "ids in range");
    const recur::Vocabulary lm = recur::build_lm_vocab(s, kind);
    check(lm.size() >= 1 && lm.token(lm.size() - 1) == recur::kUnknownToken, "a language model's vocabulary ends with <unk>");
    for (const int id : recur::encode_text(s, lm, kind)) check(id >= 0 && id < lm.size(), "ids in range");
  }
  return 0;
}

}  // namespace recur_fuzz
