// A progress bar for training on a terminal:
//   epoch 3/20 [#########-----------]  45% | loss 0.4321 | 12.3k tok/s | ETA 0:42
// drawn on one line of stdout and redrawn at most ten times a second. When
// stdout is not a terminal (a pipe, a file, CI) there is no bar, only the
// plain log lines.
#pragma once

#include <chrono>
#include <string>

namespace recur_cli {

// The bar's text: `fraction` of the run done, `rate` tokens a second, `eta`
// seconds left (negative: not known yet).
std::string progress_line(const std::string& head, double fraction, double loss, double rate, double eta);
// "0:42", "12:03", "1:02:03"
std::string format_duration(double seconds);

class Progress {
 public:
  // Draws only when `enabled` and stdout is a terminal.
  explicit Progress(bool enabled);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // After a step: `done` of `total` units of work, the running loss and the
  // tokens that step trained on. `head()` names the position ("epoch 3/20"); it
  // is only called when the bar is redrawn, so steps between redraws cost little.
  template <class Head>
  void update(const Head& head, long done, long total, double loss, long tokens) {
    if (!on_) return;
    tokens_ += double(tokens);
    if (due(done, total)) draw(head(), done, total, loss);
  }
  // Erases the bar, so a log line can be printed in its place (the next update redraws it).
  void clear();

 private:
  bool due(long done, long total);  // time to redraw?
  void draw(const std::string& head, long done, long total, double loss);

  using Clock = std::chrono::steady_clock;
  bool on_ = false, shown_ = false;
  Clock::time_point start_, last_draw_;
  double tokens_ = 0;
  long done_at_start_ = -1;  // a resumed run counts speed and ETA from where it resumed
};

}  // namespace recur_cli
