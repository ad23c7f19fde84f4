// Shared by the labelled-data targets (tsv, csv, jsonl): the loader's options
// drawn from the input's first byte, and what every parsed record must be.
#pragma once

#include <algorithm>

#include "recur/data.hpp"
#include "recur/text.hpp"
#include "targets.hpp"

namespace recur_fuzz {

// bit 0 skip_bad, bit 1 header, bits 2-3 the line limit (default, 0 = none,
// 8, 64), bits 4-7 the column names or indices.
inline recur::LoadOptions options_from(std::uint8_t b) {
  static const char* const text_cols[] = {"text", "0", "1", "label"};
  static const char* const label_cols[] = {"label", "1", "2", "99999999999999999999"};
  recur::LoadOptions o;
  o.skip_bad = b & 1;
  o.header = b & 2;
  const std::size_t limits[] = {o.max_line_bytes, 0, 8, 64};
  o.max_line_bytes = limits[(b >> 2) & 3];
  o.text_col = text_cols[(b >> 4) & 3];
  o.label_col = label_cols[(b >> 6) & 3];
  return o;
}

inline void check_records(const std::vector<recur::LabeledText>& rows, const recur::LoadReport& report) {
  long line = 0;
  for (const auto& r : rows) {
    check(!r.text.empty() && !r.label.empty(), "records have a text and a label");
    check(recur::find_invalid_utf8(r.text) == std::string::npos, "texts are UTF-8");
    check(recur::find_invalid_utf8(r.label) == std::string::npos, "labels are UTF-8");
    check(r.line > line, "records in file order, lines counted from 1");
    line = r.line;
  }
  check(report.skipped >= 0, "a skip count");
}

}  // namespace recur_fuzz
