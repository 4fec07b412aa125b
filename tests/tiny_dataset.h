#pragma once
// A tiny packed dataset for engine tests: 256 12x12 images in 4 classes (core's bars
// pattern), grayscale or colour. Small enough for exact-trajectory checks in seconds.
#include <cstdint>
#include <string>

#include "core/packed_dataset.h"
#include "core/synthetic_dataset.h"

namespace studio::test {

inline std::string writeTinyDataset(const std::string& dir, int64_t channels = 1) {
  const std::string path = dir + "/tiny" + (channels == 1 ? "" : "-rgb") + ".csds";
  writePackedDataset(path, makeBarsDataset(256, channels, 12, 12, 4));
  return path;
}

}  // namespace studio::test
