#pragma once
// A run's encoder applied to its dataset: features of a labeled bank from the training
// split and of queries from the held-out split, the same images the kNN monitor uses.
// What evaluation (eval, probe, duplicates, exports) starts from.
#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

#include "core/runs/run_folder.h"

namespace studio {

struct RunEmbeddings {
  torch::Tensor bank_features, bank_labels;    // [M, D] L2-normalised, int64 [M]
  torch::Tensor query_features, query_labels;  // [Q, D], int64 [Q]
  torch::Tensor bank_images, query_images;     // uint8 NCHW, for raw-pixel baselines and thumbnails
  std::vector<std::string> class_names;
  int64_t step = 0;                            // checkpoint step (0 for a random encoder)
};

// bank_size / query_size 0 = all images. random_init: the same architecture, untrained
// (seeded by the run's seed), as a baseline. Throws BadInput naming the run folder when it
// has no checkpoint (and random_init is false) or no labeled held-out split.
RunEmbeddings embedRun(const RunFolder& folder, int64_t bank_size, int64_t query_size, const std::string& device,
                       bool random_init = false);

}  // namespace studio
