#pragma once
// CUDA: the fused augmentation of a whole batch of views, each view reading its own row of
// the parameter table (core/augment/augment_columns.h), with the per-pixel math of
// core/augment/augment_math.h (the same functions the CPU applier and its tests use):
//   1. random resized crop + flip as one bilinear resampling pass (uint8 in, float out),
//      which also sums each view's contrast mean (one block per view, fixed order);
//   2. colour jitter + grayscale, fused with solarize + normalisation when nothing is blurred;
//   3. separable Gaussian blur (per-view sigma), rows then columns, the columns pass fused
//      with solarize + normalisation.
// Reference: Augmenter::apply (core/augment/augment.h), the torch-ops pipeline, on the same table.
#include <torch/types.h>

#include "core/augment/augment_math.h"

namespace studio::gpu {

// images: uint8 [M,C,H,W] on a CUDA device (a resident dataset or one batch); indices:
// int64 [N] on that device (or the CPU), the image of each view; undefined = images 0..N-1;
// table: float32 [N, kAugmentColumns]; blur_weights: float32 [N, pipeline.blur_kernel] when
// pipeline.blur (Augmenter::blurWeights); both on any device (copied when needed).
// Returns float32 [N,C,S,S] on the images' device, channels-last in memory when
// pipeline.channels_last. Indices on the CPU are range-checked; a device index out of range
// yields a view of NaNs (never a read outside the images).
torch::Tensor augmentViews(const torch::Tensor& images, const torch::Tensor& indices, const torch::Tensor& table,
                           const torch::Tensor& blur_weights, const augmath::Pipeline& pipeline);

// The passes alone, for the equivalence tests. Values in [0, 1], NCHW.
// Crop + flip resampling of uint8 images (pipeline gives sizes).
torch::Tensor resampleViews(const torch::Tensor& images, const torch::Tensor& table, const augmath::Pipeline& pipeline);
// Colour jitter + grayscale of float views in [0, 1] (reference: colorJitter, then grayscale).
torch::Tensor colorViews(const torch::Tensor& unit_views, const torch::Tensor& table, const augmath::Pipeline& pipeline);
// Gaussian blur then clamp to [0, 1] (reference: gaussianBlur(...).clamp(0, 1)).
torch::Tensor blurViews(const torch::Tensor& unit_views, const torch::Tensor& blur_weights, int kernel);

}  // namespace studio::gpu
