#pragma once
// The runs browser: every run in the runs folder's index (shared with contrastive-cli),
// kept current while the page is shown, with the selected runs' curves overlaid.
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <QHash>
#include <QIcon>
#include <QPointer>
#include <QString>
#include <QStringList>
#include <QWidget>

class QFileSystemWatcher;
class QFrame;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QSplitter;
class QStackedWidget;
class QStandardItemModel;
class QTableView;
class QTimer;

namespace studio {

class CurvePlot;
class ExportDialog;
class RunIndex;
class RunFilterProxy;
struct RunRecord;

// A table of all runs from <runs_dir>/runs.sqlite with open, resume, delete and show-folder
// actions, and below it the loss and kNN curves of the selected runs (one colour per run)
// and the first selected run's config.json. The index is re-read when the folder or the
// database changes on disk and every few seconds while the page is visible, so runs started
// or finished by the CLI appear on their own. Metrics files are read off the GUI thread and
// only for the selected runs. Errors are shown in the page and emitted, never thrown.
class RunsPage : public QWidget {
  Q_OBJECT
 public:
  enum Column { NameColumn, StatusColumn, DatasetColumn, MethodColumn, BestKnnColumn, StartedColumn, DurationColumn, ColumnCount };

  static constexpr int kPollIntervalMs = 2000;  // while visible
  static constexpr int kDebounceMs = 200;       // file-change bursts become one refresh
  static constexpr int kMaxOverlaidRuns = 10;   // more curves than colours help nobody

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
  CurvePlot* lossPlot() const { return loss_plot_; }
  CurvePlot* knnPlot() const { return knn_plot_; }
  QPlainTextEdit* configView() const { return config_view_; }
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
  struct LoadedRun;
  struct Details;

  void buildUi();
  void openIndex(bool rebuild);
  void watchRunsDir();
  void rewatchFiles();
  void scheduleRefresh();
  void applyRecords(const std::vector<RunRecord>& records);
  void updateButtons();
  void updatePlaceholder();
  void onSelectionChanged();
  void requestDetails();
  void showDetails(const Details& details);
  void clearDetails();
  QString metricsSignature(const QStringList& dirs) const;
  QStringList selectedRunIds() const;
  int sourceRowOfPath(const QString& run_dir) const;
  void showMessage(const QString& message, bool error);
  void clearMessage();
  void reportError(const QString& message);
  void reportIndexError(const QString& message);
  QIcon statusIcon(const QString& status);

  QString runs_dir_;
  std::unique_ptr<RunIndex> index_;
  QStandardItemModel* model_;
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
  QLabel* details_hint_;
  CurvePlot* loss_plot_;
  CurvePlot* knn_plot_;
  QPlainTextEdit* config_view_;

  // What the plots show: the runs (folders) in legend order and how many points of each
  // are plotted, so that a re-read of a growing run only appends the new points.
  QStringList shown_dirs_;
  QHash<QString, int> shown_loss_points_;
  QHash<QString, int> shown_knn_points_;
  QString shown_signature_;
  QString shown_config_dir_;
  uint64_t details_generation_ = 0;
  bool details_in_flight_ = false;

  // Problems a poll would find again every few seconds; each is reported once.
  QString index_error_;
  QString last_details_error_;
  QHash<QString, QIcon> status_icons_;
  std::function<bool(const QString&)> confirm_;
};

}  // namespace studio
