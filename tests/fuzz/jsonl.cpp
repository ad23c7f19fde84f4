// The JSON Lines reader: any bytes as a data file, with options from the
// first byte. What it accepts round-trips through nlohmann::json.
#include <nlohmann/json.hpp>

#include "data_common.hpp"
#include "recur/error.hpp"

namespace recur_fuzz {

int jsonl(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const recur::LoadOptions o = options_from(data[0]);
  std::vector<recur::LabeledText> rows;
  recur::LoadReport report;
  try {
    rows = recur::parse_labeled(bytes_of(data + 1, size - 1), "fuzz.jsonl", recur::DataFormat::jsonl, o, &report);
  } catch (const recur::Error&) {
    return 0;
  }
  check_records(rows, report);
  std::string back;
  for (const auto& r : rows) back += nlohmann::json{{"text", r.text}, {"label", r.label}}.dump() + "\n";
  recur::LoadOptions plain;
  plain.max_line_bytes = 0;
  const auto again = recur::parse_jsonl(back, "again.jsonl", plain);
  check(again.size() == rows.size(), "JSONL round trip");
  for (std::size_t i = 0; i < rows.size(); ++i)
    check(again[i].text == rows[i].text && again[i].label == rows[i].label, "JSONL round trip");
  return 0;
}

}  // namespace recur_fuzz
