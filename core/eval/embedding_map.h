#pragma once
// The embedding map the studio draws while a run trains: embeddings of a fixed set of
// images (published by the trainer at each evaluation, or recomputed from a run's last
// checkpoint), their 2-D layout (t-SNE warm-started from the previous refresh, or PCA),
// and nearest neighbours of any point. Torch-free: the GUI includes it.
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/data/image_table.h"
#include "core/runs/run_folder.h"

namespace studio {

struct EmbeddingSnapshot {
  int64_t step = 0;
  double epoch = 0;
  int64_t rows = 0, dims = 0;
  std::vector<float> features;  // rows x dims, L2-normalised
  ImageTable images;            // the same rows: images, labels, class names
};

struct MapLayoutOptions {
  enum class Method { Tsne, Pca } method = Method::Tsne;
  double perplexity = 30.0;
  int64_t iterations = 750;       // from PCA initialisation; a warm start runs warm_iterations
  int64_t warm_iterations = 300;  // without early exaggeration: points move, clusters keep their place
  int64_t seed = 0;
  int64_t threads = 0;            // 0 = all cores
  int64_t callback_every = 25;
  bool measure_quality = true;    // KL divergence and 10-NN preservation at the end
};

struct MapLayout {
  std::vector<float> xy;  // rows x 2
  int64_t iterations = 0;
  double kl_divergence = -1;           // t-SNE only
  double neighbour_preservation = -1;  // share of 10 nearest neighbours kept in 2-D
  bool stopped = false;                // the callback asked to stop
};

// Sees the layout every callback_every iterations; returning false stops early.
using MapLayoutCallback = std::function<bool(int64_t iteration, const std::vector<float>& xy)>;

// initial: the previous layout of the same rows (rows x 2) for a warm start, or empty.
// Throws BadInput when the snapshot has fewer than 4 rows or initial has the wrong size.
MapLayout computeMapLayout(const EmbeddingSnapshot& snapshot, const MapLayoutOptions& options,
                           const std::vector<float>& initial = {}, const MapLayoutCallback& callback = {});

// The k rows most similar to row `index` (cosine), itself excluded, most similar first.
std::vector<std::pair<int64_t, float>> nearestInMap(const EmbeddingSnapshot& snapshot, int64_t index, int64_t k);

// The map of a run from its last checkpoint (or of the untrained encoder when it has none
// yet and random_init is true). map_size 0 = the run's monitor.map_size.
EmbeddingSnapshot embedRunMap(const RunFolder& folder, int64_t map_size, const std::string& device,
                              bool random_init = false);

}  // namespace studio
