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
  loss_ = new CurvePlot(tr("Contrastive loss"), tr("step"), tr("NT-Xent loss"), this);
  loss_->addSeries("loss", tr("loss"), kRaw, SeriesStyle::Line);
  loss_->addSeries("loss_smooth", tr("smoothed"), kSmooth, SeriesStyle::Line);
  loss_->setSmoothing("loss", "loss_smooth", 0.9);

  lr_ = new CurvePlot(tr("Learning rate"), tr("step"), tr("learning rate"), this);
  lr_->addSeries("lr", tr("learning rate"), kGreen, SeriesStyle::Line);

  knn_ = new CurvePlot(tr("kNN accuracy (held-out)"), tr("step"), tr("top-1 accuracy (%)"), this);
  knn_->addSeries("knn", tr("encoder kNN"), kAccent, SeriesStyle::Line);

  speed_ = new CurvePlot(tr("Throughput"), tr("step"), tr("images / s"), this);
  speed_->addSeries("images_per_s", tr("images/s"), kSmooth, SeriesStyle::Line);

  summary_ = new QLabel(tr("No run yet. Start one on the Training page."), this);
  summary_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  summary_->setAccessibleName(tr("Run summary"));

  auto* grid = new QGridLayout;
  grid->addWidget(loss_, 0, 0);
  grid->addWidget(knn_, 0, 1);
  grid->addWidget(lr_, 1, 0);
  grid->addWidget(speed_, 1, 1);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(summary_);
  layout->addLayout(grid, 1);
}

void MonitorPage::clear(const QString& run_title) {
  for (CurvePlot* p : {loss_, lr_, knn_, speed_}) p->clearData();
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
  // The baseline is measured once per run: drawn when it first arrives.
  if (curves_.raw_pixel_knn_percent >= 0 && !knn_->hasSeries("raw"))
    knn_->setReferenceLine("raw", tr("raw pixels"), curves_.raw_pixel_knn_percent, kBaseline);
  curves_.clearPoints();
  QString text = tr("%1: step %2").arg(title_).arg(curves_.last_step);
  if (curves_.total_steps > 0) text += tr(" of %1").arg(curves_.total_steps);
  text += tr(" · epoch %1 · loss %2").arg(curves_.last_epoch, 0, 'f', 2).arg(curves_.last_loss, 0, 'f', 4);
  if (curves_.best_knn >= 0) text += tr(" · best kNN %1%").arg(100.0 * curves_.best_knn, 0, 'f', 1);
  summary_->setText(text);
}

QString MonitorPage::summaryText() const { return summary_->text(); }

}  // namespace studio
