#include "core/base/metrics_record.h"

#include <cmath>
#include <fstream>
#include <limits>

namespace studio {

double MetricsRecord::value(const std::string& name, double fallback) const {
  for (const auto& [k, v] : values)
    if (k == name) return v;
  return fallback;
}

bool MetricsRecord::has(const std::string& name) const {
  for (const auto& kv : values)
    if (kv.first == name) return true;
  return false;
}

nlohmann::json MetricsRecord::toJson() const {
  nlohmann::json j;
  j["kind"] = wordOf(kind);
  j["step"] = step;
  j["epoch"] = epoch;
  for (const auto& [k, v] : values) j[k] = std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
  if (!text.empty()) j["text"] = text;
  return j;
}

MetricsRecord MetricsRecord::fromJson(const nlohmann::json& json) {
  MetricsRecord r;
  for (auto it = json.begin(); it != json.end(); ++it) {
    const std::string& key = it.key();
    if (key == "kind" && it->is_string()) {
      if (!enumFromWord(it->get<std::string>(), r.kind)) r.kind = RecordKind::Other;
    } else if (key == "text" && it->is_string()) {
      r.text = it->get<std::string>();
    } else if (key == "step" && it->is_number()) {
      r.step = it->get<int64_t>();
    } else if (key == "epoch" && it->is_number()) {
      r.epoch = it->get<double>();
    } else if (it->is_number()) {
      r.values.emplace_back(key, it->get<double>());
    } else if (it->is_null()) {
      r.values.emplace_back(key, std::numeric_limits<double>::quiet_NaN());
    }
  }
  return r;
}

std::vector<MetricsRecord> readMetricsFile(const std::string& path) {
  std::vector<MetricsRecord> records;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) continue;
    records.push_back(MetricsRecord::fromJson(j));
  }
  return records;
}

}  // namespace studio
