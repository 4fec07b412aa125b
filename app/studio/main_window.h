#pragma once
// The studio's main window: a page per step of the work (data, augmentations, training,
// monitor, embeddings, runs, results), the experiment being edited, and the engine controller.
// It wires pages to the engine and never waits on it, except when closing during a run.
#include <functional>

#include <QMainWindow>

#include "app/studio/data_page.h"
#include "app/studio/engine_controller.h"
#include "core/experiment/config.h"

class QAction;
class QLabel;
class QListWidget;
class QMenu;
class QStackedWidget;

namespace studio {

class AugmentPage;
class EmbeddingsPage;
class MonitorPage;
class Preferences;
class ResultsPage;
class RunsPage;
class TrainingPage;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  enum Page {
    DataPageIndex,
    AugmentPageIndex,
    TrainingPageIndex,
    MonitorPageIndex,
    EmbeddingsPageIndex,
    RunsPageIndex,
    ResultsPageIndex
  };

  // The first window's size where the screen allows (then the user's, remembered), and the
  // smallest at which every page stays usable (a 1024x640 screen, less the window frame).
  static constexpr int kPreferredWidth = 1440, kPreferredHeight = 900;
  static constexpr int kMinimumWidth = 900, kMinimumHeight = 600;

  explicit MainWindow(Preferences* preferences, QWidget* parent = nullptr);
  ~MainWindow() override;

  // The experiment as the pages currently describe it.
  ExperimentConfig currentExperiment() const;
  void setExperiment(const ExperimentConfig& config);
  bool openExperiment(const QString& path);        // false (and a message) when unreadable
  bool saveExperiment(const QString& path);
  QString experimentPath() const { return experiment_path_; }

  void startTraining();
  void togglePause();
  void stopTraining();
  void openRun(const QString& run_dir);
  void resumeRun(const QString& run_dir);
  void showPage(Page page);

  // Tests answer the "stop the run and quit?" question instead of a person.
  void setCloseConfirmation(std::function<bool(const QString& question)> confirm) { confirm_ = std::move(confirm); }
  QString lastError() const { return last_error_; }

  EngineController* engine() const { return engine_; }
  DataPage* dataPage() const { return data_page_; }
  AugmentPage* augmentPage() const { return augment_page_; }
  TrainingPage* trainingPage() const { return training_page_; }
  MonitorPage* monitorPage() const { return monitor_page_; }
  EmbeddingsPage* embeddingsPage() const { return embeddings_page_; }
  RunsPage* runsPage() const { return runs_page_; }
  ResultsPage* resultsPage() const { return results_page_; }
  QAction* startAction() const { return start_action_; }
  QAction* pauseAction() const { return pause_action_; }
  QAction* stopAction() const { return stop_action_; }

 protected:
  void closeEvent(QCloseEvent* event) override;

 private:
  ExperimentConfig defaultExperiment();
  void createActions();
  void createMenus();
  void createStatusBar();
  void connectEngine();
  void applyPreset(const QString& resource);
  void updateActions();
  void updateTitle();
  void fitToScreen();
  void updateRecentMenu();
  void reportError(const QString& title, const QString& message);
  void markDirty();
  void showPreferences();
  void updateNavigationIcons();
  void showAbout();

  Preferences* preferences_;
  EngineController* engine_;
  QListWidget* nav_;
  QStackedWidget* stack_;
  DataPage* data_page_;
  AugmentPage* augment_page_;
  TrainingPage* training_page_;
  MonitorPage* monitor_page_;
  EmbeddingsPage* embeddings_page_;
  RunsPage* runs_page_;
  ResultsPage* results_page_;
  QAction* start_action_ = nullptr;
  QAction* pause_action_ = nullptr;
  QAction* stop_action_ = nullptr;
  QMenu* recent_menu_ = nullptr;
  QLabel* state_label_;
  QLabel* speed_label_;
  QLabel* eta_label_;
  QLabel* device_label_;
  QLabel* memory_label_;
  ExperimentConfig experiment_;  // what the pages do not edit (monitor k, bank sizes, ...)
  QString experiment_path_;
  bool dirty_ = false;
  QString last_error_;
  QString run_title_;
  qint64 total_steps_ = 0;
  std::function<bool(const QString&)> confirm_;
};

}  // namespace studio
