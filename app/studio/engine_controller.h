#pragma once
// Owns the training thread. Starts a TrainingWorker on a fresh QThread per run, forwards
// its signals, and turns the GUI's start/pause/resume/stop into requests the trainer
// honours within one step. No call here waits on the engine, except stopAndWait(), which
// the main window uses when the user closes it during a run.
#include <memory>

#include <QObject>
#include <QPointer>
#include <QString>
#include <QThread>

#include "app/studio/training_worker.h"

namespace studio {

class EngineController : public QObject {
  Q_OBJECT
 public:
  enum class State { Idle, Starting, Running, Paused, Stopping };
  Q_ENUM(State)

  explicit EngineController(QObject* parent = nullptr);
  ~EngineController() override;  // cancels a run and waits for its final checkpoint

  // False (and nothing happens) while a run is going on.
  bool start(const ExperimentConfig& config, const QString& runs_dir);
  bool resume(const QString& runs_dir, const QString& run_dir);
  void pause();
  void resumePaused();
  void stop();
  // Cancels and waits up to timeout_ms for the run to checkpoint and end. True when it did.
  bool stopAndWait(int timeout_ms);

  State state() const { return state_; }
  bool busy() const { return state_ != State::Idle; }
  QString currentRunDir() const { return run_dir_; }

 Q_SIGNALS:
  void stateChanged(studio::EngineController::State state);
  void runStarted(const QString& run_dir, const QString& config_json);
  void metricsReceived(const studio::MetricsBatch& batch);
  void snapshotReceived(const studio::SnapshotPtr& snapshot);
  void runFinished(const studio::RunSummary& summary);
  void runFailed(const QString& message, const QString& run_dir);

 private:
  bool launch(TrainingWorker* worker);
  void setState(State state);
  void onThreadFinished();

  State state_ = State::Idle;
  QString run_dir_;
  QPointer<QThread> thread_;
  std::shared_ptr<RunControl> control_;
};

}  // namespace studio
