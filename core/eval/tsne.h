#pragma once
// t-SNE of an embedding into 2-D (van der Maaten & Hinton 2008), as openTSNE runs it: sparse
// kNN affinities with a per-point perplexity calibration, then gradient descent with gains,
// momentum, early exaggeration and a step-size limit. The repulsive term is exact (all
// pairs, small N), Barnes-Hut (van der Maaten 2014) or FFT-accelerated interpolation
// (FIt-SNE, Linderman et al. 2019; core/eval/tsne_fft.h). On the CPU the hot loops run on plain
// arrays over std::threads; on any other device (CUDA) the same algorithm runs as torch
// tensor ops (core/eval/tsne_tensor.h), which the CPU can also run for comparison.
#include <cstdint>
#include <functional>
#include <vector>

#include <torch/types.h>

namespace studio {

// How the kNN graph behind the affinities is found.
enum class TsneNeighbours {
  Auto,         // exact below 20,000 points, approximate from there
  Exact,        // blocked matrix products, O(N^2 D)
  Approximate,  // k-means cells + neighbour descent (core/eval/neighbour_graph.h)
};

// Optimisation settings; the defaults are openTSNE 1.0's.
struct TsneOptions {
  double perplexity = 30.0;
  int64_t iterations = 750;  // total, including early exaggeration
  int64_t exaggeration_iterations = 250;
  double early_exaggeration = 12.0;
  // 0 = auto, per phase: N / exaggeration / 4 (openTSNE's N / exaggeration, for its gradient
  // without the factor 4 this one carries). A positive value is used in both phases.
  double learning_rate = 0;
  double momentum_early = 0.8, momentum_late = 0.8;
  double max_step_norm = 5;  // a point moves at most this far per iteration (0 = no limit)
  enum class Method {
    Auto,       // Barnes-Hut below 10,000 points, FFT interpolation from there (as openTSNE)
    Exact,      // all pairs, O(N^2) per iteration: at most kTsneExactLimit points
    BarnesHut,  // quadtree, O(N log N); CPU only
    Fft,        // interpolation on a grid + FFT, O(N); any device
  } method = Method::Auto;
  double theta = 0.5;                    // Barnes-Hut accuracy: a cell is summarised when width / distance < theta
  int64_t interpolation_points = 3;      // FFT: nodes per box and dimension
  int64_t min_interpolation_boxes = 50;  // FFT: boxes per side at least
  double interpolation_box_size = 1.0;   // FFT: box side in layout units (more boxes as the layout grows)
  TsneNeighbours neighbours = TsneNeighbours::Auto;
  // Drives the random parts: the approximate kNN's k-means and initial coordinates along axes
  // where x has no variance to project (the PCA initialisation is deterministic).
  int64_t seed = 0;
  int64_t threads = 0;          // 0 = torch's intra-op thread count
  int64_t callback_every = 50;  // iterations between callbacks
  // Where the optimisation runs. The CPU runs the native loops unless tensor_ops is set; any
  // other device runs the torch-ops implementation (Exact or Fft; Auto means Fft there).
  torch::Device device = torch::kCPU;
  bool tensor_ops = false;
};

// Exact mode refuses more points than this: O(N^2) per iteration would take minutes to hours.
constexpr int64_t kTsneExactLimit = 10000;

// What a callback sees: the layout after `iteration` steps and its KL divergence.
struct TsneProgress {
  int64_t iteration;
  double kl_divergence;  // < 0 when not computed
  const torch::Tensor& layout;  // [N, 2] float32, on the CPU
};
using TsneCallback = std::function<bool(const TsneProgress&)>;  // false = stop early

// The layout and how the optimisation ended.
struct TsneResult {
  torch::Tensor layout;  // [N, 2] float32, on the CPU
  int64_t iterations_done;
  double kl_divergence;
  bool stopped;  // the callback asked to stop before the last iteration
};

// Symmetric joint probabilities P as a sparse CSR matrix: row i's entries are
// columns/values[row_offsets[i], row_offsets[i + 1]), sorted by column. Sums to 1.
struct Affinities {
  std::vector<int64_t> row_offsets;  // n + 1 entries
  std::vector<int64_t> columns;
  std::vector<double> values;
  int64_t n = 0;
};

// Each point's k = min(N - 1, 3 * perplexity) nearest neighbours (euclidean), conditional
// p_j|i calibrated by binary search on the precision so that the entropy is log(perplexity)
// (tolerance 1e-5, at most 200 steps), then P_ij = (p_j|i + p_i|j) / 2N.
// threads: 0 = torch's intra-op thread count.
Affinities computeAffinities(const torch::Tensor& x, double perplexity, int64_t threads,
                             TsneNeighbours neighbours = TsneNeighbours::Auto, int64_t seed = 0);

// The conditional distribution of one point over its neighbours given their squared
// distances, calibrated to the perplexity; the entropy reached (in nats) goes to entropy_out
// when it is given. Exposed for the tests.
std::vector<double> conditionalRow(const std::vector<double>& squared_distances, double perplexity,
                                   double* entropy_out);

// x: [N, D] floating point, N >= 4, finite. initial: [N, 2] warm start (for example the
// previous refresh's layout), or undefined for the PCA of x scaled so that the first
// column's standard deviation is 1e-4 (openTSNE's default). The callback runs after every
// callback_every iterations; returning false stops with the current layout (stopped = true).
TsneResult runTsne(const torch::Tensor& x, const TsneOptions& options, const torch::Tensor& initial = {},
                   const TsneCallback& callback = {});

// The method runTsne uses for N points with these options (Auto resolved).
TsneOptions::Method resolvedTsneMethod(const TsneOptions& options, int64_t n);

// Gradient of KL(P || Q) with respect to the layout y [N, 2], as float64 [N, 2] on the CPU:
// 4 * (exaggeration * attractive - repulsive / Z). exactGradient sums all pairs (O(N^2)) and
// writes the KL divergence (of the unexaggerated P) to kl_out when it is given;
// barnesHutGradient approximates the repulsion on a quadtree (theta = 0 is exact);
// fftGradient by interpolation (the options' interpolation settings), and writes its KL
// estimate to kl_out when given.
torch::Tensor exactGradient(const Affinities& p, const torch::Tensor& y, double exaggeration, double* kl_out);
torch::Tensor barnesHutGradient(const Affinities& p, const torch::Tensor& y, double exaggeration, double theta,
                                int64_t threads);
torch::Tensor fftGradient(const Affinities& p, const torch::Tensor& y, double exaggeration, const TsneOptions& options,
                          double* kl_out = nullptr);
// KL(P || Q) of a layout: exact Q normalisation for N <= 20000 (or always, when exact_z), a
// Barnes-Hut estimate of Z above.
double klDivergence(const Affinities& p, const torch::Tensor& y, bool exact_z = false);

// Quality: the share of each point's k nearest neighbours in x (euclidean) that are also
// among its k nearest in the layout, averaged over points (exact kNN, chunked).
double neighbourPreservation(const torch::Tensor& x, const torch::Tensor& layout, int64_t k = 10);

// Both quality figures of layouts of x, computed exactly so that layouts from any tool can be
// compared: KL(P || Q) with P from exact neighbours at the perplexity and Q normalised over all
// pairs, and the share of each point's k nearest neighbours (exact) kept in the layout
// (exact). O(N^2) time, O(N k) memory; the neighbour search in x is done once for all layouts.
struct TsneQuality {
  double kl_divergence = -1;
  double neighbour_preservation = -1;
};
std::vector<TsneQuality> exactTsneQuality(const torch::Tensor& x, const std::vector<torch::Tensor>& layouts,
                                          double perplexity = 30.0, int64_t k = 10, int64_t threads = 0);

}  // namespace studio
