#include "core/train/training_monitor.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/base/npy.h"
#include "core/eval/knn.h"

namespace studio {

TrainingMonitor::TrainingMonitor(const ExperimentConfig& config, const DatasetSplits& data, const RunFolder& folder,
                                 int64_t steps_per_epoch, SnapshotCallback on_snapshot)
    : config_(config), data_(data), folder_(folder), steps_per_epoch_(steps_per_epoch),
      on_snapshot_(std::move(on_snapshot)) {
  const MonitorConfig& m = config.monitor;
  probe_ = makeKnnProbe(data, m.bank_size, m.query_size, config.train.seed);
  if (probe_.usable())
    raw_pixel_knn_ = probeAccuracy(probe_, rawPixelFeatures(probe_.bank_images), rawPixelFeatures(probe_.query_images), m);
  every_steps_ = m.every_epochs > 0
                     ? std::max<int64_t>(1, static_cast<int64_t>(std::llround(m.every_epochs * steps_per_epoch)))
                     : 0;
  if (on_snapshot_) map_set_ = makeMapSet(data, m.map_size, config.train.seed);
  map_images_ = toImageTable(map_set_);
}

void TrainingMonitor::publishMap(ContrastiveModel& model, const Augmenter& augmenter, const torch::Device& device,
                                 const torch::Tensor& query_features, int64_t step) {
  if (map_set_.size() == 0) return;
  torch::Tensor features;
  if (query_features.defined() && data_.eval.size() > 0 && query_features.size(0) >= map_set_.size())
    features = query_features.slice(0, 0, map_set_.size());
  else
    features = embedImages(model, augmenter, map_set_.images, device);
  on_snapshot_(makeSnapshot(features, map_images_, step, double(step) / steps_per_epoch_));
}

TrainingMonitor::Result TrainingMonitor::evaluate(ContrastiveModel& model, const Augmenter& augmenter,
                                                  const torch::Device& device, int64_t step, double& best_knn,
                                                  bool final_eval) {
  Result result;
  if (!probe_.usable()) {
    publishMap(model, augmenter, device, {}, step);
    return result;
  }
  const auto t0 = std::chrono::steady_clock::now();
  torch::Tensor query_features;
  const double acc = encoderProbeAccuracy(probe_, model, augmenter, device, config_.monitor, &query_features);
  publishMap(model, augmenter, device, query_features, step);
  best_knn = std::max(best_knn, acc);
  result.measured = true;
  result.knn = acc;
  MetricsRecord& r = result.record;
  r.kind = RecordKind::Eval;
  r.step = step;
  r.epoch = double(step) / steps_per_epoch_;
  r.values = {{"knn_top1", acc},
              {"raw_pixel_knn_top1", raw_pixel_knn_},
              {"best_knn_top1", best_knn},
              {"eval_seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()}};
  if (final_eval) {
    const auto e = query_features.contiguous();
    writeNpy(folder_.embeddingsPath(), "<f4", {e.size(0), e.size(1)}, e.data_ptr<float>());
    const auto l = probe_.query_labels.contiguous();
    writeNpy(folder_.embeddingLabelsPath(), "<i8", {l.size(0)}, l.data_ptr<int64_t>());
  }
  return result;
}

}  // namespace studio
