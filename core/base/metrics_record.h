#pragma once
// The trainer's voice: one record per step, evaluation or event, with named values. The
// trainer hands each to a callback and appends it to the run's metrics.jsonl; the GUI and
// the run browser read them back from there. Torch-free.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/enum_words.h"

namespace studio {

// What a record reports: a training step, an evaluation, an event worth a line, the run's
// end. A word a later version writes reads as Other, which readers pass over.
enum class RecordKind { Step, Eval, Info, End, Other };
template <>
struct EnumWords<RecordKind> {
  static constexpr std::pair<RecordKind, const char*> table[] = {{RecordKind::Step, "step"},
                                                                 {RecordKind::Eval, "eval"},
                                                                 {RecordKind::Info, "info"},
                                                                 {RecordKind::End, "end"},
                                                                 {RecordKind::Other, "other"}};
};

struct MetricsRecord {
  RecordKind kind = RecordKind::Other;
  int64_t step = 0;  // optimizer steps done
  double epoch = 0;  // fractional epochs done
  std::vector<std::pair<std::string, double>> values;  // named numbers (loss, lr, knn_top1, ...)
  std::string text;  // for Info and End: a human-readable line

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
