#include "widgets/curve_plot.h"

#include <QAction>
#include <QDebug>
#include <QDir>
#include <QEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QMarginsF>
#include <QMenu>
#include <QMessageBox>
#include <QMouseEvent>
#include <QPageLayout>
#include <QPageSize>
#include <QPdfWriter>
#include <QRegularExpression>
#include <QSaveFile>
#include <QShowEvent>
#include <QStandardPaths>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <limits>

namespace studio {

namespace {

constexpr double kLineWidth = 1.5;
constexpr double kDotSize = 5.0;
constexpr double kXMarginFraction = 0.02;
constexpr double kYMarginFraction = 0.05;
constexpr int kMaxExportSide = 16384;  // keeps a typo in a size from allocating gigabytes
constexpr double kPdfDpi = 96.0;       // pixel sizes map to the page as on a typical screen
constexpr double kPngUiScale = 2.0;    // menu exports are rendered at twice the on-screen size
constexpr int kLegendColumnSpacing = 16;

QColor mix(const QColor& a, const QColor& b, double t) {
  return QColor::fromRgbF(static_cast<float>(a.redF() * (1 - t) + b.redF() * t),
                          static_cast<float>(a.greenF() * (1 - t) + b.greenF() * t),
                          static_cast<float>(a.blueF() * (1 - t) + b.blueF() * t));
}

// Integers (steps) print as integers; everything else as the shortest text that reads back to
// the same double, so the CSV loses nothing and stays small.
QString formatNumber(double v) {
  if (std::isnan(v)) return QStringLiteral("nan");
  if (std::isinf(v)) return v > 0 ? QStringLiteral("inf") : QStringLiteral("-inf");
  if (v == std::floor(v) && std::fabs(v) < 1e15) return QString::number(static_cast<qlonglong>(v));
  return QString::number(v, 'g', QLocale::FloatingPointShortest);
}

QString csvField(const QString& text) {
  if (!text.contains(QLatin1Char(',')) && !text.contains(QLatin1Char('"')) && !text.contains(QLatin1Char('\n')) &&
      !text.contains(QLatin1Char('\r')))
    return text;
  QString quoted = text;
  quoted.replace(QLatin1String("\""), QLatin1String("\"\""));
  return QLatin1Char('"') + quoted + QLatin1Char('"');
}

// A log axis maps values <= 0 to far off the plot, which would draw as lines plunging out of
// it. This graph skips such points instead: gaps in lines, nothing for dots. It only touches
// the already sampled (per-pixel) data, so large series cost nothing extra.
class CurveGraph : public QCPGraph {
 public:
  using QCPGraph::QCPGraph;

 protected:
  void getOptimizedLineData(QVector<QCPGraphData>* line_data, const QCPGraphDataContainer::const_iterator& begin,
                            const QCPGraphDataContainer::const_iterator& end) const override {
    QCPGraph::getOptimizedLineData(line_data, begin, end);
    if (!onLogAxis()) return;
    for (QCPGraphData& d : *line_data)
      if (d.value <= 0) d.value = std::numeric_limits<double>::quiet_NaN();  // NaN: a gap in the line
  }
  void getOptimizedScatterData(QVector<QCPGraphData>* scatter_data, QCPGraphDataContainer::const_iterator begin,
                               QCPGraphDataContainer::const_iterator end) const override {
    QCPGraph::getOptimizedScatterData(scatter_data, begin, end);
    if (!onLogAxis()) return;
    scatter_data->erase(std::remove_if(scatter_data->begin(), scatter_data->end(),
                                       [](const QCPGraphData& d) { return !(d.value > 0); }),
                        scatter_data->end());
  }

 private:
  bool onLogAxis() const { return valueAxis() && valueAxis()->scaleType() == QCPAxis::stLogarithmic; }
};

void setError(QString* error, const QString& message) {
  if (error) *error = message;
}

QString displayPath(const QString& path) { return QDir::toNativeSeparators(path); }

}  // namespace

CurvePlot::CurvePlot(const QString& title, const QString& x_label, const QString& y_label, QWidget* parent)
    : QWidget(parent) {
  plot_ = new QCustomPlot(this);
  plot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  plot_->axisRect()->setRangeDrag(Qt::Horizontal | Qt::Vertical);
  plot_->axisRect()->setRangeZoom(Qt::Horizontal | Qt::Vertical);
  // Dragging through 100k-point series stays smooth; antialiasing returns on release.
  plot_->setNoAntialiasingOnDrag(true);
  plot_->setContextMenuPolicy(Qt::CustomContextMenu);
  plot_->setFocusPolicy(Qt::StrongFocus);  // so the keyboard's menu key reaches the context menu
  plot_->setMinimumSize(240, 160);
  plot_->setAccessibleName(title);
  plot_->xAxis->setLabel(x_label);
  plot_->yAxis->setLabel(y_label);

  // The title is part of the plot's layout (not a QLabel) so that exported images carry it.
  plot_->plotLayout()->insertRow(0);
  QFont title_font = font();
  title_font.setBold(true);
  if (title_font.pointSizeF() > 0) title_font.setPointSizeF(title_font.pointSizeF() * 1.15);
  title_ = new QCPTextElement(plot_, title, title_font);
  plot_->plotLayout()->addElement(0, 0, title_);

  // The legend sits below the axis rect: inside it, it would hide the end of rising curves.
  plot_->legend->setVisible(true);
  plot_->axisRect()->insetLayout()->take(plot_->legend);
  plot_->plotLayout()->addElement(2, 0, plot_->legend);
  plot_->plotLayout()->setRowStretchFactor(2, 0.001);
  plot_->legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
  plot_->legend->setColumnSpacing(kLegendColumnSpacing);
  plot_->legend->setRowSpacing(0);

  replot_timer_ = new QTimer(this);
  replot_timer_->setSingleShot(true);
  replot_timer_->setInterval(kReplotIntervalMs);
  connect(replot_timer_, &QTimer::timeout, this, &CurvePlot::replotNow);

  connect(plot_->xAxis, QOverload<const QCPRange&>::of(&QCPAxis::rangeChanged), this, [this] {
    updateReferenceLines();
    onRangeChanged();
  });
  connect(plot_->yAxis, QOverload<const QCPRange&>::of(&QCPAxis::rangeChanged), this, [this] { onRangeChanged(); });
  // Fitting happens right before every redraw (also QCustomPlot's own, e.g. on resize), before
  // the layout pass, so tick label widths and legend rows match the new ranges.
  connect(plot_, &QCustomPlot::beforeReplot, this, [this] {
    if (follows_data_) fitToData();
    updateLegendColumns(plot_->viewport().width());
  });
  connect(plot_, &QCustomPlot::afterReplot, this, [this] { ++replot_count_; });
  connect(plot_, &QCustomPlot::mouseDoubleClick, this, [this](QMouseEvent* event) {
    if (event->button() == Qt::LeftButton) resetView();
  });
  connect(plot_, &QWidget::customContextMenuRequested, this, &CurvePlot::showContextMenu);

  reset_action_ = new QAction(tr("Reset view"), this);
  reset_action_->setToolTip(tr("Fit the axes to the data and follow new points (or double-click the plot)"));
  connect(reset_action_, &QAction::triggered, this, &CurvePlot::resetView);
  export_png_action_ = new QAction(tr("Export PNG\u2026"), this);
  export_png_action_->setToolTip(tr("Save the chart as a PNG image"));
  connect(export_png_action_, &QAction::triggered, this, &CurvePlot::exportPngInteractive);
  export_pdf_action_ = new QAction(tr("Export PDF\u2026"), this);
  export_pdf_action_->setToolTip(tr("Save the chart as a vector PDF"));
  connect(export_pdf_action_, &QAction::triggered, this, &CurvePlot::exportPdfInteractive);
  export_csv_action_ = new QAction(tr("Export CSV\u2026"), this);
  export_csv_action_->setToolTip(tr("Save the plotted points as CSV, one column per curve"));
  connect(export_csv_action_, &QAction::triggered, this, &CurvePlot::exportCsvInteractive);

  auto* tools = new QHBoxLayout;
  tools->setContentsMargins(0, 0, 0, 0);
  tools->setSpacing(2);
  tools->addStretch(1);
  // "Reset view" and one "Export" menu: four buttons made every plot 375 px wide at least,
  // too wide for two plots side by side on a 1024-pixel screen.
  auto* reset_button = new QToolButton(this);
  reset_button->setDefaultAction(reset_action_);
  auto* export_menu = new QMenu(this);
  export_menu->addActions({export_png_action_, export_pdf_action_, export_csv_action_});
  auto* export_button = new QToolButton(this);
  export_button->setText(tr("Export"));
  export_button->setToolTip(tr("Save the chart as PNG or PDF, or its points as CSV"));
  export_button->setMenu(export_menu);
  export_button->setPopupMode(QToolButton::InstantPopup);
  for (QToolButton* button : {reset_button, export_button}) {
    button->setToolButtonStyle(Qt::ToolButtonTextOnly);
    button->setAutoRaise(true);
    button->setFocusPolicy(Qt::TabFocus);  // reachable with Tab, without stealing focus on click
    tools->addWidget(button);
  }

  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->setSpacing(0);
  layout->addLayout(tools);
  layout->addWidget(plot_, 1);

  applyPalette();
  scheduleReplot();
}

CurvePlot::~CurvePlot() {
  // The plot dies with the QWidget base; make sure no signal of it reaches a half-destroyed this.
  replot_timer_->stop();
  QObject::disconnect(plot_, nullptr, this, nullptr);
  QObject::disconnect(plot_->xAxis, nullptr, this, nullptr);
  QObject::disconnect(plot_->yAxis, nullptr, this, nullptr);
}

// ----- series -----

CurvePlot::Series* CurvePlot::findSeries(const QString& key) {
  for (Series& s : series_)
    if (s.key == key) return &s;
  return nullptr;
}

const CurvePlot::Series* CurvePlot::findSeries(const QString& key) const {
  for (const Series& s : series_)
    if (s.key == key) return &s;
  return nullptr;
}

void CurvePlot::applyStyle(Series& series, const QColor& color, SeriesStyle style) const {
  QCPGraph* graph = series.graph;
  switch (style) {
    case SeriesStyle::Line:
      graph->setLineStyle(QCPGraph::lsLine);
      graph->setPen(QPen(color, kLineWidth));
      graph->setScatterStyle(QCPScatterStyle());
      break;
    case SeriesStyle::Dashed:
      graph->setLineStyle(QCPGraph::lsLine);
      graph->setPen(QPen(color, kLineWidth, Qt::DashLine));
      graph->setScatterStyle(QCPScatterStyle());
      break;
    case SeriesStyle::Dots:
      graph->setLineStyle(QCPGraph::lsNone);
      graph->setPen(QPen(color, kLineWidth));
      graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, color, color, kDotSize));
      break;
  }
}

void CurvePlot::addSeries(const QString& key, const QString& label, const QColor& color, SeriesStyle style) {
  if (Series* existing = findSeries(key)) {
    if (existing->reference) {
      qWarning("CurvePlot: '%s' is a reference line, not a series", qUtf8Printable(key));
      return;
    }
    existing->label = label;
    existing->graph->setName(label);
    applyStyle(*existing, color, style);
    scheduleReplot();
    return;
  }
  Series series;
  series.key = key;
  series.label = label;
  series.graph = new CurveGraph(plot_->xAxis, plot_->yAxis);  // registers with the plot and the legend
  series.graph->setName(label);
  series.graph->setAdaptiveSampling(true);  // the default already; it is what keeps 100k points fast
  applyStyle(series, color, style);
  series_.push_back(series);
  scheduleReplot();
}

bool CurvePlot::hasSeries(const QString& key) const {
  const Series* s = findSeries(key);
  return s && !s->reference;
}

bool CurvePlot::hasReferenceLine(const QString& key) const {
  const Series* s = findSeries(key);
  return s && s->reference;
}

void CurvePlot::removeSeries(const QString& key) {
  const auto it = std::find_if(series_.begin(), series_.end(), [&](const Series& s) { return s.key == key; });
  if (it == series_.end()) return;
  plot_->removeGraph(it->graph);  // also drops its legend item
  series_.erase(it);
  smoothings_.erase(std::remove_if(smoothings_.begin(), smoothings_.end(),
                                   [&](const Smoothing& s) { return s.raw_key == key || s.smoothed_key == key; }),
                    smoothings_.end());
  scheduleReplot();
}

void CurvePlot::noteExtent(Series& series, double y) {
  if (!std::isfinite(y)) return;
  if (!series.has_y) {
    series.min_y = series.max_y = y;
    series.has_y = true;
  } else {
    series.min_y = std::min(series.min_y, y);
    series.max_y = std::max(series.max_y, y);
  }
  if (y > 0) {
    series.min_positive_y = series.has_positive_y ? std::min(series.min_positive_y, y) : y;
    series.has_positive_y = true;
  }
}

void CurvePlot::recomputeExtent(Series& series) {
  series.has_y = series.has_positive_y = false;
  const auto data = series.graph->data();
  for (auto it = data->constBegin(); it != data->constEnd(); ++it) noteExtent(series, it->value);
}

double CurvePlot::smoothStep(Smoothing& smoothing, double value) {
  // TensorBoard's debiased EMA: the accumulator starts at 0 and is divided by 1 - weight^n,
  // so early values are not dragged towards zero.
  smoothing.accumulator = smoothing.accumulator * smoothing.weight + (1 - smoothing.weight) * value;
  smoothing.weight_power *= smoothing.weight;
  return smoothing.accumulator / (1 - smoothing.weight_power);
}

void CurvePlot::appendValid(Series& series, const double* x, const double* y, int n) {
  if (n <= 0) return;
  // Single points skip the temporary vectors: live training appends one point at a time.
  if (n == 1)
    series.graph->addData(x[0], y[0]);
  else
    series.graph->addData(QVector<double>(x, x + n), QVector<double>(y, y + n), std::is_sorted(x, x + n));
  for (int i = 0; i < n; ++i) noteExtent(series, y[i]);

  for (Smoothing& smoothing : smoothings_) {
    if (smoothing.raw_key != series.key) continue;
    Series* target = findSeries(smoothing.smoothed_key);
    if (!target) continue;
    // Chains are refused in setSmoothing, so the target needs no smoothing of its own.
    if (n == 1) {
      if (!std::isfinite(y[0])) continue;  // one NaN loss would otherwise poison the average for good
      const double v = smoothStep(smoothing, y[0]);
      target->graph->addData(x[0], v);
      noteExtent(*target, v);
      continue;
    }
    QVector<double> sx, sy;
    sx.reserve(n);
    sy.reserve(n);
    for (int i = 0; i < n; ++i) {
      if (!std::isfinite(y[i])) continue;
      sx.push_back(x[i]);
      sy.push_back(smoothStep(smoothing, y[i]));
    }
    if (sx.isEmpty()) continue;
    target->graph->addData(sx, sy, std::is_sorted(sx.begin(), sx.end()));
    for (double v : sy) noteExtent(*target, v);
  }
  scheduleReplot();
}

void CurvePlot::appendPoint(const QString& key, double x, double y) {
  Series* series = findSeries(key);
  if (!series || series->reference) {
    qWarning("CurvePlot: no series '%s'; point ignored", qUtf8Printable(key));
    return;
  }
  if (!std::isfinite(x)) {
    qWarning("CurvePlot: non-finite x for series '%s'; point ignored", qUtf8Printable(key));
    return;
  }
  appendValid(*series, &x, &y, 1);
}

void CurvePlot::appendPoints(const QString& key, const QVector<double>& x, const QVector<double>& y) {
  Series* series = findSeries(key);
  if (!series || series->reference) {
    qWarning("CurvePlot: no series '%s'; points ignored", qUtf8Printable(key));
    return;
  }
  if (x.size() != y.size()) {
    qWarning("CurvePlot: %lld x but %lld y values for series '%s'; points ignored", static_cast<long long>(x.size()),
             static_cast<long long>(y.size()), qUtf8Printable(key));
    return;
  }
  if (std::all_of(x.begin(), x.end(), [](double v) { return std::isfinite(v); })) {
    appendValid(*series, x.constData(), y.constData(), static_cast<int>(x.size()));
    return;
  }
  qWarning("CurvePlot: non-finite x values for series '%s' ignored", qUtf8Printable(key));
  QVector<double> fx, fy;
  for (int i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i])) continue;
    fx.push_back(x[i]);
    fy.push_back(y[i]);
  }
  appendValid(*series, fx.constData(), fy.constData(), static_cast<int>(fx.size()));
}

void CurvePlot::setReferenceLine(const QString& key, const QString& label, double y, const QColor& color) {
  Series* series = findSeries(key);
  if (series && !series->reference) {
    qWarning("CurvePlot: '%s' is a series, not a reference line", qUtf8Printable(key));
    return;
  }
  if (!series) {
    Series fresh;
    fresh.key = key;
    fresh.reference = true;
    fresh.graph = plot_->addGraph();
    fresh.graph->setAdaptiveSampling(false);  // two points
    series_.push_back(fresh);
    series = &series_.back();
  }
  series->label = label;
  series->reference_y = y;
  series->graph->setName(label);
  series->graph->setPen(QPen(color, kLineWidth, Qt::DashDotLine));
  series->graph->setLineStyle(QCPGraph::lsLine);
  updateReferenceLines();
  scheduleReplot();
}

void CurvePlot::updateReferenceLines() const {
  // A two-point graph spanning exactly the visible x range: unlike an item, a graph has a
  // legend entry, and re-spanning it on every range change makes it look infinite.
  const QCPRange range = plot_->xAxis->range();
  for (const Series& s : series_) {
    if (!s.reference) continue;
    s.graph->setData(QVector<double>{range.lower, range.upper}, QVector<double>{s.reference_y, s.reference_y}, true);
  }
}

void CurvePlot::setSmoothing(const QString& raw_key, const QString& smoothed_key, double weight) {
  if (!hasSeries(raw_key) || !hasSeries(smoothed_key) || raw_key == smoothed_key) {
    qWarning("CurvePlot: smoothing needs two distinct existing series, got '%s' and '%s'", qUtf8Printable(raw_key),
             qUtf8Printable(smoothed_key));
    return;
  }
  if (!(weight >= 0 && weight < 1)) {
    qWarning("CurvePlot: smoothing weight %g is outside [0, 1); ignored", weight);
    return;
  }
  smoothings_.erase(std::remove_if(smoothings_.begin(), smoothings_.end(),
                                   [&](const Smoothing& s) { return s.smoothed_key == smoothed_key; }),
                    smoothings_.end());
  for (const Smoothing& s : smoothings_) {
    if (s.smoothed_key == raw_key || s.raw_key == smoothed_key) {
      qWarning("CurvePlot: smoothing '%s' into '%s' would chain smoothings; ignored", qUtf8Printable(raw_key),
               qUtf8Printable(smoothed_key));
      return;
    }
  }
  Smoothing smoothing;
  smoothing.raw_key = raw_key;
  smoothing.smoothed_key = smoothed_key;
  smoothing.weight = weight;
  smoothings_.push_back(smoothing);
  recomputeSmoothing(smoothings_.back());
  scheduleReplot();
}

void CurvePlot::recomputeSmoothing(Smoothing& smoothing) {
  smoothing.accumulator = 0;
  smoothing.weight_power = 1;
  const Series* raw = findSeries(smoothing.raw_key);
  Series* target = findSeries(smoothing.smoothed_key);
  if (!raw || !target) return;
  const auto data = raw->graph->data();
  QVector<double> sx, sy;
  sx.reserve(data->size());
  sy.reserve(data->size());
  for (auto it = data->constBegin(); it != data->constEnd(); ++it) {
    if (!std::isfinite(it->value)) continue;
    sx.push_back(it->key);
    sy.push_back(smoothStep(smoothing, it->value));
  }
  target->graph->setData(sx, sy, true);
  recomputeExtent(*target);
}

void CurvePlot::clearData() {
  for (Series& s : series_) {
    if (s.reference) continue;
    s.graph->data()->clear();
    s.has_y = s.has_positive_y = false;
  }
  for (Smoothing& s : smoothings_) {
    s.accumulator = 0;
    s.weight_power = 1;
  }
  const bool was_following = follows_data_;
  follows_data_ = true;
  if (!was_following) Q_EMIT viewChanged();
  scheduleReplot();
}

int CurvePlot::pointCount(const QString& key) const {
  const Series* s = findSeries(key);
  return s && !s->reference ? s->graph->data()->size() : 0;
}

double CurvePlot::lastValue(const QString& key) const {
  const Series* s = findSeries(key);
  if (!s || s->reference || s->graph->data()->isEmpty()) return std::numeric_limits<double>::quiet_NaN();
  return (s->graph->data()->constEnd() - 1)->value;
}

QVector<QPointF> CurvePlot::points(const QString& key) const {
  QVector<QPointF> result;
  const Series* s = findSeries(key);
  if (!s || s->reference) return result;
  const auto data = s->graph->data();
  result.reserve(data->size());
  for (auto it = data->constBegin(); it != data->constEnd(); ++it) result.push_back(QPointF(it->key, it->value));
  return result;
}

void CurvePlot::setTitle(const QString& title) {
  title_->setText(title);
  plot_->setAccessibleName(title);
  scheduleReplot();
}

QString CurvePlot::title() const { return title_->text(); }

// ----- view -----

void CurvePlot::setLogY(bool on) {
  if (on == log_y_) return;
  log_y_ = on;
  adjusting_ranges_ = true;
  plot_->yAxis->setScaleType(on ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
  plot_->yAxis->setTicker(on ? QSharedPointer<QCPAxisTicker>(new QCPAxisTickerLog)
                             : QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
  adjusting_ranges_ = false;
  // A y range picked on one scale rarely suits the other: refit y, keep a user's x range.
  fitToData(follows_data_);
  Q_EMIT viewChanged();
  scheduleReplot();
}

bool CurvePlot::logY() const { return log_y_; }

void CurvePlot::resetView() {
  follows_data_ = true;
  fitToData();
  Q_EMIT viewChanged();
  scheduleReplot();
}

bool CurvePlot::followsData() const { return follows_data_; }

void CurvePlot::onRangeChanged() {
  // Any range change the widget did not make itself is the user's (drag, wheel, or code
  // setting the axis directly): from then on new data must not move the view.
  if (adjusting_ranges_) return;
  follows_data_ = false;
  Q_EMIT viewChanged();
}

void CurvePlot::fitToData(bool fit_x) const {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  double x_lo = kInf, x_hi = -kInf, y_lo = kInf, y_hi = -kInf;
  for (const Series& s : series_) {
    if (s.reference) {
      if (std::isfinite(s.reference_y) && (!log_y_ || s.reference_y > 0)) {
        y_lo = std::min(y_lo, s.reference_y);
        y_hi = std::max(y_hi, s.reference_y);
      }
      continue;
    }
    const auto data = s.graph->data();
    if (data->isEmpty()) continue;
    x_lo = std::min(x_lo, data->constBegin()->key);  // the container keeps keys sorted
    x_hi = std::max(x_hi, (data->constEnd() - 1)->key);
    if (log_y_) {
      // A log axis cannot show values <= 0: fit the positive ones only.
      if (!s.has_positive_y) continue;
      y_lo = std::min(y_lo, s.min_positive_y);
      y_hi = std::max(y_hi, s.max_y);
    } else if (s.has_y) {
      y_lo = std::min(y_lo, s.min_y);
      y_hi = std::max(y_hi, s.max_y);
    }
  }

  QCPRange x_range(0, 1);
  if (x_lo <= x_hi) {
    if (x_lo == x_hi) {
      x_range = QCPRange(x_lo - 0.5, x_hi + 0.5);
    } else {
      const double margin = (x_hi - x_lo) * kXMarginFraction;
      x_range = QCPRange(x_lo - margin, x_hi + margin);
    }
  }
  QCPRange y_range = log_y_ ? QCPRange(0.1, 10) : QCPRange(0, 1);
  if (y_lo <= y_hi) {
    if (log_y_) {
      if (y_lo == y_hi) {
        y_range = QCPRange(y_lo / 2, y_hi * 2);
      } else {
        const double factor = std::pow(y_hi / y_lo, kYMarginFraction);
        y_range = QCPRange(y_lo / factor, y_hi * factor);
      }
    } else if (y_lo == y_hi) {
      const double pad = y_lo != 0 ? std::fabs(y_lo) * 0.1 : 1.0;
      y_range = QCPRange(y_lo - pad, y_hi + pad);
    } else {
      const double margin = (y_hi - y_lo) * kYMarginFraction;
      y_range = QCPRange(y_lo - margin, y_hi + margin);
    }
  }

  adjusting_ranges_ = true;
  if (fit_x) plot_->xAxis->setRange(x_range);
  plot_->yAxis->setRange(y_range);
  adjusting_ranges_ = false;
}

void CurvePlot::updateLegendColumns(int width) const {
  // As many legend columns as fit the width, so that many runs wrap into rows, not off-screen.
  QCPLegend* legend = plot_->legend;
  int widest = 0, items = 0;
  for (int i = 0; i < legend->itemCount(); ++i) {
    if (QCPAbstractLegendItem* item = legend->item(i)) {
      widest = std::max(widest, item->minimumOuterSizeHint().width());
      ++items;
    }
  }
  if (items == 0) return;
  const QMargins margins = legend->margins();
  const int available = std::max(1, width - margins.left() - margins.right() - 8);
  const int columns = std::clamp((available + kLegendColumnSpacing) / (widest + kLegendColumnSpacing), 1, items);
  if (legend->wrap() == columns && legend->columnCount() <= columns) return;
  legend->setWrap(columns);
  legend->setFillOrder(QCPLayoutGrid::foColumnsFirst, true);  // setWrap alone leaves placed items where they are
}

void CurvePlot::scheduleReplot() const {
  // At most one redraw per interval, however fast points arrive.
  if (!replot_timer_->isActive()) replot_timer_->start();
}

void CurvePlot::replotNow() {
  // Hidden (e.g. another page): drawing would be wasted; showEvent catches up.
  if (!isVisible()) return;
  plot_->replot();
}

int CurvePlot::replotCount() const { return replot_count_; }

QCustomPlot* CurvePlot::plot() const { return plot_; }

void CurvePlot::showEvent(QShowEvent* event) {
  QWidget::showEvent(event);
  // Also when nothing is stale: a layout computed while hidden (zero size) must be redone.
  scheduleReplot();
}

void CurvePlot::changeEvent(QEvent* event) {
  QWidget::changeEvent(event);
  if (event->type() == QEvent::PaletteChange) {
    applyPalette();
    scheduleReplot();
  }
}

void CurvePlot::applyPalette() {
  // Everything but the series colours follows the palette, so light and dark themes both read.
  const QPalette& pal = palette();
  const QColor base = pal.color(QPalette::Base);
  const QColor text = pal.color(QPalette::Text);
  const QColor axis_color = mix(base, text, 0.6);
  const QColor grid_color = mix(base, text, 0.15);
  const QColor zero_color = mix(base, text, 0.3);
  plot_->setBackground(QBrush(base));
  for (QCPAxis* axis : {plot_->xAxis, plot_->yAxis}) {
    axis->setBasePen(QPen(axis_color, 0));
    axis->setTickPen(QPen(axis_color, 0));
    axis->setSubTickPen(QPen(axis_color, 0));
    axis->setTickLabelColor(text);
    axis->setLabelColor(text);
    axis->grid()->setPen(QPen(grid_color, 0));
    axis->grid()->setZeroLinePen(QPen(zero_color, 0));
    axis->grid()->setSubGridVisible(false);
  }
  plot_->legend->setTextColor(text);
  plot_->legend->setBrush(QBrush(base));
  plot_->legend->setBorderPen(Qt::NoPen);  // below the plot a frame only adds noise
  title_->setTextColor(text);
}

// ----- export -----

QString CurvePlot::toCsv() const {
  std::vector<QSharedPointer<QCPGraphDataContainer>> columns;
  QString out = QStringLiteral("x");
  for (const Series& s : series_) {
    if (s.reference) continue;
    columns.push_back(s.graph->data());
    out += QLatin1Char(',') + csvField(s.label);
  }
  out += QLatin1Char('\n');

  std::vector<double> xs;
  for (const auto& data : columns)
    for (auto it = data->constBegin(); it != data->constEnd(); ++it) xs.push_back(it->key);
  std::sort(xs.begin(), xs.end());
  xs.erase(std::unique(xs.begin(), xs.end()), xs.end());

  // Every column is sorted by x: walk them in step with the merged x values.
  std::vector<QCPGraphDataContainer::const_iterator> cursors;
  for (const auto& data : columns) cursors.push_back(data->constBegin());
  for (double x : xs) {
    out += formatNumber(x);
    for (size_t c = 0; c < columns.size(); ++c) {
      auto& it = cursors[c];
      const auto end = columns[c]->constEnd();
      while (it != end && it->key < x) ++it;
      QString cell;
      while (it != end && it->key == x) {  // repeated x in one series: the last point wins
        cell = formatNumber(it->value);
        ++it;
      }
      out += QLatin1Char(',') + cell;
    }
    out += QLatin1Char('\n');
  }
  return out;
}

bool CurvePlot::renderPrepare(const QString& path, int width, int height, QString* error) const {
  if (width <= 0 || height <= 0 || width > kMaxExportSide || height > kMaxExportSide) {
    setError(error, tr("Cannot export %1: invalid size %2 \u00d7 %3 pixels").arg(displayPath(path)).arg(width).arg(height));
    return false;
  }
  // Exports show what the next redraw would: fitted if following, legend wrapped for the width.
  if (follows_data_) fitToData();
  updateLegendColumns(width);
  return true;
}

void CurvePlot::renderFinish() const {
  // Rendering laid the plot out for the export size; the next redraw restores the screen layout.
  scheduleReplot();
}

bool CurvePlot::writePng(const QString& path, int width, int height, double scale, QString* error) const {
  if (!renderPrepare(path, width, height, error)) return false;
  const QPixmap pixmap = plot_->toPixmap(width, height, scale);
  renderFinish();
  if (pixmap.isNull()) {
    setError(error, tr("Could not render the chart for %1").arg(displayPath(path)));
    return false;
  }
  // QSaveFile: a failed export never leaves a truncated file in place of an older one.
  QSaveFile file(path);
  if (!file.open(QIODevice::WriteOnly)) {
    setError(error, tr("Could not write %1: %2").arg(displayPath(path), file.errorString()));
    return false;
  }
  if (!pixmap.save(&file, "PNG")) {
    file.cancelWriting();
    setError(error, tr("Could not encode the PNG image %1").arg(displayPath(path)));
    return false;
  }
  if (!file.commit()) {
    setError(error, tr("Could not write %1: %2").arg(displayPath(path), file.errorString()));
    return false;
  }
  return true;
}

bool CurvePlot::exportPng(const QString& path, int width, int height, QString* error) const {
  return writePng(path, width, height, 1.0, error);
}

bool CurvePlot::exportPdf(const QString& path, int width, int height, QString* error) const {
  QSaveFile file(path);
  if (!file.open(QIODevice::WriteOnly)) {
    setError(error, tr("Could not write %1: %2").arg(displayPath(path), file.errorString()));
    return false;
  }
  if (!renderPrepare(path, width, height, error)) {
    file.cancelWriting();
    return false;
  }
  bool painted = false;
  {
    QPdfWriter writer(&file);
    writer.setCreator(QStringLiteral("Contrastive Studio"));
    writer.setTitle(title_->text());
    writer.setResolution(static_cast<int>(kPdfDpi));
    const QPageSize page(QSizeF(width * 72.0 / kPdfDpi, height * 72.0 / kPdfDpi), QPageSize::Point, QString(),
                         QPageSize::ExactMatch);
    writer.setPageLayout(QPageLayout(page, QPageLayout::Portrait, QMarginsF(0, 0, 0, 0)));
    QCPPainter painter;
    if (painter.begin(&writer)) {
      painter.setMode(QCPPainter::pmVectorized);
      // Cosmetic (hairline) pens would print at the viewer's thinnest line: give them a width.
      painter.setMode(QCPPainter::pmNonCosmetic);
      painter.setWindow(0, 0, width, height);
      plot_->toPainter(&painter, width, height);
      painted = painter.end();
    }
  }
  renderFinish();
  if (!painted) {
    file.cancelWriting();
    setError(error, tr("Could not render the PDF %1").arg(displayPath(path)));
    return false;
  }
  if (!file.commit()) {
    setError(error, tr("Could not write %1: %2").arg(displayPath(path), file.errorString()));
    return false;
  }
  return true;
}

bool CurvePlot::exportCsv(const QString& path, QString* error) const {
  QSaveFile file(path);
  if (!file.open(QIODevice::WriteOnly)) {
    setError(error, tr("Could not write %1: %2").arg(displayPath(path), file.errorString()));
    return false;
  }
  const QByteArray bytes = toCsv().toUtf8();
  if (file.write(bytes) != bytes.size() || !file.commit()) {
    setError(error, tr("Could not write %1: %2").arg(displayPath(path), file.errorString()));
    return false;
  }
  return true;
}

// ----- user interface -----

void CurvePlot::showContextMenu(const QPoint& pos) {
  QMenu menu(this);
  menu.addAction(reset_action_);
  menu.addSeparator();
  menu.addAction(export_png_action_);
  menu.addAction(export_pdf_action_);
  menu.addAction(export_csv_action_);
  menu.exec(plot_->mapToGlobal(pos));
}

QString CurvePlot::askExportPath(const QString& caption, const QString& suffix, const QString& filter) {
  QString dir = last_export_dir_;
  if (dir.isEmpty()) dir = QStandardPaths::writableLocation(QStandardPaths::DocumentsLocation);
  QString base = title_->text().toLower();
  base.replace(QRegularExpression(QStringLiteral("[^a-z0-9]+")), QStringLiteral("_"));
  base.remove(QRegularExpression(QStringLiteral("^_+|_+$")));
  if (base.isEmpty()) base = QStringLiteral("curves");

  QFileDialog dialog(this, caption, QDir(dir).filePath(base + QLatin1Char('.') + suffix), filter);
  dialog.setAcceptMode(QFileDialog::AcceptSave);
  dialog.setDefaultSuffix(suffix);  // also makes the overwrite question name the real file
  if (dialog.exec() != QDialog::Accepted || dialog.selectedFiles().isEmpty()) return {};
  const QString path = dialog.selectedFiles().front();
  last_export_dir_ = QFileInfo(path).absolutePath();
  return path;
}

void CurvePlot::exportPngInteractive() {
  const QString path = askExportPath(tr("Export PNG"), QStringLiteral("png"), tr("PNG images (*.png)"));
  if (path.isEmpty()) return;
  QString error;
  if (!writePng(path, std::max(plot_->width(), 320), std::max(plot_->height(), 200), kPngUiScale, &error))
    QMessageBox::warning(this, tr("Export failed"), error);
}

void CurvePlot::exportPdfInteractive() {
  const QString path = askExportPath(tr("Export PDF"), QStringLiteral("pdf"), tr("PDF documents (*.pdf)"));
  if (path.isEmpty()) return;
  QString error;
  if (!exportPdf(path, std::max(plot_->width(), 320), std::max(plot_->height(), 200), &error))
    QMessageBox::warning(this, tr("Export failed"), error);
}

void CurvePlot::exportCsvInteractive() {
  const QString path = askExportPath(tr("Export CSV"), QStringLiteral("csv"), tr("CSV files (*.csv)"));
  if (path.isEmpty()) return;
  QString error;
  if (!exportCsv(path, &error)) QMessageBox::warning(this, tr("Export failed"), error);
}

}  // namespace studio
