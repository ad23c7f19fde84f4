// recur/subwords.hpp — subword input (fastText's, Bojanowski et al. 2017): a
// word is read as the mean of its own embedding row and the rows of its
// character n-grams, hashed into a fixed number of buckets, so that a word the
// vocabulary does not know still gets a vector from its pieces.
//
//   n-grams of w:  the character n-grams, MIN <= n <= MAX, of "<" + w + ">"
//                  ("<" and ">" mark the word's start and end; the lone
//                  markers are not n-grams). "where", 3-3: <wh whe her ere re>
//   bucket(g):     FNV-1a (32 bits) of g's UTF-8 bytes, modulo the bucket count N
//   x(w):          mean of embedding.weight[id(w)] (when w is in the vocabulary)
//                  and subwords.weight[bucket(g)] for each n-gram g of w
//
// A bag is the list of rows of the input table [embedding.weight;
// subwords.weight] (V + N rows) that one token id reads. Ids below V are the
// vocabulary's words (kUnknownToken reads only its own row); ids from V on are
// words outside the vocabulary, added as text is read (n-grams only).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "recur/text.hpp"

namespace recur {

struct SubwordSpec {
  int min = 0, max = 0;  // n-gram lengths in characters (code points)
  int buckets = 0;       // N; 0 = no subwords
  bool enabled() const { return buckets > 0; }
};

constexpr int kMaxSubwordLength = 16;

// "MIN-MAX" (e.g. "3-6") and a bucket count; throws recur::Error naming `flag`
// when the range is not 1 <= MIN <= MAX <= kMaxSubwordLength or N < 1.
SubwordSpec subword_spec(const std::string& range, int buckets, const std::string& flag = "--subwords");
std::string to_string(const SubwordSpec& s);  // "3-6"

// The n-grams of a word, in order (start, then length), as text.
std::vector<std::string> char_ngrams(std::string_view word, int min, int max);
// Their buckets (0..N-1), in the same order.
std::vector<int> ngram_buckets(std::string_view word, const SubwordSpec& s);

// The rows each token id reads, for one vocabulary; with a base, an extension
// of the base's table: the base's ids keep their bags, and words the base does
// not have are added after them. A base must outlive its extensions.
class TokenBags {
 public:
  TokenBags() = default;
  TokenBags(const Vocabulary& vocab, const SubwordSpec& s);
  explicit TokenBags(const TokenBags& base, bool extension);

  const SubwordSpec& spec() const { return spec_; }
  int vocab() const { return vocab_; }  // V: the first input row of the n-grams
  int size() const { return first_ + int(offsets_.size()) - 1; }  // ids with a bag

  // The id of a word outside the vocabulary: a new one (>= V) reading its
  // n-grams, the same id for the same word; `none` when it has no n-gram.
  int add(const std::string& word, int none);

  const int* begin(int id) const;
  const int* end(int id) const;

 private:
  SubwordSpec spec_;
  int vocab_ = 0;
  const TokenBags* base_ = nullptr;
  int first_ = 0;                 // the first id this table holds (the base's size)
  std::vector<int> offsets_{0};   // bag of id first_ + i: rows_[offsets_[i] .. offsets_[i+1])
  std::vector<int> rows_;
  std::unordered_map<std::string, int> added_;
};

// A token's id: its vocabulary id; else, with bags, a word outside the
// vocabulary read through its n-grams; else the unknown word's id (or -1).
int token_id(const Vocabulary& vocab, const std::string& token, TokenBags* bags);

// Token ids of a (normalized) text, as encode(vocab, kind, text) gives them,
// except that a word the vocabulary does not know is added to `bags` and read
// through its n-grams; n_unknown still counts it.
Encoded encode(const Vocabulary& vocab, TokenizerKind kind, std::string_view text, TokenBags& bags);

}  // namespace recur
