#pragma once
// A torch-free view of a set of uint8 images with their labels: what the GUI's browser,
// previews and thumbnails read. The pixels are shared, not copied: a table made from a
// loaded dataset keeps that dataset's buffer alive.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace studio {

struct ImageTable {
  int64_t count = 0, channels = 0, height = 0, width = 0;
  std::shared_ptr<const uint8_t> pixels;  // count x channels x height x width bytes, planar (NCHW)
  std::vector<int64_t> labels;            // count entries (-1 = unlabeled), or empty when unlabeled
  std::vector<std::string> class_names;

  int64_t imageBytes() const { return channels * height * width; }
  const uint8_t* image(int64_t i) const { return pixels.get() + i * imageBytes(); }
  int64_t label(int64_t i) const { return labels.empty() ? -1 : labels[static_cast<size_t>(i)]; }
  bool empty() const { return count == 0; }
};

}  // namespace studio
