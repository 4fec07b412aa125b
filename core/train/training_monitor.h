#pragma once
// The monitor of a training run: the raw-pixel baseline once, then at the start, every
// monitor.every_epochs and at the end, the encoder's kNN top-1 on a fixed probe
// (core/eval/knn_probe.h; at the end its query features are saved for later evaluation), the
// embeddings' health (core/eval/embedding_health.h: collapse shows there first, labels or
// not) with a plain-language warning when they collapse, and the embedding map's snapshots
// for the studio.
#include <cstdint>
#include <functional>

#include <torch/types.h>

#include "core/augment/augment.h"
#include "core/base/metrics_record.h"
#include "core/data/dataset.h"
#include "core/eval/embedding_health.h"
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
    bool measured = false;  // whether record holds anything (the map is published regardless)
    // kind "eval": knn_top1, raw_pixel_knn_top1, best_knn_top1 (with a labelled probe), the
    // health's values (EmbeddingHealth::appendTo), eval_seconds
    MetricsRecord record;
    double knn = -1;  // -1 without a usable probe
    EmbeddingHealth health;
    // Set at the first evaluation (after step 0) that finds the embeddings collapsing, and
    // again only after they have recovered in between: a warning, not a drumbeat.
    std::string collapse_warning;
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
  torch::Tensor health_images_;  // the probe's queries, else held-out or training images
  bool collapse_warned_ = false;
};

}  // namespace studio
