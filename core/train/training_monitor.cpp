#include "core/train/training_monitor.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/base/npy.h"
#include "core/eval/knn.h"
#include "core/methods/methods.h"

namespace studio {

namespace {
// Held-out images the health is measured on (uniformity's cost grows with their square), and
// those of them whose two augmented views alignment compares (two more forward passes each).
constexpr int64_t kHealthImages = 2048;
constexpr int64_t kAlignmentImages = 512;
}  // namespace

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
  if (probe_.usable()) {
    health_images_ = probe_.query_images.slice(0, 0, std::min(kHealthImages, probe_.query_images.size(0)));
  } else if (data.eval.size() > 1) {
    health_images_ = data.eval.images.slice(0, 0, std::min(kHealthImages, data.eval.size()));
  } else if (data.train.size() > 1) {
    auto gen = makeStepGenerator(config.train.seed, 0, /*stream=*/10);
    const int64_t count = std::min(kHealthImages, data.train.size());
    const auto sample = torch::randperm(data.train.size(), gen, torch::kLong).slice(0, 0, count);
    health_images_ = data.train.images.index_select(0, sample);
  }
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
  const auto t0 = std::chrono::steady_clock::now();
  MetricsRecord& r = result.record;
  r.kind = RecordKind::Eval;
  r.step = step;
  r.epoch = double(step) / steps_per_epoch_;

  torch::Tensor query_features, health_features;
  if (probe_.usable()) {
    const double acc = encoderProbeAccuracy(probe_, model, augmenter, device, config_.monitor, &query_features);
    best_knn = std::max(best_knn, acc);
    result.knn = acc;
    r.values = {{"knn_top1", acc}, {"raw_pixel_knn_top1", raw_pixel_knn_}, {"best_knn_top1", best_knn}};
    health_features = query_features.slice(0, 0, health_images_.size(0));
  } else if (health_images_.defined()) {
    health_features = embedImages(model, augmenter, health_images_, device);
    // The map's images are the first held-out ones too, when there are held-out images.
    if (data_.eval.size() > 1) query_features = health_features;
  }
  publishMap(model, augmenter, device, query_features, step);

  if (health_features.defined()) {
    const auto pairs = embedViewPairs(model, augmenter, health_images_.slice(0, 0, kAlignmentImages), device,
                                      config_.train.seed);
    result.health = measureEmbeddingHealth(health_features, pairs.first, pairs.second);
    result.health.appendTo(r.values);
    const bool collapsing = result.health.collapsing();
    if (collapsing && step > 0 && !collapse_warned_) {
      const MethodSpec* spec = findMethodSpec(config_.method.name);
      result.collapse_warning = collapseWarning(result.health, spec ? spec->title : config_.method.name,
                                                spec ? spec->collapse_hint : std::string());
    }
    if (step > 0) collapse_warned_ = collapsing;
  }
  result.measured = !r.values.empty();
  r.values.emplace_back("eval_seconds",
                        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  if (final_eval && probe_.usable()) {
    const auto e = query_features.contiguous();
    writeNpy(folder_.embeddingsPath(), "<f4", {e.size(0), e.size(1)}, e.data_ptr<float>());
    const auto l = probe_.query_labels.contiguous();
    writeNpy(folder_.embeddingLabelsPath(), "<i8", {l.size(0)}, l.data_ptr<int64_t>());
  }
  return result;
}

}  // namespace studio
