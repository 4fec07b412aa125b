#pragma once
// A finished or interrupted run measured after training, from its folder: kNN top-1 of its
// encoder (the last checkpoint) against the raw-pixel baseline with the same settings. The
// features behind it (embedRun, core/eval/run_embeddings.h) and the run's embedding map
// (embedRunMap, core/eval/embedding_map.h) are computed here too. No torch types in this header.
#include <cstdint>
#include <string>

#include "core/runs/run_folder.h"

namespace studio {

struct EvalResult {
  double knn_top1 = 0;
  double raw_pixel_knn_top1 = 0;
  int64_t bank_size = 0, query_size = 0, k = 0, step = 0;
};

// k 0 = the run's monitor.k; bank_size and query_size 0 = all images. Throws BadInput naming
// the run folder when it has no checkpoint or no labelled held-out split.
EvalResult evaluateRun(const RunFolder& folder, int64_t k, int64_t bank_size, int64_t query_size, const std::string& device);

}  // namespace studio
