#pragma once
// The curves a run's metrics records draw, read in one place for the Monitor page (live, one
// batch of records at a time) and the Runs page (a run's metrics file): loss, learning rate
// and speed per step, kNN accuracy and the embeddings' health per evaluation, the raw-pixel
// baseline, the collapse warning, and where the run stands for the summary line.
#include <QVector>

#include <cstdint>
#include <string>
#include <vector>

#include "core/base/metrics_record.h"

namespace studio {

struct RunCurves {
  // Points gathered since the last clearPoints(): one per step record with a loss...
  QVector<double> step, loss, lr, images_per_s;
  // ...and one per evaluation with a kNN accuracy (percent).
  QVector<double> knn_step, knn_percent;
  double raw_pixel_knn_percent = -1;  // the latest baseline; -1 while there is none
  // ...and one per evaluation with the embeddings' health (core/eval/embedding_health.h):
  // spread and effective rank over the dimensions (both 0..1), alignment and uniformity.
  QVector<double> health_step, spread, rank_fraction, alignment, uniformity;

  // Where the run stands, over everything added.
  int64_t last_step = 0, total_steps = 0;  // total_steps from the run's info record, 0 if none
  double last_epoch = 0, last_loss = 0;
  double best_knn = -1;  // fraction; -1 before the first evaluation
  double last_spread = -1;  // the latest spread; -1 before it is measured
  // The engine's collapse warning while it holds: cleared by a later healthy evaluation.
  std::string collapse_warning;

  void add(const std::vector<MetricsRecord>& records);
  void clearPoints();  // the points only: the summary fields keep counting
};

}  // namespace studio
