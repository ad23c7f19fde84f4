#include "progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace recur_cli {

std::string format_duration(double seconds) {
  const long s = std::max(0L, std::lround(seconds));
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

std::string progress_line(const std::string& head, double fraction, double loss, double rate, double eta) {
  const int width = 20;
  const double frac = std::clamp(fraction, 0.0, 1.0);
  const int filled = int(frac * width);
  const std::string bar =
      "[" + std::string(std::size_t(filled), '#') + std::string(std::size_t(width - filled), '-') + "]";
  char speed[32];
  if (rate >= 1e6)
    std::snprintf(speed, sizeof speed, "%.1fM", rate / 1e6);
  else if (rate >= 1e3)
    std::snprintf(speed, sizeof speed, "%.1fk", rate / 1e3);
  else
    std::snprintf(speed, sizeof speed, "%.0f", rate);
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s %s %3.0f%% | loss %.4f | %s tok/s | ETA %s", head.c_str(), bar.c_str(),
                100 * frac, loss, speed, eta >= 0 ? format_duration(eta).c_str() : "?");
  return buf;
}

Progress::Progress(bool enabled) : on_(enabled && isatty(STDOUT_FILENO)) {
  start_ = last_draw_ = Clock::now();
}

Progress::~Progress() { clear(); }

bool Progress::due(long done, long total) {
  if (done_at_start_ < 0) done_at_start_ = done - 1;
  const auto now = Clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(100) && done < total) return false;
  last_draw_ = now;
  return true;
}

void Progress::draw(const std::string& head, long done, long total, double loss) {
  const auto now = Clock::now();
  const double secs = std::chrono::duration<double>(now - start_).count();
  // Speed and ETA from this session's share of the work (a resumed run starts part-way).
  const double session = total > done_at_start_ ? double(done - done_at_start_) / double(total - done_at_start_) : 0;
  const double eta = session > 0 && secs > 0 ? secs / session * (1 - session) : -1;
  const std::string line =
      progress_line(head, total > 0 ? double(done) / double(total) : 0, loss, secs > 0 ? tokens_ / secs : 0, eta);
  std::printf("\r%s\033[K", line.c_str());
  std::fflush(stdout);
  shown_ = true;
}

void Progress::clear() {
  if (!shown_) return;
  std::printf("\r\033[K");
  std::fflush(stdout);
  shown_ = false;
}

}  // namespace recur_cli
