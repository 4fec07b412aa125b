#include "widgets/class_accuracy_plot.h"

#include <QVBoxLayout>

#include "widgets/curve_plot.h"  // includes qcustomplot.h with the keyword mapping

namespace studio {

namespace {

const QColor kPalette[] = {QColor(0x00, 0x72, 0xB2), QColor(0xD5, 0x5E, 0x00), QColor(0x00, 0x9E, 0x73),
                           QColor(0xCC, 0x79, 0xA7), QColor(0xE6, 0x9F, 0x00), QColor(0x56, 0xB4, 0xE9)};

}  // namespace

ClassAccuracyPlot::ClassAccuracyPlot(QWidget* parent) : QWidget(parent) {
  plot_ = new QCustomPlot(this);
  plot_->setMinimumSize(320, 200);
  plot_->setAccessibleName(tr("Per-class accuracy"));
  plot_->yAxis->setLabel(tr("test accuracy (%)"));
  plot_->yAxis->setRange(0, 100);
  plot_->legend->setVisible(true);
  plot_->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignBottom | Qt::AlignRight);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(plot_);
}

void ClassAccuracyPlot::clear() {
  plot_->clearPlottables();
  plot_->replot();
}

int ClassAccuracyPlot::barSetCount() const { return plot_->plottableCount(); }

void ClassAccuracyPlot::setData(const QStringList& classes, const QStringList& arms,
                                const QVector<QVector<double>>& accuracy) {
  plot_->clearPlottables();
  QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
  for (int c = 0; c < classes.size(); ++c) ticker->addTick(c, classes[c]);
  plot_->xAxis->setTicker(ticker);
  plot_->xAxis->setTickLabelRotation(classes.size() > 6 ? 35 : 0);
  plot_->xAxis->setRange(-0.6, classes.size() - 0.4);
  const int sets = static_cast<int>(std::min(arms.size(), accuracy.size()));
  auto* group = sets > 1 ? new QCPBarsGroup(plot_) : nullptr;
  const double width = sets > 0 ? 0.8 / sets : 0.8;
  for (int a = 0; a < sets; ++a) {
    auto* bars = new QCPBars(plot_->xAxis, plot_->yAxis);
    bars->setName(arms[a]);
    bars->setWidth(width);
    const QColor colour = kPalette[a % static_cast<int>(std::size(kPalette))];
    bars->setPen(QPen(colour.darker(120)));
    bars->setBrush(colour);
    if (group) bars->setBarsGroup(group);
    QVector<double> keys, values;
    for (int c = 0; c < classes.size() && c < accuracy[a].size(); ++c) {
      if (accuracy[a][c] < 0) continue;
      keys << c;
      values << 100.0 * accuracy[a][c];
    }
    bars->setData(keys, values, true);
  }
  plot_->replot();
}

}  // namespace studio
