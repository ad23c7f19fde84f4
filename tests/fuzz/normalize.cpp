// normalize() in every form (utf8proc underneath) on any bytes.
//   - invalid UTF-8 is a recur::Error for the Unicode forms, never a crash
//   - the result is valid UTF-8 when the text was
//   - NFC is idempotent; ascii_lower leaves no A-Z and keeps the length
//   - none is the identity
#include "recur/config.hpp"
#include "recur/error.hpp"
#include "recur/text.hpp"
#include "targets.hpp"

namespace recur_fuzz {

int normalize(const std::uint8_t* data, std::size_t size) {
  const std::string s = bytes_of(data, size);
  const bool valid = recur::find_invalid_utf8(s) == std::string::npos;
  check(recur::normalize(s, recur::Normalization::none) == s, "none is the identity");
  const std::string lower = recur::normalize(s, recur::Normalization::ascii_lower);
  check(lower.size() == s.size(), "ascii_lower keeps the length");
  check(lower.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") == std::string::npos, "ascii_lower leaves no A-Z");
  for (const auto n : {recur::Normalization::nfc, recur::Normalization::nfc_casefold}) {
    std::string out;
    try {
      out = recur::normalize(s, n);
    } catch (const recur::Error&) {
      check(!valid, "only invalid UTF-8 is refused");
      continue;
    }
    check(recur::find_invalid_utf8(out) == std::string::npos, "normalized text is UTF-8");
    if (n == recur::Normalization::nfc) check(recur::normalize(out, n) == out, "NFC is idempotent");
  }
  // The whole path of a model reading a text: normalize, tokenize, look up.
  recur::ModelInfo info;
  info.vocab.add("a");
  info.vocab.add(recur::kUnknownToken);
  for (const auto n : {recur::Normalization::nfc, recur::Normalization::nfc_casefold}) {
    info.normalization = n;
    try {
      const recur::Encoded e = info.encode(s);
      for (const int id : e.ids) check(id >= 0 && id < 2, "ids in range");
    } catch (const recur::Error&) {
      check(!valid, "only invalid UTF-8 is refused");
    }
  }
  return 0;
}

}  // namespace recur_fuzz
