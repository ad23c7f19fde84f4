// --report FILE.html: one self-contained page (inline SVG and CSS, no scripts,
// nothing fetched) with a run's curves, its confusion matrix and per-class
// scores, and the settings it ran with.
#pragma once

#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace recur_cli {

struct Series {
  std::string name;               // legend entry
  std::vector<double> x, y;       // points, x increasing
  bool dashed = false;
};

struct Chart {
  std::string title, x_label, y_label;
  std::vector<Series> series;
  double marker_x = std::numeric_limits<double>::quiet_NaN();  // a labelled vertical line (e.g. the best epoch)
  std::string marker_label = {};  // (a default, so aggregate initialisation may leave it out)
};

// A line chart as an SVG element.
std::string svg_chart(const Chart& chart);

struct ReportPage {
  std::string title;
  std::vector<std::pair<std::string, std::string>> summary;   // key, value: the headline numbers
  std::vector<Chart> charts;
  // A classifier's confusion matrix on `confusion_of` (e.g. "validation data"):
  // [true][predicted] counts over `labels`; empty for a language model.
  std::string confusion_of;
  std::vector<std::string> labels;
  std::vector<std::vector<long>> confusion;
  struct ClassRow { std::string label; double precision, recall, f1; long support; };
  std::vector<ClassRow> per_class;
  std::string text_title, text;  // a block of text (a language model's sample), shown as written
  std::vector<std::pair<std::string, std::string>> settings;  // flag, value
};

std::string html_report(const ReportPage& page);
// Writes the page (temporary file, then rename); throws recur::Error when it cannot.
void write_report(const std::string& path, const ReportPage& page);

}  // namespace recur_cli
