#pragma once
// Contrastive losses.
#include <torch/types.h>

namespace studio {

struct NtXentResult {
  torch::Tensor loss;         // scalar, differentiable
  torch::Tensor pos_accuracy; // scalar: share of views whose nearest other view is their pair
};

// NT-Xent (SimCLR) over 2N projections: rows i and i+N are the two views of one image.
// Each view's positive is its pair; the other 2N-2 views are negatives.
NtXentResult ntXentLoss(const torch::Tensor& z, double temperature);

}  // namespace studio
