#include "app/studio/engine_controller.h"

#include <QCoreApplication>

namespace studio {

EngineController::EngineController(QObject* parent) : QObject(parent) {
  qRegisterMetaType<MetricsBatch>();
  qRegisterMetaType<SnapshotPtr>();
  qRegisterMetaType<RunSummary>();
}

EngineController::~EngineController() {
  if (thread_) {
    stopAndWait(-1);
  }
}

bool EngineController::start(const ExperimentConfig& config, const QString& runs_dir) {
  if (busy()) return false;
  return launch(new TrainingWorker(config, runs_dir, QString(), nullptr));
}

bool EngineController::resume(const QString& runs_dir, const QString& run_dir) {
  if (busy()) return false;
  return launch(new TrainingWorker(ExperimentConfig{}, runs_dir, run_dir, nullptr));
}

bool EngineController::launch(TrainingWorker* worker) {
  control_ = std::make_shared<RunControl>();
  worker->setControl(control_);
  auto* thread = new QThread(this);
  thread->setObjectName(QStringLiteral("training"));
  worker->moveToThread(thread);
  connect(thread, &QThread::started, worker, &TrainingWorker::run);
  // Signals from the worker arrive queued: the worker lives on the training thread.
  connect(worker, &TrainingWorker::started, this, [this](const QString& dir, const QString& config_json) {
    run_dir_ = dir;
    if (state_ == State::Starting) setState(State::Running);
    Q_EMIT runStarted(dir, config_json);
  });
  connect(worker, &TrainingWorker::metrics, this, &EngineController::metricsReceived);
  connect(worker, &TrainingWorker::snapshot, this, &EngineController::snapshotReceived);
  connect(worker, &TrainingWorker::finished, this, [this](const RunSummary& s) { Q_EMIT runFinished(s); });
  connect(worker, &TrainingWorker::failed, this,
          [this](const QString& message, const QString& dir) { Q_EMIT runFailed(message, dir); });
  // The worker's run() returns after finished/failed; then the thread ends and cleans up.
  // quit() is called directly on the training thread (it is thread-safe): queued to this
  // thread it would never run while stopAndWait() blocks here, and wait() would not return.
  connect(worker, &TrainingWorker::finished, thread, &QThread::quit, Qt::DirectConnection);
  connect(worker, &TrainingWorker::failed, thread, &QThread::quit, Qt::DirectConnection);
  connect(thread, &QThread::finished, worker, &QObject::deleteLater);
  connect(thread, &QThread::finished, this, &EngineController::onThreadFinished);
  thread_ = thread;
  run_dir_.clear();
  setState(State::Starting);
  thread->start();
  return true;
}

void EngineController::pause() {
  if (state_ != State::Running && state_ != State::Starting) return;
  control_->pause();
  setState(State::Paused);
}

void EngineController::resumePaused() {
  if (state_ != State::Paused) return;
  control_->resume();
  setState(State::Running);
}

void EngineController::stop() {
  if (!busy() || state_ == State::Stopping) return;
  control_->cancel();
  // A paused trainer must wake up to see the cancel (requestCancel does that too).
  setState(State::Stopping);
}

bool EngineController::stopAndWait(int timeout_ms) {
  if (!thread_) return true;
  stop();
  QThread* thread = thread_;
  const bool ended = timeout_ms < 0 ? thread->wait() : thread->wait(QDeadlineTimer(timeout_ms));
  if (ended) {
    // Deliver the worker's last queued signals (finished, final metrics) before returning.
    QCoreApplication::sendPostedEvents(this);
    onThreadFinished();
  }
  return ended;
}

void EngineController::onThreadFinished() {
  if (!thread_) return;
  QThread* thread = thread_;
  thread_ = nullptr;
  thread->deleteLater();
  control_.reset();
  setState(State::Idle);
}

void EngineController::setState(State state) {
  if (state_ == state) return;
  state_ = state;
  Q_EMIT stateChanged(state);
}

}  // namespace studio
