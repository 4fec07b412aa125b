#pragma once
// Batched augmentation with the random parameters as data. sample() draws a per-view
// parameter table from a seeded generator; apply() applies a table with torch ops on
// whatever device the images are on. Keeping the two apart lets the GUI preview show
// exactly what training draws and lets the CUDA kernels be tested against this
// reference on the same table.
#include <cstdint>
#include <vector>

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include "core/augment/augment_columns.h"
#include "core/augment/augment_math.h"
#include "core/experiment/config.h"

namespace studio {

struct AugmentParams {
  torch::Tensor table;  // float32 [N, kAugmentColumns], CPU
  int64_t size() const { return table.defined() ? table.size(0) : 0; }
};

// A CPU generator for step `step` of a run seeded with `seed`: training, resume and the
// preview all derive their draws this way, so a step's views depend on (seed, step) only.
at::Generator makeStepGenerator(int64_t seed, int64_t step, int64_t stream = 0);

class Augmenter {
 public:
  // channels and in_size describe the dataset's images (square or not: height, width).
  // mean/std must be resolved (one value per channel) before training; empty ones are
  // replaced by 0.5/0.25 here so that previews work before statistics are known.
  Augmenter(AugmentConfig config, int64_t channels, int64_t in_height, int64_t in_width);

  const AugmentConfig& config() const { return config_; }
  int64_t outSize() const { return out_size_; }
  int64_t blurKernel() const { return blur_kernel_; }

  AugmentParams sample(int64_t n, at::Generator& gen) const;

  // uint8 [N,C,H,W] (any device) -> float32 [N,C,S,S] normalised, on the same device.
  torch::Tensor apply(const torch::Tensor& images, const AugmentParams& params) const;
  // The same without the final normalisation: values in [0, 1], for previews.
  torch::Tensor applyUnnormalized(const torch::Tensor& images, const AugmentParams& params) const;
  // Evaluation input: no randomness; resized to the output size if needed, normalised.
  torch::Tensor prepare(const torch::Tensor& images) const;
  torch::Tensor normalize(const torch::Tensor& unit_images) const;

  // What the fused appliers (CPU: core/augment/augment_fused.h, CUDA: gpu/augment_kernels.h) need
  // for this table: sizes, normalisation, and the batch-wide switches the reference takes
  // from the table (hue round trip, blur, solarize).
  augmath::Pipeline pipeline(const torch::Tensor& table, bool normalize = true, bool channels_last = false) const;
  // Each view's normalised blur kernel, float32 [N, blurKernel()] on the CPU.
  torch::Tensor blurWeights(const torch::Tensor& table) const;

 private:
  AugmentConfig config_;
  int64_t channels_, in_height_, in_width_, out_size_, blur_kernel_;
  std::vector<float> mean_, std_;
};

// Multi-crop: the side of a local view (augment.local_size, or 3/7 of the global side, at
// least kMinLocalViewSide) and the config that draws local views: the same operations with the
// local crop scales, that side and an automatic blur kernel. An Augmenter built from it draws
// and applies local views through the same paths (reference, fused CPU, CUDA) as global ones.
int64_t localViewSide(const AugmentConfig& config, int64_t global_side);
AugmentConfig localViewConfig(const AugmentConfig& config, int64_t global_side);

// Individual reference operations (exposed for tests and the CUDA kernels' checks).
torch::Tensor cropFlipResample(const torch::Tensor& unit_images, const torch::Tensor& table, int64_t out_size);
torch::Tensor colorJitter(const torch::Tensor& unit_images, const torch::Tensor& table);
torch::Tensor rgbToGray(const torch::Tensor& unit_images);  // [N,3,H,W] -> [N,1,H,W]
torch::Tensor gaussianBlur(const torch::Tensor& unit_images, const torch::Tensor& sigmas, int64_t kernel);

}  // namespace studio
