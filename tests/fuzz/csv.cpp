// The CSV reader (RFC 4180): any bytes as a data file, with options (column
// names or indices, header, skip_bad, line limit) from the first byte. What
// it accepts round-trips: written back with every field quoted, it reads the same.
#include "data_common.hpp"
#include "recur/error.hpp"

namespace recur_fuzz {

namespace {
std::string quoted(const std::string& s) {
  std::string o = "\"";
  for (const char c : s) o += c == '"' ? std::string("\"\"") : std::string(1, c);
  return o + "\"";
}
}  // namespace

int csv(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const recur::LoadOptions o = options_from(data[0]);
  std::vector<recur::LabeledText> rows;
  recur::LoadReport report;
  try {
    rows = recur::parse_labeled(bytes_of(data + 1, size - 1), "fuzz.csv", recur::DataFormat::csv, o, &report);
  } catch (const recur::Error&) {
    return 0;
  }
  check_records(rows, report);
  std::string back = "text,label\n";
  for (const auto& r : rows) back += quoted(r.text) + "," + quoted(r.label) + "\n";
  recur::LoadOptions plain;
  plain.max_line_bytes = 0;
  const auto again = recur::parse_csv(back, "again.csv", plain);
  check(again.size() == rows.size(), "CSV round trip");
  for (std::size_t i = 0; i < rows.size(); ++i) {
    // (a CR before a line break inside quotes is kept as written; so is every other byte)
    check(again[i].text == rows[i].text && again[i].label == rows[i].label, "CSV round trip");
  }
  return 0;
}

}  // namespace recur_fuzz
