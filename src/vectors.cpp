// Reading pretrained word vectors (the format: include/recur/vectors.hpp).
#include "recur/vectors.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <unordered_set>

#include "recur/data.hpp"
#include "recur/error.hpp"

namespace recur {

namespace {

// The space-separated fields of a line (tabs count as spaces; runs of them are one).
std::vector<std::string> fields(const std::string& line) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

bool whole_number(const std::string& s, long max, long& out) {
  if (s.empty() || s.size() > 12 || s.find_first_not_of("0123456789") != std::string::npos) return false;
  out = std::strtol(s.c_str(), nullptr, 10);
  return out > 0 && out <= max;
}

}  // namespace

WordVectors read_word_vectors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open: " + std::strerror(errno));
  auto at = [&](long line) { return path + ":" + std::to_string(line) + ": "; };
  std::string line;
  long n = 0, d = 0;
  if (!read_line(in, line, std::size_t(1) << 26)) throw Error(path + ": empty file (expected a header line 'N D')");
  const std::vector<std::string> head = fields(line);
  if (head.size() != 2 || !whole_number(head[0], 100000000, n) || !whole_number(head[1], 100000, d))
    throw Error(at(1) + "expected a header line 'N D' (words, dimensions), found '" + line.substr(0, 60) + "'");
  WordVectors v;
  v.dim = int(d);
  v.words.reserve(std::size_t(n));
  v.values.reserve(std::size_t(n) * std::size_t(d));
  std::unordered_set<std::string> seen;
  long line_no = 1;
  while (true) {
    try {
      if (!read_line(in, line, std::size_t(1) << 26)) break;
    } catch (const Error& e) {
      throw Error(at(line_no + 1) + e.what());
    }
    ++line_no;
    if (line.empty()) continue;
    const std::vector<std::string> f = fields(line);
    if (long(v.words.size()) == n) throw Error(at(line_no) + "more vectors than the header's " + std::to_string(n));
    if (long(f.size()) != d + 1)
      throw Error(at(line_no) + "expected a word and " + std::to_string(d) + " numbers (the header's dimension), found " +
                  std::to_string(long(f.size()) - 1) + " after '" + f[0].substr(0, 40) + "'");
    if (!seen.insert(f[0]).second) throw Error(at(line_no) + "the word '" + f[0].substr(0, 40) + "' has a vector already");
    for (long j = 1; j <= d; ++j) {
      char* end = nullptr;
      const float x = std::strtof(f[std::size_t(j)].c_str(), &end);
      if (end == f[std::size_t(j)].c_str() || *end != '\0' || !std::isfinite(x))
        throw Error(at(line_no) + "value " + std::to_string(j) + " of '" + f[0].substr(0, 40) + "' is not a finite number: '" +
                    f[std::size_t(j)].substr(0, 40) + "'");
      v.values.push_back(x);
    }
    v.words.push_back(f[0]);
  }
  if (long(v.words.size()) != n)
    throw Error(path + ": the header says " + std::to_string(n) + " vectors, the file has " + std::to_string(v.words.size()));
  return v;
}

}  // namespace recur
