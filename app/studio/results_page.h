#pragma once
// What a run's representation buys, measured: the label-efficiency study (table and plot of
// accuracy against the number of labels, every arm with its spread over seeds), the per-class
// accuracy and confusion matrix behind any cell of it, and near-duplicates and train/test
// leaks with the images side by side. Studies and scans run in the background with progress
// and cancel; a study saved in the run folder is shown when the run is opened.
#include <QString>
#include <QWidget>

#include "app/studio/background_task.h"
#include "core/eval/duplicate_scan.h"
#include "core/eval/run_study.h"
#include "core/eval/study_result.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QListWidget;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTableWidget;
class QTabWidget;

namespace studio {

class ClassAccuracyPlot;
class StudyPlot;

class ResultsPage : public QWidget {
  Q_OBJECT
 public:
  explicit ResultsPage(QWidget* parent = nullptr);
  ~ResultsPage() override;

  // The run the page measures; shows its saved study, if any. An empty dir clears the page.
  void setRun(const QString& run_dir);
  QString runDir() const { return run_dir_; }
  void setDevice(const QString& device) { device_ = device; }

  // The study settings in the form, and setting them (tests, presets).
  RunStudyOptions studyOptions() const;
  void setStudyOptions(const RunStudyOptions& options);
  void startStudy();
  void startDuplicateScan();
  void setScanSizes(qint64 bank, qint64 queries);
  void cancel();
  bool busy() const { return static_cast<bool>(task_); }

  const StudyResult& study() const { return study_; }
  const DuplicateScan& scan() const { return scan_; }
  QString statusText() const;
  void showCell(int cell);  // per-class accuracy and confusion of a study cell

  StudyPlot* studyPlot() const { return study_plot_; }
  QTableWidget* studyTable() const { return study_table_; }
  QComboBox* cellChooser() const { return cell_chooser_; }
  ClassAccuracyPlot* classPlot() const { return class_plot_; }
  QTableWidget* confusionTable() const { return confusion_; }
  QListWidget* leakList() const { return leak_list_; }
  QListWidget* duplicateList() const { return duplicate_list_; }
  QLabel* scanSummary() const { return scan_summary_; }
  QPushButton* runStudyButton() const { return run_study_; }
  QPushButton* cancelButton() const { return cancel_; }
  QProgressBar* progressBar() const { return progress_; }
  QTabWidget* tabs() const { return tabs_; }

 Q_SIGNALS:
  void studyFinished();
  void scanFinished();
  void taskFailed(const QString& message, bool cancelled);

 private:
  void showStudy();
  void showScan();
  void setBusy(bool busy, const QString& what);
  void fail(const QString& what, const QString& message, bool cancelled);

  QString run_dir_;
  QString device_ = QStringLiteral("auto");
  qint64 query_size_ = 10000;  // held-out images a study scores (set with the options)
  StudyResult study_;
  DuplicateScan scan_;
  TaskHandle task_;

  QLabel* run_label_;
  QLineEdit* fractions_;
  QSpinBox* seeds_;
  QSpinBox* bank_;
  QCheckBox* pretrained_;
  QCheckBox* random_init_;
  QCheckBox* raw_pixels_;
  QCheckBox* scratch_;    // supervised arms (core/eval/supervised.h): off by default, they train networks
  QCheckBox* finetuned_;
  QSpinBox* supervised_epochs_;
  FinetuneOptions finetune_;  // the rest of the supervised arms' settings, kept as set
  QCheckBox* linear_probe_;
  QCheckBox* knn_;
  QPushButton* run_study_;
  QPushButton* cancel_;
  QProgressBar* progress_;
  QLabel* status_;
  QTabWidget* tabs_;
  StudyPlot* study_plot_;
  QTableWidget* study_table_;
  QComboBox* cell_chooser_;
  ClassAccuracyPlot* class_plot_;
  QTableWidget* confusion_;
  QLabel* calibration_;
  QDoubleSpinBox* threshold_;
  QSpinBox* scan_bank_;
  QSpinBox* scan_queries_;
  QPushButton* run_scan_;
  QLabel* scan_summary_;
  QListWidget* leak_list_;
  QListWidget* duplicate_list_;
};

}  // namespace studio
