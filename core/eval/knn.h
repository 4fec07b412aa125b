#pragma once
// Weighted kNN classification on L2-normalised features (cosine similarity), as in
// Wu et al. 2018: each of the k neighbours votes for its class with exp(sim / T).
// Used by the online monitor, the eval command and the raw-pixel baseline alike.
#include <cstdint>

#include <torch/types.h>

#include "core/augment/augment.h"
#include "core/model/method.h"

namespace studio {

struct KnnOptions {
  int64_t k = 200;
  double temperature = 0.1;
  int64_t chunk = 1024;  // queries per similarity block (bounds memory)
};

// bank [M, D] and queries [Q, D], both L2-normalised; bank_labels int64 [M].
torch::Tensor knnPredict(const torch::Tensor& bank, const torch::Tensor& bank_labels, const torch::Tensor& queries,
                         int64_t num_classes, const KnnOptions& options);
double knnAccuracy(const torch::Tensor& bank, const torch::Tensor& bank_labels, const torch::Tensor& queries,
                   const torch::Tensor& query_labels, int64_t num_classes, const KnnOptions& options);

// Backbone features of uint8 images (no augmentation), L2-normalised, on the CPU.
// The model is put in eval mode for the pass and restored afterwards.
torch::Tensor embedImages(ContrastiveModel& model, const Augmenter& augmenter, const torch::Tensor& images,
                          const torch::Device& device, int64_t batch_size = 512);

// Raw pixels as features (flattened, scaled to [0, 1], L2-normalised): the baseline.
torch::Tensor rawPixelFeatures(const torch::Tensor& images);

}  // namespace studio
