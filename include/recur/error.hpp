// recur/error.hpp — the one exception type users see.
//
// Every error a user can cause (a bad file, a bad flag, a corrupt model) is a
// recur::Error whose message already names where it happened, e.g.
// "train.tsv:17: expected text<TAB>label, found no tab". The CLI prints the
// message as one line and exits non-zero.
#pragma once

#include <stdexcept>
#include <string>

namespace recur {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// "file:line: what"
inline Error file_error(const std::string& file, long line, const std::string& what) {
  return Error(file + ":" + std::to_string(line) + ": " + what);
}

}  // namespace recur
