#pragma once
// Turns the trainer's metrics records into terminal output: a redrawn progress bar on a
// terminal, a line every few seconds in a log, or one JSON object per line with --json.
#include <chrono>
#include <cstdio>

#include "core/train/trainer.h"

namespace studio::cli {

class ProgressPrinter {
 public:
  enum class Mode { Bar, Lines, Json };
  explicit ProgressPrinter(Mode mode, std::FILE* out = stdout);
  static Mode detect(bool json);  // Bar on a terminal, Lines otherwise, Json when asked

  void onRecord(const MetricsRecord& record);
  void finish();  // ends a bar line

 private:
  Mode mode_;
  std::FILE* out_;
  int64_t total_steps_ = 0;
  bool bar_open_ = false;
  std::chrono::steady_clock::time_point last_line_{};
};


}  // namespace studio::cli
