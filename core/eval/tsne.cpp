#include "core/base/text_format.h"
#include "core/eval/tsne.h"

#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <iomanip>
#include <limits>
#include <memory>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

#include "core/base/error.h"
#include "core/eval/neighbour_graph.h"
#include "core/base/parallel.h"
#include "core/eval/pca.h"
#include "core/eval/tsne_fft.h"
#include "core/eval/tsne_tensor.h"

namespace studio {

namespace {

constexpr double kEntropyTolerance = 1e-5;
constexpr int kMaxCalibrationSteps = 200;
constexpr int64_t kExactNormalisationLimit = 20000;
constexpr int64_t kApproximateNeighboursFrom = 20000;  // TsneNeighbours::Auto
constexpr int64_t kFftFrom = 10000;                    // Method::Auto on the CPU, as openTSNE           // above it klDivergence estimates Z
constexpr double kKlTheta = 0.5;
constexpr double kMinGain = 0.01;
constexpr double kGainIncrease = 0.2;
constexpr double kGainDecay = 0.8;
constexpr double kInitialStd = 1e-4;

// The bounding box of n 2-D points stored x, y, x, y, ...: {min x, max x, min y, max y}.
std::array<double, 4> layoutBounds(const double* y, int64_t n) {
  std::array<double, 4> b = {y[0], y[0], y[1], y[1]};
  for (int64_t i = 1; i < n; ++i) {
    b[0] = std::min(b[0], y[2 * i]);
    b[1] = std::max(b[1], y[2 * i]);
    b[2] = std::min(b[2], y[2 * i + 1]);
    b[3] = std::max(b[3], y[2 * i + 1]);
  }
  return b;
}
// Cells this deep are ~1e-15 of the root: only duplicated points get there, and they stay
// together in one leaf whose points are then visited one by one.
constexpr int kMaxTreeDepth = 48;
constexpr int kTraversalStack = 4 * kMaxTreeDepth + 8;
// Points handed to a worker at a time: small enough to balance dense and sparse regions.
constexpr int64_t kPointsPerTask = 128;

std::string shapeOf(const torch::Tensor& t) {
  std::ostringstream out;
  out << t.sizes();
  return out.str();
}

int64_t resolveThreads(int64_t threads) {
  if (threads < 0) throwBadInput("t-SNE thread count must be 0 (automatic) or positive, got " + std::to_string(threads));
  return threads > 0 ? threads : std::max<int64_t>(1, at::get_num_threads());
}

// x as a contiguous float32 CPU matrix, after checking what t-SNE needs of it.
torch::Tensor checkedPoints(const torch::Tensor& x) {
  if (!x.defined()) throwBadInput("t-SNE input x is undefined: expected a [N, D] floating-point matrix");
  if (x.dim() != 2)
    throwBadInput("t-SNE input x must be a 2-D [N, D] matrix, got " + std::to_string(x.dim()) + "-D of shape " +
                  shapeOf(x));
  if (!x.is_floating_point())
    throwBadInput("t-SNE input x must be floating point, got " + std::string(x.dtype().name()));
  if (x.size(0) < 4) throwBadInput("t-SNE needs at least 4 points, got N = " + std::to_string(x.size(0)));
  if (x.size(1) < 1) throwBadInput("t-SNE input x has no features (shape " + shapeOf(x) + ")");
  const auto points = x.to(torch::kCPU, torch::kFloat32).contiguous();
  const auto bad = torch::logical_not(torch::isfinite(points));
  if (bad.any().item<bool>()) {
    const auto where = bad.nonzero()[0];
    const int64_t row = where[0].item<int64_t>(), column = where[1].item<int64_t>();
    const double v = x[row][column].item<double>();
    throwBadInput("t-SNE input x has a non-finite value (" +
                  std::string(std::isnan(v) ? "NaN" : (v > 0 ? "+infinity" : "-infinity")) + ") at row " +
                  std::to_string(row) + ", column " + std::to_string(column));
  }
  return points;
}

void checkPerplexity(double perplexity, int64_t n) {
  if (!std::isfinite(perplexity) || perplexity < 1)
    throwBadInput("t-SNE perplexity must be a number of at least 1, got " + formatNumber(perplexity));
  if (3 * perplexity >= static_cast<double>(n))
    throwBadInput("t-SNE perplexity " + formatNumber(perplexity) + " is too large for N = " + std::to_string(n) +
                  " points: 3 x perplexity must be below N, so the perplexity must be below " +
                  formatNumber(static_cast<double>(n) / 3.0) + "; lower it or embed more points");
}

// A layout as a contiguous float64 CPU [n, 2] tensor, after checking its shape and values.
torch::Tensor checkedLayout(const torch::Tensor& y, int64_t n, const std::string& what) {
  if (!y.defined() || y.dim() != 2 || y.size(0) != n || y.size(1) != 2)
    throwBadInput(what + " must be [" + std::to_string(n) + ", 2], got " +
                  (y.defined() ? shapeOf(y) : std::string("an undefined tensor")));
  if (!y.is_floating_point()) throwBadInput(what + " must be floating point, got " + std::string(y.dtype().name()));
  const auto layout = y.to(torch::kCPU, torch::kFloat64).contiguous();
  if (!torch::isfinite(layout).all().item<bool>()) throwBadInput(what + " has non-finite (NaN or infinite) values");
  return layout;
}

void checkAffinities(const Affinities& p) {
  if (p.n < 2 || p.row_offsets.size() != static_cast<size_t>(p.n + 1) || p.row_offsets.front() != 0 ||
      p.row_offsets.back() != static_cast<int64_t>(p.columns.size()) || p.columns.size() != p.values.size())
    throwBadInput("t-SNE affinities are malformed: expected n >= 2 with n + 1 row offsets ending at the entry count, "
                  "got n = " + std::to_string(p.n) + ", " + std::to_string(p.row_offsets.size()) + " offsets and " +
                  std::to_string(p.columns.size()) + " entries");
}

// Sums over the entries of P that every KL evaluation needs.
struct AffinityStats {
  double sum_p = 0;
  double sum_p_log_p = 0;
};

AffinityStats statsOf(const Affinities& p) {
  AffinityStats stats;
  for (const double v : p.values) {
    stats.sum_p += v;
    if (v > 0) stats.sum_p_log_p += v * std::log(v);
  }
  return stats;
}

// Quadtree over the layout for the Barnes-Hut repulsion. Built by recursively partitioning
// an index array, so every cell's points are one contiguous range of order_ and the points,
// taken in that order, are spatially coherent (good for the cache when traversing).
class QuadTree {
 public:
  void build(const double* y, int64_t n) {
    nodes_.clear();
    nodes_.reserve(static_cast<size_t>(2 * n + 1));
    order_.resize(static_cast<size_t>(n));
    std::iota(order_.begin(), order_.end(), int64_t{0});
    const std::array<double, 4> bounds = layoutBounds(y, n);
    const double min_x = bounds[0], max_x = bounds[1], min_y = bounds[2], max_y = bounds[3];
    const double half = 0.5 * std::max(max_x - min_x, max_y - min_y);
    buildNode(y, 0, n, 0.5 * (min_x + max_x), 0.5 * (min_y + max_y), half, 0);
  }

  int64_t pointAt(int64_t position) const { return order_[static_cast<size_t>(position)]; }

  // Adds point i's repulsion sum_j w_ij^2 (y_i - y_j) to (rx, ry) and sum_j w_ij to z, with
  // w = 1 / (1 + |y_i - y_j|^2); a cell whose width / distance < theta counts as one body of
  // all its points at their centre of mass.
  void repulsion(const double* y, int64_t i, double theta2, double& rx, double& ry, double& z) const {
    const double xi = y[2 * i], yi = y[2 * i + 1];
    int64_t stack[kTraversalStack];
    int top = 0;
    stack[top++] = 0;
    while (top > 0) {
      const Node& node = nodes_[static_cast<size_t>(stack[--top])];
      if (node.leaf) {
        for (int64_t k = node.begin; k < node.end; ++k) {
          const int64_t j = order_[static_cast<size_t>(k)];
          if (j == i) continue;
          const double dx = xi - y[2 * j], dy = yi - y[2 * j + 1];
          const double w = 1.0 / (1.0 + dx * dx + dy * dy);
          z += w;
          rx += w * w * dx;
          ry += w * w * dy;
        }
        continue;
      }
      const double dx = xi - node.com_x, dy = yi - node.com_y;
      const double d2 = dx * dx + dy * dy;
      if (node.width * node.width < theta2 * d2) {
        const double count = static_cast<double>(node.end - node.begin);
        const double w = 1.0 / (1.0 + d2);
        z += count * w;
        rx += count * w * w * dx;
        ry += count * w * w * dy;
        continue;
      }
      for (const int64_t child : node.child)
        if (child >= 0) stack[top++] = child;
    }
  }

 private:
  struct Node {
    double com_x = 0, com_y = 0;  // centre of mass of the cell's points
    double width = 0;             // side of the square cell
    int64_t begin = 0, end = 0;   // the cell's points: order_[begin, end)
    int64_t child[4] = {-1, -1, -1, -1};
    bool leaf = true;
  };

  int64_t buildNode(const double* y, int64_t begin, int64_t end, double cx, double cy, double half, int depth) {
    const int64_t index = static_cast<int64_t>(nodes_.size());
    nodes_.emplace_back();
    nodes_.back().begin = begin;
    nodes_.back().end = end;
    nodes_.back().width = 2 * half;
    const double count = static_cast<double>(end - begin);
    if (end - begin <= 1 || depth >= kMaxTreeDepth) {
      double sx = 0, sy = 0;
      for (int64_t k = begin; k < end; ++k) {
        const int64_t p = order_[static_cast<size_t>(k)];
        sx += y[2 * p];
        sy += y[2 * p + 1];
      }
      nodes_[static_cast<size_t>(index)].com_x = sx / count;
      nodes_[static_cast<size_t>(index)].com_y = sy / count;
      return index;
    }
    const auto first = order_.begin() + begin, last = order_.begin() + end;
    const auto mid = std::partition(first, last, [&](int64_t p) { return y[2 * p] < cx; });
    const auto low_mid = std::partition(first, mid, [&](int64_t p) { return y[2 * p + 1] < cy; });
    const auto high_mid = std::partition(mid, last, [&](int64_t p) { return y[2 * p + 1] < cy; });
    const int64_t bounds[5] = {begin, low_mid - order_.begin(), mid - order_.begin(), high_mid - order_.begin(), end};
    const double q = 0.5 * half;
    const double centres[4][2] = {{cx - q, cy - q}, {cx - q, cy + q}, {cx + q, cy - q}, {cx + q, cy + q}};
    double sx = 0, sy = 0;
    for (int c = 0; c < 4; ++c) {
      if (bounds[c + 1] == bounds[c]) continue;
      // nodes_ may reallocate inside the recursion: index it afresh afterwards.
      const int64_t child = buildNode(y, bounds[c], bounds[c + 1], centres[c][0], centres[c][1], q, depth + 1);
      const Node& built = nodes_[static_cast<size_t>(child)];
      const double n_child = static_cast<double>(built.end - built.begin);
      sx += built.com_x * n_child;
      sy += built.com_y * n_child;
      nodes_[static_cast<size_t>(index)].child[c] = child;
    }
    Node& node = nodes_[static_cast<size_t>(index)];
    node.leaf = false;
    node.com_x = sx / count;
    node.com_y = sy / count;
    return index;
  }

  std::vector<Node> nodes_;
  std::vector<int64_t> order_;
};

enum class Repulsion { Exact, BarnesHut, Fft };

// Per-point results of one gradient evaluation, kept between iterations to avoid reallocating.
struct GradientWork {
  std::vector<double> attractive, repulsive, kernel_sum, p_log_w;
  QuadTree tree;
  std::unique_ptr<FftRepulsion> fft;
};

// Writes the gradient at y (2N values, interleaved x/y) to grad and returns the KL divergence
// of the unexaggerated P when want_kl (else -1).
double evaluateGradient(const Affinities& p, const AffinityStats& stats, const double* y, double exaggeration,
                        Repulsion repulsion, double theta, int64_t threads, bool want_kl, GradientWork& work,
                        double* grad) {
  const int64_t n = p.n;
  const bool exact = repulsion == Repulsion::Exact;
  const bool tree = repulsion == Repulsion::BarnesHut;
  work.attractive.resize(static_cast<size_t>(2 * n));
  work.repulsive.resize(static_cast<size_t>(2 * n));
  work.kernel_sum.resize(static_cast<size_t>(n));
  work.p_log_w.resize(static_cast<size_t>(n));
  if (tree) work.tree.build(y, n);
  const double theta2 = theta * theta;
  const int64_t* offsets = p.row_offsets.data();
  const int64_t* columns = p.columns.data();
  const double* values = p.values.data();

  const auto body = [&](int64_t begin, int64_t end) {
    for (int64_t position = begin; position < end; ++position) {
      const int64_t i = tree ? work.tree.pointAt(position) : position;
      const double xi = y[2 * i], yi = y[2 * i + 1];
      double ax = 0, ay = 0, p_log_w = 0;
      for (int64_t e = offsets[i]; e < offsets[i + 1]; ++e) {
        const int64_t j = columns[e];
        const double dx = xi - y[2 * j], dy = yi - y[2 * j + 1];
        const double w = 1.0 / (1.0 + dx * dx + dy * dy);
        const double pw = values[e] * w;
        ax += pw * dx;
        ay += pw * dy;
        if (want_kl) p_log_w += values[e] * std::log(w);
      }
      work.attractive[static_cast<size_t>(2 * i)] = ax;
      work.attractive[static_cast<size_t>(2 * i + 1)] = ay;
      work.p_log_w[static_cast<size_t>(i)] = p_log_w;
      if (repulsion == Repulsion::Fft) continue;  // the grid does the repulsion for all points below
      double rx = 0, ry = 0, z = 0;
      if (exact) {
        // Two loops around i rather than a branch, so the compiler can vectorise them.
        const auto accumulate = [&](int64_t from, int64_t to) {
          for (int64_t j = from; j < to; ++j) {
            const double dx = xi - y[2 * j], dy = yi - y[2 * j + 1];
            const double w = 1.0 / (1.0 + dx * dx + dy * dy);
            z += w;
            rx += w * w * dx;
            ry += w * w * dy;
          }
        };
        accumulate(0, i);
        accumulate(i + 1, n);
      } else {
        work.tree.repulsion(y, i, theta2, rx, ry, z);
      }
      work.repulsive[static_cast<size_t>(2 * i)] = rx;
      work.repulsive[static_cast<size_t>(2 * i + 1)] = ry;
      work.kernel_sum[static_cast<size_t>(i)] = z;
    }
  };
  // An exact row costs O(N): smaller blocks keep the workers balanced.
  parallelBlocks(n, threads, exact ? 16 : kPointsPerTask, body);

  // Reductions in index order, so the result does not depend on the thread count or schedule.
  double z = 0, sum_p_log_w = 0;
  if (repulsion == Repulsion::Fft) {
    z = work.fft->evaluate(y, n, threads, work.repulsive.data());
  } else {
    for (int64_t i = 0; i < n; ++i) z += work.kernel_sum[static_cast<size_t>(i)];
  }
  for (int64_t i = 0; i < n; ++i) sum_p_log_w += work.p_log_w[static_cast<size_t>(i)];
  if (!(z > 0) || !std::isfinite(z))
    throwFailure("t-SNE: the kernel sum Z = " + formatNumber(z) + " is not positive: the layout diverged");
  for (int64_t d = 0; d < 2 * n; ++d)
    grad[d] = 4.0 * (exaggeration * work.attractive[static_cast<size_t>(d)] -
                     work.repulsive[static_cast<size_t>(d)] / z);
  // KL = sum P log P - sum P log q with q = w / Z.
  return want_kl ? stats.sum_p_log_p - sum_p_log_w + stats.sum_p * std::log(z) : -1.0;
}

double klOfLayout(const Affinities& p, const AffinityStats& stats, const double* y, int64_t threads, bool exact_z) {
  GradientWork work;
  std::vector<double> grad(static_cast<size_t>(2 * p.n));
  const bool exact = exact_z || p.n <= kExactNormalisationLimit;
  return evaluateGradient(p, stats, y, 1.0, exact ? Repulsion::Exact : Repulsion::BarnesHut, kKlTheta, threads, true,
                          work, grad.data());
}

void checkOptions(const TsneOptions& o) {
  if (o.iterations < 0) throwBadInput("t-SNE iterations must be >= 0, got " + std::to_string(o.iterations));
  if (o.exaggeration_iterations < 0)
    throwBadInput("t-SNE exaggeration_iterations must be >= 0, got " + std::to_string(o.exaggeration_iterations));
  if (!std::isfinite(o.early_exaggeration) || o.early_exaggeration <= 0)
    throwBadInput("t-SNE early_exaggeration must be positive, got " + formatNumber(o.early_exaggeration));
  if (!std::isfinite(o.learning_rate) || o.learning_rate < 0)
    throwBadInput("t-SNE learning_rate must be positive or 0 (automatic), got " + formatNumber(o.learning_rate));
  if (!(o.momentum_early >= 0 && o.momentum_early < 1) || !(o.momentum_late >= 0 && o.momentum_late < 1))
    throwBadInput("t-SNE momenta must be in [0, 1), got " + formatNumber(o.momentum_early) + " and " +
                  formatNumber(o.momentum_late));
  if (!std::isfinite(o.max_step_norm) || o.max_step_norm < 0)
    throwBadInput("t-SNE max_step_norm must be >= 0 (0 = no limit), got " + formatNumber(o.max_step_norm));
  if (!std::isfinite(o.theta) || o.theta < 0) throwBadInput("t-SNE theta must be >= 0, got " + formatNumber(o.theta));
  if (o.callback_every < 1)
    throwBadInput("t-SNE callback_every must be at least 1, got " + std::to_string(o.callback_every));
  interpolationGrid(0, 1, o.interpolation_points, o.min_interpolation_boxes, o.interpolation_box_size);
}

inline int signOf(double v) { return (v > 0) - (v < 0); }

// Each layout point's k nearest other points (exact, euclidean), nearest first, ties broken
// by index: a uniform grid of about two points per cell searched in growing square rings
// until the ring cannot hold anything nearer than the k-th found. O(N k) for any layout.
torch::Tensor exactLayoutNeighbours(const torch::Tensor& layout, int64_t k, int64_t threads) {
  const int64_t n = layout.size(0);
  const double* y = layout.data_ptr<double>();
  const std::array<double, 4> bounds = layoutBounds(y, n);
  const double min_x = bounds[0], max_x = bounds[1], min_y = bounds[2], max_y = bounds[3];
  const double span_x = std::max(max_x - min_x, 1e-300), span_y = std::max(max_y - min_y, 1e-300);
  const double cell = std::max(std::sqrt(span_x * span_y / std::max<double>(1.0, static_cast<double>(n) / 2.0)),
                               std::max(span_x, span_y) / 4096.0);
  const int64_t cols = std::max<int64_t>(1, static_cast<int64_t>(span_x / cell) + 1);
  const int64_t rows = std::max<int64_t>(1, static_cast<int64_t>(span_y / cell) + 1);
  const auto cellOf = [&](int64_t i, int64_t& cx, int64_t& cy) {
    cx = std::min<int64_t>(cols - 1, static_cast<int64_t>((y[2 * i] - min_x) / cell));
    cy = std::min<int64_t>(rows - 1, static_cast<int64_t>((y[2 * i + 1] - min_y) / cell));
  };
  std::vector<int64_t> start(static_cast<size_t>(cols * rows + 1), 0), members(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    int64_t cx, cy;
    cellOf(i, cx, cy);
    ++start[static_cast<size_t>(cy * cols + cx + 1)];
  }
  for (size_t c = 1; c < start.size(); ++c) start[c] += start[c - 1];
  {
    std::vector<int64_t> fill(start.begin(), start.end() - 1);
    for (int64_t i = 0; i < n; ++i) {
      int64_t cx, cy;
      cellOf(i, cx, cy);
      members[static_cast<size_t>(fill[static_cast<size_t>(cy * cols + cx)]++)] = i;
    }
  }
  auto result = torch::empty({n, k}, torch::kLong);
  int64_t* out = result.data_ptr<int64_t>();
  parallelBlocks(n, threads, 512, [&](int64_t begin, int64_t end) {
    std::vector<std::pair<double, int64_t>> heap;  // max-heap of the k best (distance, index)
    for (int64_t i = begin; i < end; ++i) {
      heap.clear();
      int64_t cx, cy;
      cellOf(i, cx, cy);
      const auto visit = [&](int64_t x, int64_t yy) {
        if (x < 0 || yy < 0 || x >= cols || yy >= rows) return;
        const int64_t c = yy * cols + x;
        for (int64_t m = start[static_cast<size_t>(c)]; m < start[static_cast<size_t>(c + 1)]; ++m) {
          const int64_t j = members[static_cast<size_t>(m)];
          if (j == i) continue;
          const double dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
          const std::pair<double, int64_t> entry{dx * dx + dy * dy, j};
          if (static_cast<int64_t>(heap.size()) < k) {
            heap.push_back(entry);
            std::push_heap(heap.begin(), heap.end());
          } else if (entry < heap.front()) {
            std::pop_heap(heap.begin(), heap.end());
            heap.back() = entry;
            std::push_heap(heap.begin(), heap.end());
          }
        }
      };
      for (int64_t r = 0;; ++r) {
        if (r == 0) {
          visit(cx, cy);
        } else {
          for (int64_t x = cx - r; x <= cx + r; ++x) {
            visit(x, cy - r);
            visit(x, cy + r);
          }
          for (int64_t yy = cy - r + 1; yy <= cy + r - 1; ++yy) {
            visit(cx - r, yy);
            visit(cx + r, yy);
          }
        }
        // Anything outside rings 0..r is at least r cells away from point i.
        const double reach = static_cast<double>(r) * cell;
        const bool covered_all = cx - r <= 0 && cy - r <= 0 && cx + r >= cols - 1 && cy + r >= rows - 1;
        if (covered_all || (static_cast<int64_t>(heap.size()) == k && heap.front().first <= reach * reach)) break;
      }
      std::sort_heap(heap.begin(), heap.end());
      for (int64_t m = 0; m < k; ++m) out[i * k + m] = heap[static_cast<size_t>(m)].second;
    }
  });
  return result;
}

// openTSNE's default start: the first two principal components, scaled so that the first
// has standard deviation 1e-4. An axis along which x has no variance (x with one feature, or
// points on a line) gets seeded noise of the same scale instead, so the layout can unfold in
// both directions.
std::vector<double> pcaInitialisation(const torch::Tensor& points, int64_t seed) {
  const int64_t n = points.size(0);
  const auto projected = pca(points, std::min<int64_t>(2, points.size(1))).projected.to(torch::kFloat64).contiguous();
  const double first_std = projected.select(1, 0).std().item<double>();
  std::mt19937_64 rng(static_cast<uint64_t>(seed));
  std::normal_distribution<double> noise(0.0, kInitialStd);
  std::vector<double> y(static_cast<size_t>(2 * n));
  for (int64_t c = 0; c < 2; ++c) {
    const bool from_pca = c < projected.size(1) && first_std > 0 &&
                          projected.select(1, c).std().item<double>() > 1e-6 * first_std;
    if (from_pca) {
      const auto column = projected.select(1, c).contiguous();
      const double* v = column.data_ptr<double>();
      for (int64_t i = 0; i < n; ++i) y[static_cast<size_t>(2 * i + c)] = v[i] / first_std * kInitialStd;
    } else {
      for (int64_t i = 0; i < n; ++i) y[static_cast<size_t>(2 * i + c)] = noise(rng);
    }
  }
  return y;
}

torch::Tensor layoutTensor(const std::vector<double>& y, torch::ScalarType dtype) {
  const int64_t n = static_cast<int64_t>(y.size() / 2);
  return torch::from_blob(const_cast<double*>(y.data()), {n, 2}, torch::kFloat64).to(dtype, false, true);
}

}  // namespace

std::vector<double> conditionalRow(const std::vector<double>& squared_distances, double perplexity,
                                   double* entropy_out) {
  if (!std::isfinite(perplexity) || perplexity <= 0)
    throwBadInput("t-SNE perplexity must be positive, got " + formatNumber(perplexity));
  const size_t k = squared_distances.size();
  std::vector<double> p(k);
  if (k == 0) {
    if (entropy_out) *entropy_out = 0;
    return p;
  }
  // Distances relative to the nearest: the nearest neighbour's weight is 1, so the sum never
  // underflows however far the points are.
  const double nearest = *std::min_element(squared_distances.begin(), squared_distances.end());
  std::vector<double> shifted(k);
  double mean = 0;
  for (size_t m = 0; m < k; ++m) {
    shifted[m] = squared_distances[m] - nearest;
    mean += shifted[m];
  }
  mean /= static_cast<double>(k);

  const double target = std::log(perplexity);
  // Starting at 1 / mean distance makes the search independent of the data's scale.
  double beta = mean > 0 ? 1.0 / mean : 1.0;
  double lo = 0, hi = std::numeric_limits<double>::infinity();
  double sum = 1, entropy = 0;
  for (int step = 0; step < kMaxCalibrationSteps; ++step) {
    sum = 0;
    double weighted = 0;
    for (size_t m = 0; m < k; ++m) {
      p[m] = std::exp(-beta * shifted[m]);
      sum += p[m];
      weighted += p[m] * shifted[m];
    }
    entropy = std::log(sum) + beta * weighted / sum;
    const double difference = entropy - target;
    if (std::abs(difference) < kEntropyTolerance) break;
    if (difference > 0) {  // too flat: sharpen
      lo = beta;
      beta = std::isinf(hi) ? 2 * beta : 0.5 * (beta + hi);
    } else {
      hi = beta;
      beta = 0.5 * (lo + beta);
    }
  }
  for (double& v : p) v /= sum;
  if (entropy_out) *entropy_out = entropy;
  return p;
}

namespace {

// P from each point's neighbours (the first columns of `neighbours`, as many as k = 3 x
// perplexity allows) in the centred points.
Affinities affinitiesFromNeighbours(const torch::Tensor& centred, const torch::Tensor& all_neighbours, double perplexity,
                                    int64_t threads) {
  const int64_t n = centred.size(0), d = centred.size(1);
  const int64_t k = std::min<int64_t>(n - 1, static_cast<int64_t>(std::floor(3 * perplexity)));
  const auto neighbours = all_neighbours.slice(1, 0, k).contiguous();
  const int64_t* nb = neighbours.data_ptr<int64_t>();
  const float* xp = centred.data_ptr<float>();

  // Exact squared distances to the chosen neighbours in double (the block expansion picks
  // them; it is not precise enough to calibrate on), then each row's calibration.
  std::vector<double> conditional(static_cast<size_t>(n * k));
  parallelBlocks(n, threads, 64, [&](int64_t begin, int64_t end) {
    std::vector<double> distances(static_cast<size_t>(k));
    for (int64_t i = begin; i < end; ++i) {
      const float* xi = xp + i * d;
      for (int64_t m = 0; m < k; ++m) {
        const float* xj = xp + nb[i * k + m] * d;
        double s = 0;
        for (int64_t c = 0; c < d; ++c) {
          const double diff = static_cast<double>(xi[c]) - static_cast<double>(xj[c]);
          s += diff * diff;
        }
        distances[static_cast<size_t>(m)] = s;
      }
      const auto row = conditionalRow(distances, perplexity, nullptr);
      std::copy(row.begin(), row.end(), conditional.begin() + i * k);
    }
  });

  // Symmetrise: row i gets p_j|i for its own neighbours and p_i|j from every j that has i as
  // a neighbour; a pair present both ways is merged after sorting the row by column.
  std::vector<int64_t> offsets(static_cast<size_t>(n + 1), 0);
  for (int64_t i = 0; i < n; ++i) offsets[static_cast<size_t>(i + 1)] += k;
  for (int64_t e = 0; e < n * k; ++e) offsets[static_cast<size_t>(nb[e] + 1)] += 1;
  for (int64_t i = 0; i < n; ++i) offsets[static_cast<size_t>(i + 1)] += offsets[static_cast<size_t>(i)];
  std::vector<int64_t> columns(static_cast<size_t>(offsets.back()));
  std::vector<double> values(columns.size());
  std::vector<int64_t> fill(offsets.begin(), offsets.end() - 1);
  const double scale = 1.0 / (2.0 * static_cast<double>(n));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t m = 0; m < k; ++m) {
      const int64_t j = nb[i * k + m];
      const double v = conditional[static_cast<size_t>(i * k + m)] * scale;
      columns[static_cast<size_t>(fill[static_cast<size_t>(i)])] = j;
      values[static_cast<size_t>(fill[static_cast<size_t>(i)]++)] = v;
      columns[static_cast<size_t>(fill[static_cast<size_t>(j)])] = i;
      values[static_cast<size_t>(fill[static_cast<size_t>(j)]++)] = v;
    }
  }
  std::vector<int64_t> merged(static_cast<size_t>(n));
  parallelBlocks(n, threads, 256, [&](int64_t begin, int64_t end) {
    std::vector<std::pair<int64_t, double>> entries;
    for (int64_t i = begin; i < end; ++i) {
      const int64_t first = offsets[static_cast<size_t>(i)], last = offsets[static_cast<size_t>(i + 1)];
      entries.clear();
      for (int64_t e = first; e < last; ++e)
        entries.emplace_back(columns[static_cast<size_t>(e)], values[static_cast<size_t>(e)]);
      std::sort(entries.begin(), entries.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      int64_t out = first;
      for (size_t e = 0; e < entries.size(); ++e) {
        if (out > first && columns[static_cast<size_t>(out - 1)] == entries[e].first) {
          values[static_cast<size_t>(out - 1)] += entries[e].second;  // at most two: p_j|i and p_i|j
        } else {
          columns[static_cast<size_t>(out)] = entries[e].first;
          values[static_cast<size_t>(out)] = entries[e].second;
          ++out;
        }
      }
      merged[static_cast<size_t>(i)] = out - first;
    }
  });

  Affinities p;
  p.n = n;
  p.row_offsets.assign(static_cast<size_t>(n + 1), 0);
  for (int64_t i = 0; i < n; ++i)
    p.row_offsets[static_cast<size_t>(i + 1)] = p.row_offsets[static_cast<size_t>(i)] + merged[static_cast<size_t>(i)];
  p.columns.resize(static_cast<size_t>(p.row_offsets.back()));
  p.values.resize(p.columns.size());
  for (int64_t i = 0; i < n; ++i) {
    const auto from = static_cast<size_t>(offsets[static_cast<size_t>(i)]);
    const auto to = static_cast<size_t>(p.row_offsets[static_cast<size_t>(i)]);
    const auto count = static_cast<size_t>(merged[static_cast<size_t>(i)]);
    std::copy_n(columns.begin() + from, count, p.columns.begin() + to);
    std::copy_n(values.begin() + from, count, p.values.begin() + to);
  }
  return p;
}

}  // namespace

Affinities computeAffinities(const torch::Tensor& x, double perplexity, int64_t threads, TsneNeighbours neighbour_method,
                             int64_t seed) {
  const auto points = checkedPoints(x);
  const int64_t n = points.size(0);
  checkPerplexity(perplexity, n);
  threads = resolveThreads(threads);
  const int64_t k = std::min<int64_t>(n - 1, static_cast<int64_t>(std::floor(3 * perplexity)));
  torch::NoGradGuard no_grad;
  const auto centred = (points - points.mean(0)).contiguous();
  const bool approximate = neighbour_method == TsneNeighbours::Approximate ||
                           (neighbour_method == TsneNeighbours::Auto && n >= kApproximateNeighboursFrom);
  ApproximateNeighbourOptions graph_options;
  graph_options.seed = seed;
  graph_options.threads = threads;
  const auto neighbours = approximate ? approximateNeighbourGraph(centred, k, graph_options).indices
                                      : exactNeighbourGraph(centred, k).indices;
  return affinitiesFromNeighbours(centred, neighbours, perplexity, threads);
}


TsneOptions::Method resolvedTsneMethod(const TsneOptions& options, int64_t n) {
  if (options.method != TsneOptions::Method::Auto) return options.method;
  const bool native = options.device.is_cpu() && !options.tensor_ops;
  return !native || n >= kFftFrom ? TsneOptions::Method::Fft : TsneOptions::Method::BarnesHut;
}

TsneResult runTsne(const torch::Tensor& x, const TsneOptions& options, const torch::Tensor& initial,
                   const TsneCallback& callback) {
  const auto points = checkedPoints(x);
  const int64_t n = points.size(0);
  checkPerplexity(options.perplexity, n);
  checkOptions(options);
  const auto method = resolvedTsneMethod(options, n);
  if (method == TsneOptions::Method::Exact && n > kTsneExactLimit)
    throwBadInput("exact t-SNE costs O(N^2) per iteration and is limited to " + std::to_string(kTsneExactLimit) +
                  " points, got N = " + std::to_string(n) + ": use the FFT or Barnes-Hut method");
  const bool native = options.device.is_cpu() && !options.tensor_ops;
  if (!native && method == TsneOptions::Method::BarnesHut)
    throwBadInput("Barnes-Hut t-SNE runs on the CPU only; on " + options.device.str() +
                  " use the FFT or exact method");
  torch::Tensor start;
  if (initial.defined()) start = checkedLayout(initial, n, "t-SNE initial layout");
  const int64_t threads = resolveThreads(options.threads);
  torch::NoGradGuard no_grad;

  std::vector<double> y;
  if (start.defined()) {
    y.assign(start.data_ptr<double>(), start.data_ptr<double>() + 2 * n);
  } else {
    y = pcaInitialisation(points, options.seed);
  }
  if (!native) {
    const auto p = tensorAffinities(points, options.perplexity, options.device);
    return runTensorTsne(p, layoutTensor(y, torch::kFloat64), options, method == TsneOptions::Method::Exact, callback);
  }

  const Affinities p = computeAffinities(points, options.perplexity, threads, options.neighbours, options.seed);
  const AffinityStats stats = statsOf(p);
  const Repulsion repulsion = method == TsneOptions::Method::Exact       ? Repulsion::Exact
                              : method == TsneOptions::Method::BarnesHut ? Repulsion::BarnesHut
                                                                         : Repulsion::Fft;
  std::vector<double> grad(static_cast<size_t>(2 * n)), update(grad.size(), 0.0), gains(grad.size(), 1.0);
  GradientWork work;
  if (repulsion == Repulsion::Fft)
    work.fft = std::make_unique<FftRepulsion>(options.interpolation_points, options.min_interpolation_boxes,
                                              options.interpolation_box_size);

  for (int64_t it = 0; it < options.iterations; ++it) {
    const bool early = it < options.exaggeration_iterations;
    const double exaggeration = early ? options.early_exaggeration : 1.0;
    // The callback for iteration `it` reports the layout after `it` steps, whose KL the
    // gradient evaluation below computes at almost no extra cost.
    const bool report = callback && it > 0 && it % options.callback_every == 0;
    const double kl = evaluateGradient(p, stats, y.data(), exaggeration, repulsion, options.theta, threads, report, work,
                                       grad.data());
    if (report) {
      const auto layout = layoutTensor(y, torch::kFloat32);
      if (!callback(TsneProgress{it, kl, layout})) return TsneResult{layout, it, kl, true};
    }

    // openTSNE's update: gains grow while the gradient keeps its direction, momentum, and
    // each point's step clipped to max_step_norm. Gains and velocity carry over between the
    // two phases, as openTSNE keeps one optimiser for both.
    const double momentum = early ? options.momentum_early : options.momentum_late;
    const double learning_rate = options.learning_rate > 0 ? options.learning_rate
                                                           : static_cast<double>(n) / exaggeration / 4.0;
    for (size_t d = 0; d < y.size(); ++d) {
      const double g = grad[d];
      // The step is -gradient: opposite signs of update and gradient mean the descent keeps its direction.
      const bool flipped = signOf(update[d]) != signOf(g);
      gains[d] = flipped ? gains[d] + kGainIncrease : gains[d] * kGainDecay + kMinGain;
      update[d] = momentum * update[d] - learning_rate * gains[d] * g;
    }
    if (options.max_step_norm > 0) {
      for (int64_t i = 0; i < n; ++i) {
        double& ux = update[static_cast<size_t>(2 * i)];
        double& uy = update[static_cast<size_t>(2 * i + 1)];
        const double norm = std::sqrt(ux * ux + uy * uy);
        if (norm > options.max_step_norm) {
          ux *= options.max_step_norm / norm;
          uy *= options.max_step_norm / norm;
        }
      }
    }
    for (size_t d = 0; d < y.size(); ++d) y[d] += update[d];
    // Q depends on differences only: re-centring keeps the coordinates small and the tree's
    // root cell around the points without changing the optimisation.
    double mean_x = 0, mean_y = 0;
    for (int64_t i = 0; i < n; ++i) {
      mean_x += y[static_cast<size_t>(2 * i)];
      mean_y += y[static_cast<size_t>(2 * i + 1)];
    }
    mean_x /= static_cast<double>(n);
    mean_y /= static_cast<double>(n);
    for (int64_t i = 0; i < n; ++i) {
      y[static_cast<size_t>(2 * i)] -= mean_x;
      y[static_cast<size_t>(2 * i + 1)] -= mean_y;
    }
  }

  TsneResult result;
  result.layout = layoutTensor(y, torch::kFloat32);
  result.iterations_done = options.iterations;
  if (repulsion == Repulsion::Fft) {
    // The same estimate the optimisation used (exact normalisation would cost O(N^2)).
    result.kl_divergence = evaluateGradient(p, stats, y.data(), 1.0, repulsion, options.theta, threads, true, work,
                                            grad.data());
  } else {
    result.kl_divergence = klOfLayout(p, stats, y.data(), threads, false);
  }
  result.stopped = false;
  if (callback && options.iterations > 0 && options.iterations % options.callback_every == 0)
    callback(TsneProgress{options.iterations, result.kl_divergence, result.layout});  // finished either way
  return result;
}

torch::Tensor exactGradient(const Affinities& p, const torch::Tensor& y, double exaggeration, double* kl_out) {
  checkAffinities(p);
  const auto layout = checkedLayout(y, p.n, "t-SNE layout");
  GradientWork work;
  auto grad = torch::empty({p.n, 2}, torch::kFloat64);
  const double kl = evaluateGradient(p, statsOf(p), layout.data_ptr<double>(), exaggeration, Repulsion::Exact, 0.0,
                                     resolveThreads(0), kl_out != nullptr, work, grad.data_ptr<double>());
  if (kl_out) *kl_out = kl;
  return grad;
}

torch::Tensor barnesHutGradient(const Affinities& p, const torch::Tensor& y, double exaggeration, double theta,
                                int64_t threads) {
  checkAffinities(p);
  if (!std::isfinite(theta) || theta < 0) throwBadInput("t-SNE theta must be >= 0, got " + formatNumber(theta));
  const auto layout = checkedLayout(y, p.n, "t-SNE layout");
  GradientWork work;
  auto grad = torch::empty({p.n, 2}, torch::kFloat64);
  evaluateGradient(p, statsOf(p), layout.data_ptr<double>(), exaggeration, Repulsion::BarnesHut, theta,
                   resolveThreads(threads), false, work, grad.data_ptr<double>());
  return grad;
}

torch::Tensor fftGradient(const Affinities& p, const torch::Tensor& y, double exaggeration, const TsneOptions& options,
                          double* kl_out) {
  checkAffinities(p);
  checkOptions(options);
  const auto layout = checkedLayout(y, p.n, "t-SNE layout");
  GradientWork work;
  work.fft = std::make_unique<FftRepulsion>(options.interpolation_points, options.min_interpolation_boxes,
                                            options.interpolation_box_size);
  auto grad = torch::empty({p.n, 2}, torch::kFloat64);
  const double kl = evaluateGradient(p, statsOf(p), layout.data_ptr<double>(), exaggeration, Repulsion::Fft, 0.0,
                                     resolveThreads(options.threads), kl_out != nullptr, work, grad.data_ptr<double>());
  if (kl_out) *kl_out = kl;
  return grad;
}

double klDivergence(const Affinities& p, const torch::Tensor& y, bool exact_z) {
  checkAffinities(p);
  const auto layout = checkedLayout(y, p.n, "t-SNE layout");
  return klOfLayout(p, statsOf(p), layout.data_ptr<double>(), resolveThreads(0), exact_z);
}

double neighbourPreservation(const torch::Tensor& x, const torch::Tensor& layout, int64_t k) {
  const auto points = checkedPoints(x);
  const int64_t n = points.size(0);
  if (!layout.defined() || layout.dim() != 2 || layout.size(0) != n || !layout.is_floating_point())
    throwBadInput("neighbour preservation needs a floating-point layout with N = " + std::to_string(n) +
                  " rows, got " + (layout.defined() ? shapeOf(layout) : std::string("an undefined tensor")));
  if (k < 1 || k >= n)
    throwBadInput("neighbour preservation k = " + std::to_string(k) + " must be between 1 and N - 1 = " +
                  std::to_string(n - 1));
  torch::NoGradGuard no_grad;
  // The layout in double: 2-D distances are cheap, and float would misorder close points.
  const auto low = layout.to(torch::kCPU, torch::kFloat64);
  if (!torch::isfinite(low).all().item<bool>())
    throwBadInput("neighbour preservation: the layout has non-finite (NaN or infinite) values");
  const auto high_nb = exactNeighbourGraph(points, k).indices;
  const auto low_nb = exactLayoutNeighbours(low.contiguous(), k, resolveThreads(0));
  return neighbourRecall(low_nb, high_nb);
}

std::vector<TsneQuality> exactTsneQuality(const torch::Tensor& x, const std::vector<torch::Tensor>& layouts,
                                          double perplexity, int64_t k, int64_t threads) {
  const auto points = checkedPoints(x);
  const int64_t n = points.size(0);
  checkPerplexity(perplexity, n);
  if (k < 1 || k >= n)
    throwBadInput("neighbour preservation k = " + std::to_string(k) + " must be between 1 and N - 1 = " +
                  std::to_string(n - 1));
  threads = resolveThreads(threads);
  torch::NoGradGuard no_grad;
  const int64_t kp = std::min<int64_t>(n - 1, static_cast<int64_t>(std::floor(3 * perplexity)));
  // One exact search serves both P (its first 3 x perplexity columns) and the k nearest.
  const auto centred = (points - points.mean(0)).contiguous();
  const auto graph = exactNeighbourGraph(centred, std::max(k, kp)).indices;
  const Affinities p = affinitiesFromNeighbours(centred, graph, perplexity, threads);
  const AffinityStats stats = statsOf(p);
  const auto high = graph.slice(1, 0, k).contiguous();
  std::vector<TsneQuality> out;
  for (size_t l = 0; l < layouts.size(); ++l) {
    const auto layout = checkedLayout(layouts[l], n, "layout " + std::to_string(l + 1));
    TsneQuality q;
    q.kl_divergence = klOfLayout(p, stats, layout.data_ptr<double>(), threads, /*exact_z=*/true);
    q.neighbour_preservation = neighbourRecall(exactLayoutNeighbours(layout, k, threads), high);
    out.push_back(q);
  }
  return out;
}

}  // namespace studio
