#pragma once
// The runs browser: every run in the runs folder's index (shared with contrastive-cli),
// kept current while the page is shown, with the selected runs' curves overlaid.
#include <functional>
#include <memory>

#include <QPointer>
#include <QString>
#include <QStringList>
#include <QWidget>

#include "app/studio/run_details_panel.h"
#include "app/studio/runs_table_model.h"

class QFileSystemWatcher;
class QFrame;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QSplitter;
class QStackedWidget;
class QTableView;
class QTimer;

namespace studio {

class CurvePlot;
class ExportDialog;
class RunIndex;

// A table of all runs from <runs_dir>/runs.sqlite with open, resume, delete and show-folder
// actions, and below it the loss and kNN curves of the selected runs (one colour per run)
// and the first selected run's config.json. The index is re-read when the folder or the
// database changes on disk and every few seconds while the page is visible, so runs started
// or finished by the CLI appear on their own. Metrics files are read off the GUI thread and
// only for the selected runs. Errors are shown in the page and emitted, never thrown.
// The rows are a RunsTableModel seen through a RunFilterProxy; the curves and the config
// are a RunDetailsPanel, told by the page which runs to show.
class RunsPage : public QWidget {
  Q_OBJECT
 public:
  // The table's columns (RunsTableModel's), under the page's name.
  using Column = RunsTableModel::Column;
  static constexpr Column NameColumn = RunsTableModel::NameColumn;
  static constexpr Column StatusColumn = RunsTableModel::StatusColumn;
  static constexpr Column DatasetColumn = RunsTableModel::DatasetColumn;
  static constexpr Column MethodColumn = RunsTableModel::MethodColumn;
  static constexpr Column BestKnnColumn = RunsTableModel::BestKnnColumn;
  static constexpr Column StartedColumn = RunsTableModel::StartedColumn;
  static constexpr Column DurationColumn = RunsTableModel::DurationColumn;
  static constexpr Column ColumnCount = RunsTableModel::ColumnCount;

  static constexpr int kPollIntervalMs = 2000;  // while visible
  static constexpr int kDebounceMs = 200;       // file-change bursts become one refresh
  static constexpr int kMaxOverlaidRuns = RunDetailsPanel::kMaxRuns;

  explicit RunsPage(QWidget* parent = nullptr);
  ~RunsPage() override;

  // Opens the index in dir (creating it if needed), brings it in line with the run folders
  // once, and fills the table. Errors are reported, not thrown.
  void setRunsDir(const QString& dir);
  QString runsDir() const;
  // Re-reads the index; keeps the selection, the sort and the filter.
  void refresh();
  int runCount() const;  // runs in the index, whatever the filter shows
  QTableView* table() const;
  QStringList selectedRunDirs() const;  // absolute folders, in the table's order
  void selectRun(const QString& run_dir);

  // The actions behind the buttons, for menus and tests.
  void openSelected();
  void resumeSelected();
  void deleteSelected();
  void showSelectedFolder();
  // Opens the export window for the selected run (one at a time; it stays open while the
  // export runs, and shows the result or the error).
  void exportSelected();
  ExportDialog* exportDialog() const;

  // Replaces the "delete these runs?" message box (tests answer it instead of a person).
  void setDeleteConfirmation(std::function<bool(const QString& question)> confirm) { confirm_ = std::move(confirm); }

  QLineEdit* filterEdit() const { return filter_; }
  QPushButton* openButton() const { return open_button_; }
  QPushButton* resumeButton() const { return resume_button_; }
  QPushButton* deleteButton() const { return delete_button_; }
  QPushButton* showFolderButton() const { return show_folder_button_; }
  QPushButton* exportButton() const { return export_button_; }
  CurvePlot* lossPlot() const { return details_->lossPlot(); }
  CurvePlot* knnPlot() const { return details_->knnPlot(); }
  QPlainTextEdit* configView() const { return details_->configView(); }
  QString messageText() const;         // the banner above the table; empty when hidden
  QString placeholderText() const;     // the empty-state text, shown instead of the table
  bool detailsPending() const;         // a details load is scheduled or running

 Q_SIGNALS:
  void openRunRequested(const QString& run_dir);
  void resumeRunRequested(const QString& run_dir);
  void errorOccurred(const QString& message);
  // The plots and the config view now show the current selection.
  void detailsUpdated();

 protected:
  void showEvent(QShowEvent* event) override;
  void hideEvent(QHideEvent* event) override;
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  void buildUi();
  void openIndex(bool rebuild);
  void watchRunsDir();
  void rewatchFiles();
  void scheduleRefresh();
  void updateButtons();
  void updatePlaceholder();
  void onSelectionChanged();
  void requestDetails();
  QStringList selectedRunIds() const;
  void showMessage(const QString& message, bool error);
  void clearMessage();
  void reportError(const QString& message);
  void reportIndexError(const QString& message);

  QString runs_dir_;
  std::unique_ptr<RunIndex> index_;
  RunsTableModel* model_;
  RunFilterProxy* proxy_;
  QFileSystemWatcher* watcher_;
  QTimer* poll_timer_;
  QTimer* debounce_timer_;
  QTimer* details_timer_;

  QFrame* banner_;
  QLabel* banner_icon_;
  QLabel* banner_text_;
  QLineEdit* filter_;
  QLabel* count_label_;
  QStackedWidget* view_stack_;
  QTableView* table_;
  QLabel* placeholder_;
  QPushButton* open_button_;
  QPushButton* resume_button_;
  QPushButton* delete_button_;
  QPushButton* show_folder_button_;
  QPushButton* export_button_;
  QPointer<ExportDialog> export_dialog_;
  QSplitter* splitter_;
  RunDetailsPanel* details_;

  // Problems a poll would find again every few seconds; each is reported once.
  QString index_error_;
  std::function<bool(const QString&)> confirm_;
};

}  // namespace studio
