#pragma once
// k-nearest-neighbour graphs of a point set (euclidean): what t-SNE's affinities and the
// neighbour-preservation score are built on. Exact (blocked matrix products) or approximate:
// a k-means partition searched cell by cell with matrix products over the nearest cells
// (multi-probe, as an inverted-file index), then rounds of neighbour-descent refinement
// (a neighbour of a neighbour is likely a neighbour; Dong et al. 2011). CPU only.
#include <cstdint>

#include <torch/types.h>

namespace studio {

// Each row's k nearest other rows, nearest first.
struct NeighbourGraph {
  torch::Tensor indices;    // int64 [N, k]
  torch::Tensor distances;  // float32 [N, k], squared euclidean, ascending per row
};

struct ApproximateNeighbourOptions {
  int64_t cells = 0;           // k-means cells; 0 = about sqrt(N)
  int64_t probes = 0;          // nearest cells searched per cell; 0 = enough for about 100 k candidates
  int64_t refine_rounds = 1;   // neighbour-descent rounds after the cell search
  int64_t refine_fanout = 12;  // neighbours whose neighbours are tried, per point and round
  int64_t seed = 0;            // k-means initialisation
  int64_t threads = 0;         // 0 = torch's intra-op thread count
};

// x: floating [N, D], finite; 1 <= k < N. Memory stays O(N*k + block*N).
NeighbourGraph exactNeighbourGraph(const torch::Tensor& x, int64_t k);

// The same graph found approximately: below a few thousand points (where the exact search is
// as fast) it is the exact graph. Deterministic for a given seed and thread count.
NeighbourGraph approximateNeighbourGraph(const torch::Tensor& x, int64_t k,
                                         const ApproximateNeighbourOptions& options = {});

// Share of the reference graph's neighbours that the candidate graph also lists, over all
// rows (order within a row does not matter). Both [N, k] index tensors with the same shape.
double neighbourRecall(const torch::Tensor& candidate, const torch::Tensor& reference);

}  // namespace studio
