#include "core/eval/tsne_tensor.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/base/error.h"
#include "core/eval/tsne_fft.h"

namespace studio {

namespace {

constexpr double kEntropyTolerance = 1e-5;  // as the CPU calibration
constexpr int kMaxCalibrationSteps = 200;
constexpr int kConvergenceCheckEvery = 8;  // calibration steps between host synchronisations
constexpr int64_t kBlockElements = int64_t{1} << 24;
constexpr double kMinGain = 0.01, kGainIncrease = 0.2, kGainDecay = 0.8;

torch::TensorOptions doubleOn(const torch::Device& device) {
  return torch::TensorOptions().dtype(torch::kFloat64).device(device);
}

// Lagrange weights [N, 2, p] of positions f [N, 2] in [0, 1] for the nodes (k + 0.5) / p.
torch::Tensor lagrangeWeightsTensor(const torch::Tensor& f, int64_t p) {
  std::vector<torch::Tensor> columns;
  for (int64_t k = 0; k < p; ++k) {
    const double tk = (static_cast<double>(k) + 0.5) / static_cast<double>(p);
    auto w = torch::ones_like(f);
    for (int64_t m = 0; m < p; ++m) {
      if (m == k) continue;
      const double tm = (static_cast<double>(m) + 0.5) / static_cast<double>(p);
      w = w * (f - tm) / (tk - tm);
    }
    columns.push_back(w);
  }
  return torch::stack(columns, 2);
}

// sum_j w_ij^2 (y_i - y_j) and Z = sum_{i != j} w_ij by FFT interpolation (core/eval/tsne_fft.h
// explains the scheme; the grid is the same).
std::pair<torch::Tensor, double> fftRepulsion(const torch::Tensor& y, const TsneOptions& options) {
  const int64_t n = y.size(0);
  const double lower = y.min().item<double>(), upper = y.max().item<double>();
  const InterpolationGrid grid = interpolationGrid(lower, upper, options.interpolation_points,
                                                   options.min_interpolation_boxes, options.interpolation_box_size);
  const int64_t p = grid.points_per_box, g = grid.nodesPerSide(), m = 2 * g;
  const double centre = grid.lower + 0.5 * grid.box_width * static_cast<double>(grid.boxes);

  const auto relative = (y - grid.lower) / grid.box_width;
  const auto box = relative.floor().clamp(0, static_cast<double>(grid.boxes - 1));
  const auto weights = lagrangeWeightsTensor(relative - box, p);  // [N, 2, p]
  const auto box_index = box.to(torch::kLong);
  const auto steps = torch::arange(p, box_index.options());
  const auto node_x = box_index.select(1, 0).unsqueeze(1) * p + steps;  // [N, p]
  const auto node_y = box_index.select(1, 1).unsqueeze(1) * p + steps;
  const auto node = (node_y.unsqueeze(2) * g + node_x.unsqueeze(1)).reshape({n, p * p});  // row a, column b
  const auto node_weight =
      (weights.select(1, 1).unsqueeze(2) * weights.select(1, 0).unsqueeze(1)).reshape({n, p * p});

  const auto c = y - centre;
  const auto charges = torch::stack({torch::ones({n}, y.options()), c.select(1, 0), c.select(1, 1),
                                     (c * c).sum(1)},
                                    1);  // [N, 4]
  auto spread = torch::zeros({g * g, 4}, y.options());
  spread.index_add_(0, node.reshape(-1), (node_weight.unsqueeze(2) * charges.unsqueeze(1)).reshape({n * p * p, 4}));

  // The kernel at every node offset in circulant order (index i < g: offset i, i > g: i - m).
  const auto index = torch::arange(m, y.options());
  const auto offset = torch::where(index < g, index, m - index) * grid.nodeSpacing();
  auto kernel = 1.0 / (1.0 + offset.pow(2).unsqueeze(1) + offset.pow(2).unsqueeze(0));
  kernel = kernel * kernel;
  kernel.select(0, g).zero_();
  kernel.select(1, g).zero_();
  const auto planes = spread.t().reshape({4, g, g});
  const auto potentials = torch::fft::irfft2(torch::fft::rfft2(planes, std::vector<int64_t>{m, m}) *
                                                 torch::fft::rfft2(kernel),
                                             std::vector<int64_t>{m, m})
                              .slice(1, 0, g)
                              .slice(2, 0, g)
                              .reshape({4, g * g})
                              .t();  // [G^2, 4]
  const auto phi = (potentials.index_select(0, node.reshape(-1)).reshape({n, p * p, 4}) * node_weight.unsqueeze(2))
                       .sum(1);  // [N, 4]
  const auto phi0 = phi.select(1, 0).unsqueeze(1);
  const auto repulsive = c * phi0 - phi.slice(1, 1, 3);
  const auto z_i = (1.0 + (c * c).sum(1)) * phi.select(1, 0) - 2.0 * (c * phi.slice(1, 1, 3)).sum(1) + phi.select(1, 3);
  return {repulsive, z_i.sum().item<double>() - static_cast<double>(n)};
}

// The same sums over all pairs, a block of rows at a time.
std::pair<torch::Tensor, double> exactRepulsion(const torch::Tensor& y) {
  const int64_t n = y.size(0);
  const int64_t block = std::clamp<int64_t>(kBlockElements / (2 * n), 1, n);
  auto repulsive = torch::empty_like(y);
  auto z = torch::zeros({}, y.options());
  for (int64_t start = 0; start < n; start += block) {
    const int64_t end = std::min(n, start + block);
    const auto diff = y.slice(0, start, end).unsqueeze(1) - y.unsqueeze(0);  // [B, N, 2]
    auto w = 1.0 / (1.0 + (diff * diff).sum(2));
    w.diagonal(start).zero_();  // no self-interaction
    z += w.sum();
    repulsive.slice(0, start, end).copy_(((w * w).unsqueeze(2) * diff).sum(1));
  }
  return {repulsive, z.item<double>()};
}

double checkedZ(double z) {
  if (!(z > 0) || !std::isfinite(z))
    throwFailure("t-SNE: the kernel sum Z = " + std::to_string(z) + " is not positive: the layout diverged");
  return z;
}

}  // namespace

TensorAffinities tensorAffinities(const torch::Tensor& x, double perplexity, const torch::Device& device) {
  torch::NoGradGuard no_grad;
  const int64_t n = x.size(0);
  const int64_t k = std::min<int64_t>(n - 1, static_cast<int64_t>(std::floor(3 * perplexity)));
  auto points = x.to(device, torch::kFloat32);
  points = points - points.mean(0);
  const auto squared = (points * points).sum(1);

  // Exact neighbours, then their squared distances in float64 (the expansion picks them but
  // is not precise enough to calibrate on).
  const int64_t block = std::clamp<int64_t>(kBlockElements / n, 1, n);
  std::vector<torch::Tensor> parts;
  for (int64_t start = 0; start < n; start += block) {
    const int64_t end = std::min(n, start + block);
    auto d2 = torch::addmm(squared.slice(0, start, end).unsqueeze(1) + squared.unsqueeze(0),
                           points.slice(0, start, end), points.t(), 1, -2);
    d2.diagonal(start).fill_(std::numeric_limits<float>::infinity());
    parts.push_back(std::get<1>(d2.topk(k, 1, /*largest=*/false, /*sorted=*/true)));
  }
  const auto neighbours = torch::cat(parts);  // [N, k]
  const auto points64 = points.to(torch::kFloat64);
  const int64_t rows_per_block = std::clamp<int64_t>(kBlockElements / (k * x.size(1)), 1, n);
  std::vector<torch::Tensor> distance_parts;
  for (int64_t start = 0; start < n; start += rows_per_block) {
    const int64_t end = std::min(n, start + rows_per_block);
    const auto nb = neighbours.slice(0, start, end);
    const auto diff = points64.slice(0, start, end).unsqueeze(1) -
                      points64.index_select(0, nb.reshape(-1)).reshape({end - start, k, -1});
    distance_parts.push_back((diff * diff).sum(2));
  }
  const auto d2 = torch::cat(distance_parts);
  const auto shifted = d2 - std::get<0>(d2.min(1, true));

  // Binary search on every row's precision at once, with the CPU's steps (core/eval/tsne.cpp).
  const double target = std::log(perplexity);
  const auto mean = shifted.mean(1);
  auto beta = torch::where(mean > 0, 1.0 / mean, torch::ones_like(mean));
  auto lo = torch::zeros_like(beta);
  auto hi = torch::full_like(beta, std::numeric_limits<double>::infinity());
  auto done = torch::zeros(beta.sizes(), beta.options().dtype(torch::kBool));
  for (int step = 0; step < kMaxCalibrationSteps; ++step) {
    const auto weights = torch::exp(-beta.unsqueeze(1) * shifted);
    const auto sum = weights.sum(1);
    const auto entropy = sum.log() + beta * (weights * shifted).sum(1) / sum;
    const auto difference = entropy - target;
    done = done | (difference.abs() < kEntropyTolerance);
    const auto flat = (difference > 0) & ~done;  // too flat: sharpen
    const auto sharp = (difference <= 0) & ~done;
    const auto new_lo = torch::where(flat, beta, lo);
    const auto new_hi = torch::where(sharp, beta, hi);
    const auto up = torch::where(torch::isinf(hi), 2 * beta, 0.5 * (beta + hi));
    beta = torch::where(flat, up, torch::where(sharp, 0.5 * (lo + beta), beta));
    lo = new_lo;
    hi = new_hi;
    if ((step + 1) % kConvergenceCheckEvery == 0 && done.all().item<bool>()) break;
  }
  auto conditional = torch::exp(-beta.unsqueeze(1) * shifted);
  conditional = conditional / conditional.sum(1, true);

  // P = (P_cond + P_cond^T) / 2N; coalescing sums the pairs present both ways.
  const auto row_index = torch::arange(n, neighbours.options()).repeat_interleave(k);
  const auto column_index = neighbours.reshape(-1);
  const auto values = conditional.reshape(-1) / (2.0 * static_cast<double>(n));
  const auto indices = torch::stack({torch::cat({row_index, column_index}), torch::cat({column_index, row_index})});
  const auto sparse = torch::sparse_coo_tensor(indices, torch::cat({values, values}), {n, n}).coalesce();
  TensorAffinities p;
  p.n = n;
  p.rows = sparse.indices()[0].contiguous();
  p.columns = sparse.indices()[1].contiguous();
  p.values = sparse.values().contiguous();
  p.sum_p = p.values.sum().item<double>();
  p.sum_p_log_p = (p.values * p.values.log()).sum().item<double>();
  return p;
}

TensorAffinities toTensorAffinities(const Affinities& p, const torch::Device& device) {
  TensorAffinities t;
  t.n = p.n;
  const auto nnz = static_cast<int64_t>(p.columns.size());
  auto rows = torch::empty({nnz}, torch::kLong);
  int64_t* r = rows.data_ptr<int64_t>();
  for (int64_t i = 0; i < p.n; ++i)
    for (int64_t e = p.row_offsets[static_cast<size_t>(i)]; e < p.row_offsets[static_cast<size_t>(i + 1)]; ++e) r[e] = i;
  t.rows = rows.to(device);
  t.columns = torch::from_blob(const_cast<int64_t*>(p.columns.data()), {nnz}, torch::kLong).to(device, false, true);
  t.values = torch::from_blob(const_cast<double*>(p.values.data()), {nnz}, torch::kFloat64).to(device, false, true);
  for (const double v : p.values) {
    t.sum_p += v;
    if (v > 0) t.sum_p_log_p += v * std::log(v);
  }
  return t;
}

torch::Tensor tensorGradient(const TensorAffinities& p, const torch::Tensor& y, double exaggeration, bool exact,
                             const TsneOptions& options, double* kl_out) {
  torch::NoGradGuard no_grad;
  const auto diff = y.index_select(0, p.rows) - y.index_select(0, p.columns);
  const auto w = 1.0 / (1.0 + (diff * diff).sum(1));
  const auto attractive = torch::zeros_like(y).index_add_(0, p.rows, (p.values * w).unsqueeze(1) * diff);
  const auto [repulsive, z_raw] = exact ? exactRepulsion(y) : fftRepulsion(y, options);
  const double z = checkedZ(z_raw);
  if (kl_out) *kl_out = p.sum_p_log_p - (p.values * w.log()).sum().item<double>() + p.sum_p * std::log(z);
  return 4.0 * (exaggeration * attractive - repulsive / z);
}

TsneResult runTensorTsne(const TensorAffinities& p, const torch::Tensor& initial, const TsneOptions& options, bool exact,
                         const TsneCallback& callback) {
  torch::NoGradGuard no_grad;
  const auto device = p.values.device();
  const int64_t n = p.n;
  auto y = initial.to(doubleOn(device)).clone();
  auto update = torch::zeros_like(y);
  auto gains = torch::ones_like(y);
  for (int64_t it = 0; it < options.iterations; ++it) {
    const bool early = it < options.exaggeration_iterations;
    const double exaggeration = early ? options.early_exaggeration : 1.0;
    const bool report = callback && it > 0 && it % options.callback_every == 0;
    double kl = -1;
    const auto grad = tensorGradient(p, y, exaggeration, exact, options, report ? &kl : nullptr);
    if (report) {
      const auto layout = y.to(torch::kCPU, torch::kFloat32);
      if (!callback(TsneProgress{it, kl, layout})) return TsneResult{layout, it, kl, true};
    }
    const double momentum = early ? options.momentum_early : options.momentum_late;
    const double learning_rate =
        options.learning_rate > 0 ? options.learning_rate : static_cast<double>(n) / exaggeration / 4.0;
    const auto flipped = update.sign() != grad.sign();
    gains = torch::where(flipped, gains + kGainIncrease, gains * kGainDecay + kMinGain);
    update = momentum * update - learning_rate * gains * grad;
    if (options.max_step_norm > 0) {
      const auto norm = update.norm(2, 1, true);
      update = update * torch::where(norm > options.max_step_norm, options.max_step_norm / norm, torch::ones_like(norm));
    }
    y += update;
    y -= y.mean(0, true);
  }
  TsneResult result;
  double kl = -1;
  tensorGradient(p, y, 1.0, exact, options, &kl);
  result.layout = y.to(torch::kCPU, torch::kFloat32);
  result.iterations_done = options.iterations;
  result.kl_divergence = kl;
  result.stopped = false;
  if (callback && options.iterations > 0 && options.iterations % options.callback_every == 0)
    callback(TsneProgress{options.iterations, result.kl_divergence, result.layout});
  return result;
}

}  // namespace studio
