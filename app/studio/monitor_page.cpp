#include "app/studio/monitor_page.h"

#include <QGridLayout>
#include <QLabel>
#include <QVBoxLayout>

#include "widgets/curve_plot.h"

namespace studio {

namespace {
const QColor kRaw(120, 144, 180);
const QColor kSmooth(31, 119, 180);
const QColor kAccent(214, 39, 40);
const QColor kGreen(44, 160, 44);
const QColor kBaseline(127, 127, 127);
}  // namespace

MonitorPage::MonitorPage(QWidget* parent) : QWidget(parent) {
  // Each method has its own objective (NT-Xent, negative cosine, Barlow Twins...): the axis
  // says loss, the run's title names the method.
  loss_ = new CurvePlot(tr("Training loss"), tr("step"), tr("loss"), this);
  loss_->addSeries("loss", tr("loss"), kRaw, SeriesStyle::Line);
  loss_->addSeries("loss_smooth", tr("smoothed"), kSmooth, SeriesStyle::Line);
  loss_->setSmoothing("loss", "loss_smooth", 0.9);

  lr_ = new CurvePlot(tr("Learning rate"), tr("step"), tr("learning rate"), this);
  lr_->addSeries("lr", tr("learning rate"), kGreen, SeriesStyle::Line);

  knn_ = new CurvePlot(tr("kNN accuracy (held-out)"), tr("step"), tr("top-1 accuracy (%)"), this);
  knn_->addSeries("knn", tr("encoder kNN"), kAccent, SeriesStyle::Line);

  // Collapse shows here before anywhere else, labels or not (core/eval/embedding_health.h).
  health_ = new CurvePlot(tr("Embedding health (held-out)"), tr("step"), tr("fraction (1 = fully spread)"), this);
  health_->addSeries("spread", tr("spread (std × √d)"), kSmooth, SeriesStyle::Line);
  health_->addSeries("rank", tr("effective rank / d"), kGreen, SeriesStyle::Line);
  health_->setToolTip(tr("Spread: standard deviation of the normalised embeddings times √d; 0 means every image "
                         "maps to one point.\nEffective rank (RankMe) over the dimensions: near 0 means the "
                         "embeddings lie on a few directions.\nBoth falling towards 0 is collapse."));
  geometry_ = new CurvePlot(tr("Alignment and uniformity"), tr("step"), tr("value"), this);
  geometry_->addSeries("alignment", tr("alignment (views' distance², lower is better)"), kAccent, SeriesStyle::Line);
  geometry_->addSeries("uniformity", tr("uniformity (lower is more spread)"), kSmooth, SeriesStyle::Line);
  geometry_->setToolTip(tr("Wang & Isola's measures on held-out images: alignment is the mean squared distance "
                           "between two views of an image (0 to 4),\nuniformity is log E exp(-2 d²) over pairs of "
                           "different images (-4 to 0)."));

  speed_ = new CurvePlot(tr("Throughput"), tr("step"), tr("images / s"), this);
  speed_->addSeries("images_per_s", tr("images/s"), kSmooth, SeriesStyle::Line);

  summary_ = new QLabel(tr("No run yet. Start one on the Training page."), this);
  summary_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  summary_->setAccessibleName(tr("Run summary"));
  warning_ = new QLabel(this);
  warning_->setObjectName("collapseWarning");
  warning_->setWordWrap(true);
  warning_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  warning_->setAccessibleName(tr("Collapse warning"));
  warning_->setStyleSheet("QLabel { background: #fff3cd; color: #664d03; border: 1px solid #ffe69c; "
                          "border-radius: 4px; padding: 6px; }");
  warning_->hide();

  auto* grid = new QGridLayout;
  grid->addWidget(loss_, 0, 0);
  grid->addWidget(knn_, 0, 1);
  grid->addWidget(health_, 0, 2);
  grid->addWidget(lr_, 1, 0);
  grid->addWidget(speed_, 1, 1);
  grid->addWidget(geometry_, 1, 2);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(summary_);
  layout->addWidget(warning_);
  layout->addLayout(grid, 1);
}

void MonitorPage::clear(const QString& run_title) {
  for (CurvePlot* p : {loss_, lr_, knn_, speed_, health_, geometry_}) p->clearData();
  warning_->hide();
  warning_->clear();
  if (knn_->hasSeries("raw")) knn_->removeSeries("raw");
  title_ = run_title;
  curves_ = RunCurves();
  summary_->setText(tr("%1: starting…").arg(run_title));
}

void MonitorPage::addRecords(const MetricsBatch& batch) {
  curves_.add(batch);
  if (!curves_.step.isEmpty()) {
    loss_->appendPoints("loss", curves_.step, curves_.loss);
    lr_->appendPoints("lr", curves_.step, curves_.lr);
    speed_->appendPoints("images_per_s", curves_.step, curves_.images_per_s);
  }
  if (!curves_.knn_step.isEmpty()) knn_->appendPoints("knn", curves_.knn_step, curves_.knn_percent);
  if (!curves_.health_step.isEmpty()) {
    health_->appendPoints("spread", curves_.health_step, curves_.spread);
    health_->appendPoints("rank", curves_.health_step, curves_.rank_fraction);
    geometry_->appendPoints("alignment", curves_.health_step, curves_.alignment);
    geometry_->appendPoints("uniformity", curves_.health_step, curves_.uniformity);
  }
  warning_->setText(QString::fromStdString(curves_.collapse_warning));
  warning_->setVisible(!curves_.collapse_warning.empty());
  // The baseline is measured once per run: drawn when it first arrives.
  if (curves_.raw_pixel_knn_percent >= 0 && !knn_->hasSeries("raw"))
    knn_->setReferenceLine("raw", tr("raw pixels"), curves_.raw_pixel_knn_percent, kBaseline);
  curves_.clearPoints();
  QString text = tr("%1: step %2").arg(title_).arg(curves_.last_step);
  if (curves_.total_steps > 0) text += tr(" of %1").arg(curves_.total_steps);
  text += tr(" · epoch %1 · loss %2").arg(curves_.last_epoch, 0, 'f', 2).arg(curves_.last_loss, 0, 'f', 4);
  if (curves_.best_knn >= 0) text += tr(" · best kNN %1%").arg(100.0 * curves_.best_knn, 0, 'f', 1);
  if (curves_.last_spread >= 0) text += tr(" · spread %1").arg(curves_.last_spread, 0, 'f', 2);
  summary_->setText(text);
}

QString MonitorPage::summaryText() const { return summary_->text(); }
QString MonitorPage::collapseWarning() const { return warning_->isHidden() ? QString() : warning_->text(); }

}  // namespace studio
