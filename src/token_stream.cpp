// Token streams in memory and on disk, and text files read in pieces
// (include/recur/token_stream.hpp).
#include "recur/token_stream.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "recur/error.hpp"

namespace recur {

namespace {

std::string why() { return std::strerror(errno); }

// All n bytes at `offset`, or false at the end of the file.
bool pread_all(int fd, char* out, std::size_t n, std::size_t offset) {
  while (n > 0) {
    const ssize_t got = ::pread(fd, out, n, off_t(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    out += got, n -= std::size_t(got), offset += std::size_t(got);
  }
  return true;
}

}  // namespace

// ---- in memory -------------------------------------------------------------------

void TokenVector::read(std::size_t at, std::size_t n, int* out) const {
  if (at > ids_.size() || n > ids_.size() - at) throw Error("token stream: read past its end");
  std::copy_n(ids_.begin() + std::ptrdiff_t(at), n, out);
}

// ---- on disk -------------------------------------------------------------------------

TokenFile::TokenFile(int vocab) {
  width_ = vocab <= (1 << 8) ? 1 : vocab <= (1 << 16) ? 2 : 4;
  const char* tmp = std::getenv("TMPDIR");
  where_ = tmp && *tmp ? tmp : "/tmp";
  std::string name = where_ + "/recur-ids-XXXXXX";
  fd_ = ::mkstemp(name.data());
  if (fd_ < 0) throw Error(where_ + ": cannot create a temporary file for the text's ids: " + why());
  ::unlink(name.c_str());  // gone with the descriptor, whatever ends the process
  pending_.reserve(kBuffer);
}

TokenFile::~TokenFile() {
  if (fd_ >= 0) ::close(fd_);
}

void TokenFile::flush() {
  if (pending_.empty()) return;
  raw_.resize(pending_.size() * std::size_t(width_));
  unsigned char* p = raw_.data();
  for (const int id : pending_)  // little-endian, width_ bytes
    for (int b = 0; b < width_; ++b) *p++ = static_cast<unsigned char>(std::uint32_t(id) >> (8 * b));
  std::size_t done = 0;
  while (done < raw_.size()) {
    const ssize_t put = ::write(fd_, raw_.data() + done, raw_.size() - done);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) throw Error(where_ + ": cannot write the text's ids to a temporary file: " + why());
    done += std::size_t(put);
  }
  size_ += pending_.size();
  pending_.clear();
}

void TokenFile::read(std::size_t at, std::size_t n, int* out) const {
  if (at > size_ || n > size_ - at) throw Error("token stream: read past its end");
  thread_local std::vector<unsigned char> raw;  // (the ranks of a run on threads read side by side)
  raw.resize(n * std::size_t(width_));
  if (!pread_all(fd_, reinterpret_cast<char*>(raw.data()), raw.size(), at * std::size_t(width_)))
    throw Error(where_ + ": cannot read the text's ids back from a temporary file: " + why());
  const unsigned char* p = raw.data();
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t id = 0;
    for (int b = 0; b < width_; ++b) id |= std::uint32_t(*p++) << (8 * b);
    out[i] = int(id);
  }
}

// ---- a text file in pieces -------------------------------------------------------------

TextFilePieces::TextFilePieces(std::string path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw Error(path_ + ": cannot open: " + why());
  struct stat st {};
  if (::fstat(fd_, &st) != 0) throw Error(path_ + ": cannot read: " + why());
  if (S_ISDIR(st.st_mode)) {
    ::close(fd_);
    throw Error(path_ + ": a directory, not a text file");
  }
  const std::size_t bytes = std::size_t(st.st_size);
  char head[3] = {};
  if (bytes >= 3 && pread_all(fd_, head, 3, 0) && std::memcmp(head, "\xEF\xBB\xBF", 3) == 0) start_ = 3;
  size_ = bytes - start_;
}

TextFilePieces::~TextFilePieces() {
  if (fd_ >= 0) ::close(fd_);
}

void TextFilePieces::read_at(std::size_t at, std::size_t n, char* out) const {
  if (!pread_all(fd_, out, n, start_ + at))
    throw Error(path_ + ": read error or file changed while being read" + (errno ? ": " + why() : std::string()));
}

std::size_t TextFilePieces::code_point_boundary(std::size_t at) const {
  char c = 0;
  while (at < size_) {
    read_at(at, 1, &c);
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) break;
    ++at;
  }
  return std::min(at, size_);
}

void TextFilePieces::visit(std::size_t from, std::size_t to, TokenizerKind tok, Normalization n,
                           const std::function<void(std::string_view)>& piece, std::size_t piece_bytes) const {
  if (from > to || to > size_) throw Error(path_ + ": a piece outside the text");
  // Where a piece may end: after a line break (no token, and no normalization,
  // spans one), or for split_spaces at a space, which it would drop anyway.
  const char cut_at = tok == TokenizerKind::whitespace ? ' ' : '\n';
  const std::size_t dropped = tok == TokenizerKind::whitespace ? 1 : 0;
  std::string buf;           // text from `start` on, read but not yet visited
  std::size_t start = from;  // text offset of buf[0]
  std::size_t pos = from;    // text offset of the next byte to read
  for (;;) {
    const std::size_t more = std::min(std::max<std::size_t>(piece_bytes, 1), to - pos);
    const std::size_t old = buf.size();
    buf.resize(old + more);
    read_at(pos, more, buf.data() + old);
    pos += more;
    const bool last = pos == to;
    std::size_t end = buf.size(), next = buf.size();
    if (!last) {
      const std::size_t r = buf.rfind(cut_at);
      if (r == std::string::npos) continue;  // no cut yet: a longer piece
      end = tok == TokenizerKind::whitespace ? r : r + 1;
      next = end + dropped;
    }
    const std::string_view text(buf.data(), end);
    const std::size_t bad = find_invalid_utf8(text);
    if (bad != std::string_view::npos) {
      // The line, counted only now: [0, start + bad) read again.
      long line = 1;
      std::size_t line_start = 0;
      std::string chunk(std::size_t(1) << 20, '\0');
      for (std::size_t at = 0; at < start + bad; at += chunk.size()) {
        const std::size_t k = std::min(chunk.size(), start + bad - at);
        read_at(at, k, chunk.data());
        for (std::size_t i = 0; i < k; ++i)
          if (chunk[i] == '\n') ++line, line_start = at + i + 1;
      }
      throw file_error(path_, line,
                       "invalid UTF-8 at byte " + std::to_string(start + bad - line_start + 1) + " of the line");
    }
    piece(normalize(text, n));
    if (last) return;
    buf.erase(0, next);
    start += next;
  }
}

}  // namespace recur
