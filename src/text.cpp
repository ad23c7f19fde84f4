#include "recur/text.hpp"

#include <utf8proc.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <memory>

#include "recur/error.hpp"

namespace recur {

std::size_t find_invalid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    int len;
    std::uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return i;  // stray continuation byte or 0xF8..0xFF
    }
    if (i + len > n) return i;
    for (int k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are invalid.
    static const std::uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[len] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return i;
    i += len;
  }
  return std::string_view::npos;
}

std::string to_string(Normalization n) {
  switch (n) {
    case Normalization::none: return "none";
    case Normalization::ascii_lower: return "ascii_lower";
    case Normalization::nfc: return "nfc";
    case Normalization::nfc_casefold: return "nfc_casefold";
  }
  return "?";
}

Normalization normalization_from_string(const std::string& s) {
  for (Normalization n : {Normalization::none, Normalization::ascii_lower, Normalization::nfc, Normalization::nfc_casefold})
    if (to_string(n) == s) return n;
  throw Error("unknown normalization '" + s + "' (known: none, ascii_lower, nfc, nfc_casefold)");
}

bool lowercases(Normalization n) { return n == Normalization::ascii_lower || n == Normalization::nfc_casefold; }

namespace {

bool all_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

void append_ascii_lower(std::string& out, std::string_view s) {
  for (const char c : s) out.push_back(c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c);
}

// utf8proc's NFC (with case folding for nfc_casefold) of valid UTF-8, appended.
void append_unicode_form(std::string& out, std::string_view s, Normalization n) {
  int options = UTF8PROC_STABLE | UTF8PROC_COMPOSE;
  if (n == Normalization::nfc_casefold) options |= UTF8PROC_CASEFOLD;
  utf8proc_uint8_t* mapped = nullptr;
  const utf8proc_ssize_t len = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                            utf8proc_ssize_t(s.size()), &mapped, utf8proc_option_t(options));
  std::unique_ptr<utf8proc_uint8_t, void (*)(void*)> owned(mapped, std::free);
  if (len < 0) throw Error(std::string("cannot normalize the text: ") + utf8proc_errmsg(len));
  out.append(reinterpret_cast<const char*>(mapped), std::size_t(len));
}

}  // namespace

std::string normalize(std::string_view text, Normalization n) {
  if (n == Normalization::none) return std::string(text);
  std::string out;
  out.reserve(text.size());
  if (n == Normalization::ascii_lower || all_ascii(text)) {  // ASCII: NFC changes nothing, case folding is tolower
    if (n == Normalization::nfc) return std::string(text);
    append_ascii_lower(out, text);
    return out;
  }
  const std::size_t bad = find_invalid_utf8(text);
  if (bad != std::string_view::npos) throw Error("invalid UTF-8 at byte " + std::to_string(bad + 1));
  // Piece by piece. An ASCII character is a starter (combining class 0) and is
  // never the second character of a composition, so neither reordering nor
  // composition crosses into it from the left: the text's form is the forms of
  // pieces cut before every ASCII character that a non-ASCII one does not
  // follow. Only the runs of non-ASCII bytes, each with the ASCII character
  // before it (a base an accent may compose with), go through utf8proc's
  // tables; the rest of the text (most of it, in most text) is copied.
  const auto ascii_part = [&](std::size_t from, std::size_t to) {
    if (n == Normalization::nfc)
      out.append(text.substr(from, to - from));
    else
      append_ascii_lower(out, text.substr(from, to - from));
  };
  const auto high = [&](std::size_t i) { return static_cast<unsigned char>(text[i]) >= 0x80; };
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t j = at;  // the next non-ASCII byte
    while (j < text.size() && !high(j)) ++j;
    if (j == text.size()) {
      ascii_part(at, j);
      break;
    }
    const std::size_t base = j > at ? j - 1 : j;
    ascii_part(at, base);
    std::size_t k = j;  // the next ASCII byte after the run
    while (k < text.size() && high(k)) ++k;
    append_unicode_form(out, text.substr(base, k - base), n);
    at = k;
  }
  return out;
}

std::string to_string(TokenizerKind k) {
  switch (k) {
    case TokenizerKind::whitespace: return "whitespace";
    case TokenizerKind::word: return "word";
    case TokenizerKind::chr: return "char";
    case TokenizerKind::symbols: return "symbols";
  }
  return "?";
}

TokenizerKind tokenizer_from_string(const std::string& s) {
  if (s == "whitespace") return TokenizerKind::whitespace;
  if (s == "word") return TokenizerKind::word;
  if (s == "char") return TokenizerKind::chr;
  if (s == "symbols") return TokenizerKind::symbols;
  throw Error("unknown tokenizer '" + s + "' (known: whitespace, word, char, symbols)");
}

std::vector<std::string> split_code_points(std::string_view text) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t len = utf8_sequence_length(static_cast<unsigned char>(text[i]));
    out.emplace_back(text.substr(i, std::min(len, text.size() - i)));
    i += len;
  }
  return out;
}

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    if (!cur.empty()) out.push_back(std::move(cur));
    cur.clear();
  };
  for (const char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c >= 0x80 || std::isalnum(c) || c == '\'') {
      cur.push_back(ch);
    } else if (std::isspace(c)) {
      flush();
    } else {
      flush();
      out.emplace_back(1, ch);
    }
  }
  flush();
  return out;
}

std::vector<std::string> split_spaces(std::string_view text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t sp = text.find(' ', start);
    if (sp == std::string_view::npos) {
      out.emplace_back(text.substr(start));
      return out;
    }
    out.emplace_back(text.substr(start, sp - start));
    start = sp + 1;
  }
}

std::vector<std::string> split_symbols(std::string_view text) {
  std::vector<std::string> out;
  std::size_t i = 0;
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (i < text.size()) {
    while (i < text.size() && space(text[i])) ++i;
    const std::size_t start = i;
    while (i < text.size() && !space(text[i])) ++i;
    if (i > start) out.emplace_back(text.substr(start, i - start));
  }
  return out;
}

std::string detokenize(TokenizerKind kind, const std::vector<std::string>& tokens) {
  std::string out;
  for (std::size_t i = 0; i < tokens.size(); ++i) out += (i && kind != TokenizerKind::chr ? " " : "") + tokens[i];
  return out;
}

std::vector<std::string> tokenize(TokenizerKind kind, std::string_view text) {
  switch (kind) {
    case TokenizerKind::whitespace: return split_spaces(text);
    case TokenizerKind::word: return split_words(text);
    case TokenizerKind::chr: return split_code_points(text);
    case TokenizerKind::symbols: return split_symbols(text);
  }
  return {};
}

int Vocabulary::add(const std::string& token) {
  const auto it = ids_.find(token);
  if (it != ids_.end()) return it->second;
  const int id = int(tokens_.size());
  tokens_.push_back(token);
  ids_.emplace(token, id);
  return id;
}

int Vocabulary::id(const std::string& token) const {
  const auto it = ids_.find(token);
  return it == ids_.end() ? unknown : it->second;
}

int Vocabulary::id_or_unknown(const std::string& token) const {
  const int i = id(token);
  return i == unknown ? id(kUnknownToken) : i;
}

Encoded encode(const Vocabulary& vocab, TokenizerKind kind, std::string_view text) {
  Encoded e;
  for (const auto& tok : tokenize(kind, text)) {
    const int id = vocab.id(tok);
    if (id == Vocabulary::unknown) {
      ++e.n_unknown;
      e.ids.push_back(vocab.id(kUnknownToken));
    } else {
      e.ids.push_back(id);
    }
  }
  return e;
}

std::string unknown_words_policy(const Vocabulary& vocab) {
  return vocab.id(kUnknownToken) != Vocabulary::unknown ? "mapped to " + kUnknownToken : "each given a zero input vector";
}

}  // namespace recur
