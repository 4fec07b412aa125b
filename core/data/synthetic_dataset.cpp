#include "core/data/synthetic_dataset.h"

#include <algorithm>
#include <string>

namespace studio {

PackedDataset makeBarsDataset(int64_t count, int64_t channels, int64_t height, int64_t width, int64_t classes,
                              uint32_t seed) {
  PackedDataset p;
  p.count = count;
  p.channels = channels;
  p.height = height;
  p.width = width;
  for (int64_t k = 0; k < classes; ++k) p.class_names.push_back("class " + std::to_string(k));
  const int64_t band = std::max<int64_t>(1, height / classes);
  p.pixels.reserve(static_cast<size_t>(count * channels * height * width));
  uint32_t rng = 12345u + seed * 2654435761u;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t cls = i % classes;
    for (int64_t ch = 0; ch < channels; ++ch) {
      const int bar = channels == 1 ? 200 : 120 + 40 * static_cast<int>((ch + cls) % 3);
      for (int64_t r = 0; r < height; ++r)
        for (int64_t c = 0; c < width; ++c) {
          rng = rng * 1664525u + 1013904223u;
          const int noise = static_cast<int>(rng >> 27);
          p.pixels.push_back(static_cast<uint8_t>((r / band == cls ? bar : 20) + noise));
        }
    }
    p.labels.push_back(static_cast<int32_t>(cls));
  }
  return p;
}

}  // namespace studio
