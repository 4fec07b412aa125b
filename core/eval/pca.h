#pragma once
// Principal component analysis of a [N, D] feature matrix: the t-SNE initialisation and a
// quick linear view of an embedding. Exact (no randomised solver), so results repeat.
#include <cstdint>

#include <torch/types.h>

namespace studio {

// The k leading principal axes of x. Every tensor has x's floating dtype and lives on the CPU.
struct PcaResult {
  torch::Tensor components;                // [k, D], orthonormal rows, largest-|value| entry positive
  torch::Tensor mean;                      // [D], subtracted before projecting
  torch::Tensor explained_variance_ratio;  // [k], share of the total variance along each axis
  torch::Tensor projected;                 // [N, k] = (x - mean) @ components^T
};

// x: [N, D] floating point with N >= 2; 1 <= k <= D. Throws BadInput otherwise.
PcaResult pca(const torch::Tensor& x, int64_t k);

}  // namespace studio
