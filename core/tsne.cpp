#include "core/tsne.h"

#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <iomanip>
#include <limits>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

#include "core/error.h"
#include "core/pca.h"

namespace studio {

namespace {

constexpr double kEntropyTolerance = 1e-5;
constexpr int kMaxCalibrationSteps = 200;
constexpr int64_t kDistanceBlockElements = int64_t{1} << 24;  // one [chunk, N] float block: 64 MB
constexpr int64_t kExactNormalisationLimit = 20000;           // above it klDivergence estimates Z
constexpr double kKlTheta = 0.5;
constexpr double kMinGain = 0.01;
constexpr double kGainIncrease = 0.2;
constexpr double kGainDecay = 0.8;
constexpr double kInitialStd = 1e-4;
// Cells this deep are ~1e-15 of the root: only duplicated points get there, and they stay
// together in one leaf whose points are then visited one by one.
constexpr int kMaxTreeDepth = 48;
constexpr int kTraversalStack = 4 * kMaxTreeDepth + 8;
// Points handed to a worker at a time: small enough to balance dense and sparse regions.
constexpr int64_t kPointsPerTask = 128;

std::string formatNumber(double v) {
  std::ostringstream out;
  out << std::setprecision(6) << v;
  return out.str();
}

std::string shapeOf(const torch::Tensor& t) {
  std::ostringstream out;
  out << t.sizes();
  return out.str();
}

int64_t resolveThreads(int64_t threads) {
  if (threads < 0) throwBadInput("t-SNE thread count must be 0 (automatic) or positive, got " + std::to_string(threads));
  return threads > 0 ? threads : std::max<int64_t>(1, at::get_num_threads());
}

// Runs body(begin, end) over [0, n) in blocks of `grain` handed out to up to `threads`
// workers (the caller is one of them). Every index is written by exactly one worker, so the
// results do not depend on the scheduling; reductions are done by the caller afterwards.
template <class Body>
void parallelBlocks(int64_t n, int64_t threads, int64_t grain, const Body& body) {
  if (n <= 0) return;
  const int64_t blocks = (n + grain - 1) / grain;
  const int64_t workers = std::min(threads, blocks);
  if (workers <= 1) {
    body(int64_t{0}, n);
    return;
  }
  std::atomic<int64_t> next{0};
  const auto work = [&]() {
    for (;;) {
      const int64_t b = next.fetch_add(1);
      if (b >= blocks) return;
      body(b * grain, std::min(n, (b + 1) * grain));
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(static_cast<size_t>(workers - 1));
  for (int64_t t = 1; t < workers; ++t) {
    try {
      pool.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // the system refused a thread: the ones we have finish the work
    }
  }
  work();
  for (auto& thread : pool) thread.join();
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

// Indices [N, k] (int64) of each row's k nearest other rows, nearest first. Distances come
// from |a|^2 + |b|^2 - 2ab one block of rows at a time, so memory stays O(N*k + chunk*N);
// callers centre the points first to keep the cancellation in that expansion small.
torch::Tensor nearestNeighbours(const torch::Tensor& points, int64_t k) {
  const int64_t n = points.size(0);
  const auto squared = (points * points).sum(1);
  const int64_t block = std::clamp<int64_t>(kDistanceBlockElements / n, 1, n);
  std::vector<torch::Tensor> parts;
  for (int64_t start = 0; start < n; start += block) {
    const int64_t end = std::min(n, start + block);
    auto d2 = torch::addmm(squared.slice(0, start, end).unsqueeze(1) + squared.unsqueeze(0),
                           points.slice(0, start, end), points.t(), /*beta=*/1, /*alpha=*/-2);
    d2.diagonal(start).fill_(std::numeric_limits<double>::infinity());  // a point is not its own neighbour
    parts.push_back(std::get<1>(d2.topk(k, 1, /*largest=*/false, /*sorted=*/true)));
  }
  return torch::cat(parts).contiguous();
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
    double min_x = y[0], max_x = y[0], min_y = y[1], max_y = y[1];
    for (int64_t i = 1; i < n; ++i) {
      min_x = std::min(min_x, y[2 * i]);
      max_x = std::max(max_x, y[2 * i]);
      min_y = std::min(min_y, y[2 * i + 1]);
      max_y = std::max(max_y, y[2 * i + 1]);
    }
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

// Per-point results of one gradient evaluation, kept between iterations to avoid reallocating.
struct GradientWork {
  std::vector<double> attractive, repulsive, kernel_sum, p_log_w;
  QuadTree tree;
};

// Writes the gradient at y (2N values, interleaved x/y) to grad and returns the KL divergence
// of the unexaggerated P when want_kl (else -1). Exact: all pairs; otherwise Barnes-Hut.
double evaluateGradient(const Affinities& p, const AffinityStats& stats, const double* y, double exaggeration,
                        bool exact, double theta, int64_t threads, bool want_kl, GradientWork& work, double* grad) {
  const int64_t n = p.n;
  work.attractive.resize(static_cast<size_t>(2 * n));
  work.repulsive.resize(static_cast<size_t>(2 * n));
  work.kernel_sum.resize(static_cast<size_t>(n));
  work.p_log_w.resize(static_cast<size_t>(n));
  if (!exact) work.tree.build(y, n);
  const double theta2 = theta * theta;
  const int64_t* offsets = p.row_offsets.data();
  const int64_t* columns = p.columns.data();
  const double* values = p.values.data();

  const auto body = [&](int64_t begin, int64_t end) {
    for (int64_t position = begin; position < end; ++position) {
      const int64_t i = exact ? position : work.tree.pointAt(position);
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
      work.attractive[static_cast<size_t>(2 * i)] = ax;
      work.attractive[static_cast<size_t>(2 * i + 1)] = ay;
      work.repulsive[static_cast<size_t>(2 * i)] = rx;
      work.repulsive[static_cast<size_t>(2 * i + 1)] = ry;
      work.kernel_sum[static_cast<size_t>(i)] = z;
      work.p_log_w[static_cast<size_t>(i)] = p_log_w;
    }
  };
  // An exact row costs O(N): smaller blocks keep the workers balanced.
  parallelBlocks(n, threads, exact ? 16 : kPointsPerTask, body);

  // Reductions in index order, so the result does not depend on the thread count or schedule.
  double z = 0, sum_p_log_w = 0;
  for (int64_t i = 0; i < n; ++i) {
    z += work.kernel_sum[static_cast<size_t>(i)];
    sum_p_log_w += work.p_log_w[static_cast<size_t>(i)];
  }
  for (int64_t d = 0; d < 2 * n; ++d)
    grad[d] = 4.0 * (exaggeration * work.attractive[static_cast<size_t>(d)] -
                     work.repulsive[static_cast<size_t>(d)] / z);
  // KL = sum P log P - sum P log q with q = w / Z.
  return want_kl ? stats.sum_p_log_p - sum_p_log_w + stats.sum_p * std::log(z) : -1.0;
}

double klOfLayout(const Affinities& p, const AffinityStats& stats, const double* y, int64_t threads) {
  GradientWork work;
  std::vector<double> grad(static_cast<size_t>(2 * p.n));
  return evaluateGradient(p, stats, y, 1.0, p.n <= kExactNormalisationLimit, kKlTheta, threads, true, work,
                          grad.data());
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
  if (!std::isfinite(o.theta) || o.theta < 0) throwBadInput("t-SNE theta must be >= 0, got " + formatNumber(o.theta));
  if (o.callback_every < 1)
    throwBadInput("t-SNE callback_every must be at least 1, got " + std::to_string(o.callback_every));
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

Affinities computeAffinities(const torch::Tensor& x, double perplexity, int64_t threads) {
  const auto points = checkedPoints(x);
  const int64_t n = points.size(0), d = points.size(1);
  checkPerplexity(perplexity, n);
  threads = resolveThreads(threads);
  const int64_t k = std::min<int64_t>(n - 1, static_cast<int64_t>(std::floor(3 * perplexity)));
  torch::NoGradGuard no_grad;

  const auto centred = (points - points.mean(0)).contiguous();
  const auto neighbours = nearestNeighbours(centred, k);
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

TsneResult runTsne(const torch::Tensor& x, const TsneOptions& options, const torch::Tensor& initial,
                   const TsneCallback& callback) {
  const auto points = checkedPoints(x);
  const int64_t n = points.size(0);
  checkPerplexity(options.perplexity, n);
  checkOptions(options);
  torch::Tensor start;
  if (initial.defined()) start = checkedLayout(initial, n, "t-SNE initial layout");
  const int64_t threads = resolveThreads(options.threads);
  torch::NoGradGuard no_grad;

  const Affinities p = computeAffinities(points, options.perplexity, threads);
  const AffinityStats stats = statsOf(p);
  std::vector<double> y;
  if (start.defined()) {
    y.assign(start.data_ptr<double>(), start.data_ptr<double>() + 2 * n);
  } else {
    y = pcaInitialisation(points, options.seed);
  }

  const double learning_rate = options.learning_rate > 0
                                   ? options.learning_rate
                                   : std::max(static_cast<double>(n) / options.early_exaggeration / 4.0, 50.0);
  const bool exact = options.method == TsneOptions::Method::Exact;
  std::vector<double> grad(static_cast<size_t>(2 * n)), update(grad.size(), 0.0), gains(grad.size(), 1.0);
  GradientWork work;

  for (int64_t it = 0; it < options.iterations; ++it) {
    const bool early = it < options.exaggeration_iterations;
    if (it > 0 && it == options.exaggeration_iterations) {
      // The second phase starts afresh, as openTSNE and sklearn run it as a separate
      // optimisation: the exaggerated phase's velocity would overshoot the relaxed forces.
      std::fill(update.begin(), update.end(), 0.0);
      std::fill(gains.begin(), gains.end(), 1.0);
    }
    // The callback for iteration `it` reports the layout after `it` steps, whose KL the
    // gradient evaluation below computes at almost no extra cost.
    const bool report = callback && it > 0 && it % options.callback_every == 0;
    const double kl = evaluateGradient(p, stats, y.data(), early ? options.early_exaggeration : 1.0, exact,
                                       options.theta, threads, report, work, grad.data());
    if (report) {
      const auto layout = layoutTensor(y, torch::kFloat32);
      if (!callback(TsneProgress{it, kl, layout})) return TsneResult{layout, it, kl, true};
    }

    const double momentum = early ? options.momentum_early : options.momentum_late;
    for (size_t d = 0; d < y.size(); ++d) {
      const double g = grad[d];
      gains[d] = (g * update[d] < 0) ? gains[d] + kGainIncrease : gains[d] * kGainDecay;
      gains[d] = std::max(gains[d], kMinGain);
      update[d] = momentum * update[d] - learning_rate * gains[d] * g;
      y[d] += update[d];
    }
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
  result.kl_divergence = klOfLayout(p, stats, y.data(), threads);
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
  const double kl = evaluateGradient(p, statsOf(p), layout.data_ptr<double>(), exaggeration, true, 0.0,
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
  evaluateGradient(p, statsOf(p), layout.data_ptr<double>(), exaggeration, false, theta, resolveThreads(threads),
                   false, work, grad.data_ptr<double>());
  return grad;
}

double klDivergence(const Affinities& p, const torch::Tensor& y) {
  checkAffinities(p);
  const auto layout = checkedLayout(y, p.n, "t-SNE layout");
  return klOfLayout(p, statsOf(p), layout.data_ptr<double>(), resolveThreads(0));
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
  const auto high_nb = nearestNeighbours((points - points.mean(0)).contiguous(), k);
  const auto low_nb = nearestNeighbours((low - low.mean(0)).contiguous(), k);
  const int64_t* a = high_nb.data_ptr<int64_t>();
  const int64_t* b = low_nb.data_ptr<int64_t>();
  std::vector<int64_t> ra(static_cast<size_t>(k)), rb(static_cast<size_t>(k));
  int64_t shared = 0;
  for (int64_t i = 0; i < n; ++i) {
    std::copy_n(a + i * k, k, ra.begin());
    std::copy_n(b + i * k, k, rb.begin());
    std::sort(ra.begin(), ra.end());
    std::sort(rb.begin(), rb.end());
    for (size_t u = 0, v = 0; u < ra.size() && v < rb.size();) {
      if (ra[u] < rb[v]) {
        ++u;
      } else if (rb[v] < ra[u]) {
        ++v;
      } else {
        ++shared;
        ++u;
        ++v;
      }
    }
  }
  return static_cast<double>(shared) / static_cast<double>(n * k);
}

}  // namespace studio
