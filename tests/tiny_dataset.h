#pragma once
// A tiny packed dataset for engine tests: 256 12x12 images in 4 classes (a bright bar whose
// row depends on the class, plus noise), grayscale or colour. Small enough for
// exact-trajectory checks in seconds.
#include <cstdint>
#include <string>

#include "core/packed_dataset.h"

namespace studio::test {

inline std::string writeTinyDataset(const std::string& dir, int64_t channels = 1) {
  PackedDataset p;
  p.count = 256;
  p.channels = channels;
  p.height = 12;
  p.width = 12;
  p.class_names = {"a", "b", "c", "d"};
  uint32_t rng = 12345;
  for (int i = 0; i < 256; ++i) {
    const int cls = i % 4;
    for (int64_t ch = 0; ch < channels; ++ch)
      for (int r = 0; r < 12; ++r)
        for (int c = 0; c < 12; ++c) {
          rng = rng * 1664525u + 1013904223u;
          const int noise = static_cast<int>(rng >> 27);
          // Colour images tint the bar per channel, so hue and saturation have work to do.
          const int bar = channels == 1 ? 200 : 120 + 40 * static_cast<int>((ch + cls) % 3);
          p.pixels.push_back(static_cast<uint8_t>((r / 3 == cls ? bar : 20) + noise));
        }
    p.labels.push_back(cls);
  }
  const std::string path = dir + "/tiny" + (channels == 1 ? "" : "-rgb") + ".csds";
  writePackedDataset(path, p);
  return path;
}

}  // namespace studio::test
