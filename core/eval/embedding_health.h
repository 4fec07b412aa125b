#pragma once
// Is a run's representation collapsing? Four numbers on held-out embeddings, measured at
// every evaluation of a run:
// - std: the mean over dimensions of the standard deviation of the L2-normalised embeddings
//   (lightly's std_of_l2_normalized). 0 when every image maps to one point; about 1/sqrt(d)
//   when they spread over the sphere. spread = std * sqrt(d) puts that on a 0..1 scale.
// - effective rank (RankMe, Garrido et al. 2023): exp of the entropy of the normalised
//   singular values; 1 when the embeddings lie on a line, up to min(rows, d).
// - alignment and uniformity (Wang & Isola 2020): mean squared distance between the two
//   views of an image (0 is perfect), and log E exp(-2 |x - y|^2) over pairs of different
//   images (more negative is more uniform; log exp(-4) = -4 is the floor).
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "core/augment/augment.h"
#include "core/model/method.h"

namespace studio {

struct EmbeddingHealth {
  static constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  int64_t rows = 0, dims = 0;
  double std = kNaN, spread = kNaN, effective_rank = kNaN;
  double alignment = kNaN, uniformity = kNaN;  // NaN without view pairs

  // A collapsing representation: the embeddings have shrunk towards a point (spread under
  // kCollapsedSpread) or onto very few directions (effective rank under kCollapsedRank).
  // Calibrated on this studio's runs (docs/benchmarks.md): healthy encoders, trained or
  // not, stay several times above both.
  static constexpr double kCollapsedSpread = 0.05;
  static constexpr double kCollapsedRank = 2.0;
  bool measured() const { return rows > 1 && dims > 0; }
  bool collapsing() const { return measured() && (spread < kCollapsedSpread || effective_rank < kCollapsedRank); }

  // metrics.jsonl's names: embedding_std, embedding_spread, effective_rank, embedding_dims,
  // collapsing (0 or 1), alignment and uniformity (the last two only when measured).
  void appendTo(std::vector<std::pair<std::string, double>>& values) const;
};

// embeddings [N, D] (any scale: they are L2-normalised here). view_a and view_b, when given,
// are the embeddings of two augmented views of the same images, row for row. Uniformity is
// measured on the first max_rows embeddings (its cost grows with the square of N).
EmbeddingHealth measureEmbeddingHealth(const torch::Tensor& embeddings, const torch::Tensor& view_a = {},
                                       const torch::Tensor& view_b = {}, int64_t max_rows = 2048);

// Two augmented views of each image (the training augmentations, drawn from seed so that
// every evaluation of a run sees the same views), through the backbone in eval mode,
// L2-normalised, on the CPU: what alignment is measured on.
std::pair<torch::Tensor, torch::Tensor> embedViewPairs(ContrastiveModel& model, const Augmenter& augmenter,
                                                       const torch::Tensor& images, const torch::Device& device,
                                                       int64_t seed, int64_t batch_size = 256);

// The plain-language warning for a collapsing run: what the numbers say, and the method's
// own advice (MethodSpec::collapse_hint) on what usually fixes it. Empty when healthy.
std::string collapseWarning(const EmbeddingHealth& health, const std::string& method_title,
                            const std::string& method_hint);

}  // namespace studio
