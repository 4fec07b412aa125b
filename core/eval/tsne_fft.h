#pragma once
// The repulsive half of the t-SNE gradient by FFT-accelerated interpolation (FIt-SNE,
// Linderman et al. 2019, as openTSNE's "fft" method): the layout's bounding square is cut
// into boxes of about one layout unit, each with p x p equispaced interpolation nodes; every
// point spreads four charges (1, x, y, x^2 + y^2) onto the nodes of its box with Lagrange
// weights, the squared Cauchy kernel between all node pairs is applied as one circulant
// convolution (FFT), and each point reads its potentials back from its box's nodes. Cost per
// evaluation: O(N p^2) plus an FFT of (2 p boxes)^2 points, whatever the layout looks like.
#include <cstdint>
#include <vector>

#include "core/eval/grid_convolution.h"

namespace studio {

// The grid one evaluation uses: `boxes` x `boxes` boxes of side box_width from `lower` (the
// same in x and y), points_per_box^2 nodes in each.
struct InterpolationGrid {
  int64_t boxes = 0;
  int64_t points_per_box = 0;
  double lower = 0;
  double box_width = 0;
  int64_t nodesPerSide() const { return boxes * points_per_box; }
  double nodeSpacing() const { return box_width / static_cast<double>(points_per_box); }
};

// The grid for a layout spanning [lower, upper] in both coordinates: max(min_boxes,
// span / box_size) boxes, rounded up to a count with no prime factor above 7 (fast FFT
// sizes), at most 1000.
InterpolationGrid interpolationGrid(double lower, double upper, int64_t points_per_box, int64_t min_boxes,
                                    double box_size);

// Lagrange basis weights of the p nodes at (k + 0.5) / p, k = 0..p-1, for a position f in
// [0, 1] of the box: weights[k] = prod_{m != k} (f - t_m) / (t_k - t_m).
void lagrangeWeights(double f, int64_t p, double* weights);

class FftRepulsion {
 public:
  FftRepulsion(int64_t points_per_box, int64_t min_boxes, double box_size);

  // y: n points as interleaved (x, y) pairs. Writes repulsive[2 i + c] =
  // sum_j w_ij^2 (y_i - y_j)_c with w_ij = 1 / (1 + |y_i - y_j|^2), and returns
  // Z = sum_{i != j} w_ij. Multi-threaded over points; the FFT too.
  double evaluate(const double* y, int64_t n, int64_t threads, double* repulsive);

  const InterpolationGrid& lastGrid() const { return grid_; }

 private:
  int64_t points_per_box_;
  int64_t min_boxes_;
  double box_size_;
  InterpolationGrid grid_;
  std::vector<int32_t> box_x_, box_y_;
  std::vector<int64_t> order_, row_start_;
  std::vector<double> charges_;  // 4 planes of nodesPerSide()^2 node values
  std::vector<double> z_partial_;
  GridConvolution convolution_;
};

}  // namespace studio
