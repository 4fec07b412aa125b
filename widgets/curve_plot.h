#pragma once

#include <QColor>
#include <QPointF>
#include <QString>
#include <QVector>
#include <QWidget>

#include <vector>

// qcustomplot.h spells Qt's `signals` and `foreach` keywords, which QT_NO_KEYWORDS (used
// project-wide) leaves undefined. Map them to the macro forms for this one include only, so
// that every user of plot() can include this header without further care.
#ifndef QCUSTOMPLOT_H
#ifndef signals
#define signals Q_SIGNALS
#define STUDIO_CURVE_PLOT_UNDEF_SIGNALS
#endif
#ifndef foreach
#define foreach Q_FOREACH
#define STUDIO_CURVE_PLOT_UNDEF_FOREACH
#endif
#include <qcustomplot.h>
#ifdef STUDIO_CURVE_PLOT_UNDEF_SIGNALS
#undef signals
#undef STUDIO_CURVE_PLOT_UNDEF_SIGNALS
#endif
#ifdef STUDIO_CURVE_PLOT_UNDEF_FOREACH
#undef foreach
#undef STUDIO_CURVE_PLOT_UNDEF_FOREACH
#endif
#endif

class QAction;
class QEvent;
class QShowEvent;
class QTimer;

namespace studio {

enum class SeriesStyle { Line, Dashed, Dots };

// One titled chart of named series over a shared x axis (training steps), built on QCustomPlot.
//
// Series are addressed by a caller-chosen key and shown under a label in the legend below the
// plot. Points may be appended at any rate: the chart is redrawn at most every 40 ms from a
// single-shot timer, and not at all while the widget is hidden. Until the user pans or zooms,
// every redraw fits the axes to the data; a double-click or "Reset view" resumes that.
// Reference lines (horizontal, e.g. a baseline) share the key space with series but are no
// series: hasSeries(), pointCount() and the CSV ignore them; removeSeries() removes either.
// A tool row and a context menu offer reset and PNG/PDF/CSV export. GUI thread only: a
// worker's points reach it through queued signals.
class CurvePlot : public QWidget {
  Q_OBJECT

 public:
  CurvePlot(const QString& title, const QString& x_label, const QString& y_label, QWidget* parent = nullptr);
  ~CurvePlot() override;

  // Adding an existing key updates its label, colour and style and keeps its points.
  void addSeries(const QString& key, const QString& label, const QColor& color, SeriesStyle style = SeriesStyle::Line);
  bool hasSeries(const QString& key) const;
  void removeSeries(const QString& key);
  // Unknown keys and non-finite x are ignored with a warning; a non-finite y leaves a gap.
  void appendPoint(const QString& key, double x, double y);
  void appendPoints(const QString& key, const QVector<double>& x, const QVector<double>& y);
  // A horizontal reference line across the whole x range (e.g. the raw-pixel kNN baseline), shown in the legend.
  // Calling it again with the same key moves or relabels the line.
  void setReferenceLine(const QString& key, const QString& label, double y, const QColor& color);
  bool hasReferenceLine(const QString& key) const;
  // Keeps smoothed_key as an exponential moving average of raw_key (debiased like TensorBoard's smoothing, weight in [0,1)); both must exist.
  // The smoothed series is recomputed from the raw points at once, then follows every append;
  // non-finite raw values are skipped. Chains (smoothing a smoothed series) are refused.
  void setSmoothing(const QString& raw_key, const QString& smoothed_key, double weight);
  void clearData();  // drop all points, keep series; the view follows the data again
  int pointCount(const QString& key) const;
  double lastValue(const QString& key) const;  // value at the largest x; NaN when empty
  QVector<QPointF> points(const QString& key) const;  // sorted by x; empty for unknown keys
  void setTitle(const QString& title);
  QString title() const;
  void setLogY(bool on);
  bool logY() const;
  void resetView();        // fit axes to the data and resume following new data
  bool followsData() const;  // true until the user zooms or pans
  // Header "x,<label1>,<label2>..." (series in the order added), then one row per distinct x
  // (sorted), empty cells where a series has no point at that x; reference lines excluded.
  QString toCsv() const;
  // Width and height are pixels; the PDF page gets that size at 96 dpi. Files are replaced
  // atomically; on failure nothing is written and *error names the path.
  bool exportPng(const QString& path, int width, int height, QString* error = nullptr) const;
  bool exportPdf(const QString& path, int width, int height, QString* error = nullptr) const;
  bool exportCsv(const QString& path, QString* error = nullptr) const;
  int replotCount() const;  // redraws done so far (tests use it to prove throttling)
  QCustomPlot* plot() const;

  static constexpr int kReplotIntervalMs = 40;

 Q_SIGNALS:
  // The visible range changed through the user (pan, zoom, direct axis changes), resetView()
  // or setLogY(); not for the automatic fitting while following the data.
  void viewChanged();

 protected:
  void changeEvent(QEvent* event) override;
  void showEvent(QShowEvent* event) override;

 private:
  struct Series {
    QString key;
    QString label;
    QCPGraph* graph = nullptr;
    bool reference = false;
    double reference_y = 0;
    // Finite-y extents kept up to date on append, so that fitting the view never scans the data.
    double min_y = 0, max_y = 0, min_positive_y = 0;
    bool has_y = false, has_positive_y = false;
  };
  struct Smoothing {
    QString raw_key;
    QString smoothed_key;
    double weight = 0;
    double accumulator = 0;
    double weight_power = 1;  // weight^count, for the debiasing
  };

  Series* findSeries(const QString& key);
  const Series* findSeries(const QString& key) const;
  void applyStyle(Series& series, const QColor& color, SeriesStyle style) const;
  static void noteExtent(Series& series, double y);
  static void recomputeExtent(Series& series);
  void appendValid(Series& series, const double* x, const double* y, int n);
  static double smoothStep(Smoothing& smoothing, double value);
  void recomputeSmoothing(Smoothing& smoothing);
  void scheduleReplot() const;
  void replotNow();
  void fitToData(bool fit_x = true) const;
  void updateReferenceLines() const;
  void updateLegendColumns(int width) const;
  void applyPalette();
  void onRangeChanged();
  void showContextMenu(const QPoint& pos);
  bool renderPrepare(const QString& path, int width, int height, QString* error) const;
  void renderFinish() const;
  bool writePng(const QString& path, int width, int height, double scale, QString* error) const;
  QString askExportPath(const QString& caption, const QString& suffix, const QString& filter);
  void exportPngInteractive();
  void exportPdfInteractive();
  void exportCsvInteractive();

  QCustomPlot* plot_ = nullptr;
  QCPTextElement* title_ = nullptr;
  QTimer* replot_timer_ = nullptr;
  QAction* reset_action_ = nullptr;
  QAction* export_png_action_ = nullptr;
  QAction* export_pdf_action_ = nullptr;
  QAction* export_csv_action_ = nullptr;
  std::vector<Series> series_;
  std::vector<Smoothing> smoothings_;
  QString last_export_dir_;
  int replot_count_ = 0;
  bool follows_data_ = true;
  bool log_y_ = false;
  mutable bool adjusting_ranges_ = false;  // set while the widget itself moves the axes
};

}  // namespace studio
