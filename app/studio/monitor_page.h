#pragma once
// Live training curves: loss (raw and smoothed), learning rate, kNN accuracy against the
// raw-pixel baseline, the embeddings' health (spread, effective rank, alignment, uniformity)
// with the engine's collapse warning above the plots, and throughput. Records arrive in
// batches from the engine; the plots
// redraw on their own timers, never once per step.
#include <QWidget>

#include "app/studio/run_curves.h"
#include "app/studio/training_worker.h"

class QLabel;

namespace studio {

class CurvePlot;

class MonitorPage : public QWidget {
  Q_OBJECT
 public:
  explicit MonitorPage(QWidget* parent = nullptr);

  void clear(const QString& run_title);
  void addRecords(const MetricsBatch& batch);

  CurvePlot* lossPlot() const { return loss_; }
  CurvePlot* lrPlot() const { return lr_; }
  CurvePlot* knnPlot() const { return knn_; }
  CurvePlot* speedPlot() const { return speed_; }
  CurvePlot* healthPlot() const { return health_; }
  CurvePlot* geometryPlot() const { return geometry_; }
  QString summaryText() const;
  QString collapseWarning() const;  // empty while none is shown

 private:
  CurvePlot* loss_;
  CurvePlot* lr_;
  CurvePlot* knn_;
  CurvePlot* speed_;
  CurvePlot* health_;
  CurvePlot* geometry_;
  QLabel* summary_;
  QLabel* warning_;
  QString title_;
  RunCurves curves_;  // the run so far; its points are drawn and cleared batch by batch
};

}  // namespace studio
