#pragma once
// One-off engine work (loading a dataset, importing a folder, rendering a preview, a
// t-SNE layout) off the GUI thread. The work runs on Qt's global thread pool; its result,
// error or progress comes back to the GUI thread as a queued call on `context`, and is
// dropped if `context` has been destroyed meanwhile. studio::Error and std::exception
// messages become the error text: nothing thrown by the engine reaches the event loop.
#include <atomic>
#include <functional>
#include <memory>
#include <utility>

#include <QMetaObject>
#include <QObject>
#include <QPointer>
#include <QString>
#include <QThreadPool>

#include "core/base/error.h"

namespace studio {

// Shared between a task and its owner: the owner cancels, the task polls.
struct TaskControl {
  std::atomic<bool> cancel{false};
  bool cancelled() const { return cancel.load(); }
};
using TaskHandle = std::shared_ptr<TaskControl>;

// Posts fn to run on context's thread later (no-op when context is gone by then).
template <typename Fn>
void postTo(QObject* context, Fn&& fn) {
  QPointer<QObject> guard(context);
  QMetaObject::invokeMethod(
      context, [guard, fn = std::forward<Fn>(fn)]() mutable { if (guard) fn(); }, Qt::QueuedConnection);
}

// Runs work(control) on the pool. done(result) or failed(message, cancelled) then runs on
// context's thread. Returns the control so the caller can cancel.
template <typename Result>
TaskHandle runInBackground(QObject* context, std::function<Result(TaskControl&)> work,
                           std::function<void(Result)> done,
                           std::function<void(const QString& message, bool cancelled)> failed) {
  auto control = std::make_shared<TaskControl>();
  QPointer<QObject> guard(context);
  QThreadPool::globalInstance()->start([=]() {
    QString error;
    bool cancelled = false;
    std::shared_ptr<Result> result;
    try {
      result = std::make_shared<Result>(work(*control));
    } catch (const Error& e) {
      error = QString::fromStdString(e.what());
      cancelled = e.kind() == ErrorKind::Cancelled;
    } catch (const std::exception& e) {
      error = QString::fromStdString(e.what());
    } catch (...) {
      error = QStringLiteral("unknown error");
    }
    if (!guard) return;
    QMetaObject::invokeMethod(
        guard.data(),
        [guard, result, error, cancelled, done, failed]() {
          if (!guard) return;
          if (result) {
            if (done) done(std::move(*result));
          } else if (failed) {
            failed(error, cancelled);
          }
        },
        Qt::QueuedConnection);
  });
  return control;
}

}  // namespace studio
