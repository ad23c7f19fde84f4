// recur/token_stream.hpp — a language model's text as ids, held in memory or
// on disk, and a text file read in pieces.
//
// A language model trains on one long stream of ids (StreamBatcher reads
// windows of it, evaluate_many_to_many reads it in chunks). A text given in
// memory is a TokenVector. A text given as a file is read in pieces
// (TextFilePieces), each normalized and encoded, and its ids go to a
// TokenFile: an unlinked temporary file, 1, 2 or 4 bytes an id by the size of
// the vocabulary, read back with pread. The process then holds a few pieces
// and windows, not the text: memory does not grow with the text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "recur/text.hpp"

namespace recur {

class TokenStream {
 public:
  virtual ~TokenStream() = default;
  virtual std::size_t size() const = 0;
  // ids [at, at + n) into out; throws recur::Error past the end or when the disk
  // fails. Threads may read side by side.
  virtual void read(std::size_t at, std::size_t n, int* out) const = 0;
  bool empty() const { return size() == 0; }
};

// The ids of a std::vector (not owned: it must outlive the stream).
class TokenVector : public TokenStream {
 public:
  explicit TokenVector(const std::vector<int>& ids) : ids_(ids) {}
  std::size_t size() const override { return ids_.size(); }
  void read(std::size_t at, std::size_t n, int* out) const override;

 private:
  const std::vector<int>& ids_;
};

// Ids on disk. Written once (append, then finish), then read.
class TokenFile : public TokenStream {
 public:
  // An anonymous file in $TMPDIR (else /tmp), removed when the stream goes;
  // ids are < vocab, so each takes the fewest bytes that hold vocab - 1.
  explicit TokenFile(int vocab);
  ~TokenFile() override;
  TokenFile(const TokenFile&) = delete;
  TokenFile& operator=(const TokenFile&) = delete;

  void append(int id) {
    if (pending_.size() == kBuffer) flush();
    pending_.push_back(id);
  }
  void finish() { flush(); }  // before the first read
  std::size_t size() const override { return size_; }
  void read(std::size_t at, std::size_t n, int* out) const override;
  int bytes_per_id() const { return width_; }

 private:
  static constexpr std::size_t kBuffer = 1 << 16;
  void flush();
  int fd_ = -1, width_ = 4;
  std::string where_;  // the directory, for messages
  std::size_t size_ = 0;
  std::vector<int> pending_;
  std::vector<unsigned char> raw_;  // (flush's bytes)
};

// A UTF-8 text file read as read_text_file() reads it (checked, a leading
// byte-order mark dropped), but in pieces: offsets count bytes of the text
// after the mark. Each piece ends where the tokenizer cuts anyway (after a
// line break; for the whitespace tokenizer, at a space, which is dropped), so
// the pieces' tokens, normalized one by one, are exactly the whole text's.
// Text with no such cut in `piece_bytes` makes a longer piece.
class TextFilePieces {
 public:
  explicit TextFilePieces(std::string path);  // throws recur::Error naming the file
  ~TextFilePieces();
  TextFilePieces(const TextFilePieces&) = delete;
  TextFilePieces& operator=(const TextFilePieces&) = delete;

  std::size_t size() const { return size_; }
  // The first code point boundary at or after `at` (as code_point_boundary()).
  std::size_t code_point_boundary(std::size_t at) const;
  // Visits [from, to), `from` and `to` at code point boundaries, normalized
  // piece by piece. Invalid UTF-8 throws recur::Error naming the file and line.
  void visit(std::size_t from, std::size_t to, TokenizerKind tok, Normalization n,
             const std::function<void(std::string_view)>& piece, std::size_t piece_bytes = std::size_t(8) << 20) const;

 private:
  void read_at(std::size_t at, std::size_t n, char* out) const;  // text offsets
  std::string path_;
  int fd_ = -1;
  std::size_t start_ = 0, size_ = 0;  // where the text begins (3 after a byte-order mark), its bytes
};

}  // namespace recur
