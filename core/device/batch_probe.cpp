#include "core/device/batch_probe.h"

namespace studio {

std::string BatchProbe::describe() const {
  std::string s;
  for (const auto& [batch, ok] : tried) s += (s.empty() ? "" : ", ") + std::to_string(batch) + (ok ? " fits" : " does not");
  return s;
}

BatchProbe probeFittingBatch(int64_t failed_batch, int64_t min_batch, const std::function<bool(int64_t)>& fits) {
  BatchProbe probe;
  for (int64_t b = failed_batch / 2; b >= min_batch && b > 0; b /= 2) {
    const bool ok = fits(b);
    probe.tried.emplace_back(b, ok);
    if (ok) {
      probe.fitting = b;
      break;
    }
  }
  return probe;
}

}  // namespace studio
