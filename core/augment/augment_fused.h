#pragma once
// The fused augmentation on the CPU: crop + flip resampling, colour jitter, grayscale,
// blur, solarize and normalisation in one pass per view, with the per-pixel math of the
// CUDA kernels (core/augment/augment_math.h), the views spread over threads by at::parallel_for.
// For the same parameter table it computes what Augmenter::apply (the torch-ops reference)
// computes, up to float rounding; tests/test_augment_fused.cpp states the tolerance.
#include <torch/types.h>

#include "core/augment/augment.h"

namespace studio {

// images: uint8 [M,C,H,W] on the CPU (a whole dataset or a batch); indices: int64 [N], the
// image of each view (undefined = images 0..N-1); table: float32 [N, kAugmentColumns].
// Returns float32 [N,C,S,S], normalised unless asked not to, in channels-last memory when asked.
// use_threads = false keeps the work on the calling thread. The result depends on the
// inputs only, not on the number of threads.
torch::Tensor applyFusedCpu(const Augmenter& augmenter, const torch::Tensor& images, const torch::Tensor& indices,
                            const torch::Tensor& table, bool normalize = true, bool channels_last = false,
                            bool use_threads = true);

}  // namespace studio
