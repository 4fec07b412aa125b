#pragma once
// t-SNE of an embedding into 2-D (van der Maaten & Hinton 2008; Barnes-Hut as in van der
// Maaten 2014 and openTSNE): sparse kNN affinities with a per-point perplexity calibration,
// then gradient descent with gains, momentum and early exaggeration. CPU only, multi-threaded
// over points; the hot loops run on plain arrays.
#include <cstdint>
#include <functional>
#include <vector>

#include <torch/types.h>

namespace studio {

// Optimisation settings; the defaults are openTSNE's.
struct TsneOptions {
  double perplexity = 30.0;
  int64_t iterations = 750;  // total, including early exaggeration
  int64_t exaggeration_iterations = 250;
  double early_exaggeration = 12.0;
  double learning_rate = 0;  // 0 = auto: max(N / early_exaggeration / 4, 50) (as openTSNE/sklearn "auto")
  double momentum_early = 0.5, momentum_late = 0.8;
  double theta = 0.5;  // Barnes-Hut accuracy: a cell is summarised when width / distance < theta
  enum class Method { Exact, BarnesHut } method = Method::BarnesHut;
  // Drives the only random part: initial coordinates along axes where x has no variance to
  // project (the PCA initialisation and the rest of the algorithm are deterministic).
  int64_t seed = 0;
  int64_t threads = 0;          // 0 = torch's intra-op thread count
  int64_t callback_every = 50;  // iterations between callbacks
};

// What a callback sees: the layout after `iteration` steps and its KL divergence.
struct TsneProgress {
  int64_t iteration;
  double kl_divergence;  // < 0 when not computed
  const torch::Tensor& layout;  // [N, 2] float32
};
using TsneCallback = std::function<bool(const TsneProgress&)>;  // false = stop early

// The layout and how the optimisation ended.
struct TsneResult {
  torch::Tensor layout;  // [N, 2] float32
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

// Each point's k = min(N - 1, 3 * perplexity) nearest neighbours (euclidean, exact, chunked so
// memory stays O(N*k + chunk*N)), conditional p_j|i calibrated by binary search on the
// precision so that the entropy is log(perplexity) (tolerance 1e-5, at most 200 steps), then
// P_ij = (p_j|i + p_i|j) / 2N. threads: 0 = torch's intra-op thread count.
Affinities computeAffinities(const torch::Tensor& x, double perplexity, int64_t threads);

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

// Gradient of KL(P || Q) with respect to the layout y [N, 2], as float64 [N, 2]:
// 4 * (exaggeration * attractive - repulsive / Z). exactGradient sums all pairs (O(N^2)) and
// writes the KL divergence (of the unexaggerated P) to kl_out when it is given;
// barnesHutGradient approximates the repulsion on a quadtree (theta = 0 is exact).
torch::Tensor exactGradient(const Affinities& p, const torch::Tensor& y, double exaggeration, double* kl_out);
torch::Tensor barnesHutGradient(const Affinities& p, const torch::Tensor& y, double exaggeration, double theta,
                                int64_t threads);
// KL(P || Q) of a layout: exact Q normalisation for N <= 20000, Barnes-Hut estimate of Z above.
double klDivergence(const Affinities& p, const torch::Tensor& y);

// Quality: the share of each point's k nearest neighbours in x (euclidean) that are also
// among its k nearest in the layout, averaged over points (exact kNN, chunked).
double neighbourPreservation(const torch::Tensor& x, const torch::Tensor& layout, int64_t k = 10);

}  // namespace studio
