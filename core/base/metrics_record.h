#pragma once
// The trainer's voice: one record per step, evaluation or event, with named values. The
// trainer hands each to a callback and appends it to the run's metrics.jsonl; the GUI and
// the run browser read them back from there. Torch-free.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace studio {

struct MetricsRecord {
  std::string kind;  // "step", "eval", "info", "end"
  int64_t step = 0;  // optimizer steps done
  double epoch = 0;  // fractional epochs done
  std::vector<std::pair<std::string, double>> values;  // named numbers (loss, lr, knn_top1, ...)
  std::string text;  // for "info" and "end": a human-readable line

  double value(const std::string& name, double fallback = -1.0) const;
  bool has(const std::string& name) const;
  nlohmann::json toJson() const;
  // Non-numeric extra fields are ignored; null values (non-finite numbers) read as NaN.
  static MetricsRecord fromJson(const nlohmann::json& json);
};

// Every record of a metrics.jsonl file. A torn or unparsable line (a killed run's last
// write) is skipped, not fatal; a missing file gives no records.
std::vector<MetricsRecord> readMetricsFile(const std::string& path);

}  // namespace studio
