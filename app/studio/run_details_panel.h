#pragma once
// The lower half of the runs page: the loss and kNN curves of the selected runs overlaid
// (one colour per run) and the first selected run's config.json.
#include <cstdint>
#include <vector>

#include <QHash>
#include <QString>
#include <QStringList>
#include <QWidget>

class QLabel;
class QPlainTextEdit;

namespace studio {

class CurvePlot;

// Shows what it is asked to: the runs page decides which runs (the selection) and when.
// Metrics files are read off the GUI thread; a load that a newer request overtakes is
// dropped. Errors are emitted, never thrown.
class RunDetailsPanel : public QWidget {
  Q_OBJECT
 public:
  static constexpr int kMaxRuns = 10;  // more curves than colours help nobody

  // A run to show: its folder, and its id and name for the legend.
  struct Run {
    QString dir;
    QString id;
    QString name;
    QString method;  // method.name; legends name it when the overlaid runs' methods differ
  };

  explicit RunDetailsPanel(QWidget* parent = nullptr);
  ~RunDetailsPanel() override;

  // Loads and shows runs (at most kMaxRuns, in legend order) in the background, then emits
  // updated(). selected is how many runs the user selected, for the hint above the plots.
  // No runs: clears the plots at once, drops any load still running, and emits updated().
  void showRuns(const std::vector<Run>& runs, int selected);
  bool loading() const { return details_in_flight_; }  // a load is running
  QStringList shownDirs() const { return shown_dirs_; }  // the runs the plots show, in legend order
  // Whether dirs are the runs shown and their metrics or config changed on disk since (a
  // run still training grows its metrics file).
  bool outdated(const QStringList& dirs) const;

  CurvePlot* lossPlot() const { return loss_plot_; }
  CurvePlot* knnPlot() const { return knn_plot_; }
  QPlainTextEdit* configView() const { return config_view_; }

 Q_SIGNALS:
  // The plots and the config view now show the runs last asked for.
  void updated();
  void errorOccurred(const QString& message);

 private:
  struct LoadedRun;
  struct Details;

  void showDetails(const Details& details);
  void clearDetails();
  QString metricsSignature(const QStringList& dirs) const;

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
  QString last_details_error_;
};

}  // namespace studio
