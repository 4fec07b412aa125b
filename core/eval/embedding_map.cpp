#include "core/eval/embedding_map.h"

#include <torch/torch.h>

#include "core/base/error.h"
#include "core/eval/evaluation.h"
#include "core/eval/pca.h"
#include "core/eval/tsne.h"

namespace studio {

namespace {

torch::Tensor featureTensor(const EmbeddingSnapshot& s) {
  if (s.rows <= 0 || s.dims <= 0 || static_cast<int64_t>(s.features.size()) != s.rows * s.dims)
    throwBadInput("embedding map: " + std::to_string(s.features.size()) + " feature values do not make " +
                  std::to_string(s.rows) + " rows of " + std::to_string(s.dims));
  return torch::from_blob(const_cast<float*>(s.features.data()), {s.rows, s.dims}, torch::kFloat32);
}

std::vector<float> toVector(const torch::Tensor& layout) {
  const auto l = layout.to(torch::kFloat32).contiguous();
  return {l.data_ptr<float>(), l.data_ptr<float>() + l.numel()};
}

}  // namespace

MapLayout computeMapLayout(const EmbeddingSnapshot& snapshot, const MapLayoutOptions& options,
                           const std::vector<float>& initial, const MapLayoutCallback& callback) {
  const torch::Tensor x = featureTensor(snapshot);
  if (snapshot.rows < 4) throwBadInput("embedding map: needs at least 4 images, got " + std::to_string(snapshot.rows));
  if (!initial.empty() && static_cast<int64_t>(initial.size()) != snapshot.rows * 2)
    throwBadInput("embedding map: the previous layout has " + std::to_string(initial.size() / 2) +
                  " points, the embeddings " + std::to_string(snapshot.rows));
  MapLayout result;
  if (options.method == MapLayoutOptions::Method::Pca) {
    const PcaResult p = pca(x, std::min<int64_t>(2, snapshot.dims));
    torch::Tensor xy = p.projected;
    if (xy.size(1) < 2) xy = torch::cat({xy, torch::zeros({xy.size(0), 1}, xy.options())}, 1);
    result.xy = toVector(xy);
    if (options.measure_quality) result.neighbour_preservation = neighbourPreservation(x, xy, 10);
    if (callback) callback(0, result.xy);
    return result;
  }
  TsneOptions o;
  o.perplexity = std::min(options.perplexity, std::max(1.0, (snapshot.rows - 1) / 3.0));
  o.seed = options.seed;
  o.threads = options.threads;
  o.callback_every = std::max<int64_t>(1, options.callback_every);
  torch::Tensor start;
  if (!initial.empty()) {
    start = torch::from_blob(const_cast<float*>(initial.data()), {snapshot.rows, 2}, torch::kFloat32).clone();
    // A warm start is already organised: exaggerating again would scatter it.
    o.iterations = options.warm_iterations;
    o.exaggeration_iterations = 0;
  } else {
    o.iterations = options.iterations;
  }
  TsneCallback forward;
  if (callback) {
    forward = [&](const TsneProgress& p) { return callback(p.iteration, toVector(p.layout)); };
  }
  const TsneResult r = runTsne(x, o, start, forward);
  result.xy = toVector(r.layout);
  result.iterations = r.iterations_done;
  result.kl_divergence = r.kl_divergence;
  result.stopped = r.stopped;
  if (options.measure_quality && !r.stopped) result.neighbour_preservation = neighbourPreservation(x, r.layout, 10);
  return result;
}

std::vector<std::pair<int64_t, float>> nearestInMap(const EmbeddingSnapshot& snapshot, int64_t index, int64_t k) {
  const torch::Tensor x = featureTensor(snapshot);
  if (index < 0 || index >= snapshot.rows)
    throwBadInput("embedding map: image " + std::to_string(index) + " is outside [0, " + std::to_string(snapshot.rows) +
                  ")");
  const Neighbours n = nearestNeighbours(x, x[index], k, index);
  std::vector<std::pair<int64_t, float>> out;
  for (size_t i = 0; i < n.indices.size(); ++i) out.emplace_back(n.indices[i], n.similarities[i]);
  return out;
}

}  // namespace studio
