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
  best_knn_ = -1;
  last_step_ = total_steps_ = 0;
  last_epoch_ = 0;
  summary_->setText(tr("%1: starting…").arg(run_title));
}

void MonitorPage::addRecords(const MetricsBatch& batch) {
  QVector<double> step_x, loss_y, lr_y, speed_y;
  for (const MetricsRecord& r : batch) {
    if (r.kind == "step") {
      step_x.push_back(double(r.step));
      loss_y.push_back(r.value("loss"));
      lr_y.push_back(r.value("lr"));
      speed_y.push_back(r.value("images_per_s"));
      last_loss_ = r.value("loss");
      last_step_ = r.step;
      last_epoch_ = r.epoch;
    } else if (r.kind == "eval") {
      const double acc = r.value("knn_top1");
      if (acc >= 0) knn_->appendPoint("knn", double(r.step), 100.0 * acc);
      best_knn_ = std::max(best_knn_, acc);
      const double raw = r.value("raw_pixel_knn_top1");
      if (raw >= 0) knn_->setReferenceLine("raw", tr("raw pixels"), 100.0 * raw, kBaseline);
    } else if (r.kind == "info") {
      total_steps_ = static_cast<qint64>(r.value("total_steps", 0));
      last_step_ = r.step;
    }
  }
  if (!step_x.isEmpty()) {
    loss_->appendPoints("loss", step_x, loss_y);
    lr_->appendPoints("lr", step_x, lr_y);
    speed_->appendPoints("images_per_s", step_x, speed_y);
  }
  QString text = tr("%1: step %2").arg(title_).arg(last_step_);
  if (total_steps_ > 0) text += tr(" of %1").arg(total_steps_);
  text += tr(" · epoch %1 · loss %2").arg(last_epoch_, 0, 'f', 2).arg(last_loss_, 0, 'f', 4);
  if (best_knn_ >= 0) text += tr(" · best kNN %1%").arg(100.0 * best_knn_, 0, 'f', 1);
  summary_->setText(text);
}

QString MonitorPage::summaryText() const { return summary_->text(); }

}  // namespace studio
