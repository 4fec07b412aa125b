#include "app/studio/training_worker.h"

#include "core/base/error.h"
#include "core/train/trainer.h"

namespace studio {

namespace {
constexpr qint64 kFlushIntervalMs = 100;  // at most ~10 batches a second cross threads
}

void RunControl::pause() {
  pause_.store(true);
  std::lock_guard<std::mutex> lock(mutex_);
  if (trainer_) trainer_->requestPause();
}

void RunControl::resume() {
  pause_.store(false);
  std::lock_guard<std::mutex> lock(mutex_);
  if (trainer_) trainer_->requestResume();
}

void RunControl::cancel() {
  cancel_.store(true);
  std::lock_guard<std::mutex> lock(mutex_);
  if (trainer_) trainer_->requestCancel();
}

void RunControl::attach(Trainer* trainer) {
  std::lock_guard<std::mutex> lock(mutex_);
  trainer_ = trainer;
  if (!trainer_) return;
  // Requests made before the trainer existed (while the dataset was loading) still count.
  if (pause_.load()) trainer_->requestPause();
  if (cancel_.load()) trainer_->requestCancel();
}

TrainingWorker::TrainingWorker(ExperimentConfig config, QString runs_dir, QString resume_dir,
                               std::shared_ptr<RunControl> control)
    : config_(std::move(config)),
      runs_dir_(std::move(runs_dir)),
      resume_dir_(std::move(resume_dir)),
      control_(std::move(control)) {}

void TrainingWorker::run() {
  std::unique_ptr<Trainer> trainer;
  QString run_dir;
  try {
    if (resume_dir_.isEmpty()) {
      trainer = std::make_unique<Trainer>(config_, runs_dir_.toStdString());
    } else {
      trainer = std::make_unique<Trainer>(RunFolder::open(runs_dir_.toStdString(), resume_dir_.toStdString()));
    }
    run_dir = QString::fromStdString(trainer->folder().path());
    Q_EMIT started(run_dir, QString::fromStdString(trainer->config().toJson().dump(2)));
    trainer->setSnapshotCallback([this](const EmbeddingSnapshot& s) {
      flush();
      Q_EMIT snapshot(std::make_shared<const EmbeddingSnapshot>(s));
    });
    control_->attach(trainer.get());
    Trainer* t = trainer.get();
    since_flush_.start();
    const TrainOutcome outcome = trainer->run([this, t](const MetricsRecord& r) { return onRecord(r, t->isPaused()); });
    control_->attach(nullptr);
    flush();
    RunSummary summary;
    summary.status = QString::fromStdString(outcome.status);
    summary.run_dir = run_dir;
    summary.best_knn = outcome.best_knn;
    summary.final_knn = outcome.final_knn;
    summary.raw_pixel_knn = outcome.raw_pixel_knn;
    summary.seconds = outcome.seconds;
    summary.steps = outcome.steps;
    Q_EMIT finished(summary);
  } catch (const std::exception& e) {
    // studio::Error and anything else the engine throws end here, never in the event loop.
    control_->attach(nullptr);
    flush();
    Q_EMIT failed(QString::fromStdString(e.what()), run_dir);
  }
}

bool TrainingWorker::onRecord(const MetricsRecord& record, bool paused) {
  pending_.push_back(record);
  if (record.kind != RecordKind::Step || paused || since_flush_.elapsed() >= kFlushIntervalMs) flush();
  return !control_->cancelled();
}

void TrainingWorker::flush() {
  if (pending_.empty()) return;
  MetricsBatch batch;
  batch.swap(pending_);
  since_flush_.restart();
  Q_EMIT metrics(batch);
}

}  // namespace studio
