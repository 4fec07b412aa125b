#pragma once
// What the augmentation designer shows: two views of each chosen image (and its local views
// with multi-crop), drawn by the engine's own pipeline with the generator training uses (step
// `roll` of a run seeded `seed` draws exactly these parameters for these images). Torch-free: the GUI includes it.
#include <cstdint>
#include <string>
#include <vector>

#include "core/experiment/config.h"
#include "core/data/image_table.h"

namespace studio {

struct AugmentPreview {
  ImageTable originals;  // the chosen images, as stored
  ImageTable view1;      // first view of each, values in [0, 255] before normalisation
  ImageTable view2;
  // Multi-crop: local_views[l] holds the l-th local view of each image, at the local side.
  std::vector<ImageTable> local_views;
};

// Throws BadInput naming the index when one is out of range, or the key when the config is
// unusable for these images.
AugmentPreview renderAugmentPreview(const ImageTable& source, const std::vector<int64_t>& indices,
                                    const AugmentConfig& config, int64_t seed, int64_t roll);

// The operations of the pipeline, in the order they are applied.
const std::vector<std::string>& augmentationIds();  // crop, flip, jitter, grayscale, blur, solarize

// The config with every operation but `op` switched off and `op` always drawn, to see one
// operation's effect alone. Throws BadInput for an unknown id.
AugmentConfig isolateAugmentation(const AugmentConfig& config, const std::string& op);

}  // namespace studio
