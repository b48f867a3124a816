#include "progress.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>

namespace eqnn_cli {

Progress::Progress(std::string label, int64_t total, bool silent)
    : label_(std::move(label)),
      total_(total > 0 ? total : 1),
      tty_(isatty(fileno(stderr)) != 0),
      silent_(silent),
      start_(std::chrono::steady_clock::now()) {}

void Progress::update(int64_t done) {
  if (silent_) return;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double fraction = static_cast<double>(done) / static_cast<double>(total_);
  const double eta = fraction > 0 ? elapsed * (1 - fraction) / fraction : 0;
  const int64_t decile = static_cast<int64_t>(fraction * 10);
  if (!tty_ && decile == last_decile_) return;
  last_decile_ = decile;
  const int width = 30;
  const int filled = static_cast<int>(fraction * width);
  char line[256];
  std::snprintf(line, sizeof(line), "%s [%s%s] %lld/%lld  %.0fs elapsed, ETA %.0fs", label_.c_str(),
                std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
                static_cast<long long>(done), static_cast<long long>(total_), elapsed, eta);
  std::cerr << (tty_ ? "\r" : "") << line << (tty_ ? "\033[K" : "\n") << std::flush;
}

void Progress::finish() {
  if (silent_) return;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  char line[128];
  std::snprintf(line, sizeof(line), "%s done in %.1fs", label_.c_str(), elapsed);
  std::cerr << (tty_ ? "\r" : "") << line << (tty_ ? "\033[K\n" : "\n") << std::flush;
}

void Progress::note(const std::string& line) {
  if (tty_) std::cerr << "\r\033[K" << std::flush;
  std::cout << line << std::endl;
}

}  // namespace eqnn_cli
