#pragma once
// Labelled images that are cheap to make and easy to learn: each class is a bright
// horizontal band at its own height (tinted per channel in colour images) over noise.
// For tests, the GPU check and the benchmark, where the pixels matter less than the
// shapes; the same arguments always give the same bytes.
#include <cstdint>

#include "core/data/packed_dataset.h"

namespace studio {

PackedDataset makeBarsDataset(int64_t count, int64_t channels, int64_t height, int64_t width, int64_t classes,
                              uint32_t seed = 0);

}  // namespace studio
