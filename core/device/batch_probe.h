#pragma once
// After an out-of-memory failure: the largest batch size, halving from the one that
// failed, for which `fits` says yes. The trainer's `fits` runs one forward and backward
// pass at that size; tests pass a stand-in.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace studio {

struct BatchProbe {
  int64_t fitting = 0;                                // 0 = not even the smallest batch fits
  std::vector<std::pair<int64_t, bool>> tried;        // (batch size, fits) in the order tried
  std::string describe() const;                       // "4096 no, 2048 yes"
};

// Tries failed/2, failed/4, ... down to min_batch (never below it); stops at the first fit.
BatchProbe probeFittingBatch(int64_t failed_batch, int64_t min_batch, const std::function<bool(int64_t)>& fits);

}  // namespace studio
