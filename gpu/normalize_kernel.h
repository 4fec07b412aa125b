#pragma once
// CUDA: uint8 NCHW images -> float32 normalised ((x/255 - mean[c]) / std[c]) in one pass.
// Reference: studio::Augmenter::normalize on images/255 (core/augment/augment.h).
#include <vector>

#include <torch/types.h>

namespace studio::gpu {

// images: uint8 [N,C,H,W] contiguous on a CUDA device; mean/std one value per channel.
torch::Tensor normalizeUint8(const torch::Tensor& images, const std::vector<float>& mean, const std::vector<float>& std);

}  // namespace studio::gpu
