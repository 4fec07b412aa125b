#include "app/studio/run_details_panel.h"

#include <exception>
#include <utility>

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QFontDatabase>
#include <QLabel>
#include <QPlainTextEdit>
#include <QSet>
#include <QSplitter>
#include <QVBoxLayout>

#include "app/studio/background_task.h"
#include "app/studio/run_curves.h"
#include "core/base/metrics_record.h"
#include "widgets/curve_plot.h"

namespace studio {

namespace {

constexpr qint64 kMaxConfigBytes = 1 << 20;
const QString kRawPixelsKey = QStringLiteral("__raw_pixels__");

// Qualitative colours that stay distinct on light and dark backgrounds.
QColor runColor(int i) {
  static const QColor colors[] = {QColor(31, 119, 180), QColor(255, 127, 14), QColor(44, 160, 44),
                                  QColor(214, 39, 40),  QColor(148, 103, 189), QColor(140, 86, 75),
                                  QColor(227, 119, 194), QColor(127, 127, 127), QColor(188, 189, 34),
                                  QColor(23, 190, 207)};
  return colors[i % (sizeof colors / sizeof colors[0])];
}

}  // namespace

struct RunDetailsPanel::LoadedRun {
  QString dir;
  QString id;
  QString name;
  QString method;
  RunCurves curves;
  QString error;
};

struct RunDetailsPanel::Details {
  uint64_t generation = 0;
  QStringList dirs;
  std::vector<LoadedRun> runs;
  int selected = 0;  // runs selected when asked, for the hint
  QString signature;
  QString config_dir;
  QString config_text;
  QString config_error;  // shown instead of the text
  bool config_unreadable = false;  // there but not readable: an error, not just absent
};

RunDetailsPanel::RunDetailsPanel(QWidget* parent) : QWidget(parent) {
  details_hint_ = new QLabel(this);
  details_hint_->setWordWrap(true);
  loss_plot_ = new CurvePlot(tr("Loss"), tr("step"), tr("loss"), this);
  loss_plot_->setObjectName(QStringLiteral("runsLossPlot"));
  knn_plot_ = new CurvePlot(tr("kNN accuracy"), tr("step"), tr("top-1 accuracy (%)"), this);
  knn_plot_->setObjectName(QStringLiteral("runsKnnPlot"));
  config_view_ = new QPlainTextEdit(this);
  config_view_->setObjectName(QStringLiteral("runsConfig"));
  config_view_->setReadOnly(true);
  config_view_->setLineWrapMode(QPlainTextEdit::NoWrap);
  config_view_->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
  config_view_->setAccessibleName(tr("Configuration of the selected run"));
  config_view_->setPlaceholderText(tr("The selected run's config.json"));

  auto* curves = new QSplitter(Qt::Horizontal, this);
  curves->addWidget(loss_plot_);
  curves->addWidget(knn_plot_);
  curves->addWidget(config_view_);
  curves->setStretchFactor(0, 2);
  curves->setStretchFactor(1, 2);
  curves->setStretchFactor(2, 1);
  curves->setChildrenCollapsible(false);

  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(details_hint_);
  layout->addWidget(curves, 1);

  clearDetails();
}

RunDetailsPanel::~RunDetailsPanel() = default;

QString RunDetailsPanel::metricsSignature(const QStringList& dirs) const {
  QStringList parts;
  for (const QString& dir : dirs) {
    const QFileInfo metrics(dir + QStringLiteral("/metrics.jsonl"));
    const QFileInfo config(dir + QStringLiteral("/config.json"));
    parts << QStringLiteral("%1:%2:%3:%4")
                 .arg(metrics.size())
                 .arg(metrics.lastModified().toMSecsSinceEpoch())
                 .arg(config.size())
                 .arg(config.lastModified().toMSecsSinceEpoch());
  }
  return parts.join(QLatin1Char('|'));
}

bool RunDetailsPanel::outdated(const QStringList& dirs) const {
  return dirs == shown_dirs_ && metricsSignature(dirs) != shown_signature_;
}

void RunDetailsPanel::showRuns(const std::vector<Run>& runs, int selected) {
  if (runs.empty()) {
    ++details_generation_;  // a load still running is of no interest any more
    details_in_flight_ = false;
    clearDetails();
    Q_EMIT updated();
    return;
  }

  QStringList dirs;
  for (const Run& run : runs) dirs << run.dir;
  const uint64_t generation = ++details_generation_;
  const QString signature = metricsSignature(dirs);
  details_in_flight_ = true;

  // Metrics files of long runs hold tens of thousands of lines: parse them off the GUI thread.
  runInBackground<Details>(
      this,
      [inputs = runs, dirs, selected, generation, signature](TaskControl& control) {
        Details details;
        details.generation = generation;
        details.dirs = dirs;
        details.selected = selected;
        details.signature = signature;
        for (const Run& input : inputs) {
          if (control.cancelled()) break;
          LoadedRun run;
          run.dir = input.dir;
          run.id = input.id;
          run.name = input.name;
          run.method = input.method;
          const std::string path = (input.dir + QStringLiteral("/metrics.jsonl")).toStdString();
          try {
            run.curves.add(readMetricsFile(path));
          } catch (const std::exception& e) {
            run.error = tr("Cannot read %1: %2").arg(QString::fromStdString(path), QString::fromStdString(e.what()));
          }
          details.runs.push_back(std::move(run));
        }

        details.config_dir = dirs.first();
        const QString config_path = dirs.first() + QStringLiteral("/config.json");
        QFile file(config_path);
        if (!file.exists()) {
          details.config_error = tr("No config.json in %1").arg(QDir::toNativeSeparators(dirs.first()));
        } else if (!file.open(QIODevice::ReadOnly)) {
          details.config_error =
              tr("Cannot read %1: %2").arg(QDir::toNativeSeparators(config_path), file.errorString());
          details.config_unreadable = true;
        } else {
          details.config_text = QString::fromUtf8(file.read(kMaxConfigBytes));
          if (!file.atEnd()) details.config_text += tr("\n… (truncated)");
        }
        return details;
      },
      [this](Details details) {
        if (details.generation != details_generation_) return;  // the selection moved on
        details_in_flight_ = false;
        showDetails(details);
      },
      [this, generation](const QString& message, bool) {
        if (generation != details_generation_) return;
        details_in_flight_ = false;
        Q_EMIT errorOccurred(tr("Cannot load the selected runs' curves: %1").arg(message));
      });
}

void RunDetailsPanel::clearDetails() {
  for (const QString& key : shown_dirs_) {
    loss_plot_->removeSeries(key);
    knn_plot_->removeSeries(key);
  }
  if (knn_plot_->hasReferenceLine(kRawPixelsKey)) knn_plot_->removeSeries(kRawPixelsKey);
  shown_dirs_.clear();
  shown_loss_points_.clear();
  shown_knn_points_.clear();
  shown_signature_.clear();
  shown_config_dir_.clear();
  config_view_->clear();
  details_hint_->setText(tr("Select a run to see its curves and configuration; select several to overlay their curves."));
}

void RunDetailsPanel::showDetails(const Details& details) {
  // A reload of the same runs only appends what is new, so the user's zoom survives while a
  // run trains. A shrunk file (a resumed run drops the steps after its checkpoint) or a
  // different selection redraws from scratch.
  bool rebuild = details.dirs != shown_dirs_;
  for (const LoadedRun& run : details.runs) {
    if (run.curves.step.size() < shown_loss_points_.value(run.dir) ||
        run.curves.knn_step.size() < shown_knn_points_.value(run.dir))
      rebuild = true;
  }
  if (rebuild) {
    clearDetails();
    QHash<QString, int> name_count;
    QSet<QString> methods;
    for (const LoadedRun& run : details.runs) {
      ++name_count[run.name];
      methods.insert(run.method);
    }
    int i = 0;
    for (const LoadedRun& run : details.runs) {
      // Default names repeat ("experiment"): tell such runs apart by their folder.
      QString label = name_count.value(run.name) > 1 ? QStringLiteral("%1 (%2)").arg(run.name, run.id) : run.name;
      // Runs of different methods side by side: the legend says which is which.
      if (methods.size() > 1 && !run.method.isEmpty()) label += QStringLiteral(" · ") + run.method;
      const QColor color = runColor(i++);
      loss_plot_->addSeries(run.dir, label, color, SeriesStyle::Line);
      knn_plot_->addSeries(run.dir, label, color, SeriesStyle::Line);
    }
    shown_dirs_ = details.dirs;
    loss_plot_->resetView();
    knn_plot_->resetView();
  }

  QStringList errors;
  if (details.config_unreadable) errors << details.config_error;
  for (const LoadedRun& run : details.runs) {
    if (!run.error.isEmpty()) errors << run.error;
    const int loss_done = shown_loss_points_.value(run.dir);
    if (run.curves.step.size() > loss_done)
      loss_plot_->appendPoints(run.dir, run.curves.step.mid(loss_done), run.curves.loss.mid(loss_done));
    shown_loss_points_[run.dir] = static_cast<int>(run.curves.step.size());
    const int knn_done = shown_knn_points_.value(run.dir);
    if (run.curves.knn_step.size() > knn_done)
      knn_plot_->appendPoints(run.dir, run.curves.knn_step.mid(knn_done), run.curves.knn_percent.mid(knn_done));
    shown_knn_points_[run.dir] = static_cast<int>(run.curves.knn_step.size());
  }
  // The raw-pixel baseline belongs to one dataset: show it when one run is shown.
  if (details.runs.size() == 1 && details.runs.front().curves.raw_pixel_knn_percent >= 0) {
    knn_plot_->setReferenceLine(kRawPixelsKey, tr("raw pixels"), details.runs.front().curves.raw_pixel_knn_percent,
                                QColor(127, 127, 127));
  } else if (knn_plot_->hasReferenceLine(kRawPixelsKey)) {
    knn_plot_->removeSeries(kRawPixelsKey);
  }
  shown_signature_ = details.signature;

  const QString config = details.config_error.isEmpty() ? details.config_text : details.config_error;
  if (details.config_dir != shown_config_dir_ || config_view_->toPlainText() != config) {
    config_view_->setPlainText(config);
    shown_config_dir_ = details.config_dir;
  }

  const int selected = details.selected;
  QString hint;
  if (selected > kMaxRuns)
    hint = tr("Showing the curves of the first %1 of %2 selected runs.").arg(kMaxRuns).arg(selected);
  else if (details.runs.size() == 1)
    hint = tr("Curves of \"%1\". Select several runs to overlay their curves.").arg(details.runs.front().name);
  else
    hint = tr("%1 runs overlaid, one colour each.").arg(details.runs.size());
  details_hint_->setText(hint);

  if (!errors.isEmpty()) {
    const QString message = errors.join(QLatin1Char('\n'));
    // Re-reads of a growing run would repeat it: report each distinct problem once.
    if (message != last_details_error_) {
      last_details_error_ = message;
      Q_EMIT errorOccurred(message);
    }
  } else {
    last_details_error_.clear();
  }
  Q_EMIT updated();
}

}  // namespace studio
