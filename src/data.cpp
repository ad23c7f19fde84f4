#include "recur/data.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "recur/error.hpp"

namespace recur {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open: " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw Error(path + ": read error");
  return ss.str();
}

std::vector<LabeledText> parse_tsv(const std::string& content, const std::string& name) {
  std::string_view rest(content);
  if (rest.substr(0, 3) == "\xEF\xBB\xBF") rest.remove_prefix(3);
  std::vector<LabeledText> out;
  long line_no = 0;
  while (!rest.empty()) {
    const std::size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    const std::size_t bad = find_invalid_utf8(line);
    if (bad != std::string_view::npos)
      throw file_error(name, line_no, "invalid UTF-8 at byte " + std::to_string(bad + 1) +
                                          " of the line");
    const std::size_t tab = line.find('\t');
    if (tab == std::string_view::npos)
      throw file_error(name, line_no, "expected text<TAB>label, found no tab");
    const std::size_t tabs = std::size_t(std::count(line.begin(), line.end(), '\t'));
    if (tabs > 1)
      throw file_error(name, line_no,
                       "expected 2 columns (text<TAB>label), got " + std::to_string(tabs + 1));
    LabeledText r{std::string(line.substr(0, tab)), std::string(line.substr(tab + 1)), line_no};
    if (r.text.empty()) throw file_error(name, line_no, "empty text before the tab");
    if (r.label.empty()) throw file_error(name, line_no, "empty label after the tab");
    out.push_back(std::move(r));
  }
  if (out.empty()) throw Error(name + ": no records (empty file?)");
  return out;
}

std::vector<LabeledText> load_tsv(const std::string& path) {
  return parse_tsv(read_file(path), path);
}

std::vector<std::string> sorted_labels(const std::vector<LabeledText>& data) {
  std::set<std::string> s;
  for (const auto& r : data) s.insert(r.label);
  return {s.begin(), s.end()};
}

Vocabulary build_vocab(const std::vector<LabeledText>& data, TokenizerKind tok) {
  Vocabulary v;
  for (const auto& r : data)
    for (const auto& t : tokenize(tok, r.text)) v.add(t);
  return v;
}

EncodedSet encode_set(const std::vector<LabeledText>& data, const Vocabulary& vocab,
                      TokenizerKind tok, const std::vector<std::string>& labels,
                      const std::string& name) {
  EncodedSet s;
  for (const auto& r : data) {
    const auto it = std::find(labels.begin(), labels.end(), r.label);
    if (it == labels.end()) {
      std::string known;
      for (const auto& l : labels) known += (known.empty() ? "" : ", ") + l;
      throw file_error(name, r.line, "unknown label '" + r.label + "' (the model knows: " + known + ")");
    }
    Encoded e = encode(vocab, tok, r.text);
    s.n_unknown += e.n_unknown;
    s.ids.push_back(std::move(e.ids));
    s.targets.push_back(int(it - labels.begin()));
  }
  return s;
}

}  // namespace recur
