#include "recur/data.hpp"

#include <algorithm>
#include <cmath>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <istream>
#include <set>
#include <sstream>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "recur/error.hpp"

#include <nlohmann/json.hpp>

namespace recur {

namespace {

// Calls f(line_number, line) for every non-empty line of content, 1-based, with
// a UTF-8 byte-order mark and the CRs of CRLF endings removed.
template <class F>
void for_each_line(const std::string& content, F f) {
  std::string_view rest(content);
  if (rest.substr(0, 3) == "\xEF\xBB\xBF") rest.remove_prefix(3);
  long line_no = 0;
  while (!rest.empty()) {
    const std::size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    ++line_no;
    while (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // ("\r\r\n": converted twice)
    if (line.empty()) continue;
    f(line_no, line);
  }
}

// A record longer than the limit: an error naming its line (skippable with
// --skip-bad like any malformed record).
void check_length(std::size_t bytes, std::size_t max, const std::string& name, long line_no, const char* what) {
  if (max > 0 && bytes > max)
    throw file_error(name, line_no, std::string("a ") + what + " of " + std::to_string(bytes) +
                                        " bytes, more than --max-line-bytes allows (" + std::to_string(max) + ")");
}

}  // namespace

bool read_line(std::istream& in, std::string& line, std::size_t max_bytes) {
  line.clear();
  std::streambuf* sb = in.rdbuf();
  bool any = false;
  for (;;) {
    const int c = sb->sbumpc();
    if (c == std::char_traits<char>::eof()) {
      in.setstate(std::ios::eofbit);
      break;
    }
    any = true;
    if (c == '\n') break;
    if (max_bytes > 0 && line.size() >= max_bytes + 1)  // (the +1 leaves room for a '\r' before the '\n')
      throw Error("a line longer than --max-line-bytes allows (" + std::to_string(max_bytes) + ")");
    line.push_back(char(c));
  }
  while (!line.empty() && line.back() == '\r') line.pop_back();
  if (max_bytes > 0 && line.size() > max_bytes)
    throw Error("a line longer than --max-line-bytes allows (" + std::to_string(max_bytes) + ")");
  return any;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open: " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw Error(path + ": read error");
  return ss.str();
}

// One TSV record; throws recur::Error naming name:line_no.
LabeledText parse_tsv_line(std::string_view line, const std::string& name, long line_no) {
  const std::size_t bad = find_invalid_utf8(line);
  if (bad != std::string_view::npos)
    throw file_error(name, line_no, "invalid UTF-8 at byte " + std::to_string(bad + 1) + " of the line");
  const std::size_t tab = line.find('\t');
  if (tab == std::string_view::npos) throw file_error(name, line_no, "expected text<TAB>label, found no tab");
  const std::size_t tabs = std::size_t(std::count(line.begin(), line.end(), '\t'));
  if (tabs > 1)
    throw file_error(name, line_no, "expected 2 columns (text<TAB>label), got " + std::to_string(tabs + 1));
  LabeledText r{std::string(line.substr(0, tab)), std::string(line.substr(tab + 1)), line_no};
  if (r.text.empty()) throw file_error(name, line_no, "empty text before the tab");
  if (r.label.empty()) throw file_error(name, line_no, "empty label after the tab");
  return r;
}

std::vector<LabeledText> load_tsv(const std::string& path) {
  return parse_tsv(read_file(path), path);
}

std::string read_text_file(const std::string& path) {
  std::string s = read_file(path);
  const std::size_t bad = find_invalid_utf8(s);
  if (bad != std::string::npos)
    throw Error(path + ": invalid UTF-8 at byte offset " + std::to_string(bad) + " (not a UTF-8 text file?)");
  if (s.substr(0, 3) == "\xEF\xBB\xBF") s.erase(0, 3);
  return s;
}

std::size_t code_point_boundary(const std::string& text, std::size_t at) {
  while (at < text.size() && (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80) ++at;
  return at;
}

// The distinct tokens are found through views (a hash set of string_views, each
// new token copied once), then sorted as strings: the same vocabulary, in the
// same order, as collecting every token in a std::set.
void LmVocabularyBuilder::add(std::string_view text) {
  for_each_token(tok_, text, [&](std::string_view t) {
    if (t.size() == 1 && static_cast<unsigned char>(t[0]) < 0x80)
      ascii_[static_cast<unsigned char>(t[0])] = true;
    else if (!seen_.count(t))
      seen_.insert(std::string_view(*owned_.insert(std::string(t)).first));
  });
}

Vocabulary LmVocabularyBuilder::vocabulary() const {
  std::vector<std::string> sorted(owned_.begin(), owned_.end());
  for (int c = 0; c < 128; ++c)
    if (ascii_[std::size_t(c)]) sorted.emplace_back(1, char(c));
  std::sort(sorted.begin(), sorted.end());
  Vocabulary v;
  for (const auto& t : sorted)
    if (t != kUnknownToken) v.add(t);
  v.add(kUnknownToken);
  return v;
}

Vocabulary build_lm_vocab(const std::string& text, TokenizerKind tok) {
  LmVocabularyBuilder b(tok);
  b.add(text);
  return b.vocabulary();
}

LmEncoder::LmEncoder(const Vocabulary& vocab, TokenizerKind tok) : tok_(tok), unk_(vocab.id(kUnknownToken)) {
  ascii_.fill(Vocabulary::unknown);
  for (int i = 0; i < vocab.size(); ++i) {
    const std::string& t = vocab.token(i);
    if (t.size() == 1 && static_cast<unsigned char>(t[0]) < 0x80)
      ascii_[static_cast<unsigned char>(t[0])] = i;
    else
      ids_of_.emplace(t, i);
  }
}

int LmEncoder::unknown_id() {
  if (unk_ == Vocabulary::unknown) throw Error("the vocabulary has no unknown symbol");
  ++unknown;
  return unk_;
}

std::vector<int> encode_text(const std::string& text, const Vocabulary& vocab, TokenizerKind tok, long* n_unknown) {
  LmEncoder e(vocab, tok);
  std::vector<int> ids;
  if (tok == TokenizerKind::chr) ids.reserve(text.size());  // at most one token a byte
  e.encode(text, [&](int id) { ids.push_back(id); });
  if (n_unknown) *n_unknown += e.unknown;
  ids.shrink_to_fit();
  return ids;
}

std::vector<std::string> sorted_labels(const std::vector<LabeledText>& data) {
  std::set<std::string> s;
  for (const auto& r : data) s.insert(r.label);
  return {s.begin(), s.end()};
}

namespace {
// Example indices per label, in sorted-label order.
std::vector<std::vector<int>> by_label(const std::vector<LabeledText>& data) {
  const std::vector<std::string> labels = sorted_labels(data);
  std::vector<std::vector<int>> out(labels.size());
  for (std::size_t i = 0; i < data.size(); ++i) {
    const auto at = std::lower_bound(labels.begin(), labels.end(), data[i].label) - labels.begin();
    out[std::size_t(at)].push_back(int(i));
  }
  return out;
}
}  // namespace

std::vector<int> stratified_holdout(const std::vector<LabeledText>& data, double fraction, Rng& rng) {
  if (!(fraction > 0 && fraction < 1)) throw Error("the validation fraction must be in (0, 1)");
  std::vector<int> held;
  for (auto& members : by_label(data)) {
    rng.shuffle(members);
    const auto take = std::size_t(std::llround(fraction * double(members.size())));
    held.insert(held.end(), members.begin(), members.begin() + std::ptrdiff_t(take));
  }
  std::sort(held.begin(), held.end());
  return held;
}

std::vector<int> stratified_folds(const std::vector<LabeledText>& data, int folds, Rng& rng) {
  if (folds < 2) throw Error("cross-validation needs at least 2 folds");
  if (std::size_t(folds) > data.size())
    throw Error("cannot make " + std::to_string(folds) + " folds of " + std::to_string(data.size()) + " examples");
  std::vector<int> fold(data.size());
  int next = 0;
  for (auto& members : by_label(data)) {
    rng.shuffle(members);
    for (const int i : members) {
      fold[std::size_t(i)] = next;
      next = (next + 1) % folds;
    }
  }
  return fold;
}

std::vector<LabeledText> select(const std::vector<LabeledText>& data, const std::vector<int>& which, bool keep) {
  std::vector<LabeledText> out;
  for (std::size_t i = 0; i < data.size(); ++i)
    if (std::binary_search(which.begin(), which.end(), int(i)) == keep) out.push_back(data[i]);
  return out;
}

Vocabulary build_vocab(const std::vector<LabeledText>& data, TokenizerKind tok, const VocabOptions& o) {
  Vocabulary seen;  // every token, first-seen order
  std::vector<long> count;
  for (const auto& r : data)
    for (const auto& t : tokenize(tok, r.text)) {
      const std::size_t id = std::size_t(seen.add(t));
      if (id == count.size()) count.push_back(0);
      ++count[id];
    }
  if (!o.unknown_symbol()) return seen;
  std::vector<int> kept;
  for (int id = 0; id < seen.size(); ++id)
    if (count[std::size_t(id)] >= o.min_count && seen.token(id) != kUnknownToken) kept.push_back(id);
  if (o.max_vocab > 0 && int(kept.size()) > o.max_vocab) {
    std::stable_sort(kept.begin(), kept.end(), [&](int a, int b) { return count[std::size_t(a)] > count[std::size_t(b)]; });
    kept.resize(std::size_t(o.max_vocab));
    std::sort(kept.begin(), kept.end());  // back to first-seen order
  }
  Vocabulary v;
  for (const int id : kept) v.add(seen.token(id));
  v.add(kUnknownToken);
  return v;
}

EncodedSet encode_set(const std::vector<LabeledText>& data, const Vocabulary& vocab,
                      TokenizerKind tok, const std::vector<std::string>& labels,
                      const std::string& name, TokenBags* bags) {
  EncodedSet s;
  s.bags = bags;
  for (const auto& r : data) {
    const auto it = std::find(labels.begin(), labels.end(), r.label);
    if (it == labels.end()) {
      std::string known;
      for (const auto& l : labels) known += (known.empty() ? "" : ", ") + l;
      throw file_error(name, r.line, "unknown label '" + r.label + "' (the model knows: " + known + ")");
    }
    Encoded e = bags ? encode(vocab, tok, r.text, *bags) : encode(vocab, tok, r.text);
    s.n_unknown += e.n_unknown;
    s.ids.push_back(std::move(e.ids));
    s.targets.push_back(int(it - labels.begin()));
  }
  return s;
}

}  // namespace recur

namespace recur {

DataFormat format_from_string(const std::string& s) {
  if (s == "tsv") return DataFormat::tsv;
  if (s == "csv") return DataFormat::csv;
  if (s == "jsonl") return DataFormat::jsonl;
  throw Error("unknown data format '" + s + "' (known: tsv, csv, jsonl)");
}

DataFormat format_from_path(const std::string& path) {
  auto ends = [&](const std::string& ext) {
    return path.size() >= ext.size() && path.compare(path.size() - ext.size(), ext.size(), ext) == 0;
  };
  if (ends(".csv")) return DataFormat::csv;
  if (ends(".jsonl") || ends(".json") || ends(".ndjson")) return DataFormat::jsonl;
  return DataFormat::tsv;
}

namespace {

// Runs `f` for one record: with skip_bad a recur::Error is counted in the report
// instead of stopping the load.
template <class F>
void record(const LoadOptions& o, LoadReport* report, F f) {
  if (!o.skip_bad) return f();
  try {
    f();
  } catch (const Error& e) {
    if (report) {
      if (report->skipped++ == 0) report->first_error = e.what();
    }
  }
}

bool is_index(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::vector<LabeledText> parse_csv(const std::string& content, const std::string& name, const LoadOptions& o,
                                   LoadReport* report) {
  std::string_view in(content);
  if (in.substr(0, 3) == "\xEF\xBB\xBF") in.remove_prefix(3);
  // Split into rows of fields, tracking the line each row starts on.
  struct Row {
    std::vector<std::string> fields;
    long line;
    std::size_t bytes;  // the record's length, line end excluded
  };
  std::vector<Row> rows;
  long line = 1;
  std::size_t i = 0;
  while (i < in.size()) {
    Row row{{}, line, 0};
    const std::size_t start = i;
    std::string field;
    bool quoted = false, blank = true;
    for (;;) {
      // A record past the limit keeps being scanned to its end (to find the
      // next one) but nothing more of it is kept.
      if (o.max_line_bytes > 0 && i - start > o.max_line_bytes) field.clear();
      if (i >= in.size()) {
        if (quoted) throw file_error(name, row.line, "a quoted field is not closed before the end of the file");
        row.fields.push_back(std::move(field));
        break;
      }
      const char c = in[i++];
      if (quoted) {
        if (c == '"') {
          if (i < in.size() && in[i] == '"') {
            field.push_back('"');
            ++i;
          } else {
            quoted = false;
          }
        } else {
          if (c == '\n') ++line;
          field.push_back(c);
        }
        continue;
      }
      if (c == '"' && field.empty()) {
        quoted = true;
        blank = false;
      } else if (c == ',') {
        row.fields.push_back(std::move(field));
        field.clear();
        blank = false;
      } else if (c == '\n' || c == '\r') {
        if (c == '\r' && i < in.size() && in[i] == '\n') ++i;
        ++line;
        row.fields.push_back(std::move(field));
        break;
      } else {
        field.push_back(c);
        blank = false;
      }
    }
    row.bytes = i - start;
    while (row.bytes > 0 && (in[start + row.bytes - 1] == '\n' || in[start + row.bytes - 1] == '\r')) --row.bytes;
    if (!(blank && row.fields.size() == 1 && row.fields[0].empty())) rows.push_back(std::move(row));
  }
  if (rows.empty()) throw Error(name + ": no records (empty file?)");

  // Which columns: by name (the first row is the header) or by index.
  std::size_t first = 0, text_at = 0, label_at = 0;
  const std::size_t width = rows[0].fields.size();
  auto column = [&](const std::string& col, const char* flag) -> std::size_t {
    if (is_index(col)) {
      const std::size_t k = col.size() > 9 ? width : std::stoul(col);
      if (k >= width)
        throw Error(name + ": " + flag + " " + col + " is past the last column (the rows have " +
                    std::to_string(width) + ")");
      return k;
    }
    const auto& head = rows[0].fields;
    const auto it = std::find(head.begin(), head.end(), col);
    if (it == head.end()) throw file_error(name, rows[0].line, std::string("no column named '") + col + "' in the header (" + flag + ")");
    return std::size_t(it - head.begin());
  };
  text_at = column(o.text_col, "--text-col");
  label_at = column(o.label_col, "--label-col");
  if (!is_index(o.text_col) || !is_index(o.label_col) || o.header) first = 1;

  std::vector<LabeledText> out;
  for (std::size_t r = first; r < rows.size(); ++r) {
    record(o, report, [&] {
      const Row& row = rows[r];
      check_length(row.bytes, o.max_line_bytes, name, row.line, "record");
      if (row.fields.size() != width)
        throw file_error(name, row.line, "expected " + std::to_string(width) + " fields, got " + std::to_string(row.fields.size()));
      LabeledText t{row.fields[text_at], row.fields[label_at], row.line};
      for (const std::string* f : {&t.text, &t.label}) {
        const std::size_t bad = find_invalid_utf8(*f);
        if (bad != std::string::npos) throw file_error(name, row.line, "invalid UTF-8");
      }
      if (t.text.empty()) throw file_error(name, row.line, "empty text");
      if (t.label.empty()) throw file_error(name, row.line, "empty label");
      out.push_back(std::move(t));
    });
  }
  if (out.empty()) throw Error(name + ": no usable records");
  return out;
}

std::vector<LabeledText> parse_jsonl(const std::string& content, const std::string& name, const LoadOptions& o,
                                     LoadReport* report) {
  std::vector<LabeledText> out;
  for_each_line(content, [&](long line_no, std::string_view line) {
    if (line.find_first_not_of(" \t") == std::string_view::npos) return;
    record(o, report, [&] {
      check_length(line.size(), o.max_line_bytes, name, line_no, "line");
      if (find_invalid_utf8(line) != std::string_view::npos) throw file_error(name, line_no, "invalid UTF-8");
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(line);
      } catch (const nlohmann::json::exception&) {
        throw file_error(name, line_no, "not a JSON object");
      }
      if (!j.is_object()) throw file_error(name, line_no, "not a JSON object");
      if (!j.contains(o.text_col) || !j[o.text_col].is_string())
        throw file_error(name, line_no, "no string field \"" + o.text_col + "\"");
      const auto& lab = j.contains(o.label_col) ? j[o.label_col] : nlohmann::json();
      std::string label;
      if (lab.is_string())
        label = lab.get<std::string>();
      else if (lab.is_number_integer() || lab.is_boolean())
        label = lab.dump();
      else
        throw file_error(name, line_no, "no string or integer field \"" + o.label_col + "\"");
      LabeledText t{j[o.text_col].get<std::string>(), label, line_no};
      if (t.text.empty()) throw file_error(name, line_no, "empty text");
      if (t.label.empty()) throw file_error(name, line_no, "empty label");
      out.push_back(std::move(t));
    });
  });
  if (out.empty()) throw Error(name + ": no records (empty file?)");
  return out;
}

std::vector<LabeledText> load_labeled(const std::string& path, const DataOptions& o, LoadReport* report) {
  return load_labeled(path, o.format.empty() ? format_from_path(path) : format_from_string(o.format), o.load, report);
}

extern const char* const kBuiltinTrain;  // data/seed_train.tsv, compiled in (builtin_data.cpp)
extern const char* const kBuiltinTest;   // data/seed_test.tsv

std::vector<LabeledText> builtin_seed_train() { return parse_tsv(kBuiltinTrain, "<built-in>/seed_train.tsv"); }
std::vector<LabeledText> builtin_seed_test() { return parse_tsv(kBuiltinTest, "<built-in>/seed_test.tsv"); }

std::vector<LabeledText> parse_tsv(const std::string& content, const std::string& name, const LoadOptions& o,
                                   LoadReport* report) {
  std::vector<LabeledText> out;
  for_each_line(content, [&](long line_no, std::string_view line) {
    record(o, report, [&] {
      check_length(line.size(), o.max_line_bytes, name, line_no, "line");
      out.push_back(parse_tsv_line(line, name, line_no));
    });
  });
  if (out.empty()) throw Error(name + (o.skip_bad ? ": no usable records" : ": no records (empty file?)"));
  return out;
}

std::vector<LabeledText> parse_labeled(const std::string& content, const std::string& name, DataFormat format,
                                       const LoadOptions& o, LoadReport* report) {
  switch (format) {
    case DataFormat::csv: return parse_csv(content, name, o, report);
    case DataFormat::jsonl: return parse_jsonl(content, name, o, report);
    case DataFormat::tsv: break;
  }
  return parse_tsv(content, name, o, report);
}

std::vector<LabeledText> load_labeled(const std::string& path, DataFormat format, const LoadOptions& o,
                                      LoadReport* report) {
  return parse_labeled(read_file(path), path, format, o, report);
}

}  // namespace recur
