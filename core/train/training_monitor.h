#pragma once
// The kNN monitor of a training run: the raw-pixel baseline once, then the encoder's kNN
// top-1 on a fixed probe (core/eval/knn_probe.h) at the start, every monitor.every_epochs
// and at the end, where the probe's query features are saved for later evaluation; and the
// embedding map's snapshots for the studio at each evaluation.
#include <cstdint>
#include <functional>

#include <torch/types.h>

#include "core/augment/augment.h"
#include "core/base/metrics_record.h"
#include "core/data/dataset.h"
#include "core/eval/embedding_map.h"
#include "core/eval/knn_probe.h"
#include "core/experiment/config.h"
#include "core/model/method.h"
#include "core/runs/run_folder.h"

namespace studio {

class TrainingMonitor {
 public:
  using SnapshotCallback = std::function<void(const EmbeddingSnapshot&)>;
  // Draws the probe and the map set (only with on_snapshot) and measures the baseline.
  TrainingMonitor(const ExperimentConfig& config, const DatasetSplits& data, const RunFolder& folder,
                  int64_t steps_per_epoch, SnapshotCallback on_snapshot);

  double rawPixelAccuracy() const { return raw_pixel_knn_; }  // -1 without a usable probe
  bool periodic() const { return every_steps_ > 0; }
  // Whether the periodic evaluation falls after this step (the last step has its own).
  bool dueAfter(int64_t step, int64_t last_step) const {
    return every_steps_ > 0 && step % every_steps_ == 0 && step != last_step;
  }

  struct Result {
    bool measured = false;  // false without a usable probe (the map is still published)
    MetricsRecord record;   // kind "eval": knn_top1, raw_pixel_knn_top1, best_knn_top1, eval_seconds
    double knn = -1;
  };
  // best_knn is the run's best so far, updated. final_eval also writes the query features
  // and labels into the run folder.
  Result evaluate(ContrastiveModel& model, const Augmenter& augmenter, const torch::Device& device, int64_t step,
                  double& best_knn, bool final_eval);

 private:
  void publishMap(ContrastiveModel& model, const Augmenter& augmenter, const torch::Device& device,
                  const torch::Tensor& query_features, int64_t step);

  const ExperimentConfig& config_;
  const DatasetSplits& data_;
  const RunFolder& folder_;
  int64_t steps_per_epoch_;
  SnapshotCallback on_snapshot_;
  KnnProbe probe_;
  double raw_pixel_knn_ = -1;
  int64_t every_steps_ = 0;
  Dataset map_set_;
  ImageTable map_images_;
};

}  // namespace studio
