#include "core/eval/knn_probe.h"

#include <torch/torch.h>

#include <algorithm>

#include "core/eval/knn.h"

namespace studio {

KnnProbe makeKnnProbe(const DatasetSplits& data, int64_t bank_size, int64_t query_size, int64_t seed) {
  KnnProbe p;
  if (!data.train.labeled() || data.eval.size() == 0 || !data.eval.labeled()) return p;
  auto gen = makeStepGenerator(seed, 0, /*stream=*/7);
  const int64_t nb = bank_size > 0 ? std::min(bank_size, data.train.size()) : data.train.size();
  const auto bank_idx = torch::randperm(data.train.size(), gen, torch::kLong).slice(0, 0, nb);
  const int64_t nq = query_size > 0 ? std::min(query_size, data.eval.size()) : data.eval.size();
  p.bank_images = data.train.images.index_select(0, bank_idx);
  p.bank_labels = data.train.labels.index_select(0, bank_idx);
  p.query_images = data.eval.images.slice(0, 0, nq);
  p.query_labels = data.eval.labels.slice(0, 0, nq);
  p.num_classes = data.train.numClasses();
  return p;
}

double probeAccuracy(const KnnProbe& probe, const torch::Tensor& bank_features, const torch::Tensor& query_features,
                     const MonitorConfig& monitor) {
  KnnOptions o;
  o.k = monitor.k;
  o.temperature = monitor.temperature;
  return knnAccuracy(bank_features, probe.bank_labels, query_features, probe.query_labels, probe.num_classes, o);
}

double encoderProbeAccuracy(const KnnProbe& probe, ContrastiveModel& model, const Augmenter& augmenter,
                            const torch::Device& device, const MonitorConfig& monitor, torch::Tensor* query_features) {
  const auto bank = embedImages(model, augmenter, probe.bank_images, device);
  const auto queries = embedImages(model, augmenter, probe.query_images, device);
  if (query_features) *query_features = queries;
  return probeAccuracy(probe, bank, queries, monitor);
}

Dataset makeMapSet(const DatasetSplits& data, int64_t map_size, int64_t seed) {
  if (map_size <= 0) return {};
  if (data.eval.size() > 0) return data.eval.subset(torch::arange(std::min(map_size, data.eval.size()), torch::kInt64));
  auto gen = makeStepGenerator(seed, 0, /*stream=*/8);
  const int64_t m = std::min(map_size, data.train.size());
  return data.train.subset(torch::randperm(data.train.size(), gen, torch::kLong).slice(0, 0, m));
}

EmbeddingSnapshot makeSnapshot(const torch::Tensor& features, const ImageTable& images, int64_t step, double epoch) {
  EmbeddingSnapshot s;
  const auto f = features.to(torch::kCPU, torch::kFloat32).contiguous();
  s.step = step;
  s.epoch = epoch;
  s.rows = f.size(0);
  s.dims = f.size(1);
  s.features.assign(f.data_ptr<float>(), f.data_ptr<float>() + f.numel());
  s.images = images;
  return s;
}

}  // namespace studio
