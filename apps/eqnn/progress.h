// A progress bar with rate and ETA on stderr (redrawn in place on a terminal, a line every 10%
// otherwise).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace eqnn_cli {

class Progress {
 public:
  /// `silent`: draws nothing (the ranks of a sharded run other than 0).
  Progress(std::string label, int64_t total, bool silent = false);
  void update(int64_t done);
  /// Final line with the elapsed time.
  void finish();
  /// Prints a line on stdout without tearing the bar (the next update redraws it).
  void note(const std::string& line);

 private:
  std::string label_;
  int64_t total_;
  int64_t last_decile_ = -1;
  bool tty_;
  bool silent_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace eqnn_cli
