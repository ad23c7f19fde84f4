#include "report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "recur/data.hpp"

namespace recur_cli {

namespace {

std::string escape(const std::string& s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string num(double x, const char* fmt = "%.4g") {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, x);
  return buf;
}

// About five round tick values covering [lo, hi].
std::vector<double> ticks(double lo, double hi) {
  const double span = hi - lo;
  const double raw = span / 5;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (const double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> out;
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push_back(std::abs(t) < step * 1e-9 ? 0 : t);
  return out;
}

const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};

}  // namespace

std::string svg_chart(const Chart& chart) {
  const double W = 560, H = 330, left = 64, right = 16, top = 52, bottom = 48;
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  for (const Series& s : chart.series)
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.y[i])) continue;
      x0 = std::min(x0, s.x[i]), x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i]), y1 = std::max(y1, s.y[i]);
    }
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " + num(W) + " " + num(H) +
                    "\" width=\"" + num(W) + "\" height=\"" + num(H) +
                    "\" font-family=\"sans-serif\" font-size=\"11\" role=\"img\">\n";
  svg += "<text x=\"" + num(W / 2) + "\" y=\"20\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"600\">" + escape(chart.title) +
         "</text>\n";
  if (!std::isfinite(x0)) {
    svg += "<text x=\"" + num(W / 2) + "\" y=\"" + num(H / 2) + "\" text-anchor=\"middle\">no data</text>\n</svg>\n";
    return svg;
  }
  if (x1 == x0) x0 -= 1, x1 += 1;
  if (y1 == y0) y0 -= 0.5, y1 += 0.5;
  const double pad = (y1 - y0) * 0.05;
  y0 -= pad, y1 += pad;
  auto px = [&](double x) { return left + (x - x0) / (x1 - x0) * (W - left - right); };
  auto py = [&](double y) { return H - bottom - (y - y0) / (y1 - y0) * (H - top - bottom); };
  // Grid and axes.
  for (const double t : ticks(y0, y1)) {
    svg += "<line x1=\"" + num(left) + "\" x2=\"" + num(W - right) + "\" y1=\"" + num(py(t)) + "\" y2=\"" +
           num(py(t)) + "\" stroke=\"#e6e6e6\"/>";
    svg += "<text x=\"" + num(left - 6) + "\" y=\"" + num(py(t) + 4) + "\" text-anchor=\"end\">" + num(t) + "</text>\n";
  }
  for (const double t : ticks(x0, x1)) {
    svg += "<line x1=\"" + num(px(t)) + "\" x2=\"" + num(px(t)) + "\" y1=\"" + num(H - bottom) + "\" y2=\"" +
           num(H - bottom + 4) + "\" stroke=\"#888\"/>";
    svg += "<text x=\"" + num(px(t)) + "\" y=\"" + num(H - bottom + 18) + "\" text-anchor=\"middle\">" + num(t) +
           "</text>\n";
  }
  svg += "<line x1=\"" + num(left) + "\" x2=\"" + num(W - right) + "\" y1=\"" + num(H - bottom) + "\" y2=\"" +
         num(H - bottom) + "\" stroke=\"#888\"/>\n";
  svg += "<text x=\"" + num((left + W - right) / 2) + "\" y=\"" + num(H - 8) + "\" text-anchor=\"middle\">" +
         escape(chart.x_label) + "</text>\n";
  svg += "<text transform=\"translate(14," + num((top + H - bottom) / 2) + ") rotate(-90)\" text-anchor=\"middle\">" +
         escape(chart.y_label) + "</text>\n";
  if (std::isfinite(chart.marker_x) && chart.marker_x >= x0 && chart.marker_x <= x1) {
    svg += "<line x1=\"" + num(px(chart.marker_x)) + "\" x2=\"" + num(px(chart.marker_x)) + "\" y1=\"" + num(top) +
           "\" y2=\"" + num(H - bottom) + "\" stroke=\"#888\" stroke-dasharray=\"2 3\"/>";
    const bool near_right = px(chart.marker_x) > W - right - 40;  // then the label goes on the left
    svg += "<text x=\"" + num(px(chart.marker_x) + (near_right ? -4 : 4)) + "\" y=\"" + num(top + 10) +
           "\" fill=\"#555\"" + (near_right ? " text-anchor=\"end\"" : "") + ">" + escape(chart.marker_label) +
           "</text>\n";
  }
  // Lines, points and the legend.
  for (std::size_t k = 0; k < chart.series.size(); ++k) {
    const Series& s = chart.series[k];
    const std::string color = kColors[k % (sizeof kColors / sizeof kColors[0])];
    std::string points;
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
      if (std::isfinite(s.y[i])) points += num(px(s.x[i]), "%.1f") + "," + num(py(s.y[i]), "%.1f") + " ";
    svg += "<polyline fill=\"none\" stroke=\"" + color + "\" stroke-width=\"2\"" +
           (s.dashed ? " stroke-dasharray=\"6 4\"" : "") + " points=\"" + points + "\"/>\n";
    if (s.x.size() <= 60)
      for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
        if (std::isfinite(s.y[i]))
          svg += "<circle cx=\"" + num(px(s.x[i]), "%.1f") + "\" cy=\"" + num(py(s.y[i]), "%.1f") + "\" r=\"2.5\" fill=\"" +
                 color + "\"><title>" + escape(s.name) + ": " + num(s.x[i]) + ", " + num(s.y[i]) + "</title></circle>";
    // The legend: one row above the plot, entries side by side.
    const double lx = left + 110 * double(k), ly = 36;
    svg += "\n<line x1=\"" + num(lx) + "\" x2=\"" + num(lx + 24) + "\" y1=\"" + num(ly) + "\" y2=\"" + num(ly) +
           "\" stroke=\"" + color + "\" stroke-width=\"2\"" + (s.dashed ? " stroke-dasharray=\"6 4\"" : "") + "/>";
    svg += "<text x=\"" + num(lx + 30) + "\" y=\"" + num(ly + 4) + "\">" + escape(s.name) + "</text>\n";
  }
  svg += "</svg>\n";
  return svg;
}

std::string html_report(const ReportPage& page) {
  std::string h =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + escape(page.title) +
      "</title>\n<style>\n"
      "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1180px;color:#222;"
      "padding:0 1em}\n"
      "h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.6em}\n"
      ".cards{display:flex;flex-wrap:wrap;gap:.8em}.card{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;"
      "min-width:9em}\n.card .k{font-size:.8em;color:#666}.card .v{font-size:1.35em;font-weight:600}\n"
      ".charts{display:flex;flex-wrap:wrap;gap:1em}\n"
      "svg{border:1px solid #eee;border-radius:6px;background:#fff}\n"
      "table{border-collapse:collapse;margin:.4em 0}td,th{border:1px solid #ddd;padding:.3em .7em;text-align:right}"
      "th{background:#f6f6f6}\n"
      "pre.sample{white-space:pre-wrap;background:#f8f8f8;border:1px solid #eee;border-radius:6px;padding:.8em;"
      "max-width:60em}\n"
      "td.l,th.l{text-align:left}.cm td{min-width:3.5em;text-align:center}.muted{color:#777;font-size:.9em}\n"
      "</style>\n</head>\n<body>\n<h1>" +
      escape(page.title) + "</h1>\n";
  if (!page.summary.empty()) {
    h += "<div class=\"cards\">\n";
    for (const auto& [k, v] : page.summary)
      h += "<div class=\"card\"><div class=\"k\">" + escape(k) + "</div><div class=\"v\">" + escape(v) + "</div></div>\n";
    h += "</div>\n";
  }
  if (!page.charts.empty()) {
    h += "<h2>Training curves</h2>\n<div class=\"charts\">\n";
    for (const Chart& c : page.charts) h += svg_chart(c);
    h += "</div>\n";
  }
  if (!page.confusion.empty()) {
    const std::size_t C = page.labels.size();
    h += "<h2>Confusion matrix <span class=\"muted\">(" + escape(page.confusion_of) +
         "; rows: true label, columns: predicted; shading: share of the row)</span></h2>\n<table class=\"cm\">\n"
         "<tr><th class=\"l\">true \\ predicted</th>";
    for (const auto& l : page.labels) h += "<th>" + escape(l) + "</th>";
    h += "<th>total</th></tr>\n";
    for (std::size_t r = 0; r < C; ++r) {
      long total = 0;
      for (std::size_t c = 0; c < C; ++c) total += page.confusion[r][c];
      h += "<tr><th class=\"l\">" + escape(page.labels[r]) + "</th>";
      for (std::size_t c = 0; c < C; ++c) {
        const double share = total ? double(page.confusion[r][c]) / double(total) : 0;
        // Diagonal cells in blue, errors in red, stronger for a larger share.
        const std::string rgb = r == c ? "31,119,180" : "214,39,40";
        h += "<td style=\"background:rgba(" + rgb + "," + num(0.08 + 0.72 * share, "%.2f") + ")\">" +
             std::to_string(page.confusion[r][c]) + "</td>";
      }
      h += "<td>" + std::to_string(total) + "</td></tr>\n";
    }
    h += "</table>\n";
  }
  if (!page.per_class.empty()) {
    h += "<h2>Per class</h2>\n<table>\n<tr><th class=\"l\">label</th><th>precision</th><th>recall</th><th>F1</th>"
         "<th>support</th></tr>\n";
    for (const auto& r : page.per_class)
      h += "<tr><td class=\"l\">" + escape(r.label) + "</td><td>" + num(r.precision, "%.3f") + "</td><td>" +
           num(r.recall, "%.3f") + "</td><td>" + num(r.f1, "%.3f") + "</td><td>" + std::to_string(r.support) +
           "</td></tr>\n";
    h += "</table>\n";
  }
  if (!page.text.empty()) {
    h += "<h2>" + escape(page.text_title) + "</h2>\n<pre class=\"sample\">" + escape(page.text) + "</pre>\n";
  }
  if (!page.settings.empty()) {
    h += "<h2>Settings</h2>\n<table>\n";
    for (const auto& [k, v] : page.settings)
      h += "<tr><th class=\"l\">" + escape(k) + "</th><td class=\"l\">" + escape(v) + "</td></tr>\n";
    h += "</table>\n";
  }
  h += "<p class=\"muted\">Written by recur.</p>\n</body>\n</html>\n";
  return h;
}

void write_report(const std::string& path, const ReportPage& page) { recur::write_file_atomic(path, html_report(page)); }

}  // namespace recur_cli
