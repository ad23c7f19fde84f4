// The TSV reader (`text<TAB>label`): any bytes as a data file, with options
// from the first byte. What it accepts round-trips: the records written back
// as TSV read as the same records.
#include "data_common.hpp"
#include "recur/error.hpp"

namespace recur_fuzz {

int tsv(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const recur::LoadOptions o = options_from(data[0]);
  std::vector<recur::LabeledText> rows;
  recur::LoadReport report;
  try {
    rows = recur::parse_labeled(bytes_of(data + 1, size - 1), "fuzz.tsv", recur::DataFormat::tsv, o, &report);
  } catch (const recur::Error&) {
    return 0;
  }
  check_records(rows, report);
  // (written with a byte-order mark: the reader drops one, so a first text
  // that itself starts with U+FEFF keeps it)
  std::string back = "\xEF\xBB\xBF";
  for (const auto& r : rows) {
    check(r.text.find_first_of("\t\n") == std::string::npos && r.label.find_first_of("\t\n") == std::string::npos,
          "no tab or line break inside a field");
    back += r.text + "\t" + r.label + "\n";
  }
  recur::LoadOptions plain;
  plain.max_line_bytes = 0;
  const auto again = recur::parse_tsv(back, "again.tsv", plain);
  check(again.size() == rows.size(), "TSV round trip");
  for (std::size_t i = 0; i < rows.size(); ++i)
    check(again[i].text == rows[i].text && again[i].label == rows[i].label, "TSV round trip");
  return 0;
}

}  // namespace recur_fuzz
