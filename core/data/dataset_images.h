#pragma once
// A dataset as the GUI sees it: the training and held-out splits as image tables, loaded by
// the same reader and split (same seed) that training uses. Torch-free.
#include <cstdint>
#include <string>

#include "core/experiment/config.h"
#include "core/data/image_table.h"

namespace studio {

struct DatasetImages {
  std::string name;
  ImageTable train;
  ImageTable eval;  // empty when the dataset has no held-out split
};

// Built-in location of Fashion-MNIST (also declared in core/data/dataset.h).
std::string builtinFashionMnistDir();

// Throws BadInput naming the file and what is wrong, like loadDataset.
DatasetImages loadDatasetImages(const DatasetConfig& config, int64_t seed);

}  // namespace studio
