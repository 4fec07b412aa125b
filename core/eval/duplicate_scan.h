#pragma once
// Near-duplicates and train/test leaks of a run, found in its encoder's embedding space:
// the report the CLI's `duplicates` prints and the studio's Results page shows with the
// images side by side, so a contaminated evaluation split is seen before its numbers are
// trusted. Torch-free (the search itself is core/eval/evaluation.h's findDuplicates/findLeaks).
#include <cstdint>
#include <string>
#include <vector>

#include "core/data/image_table.h"
#include "core/runs/run_folder.h"

namespace studio {

struct ScanPair {
  int64_t a = 0;  // row of `train` (duplicates: both rows are in `train`)
  int64_t b = 0;  // row of `train` for duplicates, of `test` for leaks
  float similarity = 0;
};

struct DuplicateScan {
  double threshold = 0;
  int64_t step = 0;                      // the checkpoint's step
  int64_t duplicate_pairs = 0;           // all pairs within the training images
  int64_t duplicate_images = 0;          // training images in any of them
  int64_t leak_pairs = 0;                // all (training, held-out) pairs
  int64_t leak_images = 0;               // training and held-out images in any of them
  std::vector<ScanPair> duplicates;      // most similar first, at most max_pairs
  std::vector<ScanPair> leaks;
  ImageTable train, test;                // the images the rows index
};

// threshold: cosine similarity in (0, 1]. bank_size / query_size: training and held-out
// images searched (0 = all). Throws BadInput for a run without a checkpoint or held-out split.
DuplicateScan scanRunForDuplicates(const RunFolder& folder, double threshold, int64_t bank_size, int64_t query_size,
                                   const std::string& device, int64_t max_pairs = 1000);

}  // namespace studio
