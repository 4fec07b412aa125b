#include "core/eval/tsne_fft.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "core/base/error.h"
#include "core/base/parallel.h"

namespace studio {

namespace {

constexpr int64_t kMaxBoxes = 1000;
constexpr int64_t kTerms = 4;  // charges 1, x, y, x^2 + y^2
constexpr int64_t kMaxPointsPerBox = 8;

bool smoothCount(int64_t v) {
  for (const int64_t f : {2, 3, 5, 7})
    while (v % f == 0) v /= f;
  return v == 1;
}

}  // namespace

InterpolationGrid interpolationGrid(double lower, double upper, int64_t points_per_box, int64_t min_boxes,
                                    double box_size) {
  if (points_per_box < 1 || points_per_box > kMaxPointsPerBox)
    throwBadInput("t-SNE interpolation points per box must be between 1 and " + std::to_string(kMaxPointsPerBox) +
                  ", got " + std::to_string(points_per_box));
  if (min_boxes < 1) throwBadInput("t-SNE minimum interpolation boxes must be >= 1, got " + std::to_string(min_boxes));
  if (!(box_size > 0) || !std::isfinite(box_size))
    throwBadInput("t-SNE interpolation box size must be positive, got " + std::to_string(box_size));
  if (!std::isfinite(lower) || !std::isfinite(upper) || upper < lower)
    throwBadInput("t-SNE layout bounds are not finite: the layout diverged");
  const double span = upper - lower;
  const double wanted = std::max(static_cast<double>(min_boxes), span / box_size);
  int64_t boxes = wanted >= static_cast<double>(kMaxBoxes) ? kMaxBoxes : static_cast<int64_t>(std::ceil(wanted));
  while (boxes < kMaxBoxes && !smoothCount(boxes)) ++boxes;
  InterpolationGrid grid;
  grid.boxes = boxes;
  grid.points_per_box = points_per_box;
  // A layout collapsed onto one point still gets a grid of positive width.
  const double width = span > 0 ? span : 1.0;
  grid.lower = span > 0 ? lower : lower - 0.5;
  grid.box_width = width / static_cast<double>(boxes);
  return grid;
}

void lagrangeWeights(double f, int64_t p, double* weights) {
  for (int64_t k = 0; k < p; ++k) {
    const double tk = (static_cast<double>(k) + 0.5) / static_cast<double>(p);
    double w = 1.0;
    for (int64_t m = 0; m < p; ++m) {
      if (m == k) continue;
      const double tm = (static_cast<double>(m) + 0.5) / static_cast<double>(p);
      w *= (f - tm) / (tk - tm);
    }
    weights[k] = w;
  }
}

FftRepulsion::FftRepulsion(int64_t points_per_box, int64_t min_boxes, double box_size)
    : points_per_box_(points_per_box), min_boxes_(min_boxes), box_size_(box_size) {
  interpolationGrid(0, 1, points_per_box, min_boxes, box_size);  // validates the settings
}

double FftRepulsion::evaluate(const double* y, int64_t n, int64_t threads, double* repulsive) {
  double lower = std::numeric_limits<double>::infinity(), upper = -lower;
  for (int64_t i = 0; i < 2 * n; ++i) {
    lower = std::min(lower, y[i]);
    upper = std::max(upper, y[i]);
  }
  grid_ = interpolationGrid(lower, upper, points_per_box_, min_boxes_, box_size_);
  const int64_t p = points_per_box_, boxes = grid_.boxes, g = grid_.nodesPerSide();
  const double inverse_width = 1.0 / grid_.box_width;
  // Charges use coordinates relative to the grid's centre: the terms x phi_0 - phi_1 and the
  // kernel sum then cancel far less than they would far from the origin.
  const double centre = grid_.lower + 0.5 * grid_.box_width * static_cast<double>(boxes);

  // Boxes, then the points ordered by box row: a row of boxes owns its node rows alone, so
  // workers given whole box rows spread their points without touching each other's nodes.
  box_x_.resize(static_cast<size_t>(n));
  box_y_.resize(static_cast<size_t>(n));
  parallelBlocks(n, threads, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const auto bx = static_cast<int64_t>((y[2 * i] - grid_.lower) * inverse_width);
      const auto by = static_cast<int64_t>((y[2 * i + 1] - grid_.lower) * inverse_width);
      box_x_[static_cast<size_t>(i)] = static_cast<int32_t>(std::clamp<int64_t>(bx, 0, boxes - 1));
      box_y_[static_cast<size_t>(i)] = static_cast<int32_t>(std::clamp<int64_t>(by, 0, boxes - 1));
    }
  });
  row_start_.assign(static_cast<size_t>(boxes + 1), 0);
  for (int64_t i = 0; i < n; ++i) ++row_start_[static_cast<size_t>(box_y_[static_cast<size_t>(i)] + 1)];
  for (int64_t r = 0; r < boxes; ++r) row_start_[static_cast<size_t>(r + 1)] += row_start_[static_cast<size_t>(r)];
  order_.resize(static_cast<size_t>(n));
  {
    std::vector<int64_t> fill(row_start_.begin(), row_start_.end() - 1);
    for (int64_t i = 0; i < n; ++i) order_[static_cast<size_t>(fill[static_cast<size_t>(box_y_[static_cast<size_t>(i)])]++)] = i;
  }

  // The node position of point i inside its box, and its Lagrange weights along x and y.
  const auto weightsOf = [&](int64_t i, double* wx, double* wy) {
    const double fx = (y[2 * i] - grid_.lower) * inverse_width - box_x_[static_cast<size_t>(i)];
    const double fy = (y[2 * i + 1] - grid_.lower) * inverse_width - box_y_[static_cast<size_t>(i)];
    lagrangeWeights(fx, p, wx);
    lagrangeWeights(fy, p, wy);
  };

  const int64_t plane = g * g;
  charges_.assign(static_cast<size_t>(kTerms * plane), 0.0);
  double* w = charges_.data();
  const int64_t workers = std::max<int64_t>(1, std::min(threads, boxes));
  std::vector<int64_t> first_row(static_cast<size_t>(workers + 1), boxes);
  first_row[0] = 0;
  for (int64_t t = 1, r = 0; t < workers; ++t) {
    const int64_t target = n * t / workers;
    while (r < boxes && row_start_[static_cast<size_t>(r)] < target) ++r;
    first_row[static_cast<size_t>(t)] = r;
  }
  parallelWorkers(workers, [&](int64_t t) {
    double wx[kMaxPointsPerBox], wy[kMaxPointsPerBox];
    const int64_t begin = row_start_[static_cast<size_t>(first_row[static_cast<size_t>(t)])];
    const int64_t end = row_start_[static_cast<size_t>(first_row[static_cast<size_t>(t + 1)])];
    for (int64_t position = begin; position < end; ++position) {
      const int64_t i = order_[static_cast<size_t>(position)];
      weightsOf(i, wx, wy);
      const double cx = y[2 * i] - centre, cy = y[2 * i + 1] - centre;
      const double q[kTerms] = {1.0, cx, cy, cx * cx + cy * cy};
      const int64_t node0 = box_y_[static_cast<size_t>(i)] * p * g + box_x_[static_cast<size_t>(i)] * p;
      for (int64_t a = 0; a < p; ++a)
        for (int64_t b = 0; b < p; ++b) {
          const double weight = wy[a] * wx[b];
          const int64_t node = node0 + a * g + b;
          for (int64_t term = 0; term < kTerms; ++term) w[term * plane + node] += weight * q[term];
        }
    }
  });

  // All node pairs at once: a circulant convolution of the zero-padded charges with the
  // kernel, through FFTs of size 2g x 2g.
  convolution_.setKernel(g, grid_.nodeSpacing(), threads);
  convolution_.apply(w, kTerms, threads);
  const double* u = w;

  z_partial_.assign(static_cast<size_t>(n), 0.0);
  parallelBlocks(n, threads, 1024, [&](int64_t begin, int64_t end) {
    double wx[kMaxPointsPerBox], wy[kMaxPointsPerBox];
    for (int64_t position = begin; position < end; ++position) {
      const int64_t i = order_[static_cast<size_t>(position)];
      weightsOf(i, wx, wy);
      double phi[kTerms] = {0, 0, 0, 0};
      const int64_t node0 = box_y_[static_cast<size_t>(i)] * p * g + box_x_[static_cast<size_t>(i)] * p;
      for (int64_t a = 0; a < p; ++a)
        for (int64_t b = 0; b < p; ++b) {
          const double weight = wy[a] * wx[b];
          const int64_t node = node0 + a * g + b;
          for (int64_t term = 0; term < kTerms; ++term) phi[term] += weight * u[term * plane + node];
        }
      const double cx = y[2 * i] - centre, cy = y[2 * i + 1] - centre;
      repulsive[2 * i] = cx * phi[0] - phi[1];
      repulsive[2 * i + 1] = cy * phi[0] - phi[2];
      z_partial_[static_cast<size_t>(i)] = (1.0 + cx * cx + cy * cy) * phi[0] - 2.0 * (cx * phi[1] + cy * phi[2]) + phi[3];
    }
  });
  // In index order, so the sum does not depend on the schedule; each point's own kernel
  // value w_ii = 1 comes out.
  double z = 0;
  for (const double v : z_partial_) z += v;
  return z - static_cast<double>(n);
}

}  // namespace studio
