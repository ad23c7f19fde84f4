// UTF-8 decoding: find_invalid_utf8 (every reader's check), split_code_points
// and code_point_boundary on any bytes, against utf8proc's decoder as a second
// opinion.
//   - valid by our check <=> every code point decodes with utf8proc (no
//     overlongs, surrogates or values past U+10FFFF), and the first bad byte
//     is where utf8proc stops
//   - code points concatenate back to the text, each one whole
//   - code_point_boundary never lands inside a code point
#include <utf8proc.h>

#include "recur/data.hpp"
#include "recur/text.hpp"
#include "targets.hpp"

namespace recur_fuzz {

int utf8(const std::uint8_t* data, std::size_t size) {
  const std::string s = bytes_of(data, size);
  const std::size_t bad = recur::find_invalid_utf8(s);
  // utf8proc's first undecodable position.
  std::size_t theirs = std::string::npos;
  for (std::size_t i = 0; i < s.size();) {
    utf8proc_int32_t cp;
    const utf8proc_ssize_t n = utf8proc_iterate(data + i, utf8proc_ssize_t(s.size() - i), &cp);
    if (n <= 0) {
      theirs = i;
      break;
    }
    i += std::size_t(n);
  }
  check(bad == theirs, "find_invalid_utf8 agrees with utf8proc");
  const std::vector<std::string> cps = recur::split_code_points(s);
  std::string joined;
  for (const auto& c : cps) {
    check(!c.empty() && c.size() <= 4, "a code point is 1 to 4 bytes");
    joined += c;
  }
  check(joined == s, "code points concatenate back to the text");
  if (bad == std::string::npos)
    for (const auto& c : cps) check(recur::find_invalid_utf8(c) == std::string::npos, "each code point is whole");
  for (std::size_t at = 0; at <= s.size(); ++at) {
    const std::size_t b = recur::code_point_boundary(s, at);
    check(b >= at && b <= s.size(), "a boundary at or after the byte");
    if (bad == std::string::npos && b < s.size())
      check((static_cast<unsigned char>(s[b]) & 0xC0) != 0x80, "a boundary starts a code point");
  }
  return 0;
}

}  // namespace recur_fuzz
