#pragma once
// The engine's side of the GUI: a QObject that lives on its own QThread and runs one
// training run there. It forwards the trainer's records as queued signals, throttled to a
// few batches a second so the GUI thread never handles one signal per step.
#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include <QElapsedTimer>
#include <QMetaType>
#include <QObject>
#include <QString>

#include "core/experiment/config.h"
#include "core/eval/embedding_map.h"
#include "core/base/metrics_record.h"

namespace studio {

class Trainer;

using MetricsBatch = std::vector<MetricsRecord>;
using SnapshotPtr = std::shared_ptr<const EmbeddingSnapshot>;

// What the GUI thread may ask of a running worker, from any thread, without waiting: the
// requests are remembered until the trainer exists, then forwarded to its atomic flags.
class RunControl {
 public:
  void pause();
  void resume();
  void cancel();
  bool cancelled() const { return cancel_.load(); }
  void attach(Trainer* trainer);  // nullptr detaches
 private:
  std::mutex mutex_;  // guards trainer_ only; held for a pointer read or write
  Trainer* trainer_ = nullptr;
  std::atomic<bool> pause_{false}, cancel_{false};
};

struct RunSummary {
  QString status;  // finished | cancelled
  QString run_dir;
  double best_knn = -1, final_knn = -1, raw_pixel_knn = -1, seconds = 0;
  qint64 steps = 0;
};

class TrainingWorker : public QObject {
  Q_OBJECT
 public:
  // A new run of `config` under runs_dir, or (resume_dir non-empty) the run in that folder.
  TrainingWorker(ExperimentConfig config, QString runs_dir, QString resume_dir, std::shared_ptr<RunControl> control);
  void setControl(std::shared_ptr<RunControl> control) { control_ = std::move(control); }

 public Q_SLOTS:
  void run();

 Q_SIGNALS:
  void started(const QString& run_dir, const QString& config_json);
  void metrics(const studio::MetricsBatch& batch);
  void snapshot(const studio::SnapshotPtr& snapshot);
  void finished(const studio::RunSummary& summary);
  void failed(const QString& message, const QString& run_dir);

 private:
  bool onRecord(const MetricsRecord& record, bool paused);
  void flush();

  ExperimentConfig config_;
  QString runs_dir_, resume_dir_;
  std::shared_ptr<RunControl> control_;
  MetricsBatch pending_;
  QElapsedTimer since_flush_;
};

}  // namespace studio

Q_DECLARE_METATYPE(studio::MetricsBatch)
Q_DECLARE_METATYPE(studio::SnapshotPtr)
Q_DECLARE_METATYPE(studio::RunSummary)
