// Subword bags (include/recur/subwords.hpp).
#include "recur/subwords.hpp"

#include "recur/error.hpp"

namespace recur {

SubwordSpec subword_spec(const std::string& range, int buckets, const std::string& flag) {
  SubwordSpec s;
  const std::size_t dash = range.find('-');
  bool ok = dash != std::string::npos && dash > 0 && dash + 1 < range.size() &&
            range.find_first_not_of("0123456789-") == std::string::npos && range.find('-', dash + 1) == std::string::npos &&
            dash <= 2 && range.size() - dash - 1 <= 2;
  if (ok) {
    s.min = std::stoi(range.substr(0, dash));
    s.max = std::stoi(range.substr(dash + 1));
    ok = s.min >= 1 && s.min <= s.max && s.max <= kMaxSubwordLength;
  }
  if (!ok)
    throw Error(flag + " '" + range.substr(0, 40) + "': give the n-gram lengths as MIN-MAX, 1 <= MIN <= MAX <= " +
                std::to_string(kMaxSubwordLength) + " (fastText's are 3-6)");
  if (buckets < 1) throw Error("--buckets must be at least 1, not " + std::to_string(buckets));
  s.buckets = buckets;
  return s;
}

std::string to_string(const SubwordSpec& s) { return std::to_string(s.min) + "-" + std::to_string(s.max); }

namespace {

// Calls f(begin, end) for each n-gram of "<" + word + ">" (byte offsets into
// that string), lengths counted in code points.
template <class F>
void for_each_ngram(const std::string& w, int min, int max, F f) {
  auto starts_code_point = [&](std::size_t i) { return (static_cast<unsigned char>(w[i]) & 0xC0) != 0x80; };
  for (std::size_t i = 0; i < w.size(); ++i) {
    if (!starts_code_point(i)) continue;
    std::size_t j = i;
    for (int n = 1; n <= max && j < w.size(); ++n) {
      ++j;  // past this code point
      while (j < w.size() && !starts_code_point(j)) ++j;
      const bool lone_marker = n == 1 && (i == 0 || j == w.size());
      if (n >= min && !lone_marker) f(i, j);
    }
  }
}

std::uint32_t fnv1a(const char* p, std::size_t n) {
  std::uint32_t h = 2166136261u;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(p[i]);
    h *= 16777619u;
  }
  return h;
}

}  // namespace

std::vector<std::string> char_ngrams(std::string_view word, int min, int max) {
  const std::string w = "<" + std::string(word) + ">";
  std::vector<std::string> out;
  for_each_ngram(w, min, max, [&](std::size_t i, std::size_t j) { out.push_back(w.substr(i, j - i)); });
  return out;
}

std::vector<int> ngram_buckets(std::string_view word, const SubwordSpec& s) {
  const std::string w = "<" + std::string(word) + ">";
  std::vector<int> out;
  for_each_ngram(w, s.min, s.max, [&](std::size_t i, std::size_t j) {
    out.push_back(int(fnv1a(w.data() + i, j - i) % std::uint32_t(s.buckets)));
  });
  return out;
}

TokenBags::TokenBags(const Vocabulary& vocab, const SubwordSpec& s) : spec_(s), vocab_(vocab.size()) {
  for (int v = 0; v < vocab_; ++v) {
    rows_.push_back(v);
    const std::string& t = vocab.token(v);
    if (t != kUnknownToken)
      for (const int b : ngram_buckets(t, s)) rows_.push_back(vocab_ + b);
    offsets_.push_back(int(rows_.size()));
  }
}

TokenBags::TokenBags(const TokenBags& base, bool) : spec_(base.spec_), vocab_(base.vocab_), base_(&base), first_(base.size()) {}

int TokenBags::add(const std::string& word, int none) {
  if (base_) {
    const auto it = base_->added_.find(word);
    if (it != base_->added_.end()) return it->second;
  }
  const auto it = added_.find(word);
  if (it != added_.end()) return it->second;
  const std::vector<int> b = ngram_buckets(word, spec_);
  if (b.empty()) return none;
  for (const int r : b) rows_.push_back(vocab_ + r);
  offsets_.push_back(int(rows_.size()));
  const int id = size() - 1;
  added_.emplace(word, id);
  return id;
}

const int* TokenBags::begin(int id) const {
  if (id < first_) return base_->begin(id);
  return rows_.data() + offsets_[std::size_t(id - first_)];
}

const int* TokenBags::end(int id) const {
  if (id < first_) return base_->end(id);
  return rows_.data() + offsets_[std::size_t(id - first_) + 1];
}

int token_id(const Vocabulary& vocab, const std::string& token, TokenBags* bags) {
  const int id = vocab.id(token);
  if (id != Vocabulary::unknown) return id;
  return bags ? bags->add(token, vocab.id(kUnknownToken)) : vocab.id(kUnknownToken);
}

Encoded encode(const Vocabulary& vocab, TokenizerKind kind, std::string_view text, TokenBags& bags) {
  Encoded e;
  for (const auto& tok : tokenize(kind, text)) {
    const int id = vocab.id(tok);
    e.n_unknown += id == Vocabulary::unknown;
    e.ids.push_back(id != Vocabulary::unknown ? id : token_id(vocab, tok, &bags));
  }
  return e;
}

}  // namespace recur
