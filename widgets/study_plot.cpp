#include "widgets/study_plot.h"

#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

#include "widgets/curve_plot.h"  // includes qcustomplot.h with the keyword mapping

namespace studio {

namespace {

// Okabe-Ito then Tableau: distinguishable for colour-blind readers, as the CLI's SVG.
const QColor kPalette[] = {QColor(0x00, 0x72, 0xB2), QColor(0xD5, 0x5E, 0x00), QColor(0x00, 0x9E, 0x73),
                           QColor(0xCC, 0x79, 0xA7), QColor(0xE6, 0x9F, 0x00), QColor(0x56, 0xB4, 0xE9),
                           QColor(0x40, 0x40, 0x40), QColor(0xB0, 0xA0, 0x00), QColor(0x8C, 0x56, 0x4B),
                           QColor(0x7F, 0x7F, 0x7F)};

}  // namespace

StudyPlot::StudyPlot(QWidget* parent) : QWidget(parent) {
  plot_ = new QCustomPlot(this);
  plot_->setMinimumSize(320, 220);
  plot_->setAccessibleName(tr("Label efficiency"));
  plot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  plot_->xAxis->setScaleType(QCPAxis::stLogarithmic);
  QSharedPointer<QCPAxisTickerLog> ticker(new QCPAxisTickerLog);
  plot_->xAxis->setTicker(ticker);
  plot_->xAxis->setNumberFormat(QStringLiteral("gb"));
  plot_->xAxis->setLabel(tr("labelled training images (log scale)"));
  plot_->yAxis->setLabel(tr("test top-1 accuracy (%)"));
  plot_->legend->setVisible(true);
  plot_->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignBottom | Qt::AlignRight);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(plot_);
}

void StudyPlot::clear() {
  plot_->clearPlottables();
  names_.clear();
  points_.clear();
  spread_.clear();
  plot_->replot();
}

void StudyPlot::setStudy(const StudyResult& result) {
  clear();
  for (const auto& cell : result.cells) {
    const QString arm = QString::fromStdString(cell.arm);
    int index = static_cast<int>(names_.indexOf(arm));
    if (index < 0) {
      names_ << arm;
      points_.push_back({});
      spread_.push_back({});
      index = static_cast<int>(names_.size()) - 1;
    }
    points_[index].push_back(QPointF(static_cast<double>(std::max<int64_t>(1, cell.labeled_images)), 100.0 * cell.mean));
    spread_[index].push_back(100.0 * cell.std);
  }
  double lo = 100, hi = 0, x_lo = 1e18, x_hi = 0;
  for (int a = 0; a < names_.size(); ++a) {
    // Fewest labels first, so the line runs left to right.
    QVector<int> order(points_[a].size());
    for (int i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](int l, int r) { return points_[a][l].x() < points_[a][r].x(); });
    QVector<QPointF> p;
    QVector<double> s;
    for (const int i : order) {
      p.push_back(points_[a][i]);
      s.push_back(spread_[a][i]);
    }
    points_[a] = p;
    spread_[a] = s;

    QCPGraph* graph = plot_->addGraph();
    graph->setName(names_[a]);
    QPen pen(kPalette[a % static_cast<int>(std::size(kPalette))], 2);
    const QString classifier = names_[a].section(QStringLiteral(" / "), -1);
    if (classifier == QLatin1String("kNN")) pen.setStyle(Qt::DashLine);
    else if (classifier != QLatin1String("linear probe")) pen.setStyle(Qt::DotLine);
    graph->setPen(pen);
    graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, pen.color(), pen.color(), 7));
    QVector<double> xs, ys, errors;
    for (int i = 0; i < p.size(); ++i) {
      xs << p[i].x();
      ys << p[i].y();
      errors << s[i];
      lo = std::min(lo, p[i].y() - s[i]);
      hi = std::max(hi, p[i].y() + s[i]);
      x_lo = std::min(x_lo, p[i].x());
      x_hi = std::max(x_hi, p[i].x());
    }
    graph->setData(xs, ys, /*alreadySorted=*/true);
    auto* bars = new QCPErrorBars(plot_->xAxis, plot_->yAxis);
    bars->removeFromLegend();
    bars->setDataPlottable(graph);
    bars->setData(errors);
    bars->setPen(QPen(pen.color(), 1));
  }
  if (!names_.isEmpty()) {
    plot_->xAxis->setRange(x_lo / 1.6, x_hi * 1.6);
    plot_->yAxis->setRange(std::max(0.0, std::floor((lo - 3) / 5) * 5), std::min(100.0, std::ceil((hi + 3) / 5) * 5));
  }
  plot_->replot();
}

QVector<QPointF> StudyPlot::seriesPoints(const QString& arm) const {
  const int i = static_cast<int>(names_.indexOf(arm));
  return i < 0 ? QVector<QPointF>{} : points_[i];
}

}  // namespace studio
