#pragma once
// The columns of the augmentation parameter table (one row per view, float32). Kept apart
// from core/augment/augment.h, torch-free, so that the CUDA kernels and the per-pixel math header
// name the same columns without pulling in torch.
#include <cstdint>

namespace studio {

enum AugmentColumn : int64_t {
  kCropX0 = 0,   // crop box in fractions of the source width/height
  kCropY0,
  kCropW,
  kCropH,
  kFlip,         // 1 = mirror horizontally
  kJitter,       // 1 = colour jitter drawn (factors below are neutral otherwise)
  kBrightness,   // multiplicative factors, 1 = unchanged
  kContrast,
  kSaturation,
  kHue,          // hue shift in turns, 0 = unchanged
  kGray,         // 1 = convert to grayscale
  kBlurSigma,    // Gaussian blur sigma in output pixels, 0 = no blur
  kSolarize,     // 1 = invert values above the threshold
  kAugmentColumns
};

}  // namespace studio
