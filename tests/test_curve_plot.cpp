// CurvePlot: throttled redraws, TensorBoard-style smoothing, CSV layout, PNG/PDF/CSV export
// and their errors, following the data versus the user's view, reference lines, log scale.
#include <QtTest/QtTest>

#include <QApplication>
#include <QFile>
#include <QFileInfo>
#include <QImage>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QWheelEvent>

#include <cmath>
#include <vector>

#include "widgets/curve_plot.h"

using studio::CurvePlot;
using studio::SeriesStyle;

namespace {

// The debiased EMA in closed form, independent of the widget's running recurrence:
// s_t = (1 - w) * sum_{i<=t} w^(t-i) v_i / (1 - w^(t+1)).
std::vector<double> expectedSmoothing(const std::vector<double>& values, double w) {
  std::vector<double> out;
  for (size_t t = 0; t < values.size(); ++t) {
    double sum = 0;
    for (size_t i = 0; i <= t; ++i) sum += std::pow(w, static_cast<double>(t - i)) * values[i];
    out.push_back((1 - w) * sum / (1 - std::pow(w, static_cast<double>(t + 1))));
  }
  return out;
}

QStringList legendLabels(const CurvePlot& plot) {
  QStringList labels;
  QCPLegend* legend = plot.plot()->legend;
  for (int i = 0; i < legend->itemCount(); ++i) {
    if (auto* item = qobject_cast<QCPPlottableLegendItem*>(legend->item(i))) labels << item->plottable()->name();
  }
  return labels;
}

void showAndSettle(CurvePlot& plot) {
  plot.resize(640, 420);
  plot.show();
  QVERIFY(QTest::qWaitForWindowExposed(&plot));
  QTest::qWait(120);  // let the first redraws (show, resize) pass
}

}  // namespace

class TestCurvePlot : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

  void appendsAreThrottled() {
    CurvePlot plot("Loss", "step", "loss");
    plot.addSeries("loss", "Loss", Qt::blue);
    showAndSettle(plot);
    const int before = plot.replotCount();
    for (int i = 0; i < 1000; ++i) plot.appendPoint("loss", i, 1.0 / (1 + i));
    QCOMPARE(plot.replotCount(), before);  // nothing drawn synchronously
    QTest::qWait(200);
    const int redraws = plot.replotCount() - before;
    QVERIFY2(redraws >= 1, "the timer never redrew");
    QVERIFY2(redraws <= 3, qPrintable(QString("%1 redraws for 1000 appends").arg(redraws)));
    QCOMPARE(plot.pointCount("loss"), 1000);
    QCOMPARE(plot.lastValue("loss"), 1.0 / 1000);
    // Following: the redraw fitted the axes to all points.
    const QCPRange x = plot.plot()->xAxis->range();
    QVERIFY(x.lower <= 0 && x.upper >= 999);
  }

  void hiddenPlotDoesNotRedraw() {
    CurvePlot plot("Loss", "step", "loss");
    plot.addSeries("loss", "Loss", Qt::blue);
    QTest::qWait(100);
    const int before = plot.replotCount();
    for (int i = 0; i < 100; ++i) plot.appendPoint("loss", i, i);
    QTest::qWait(150);
    QCOMPARE(plot.replotCount(), before);
    showAndSettle(plot);
    QVERIFY(plot.replotCount() > before);
    const QCPRange x = plot.plot()->xAxis->range();
    QVERIFY(x.lower <= 0 && x.upper >= 99);  // caught up with what arrived while hidden
  }

  void largeSeriesStaysFast() {
    CurvePlot plot("Loss", "step", "loss");
    plot.addSeries("raw", "Raw", Qt::blue);
    plot.addSeries("smooth", "Smoothed", Qt::red);
    plot.setSmoothing("raw", "smooth", 0.9);
    showAndSettle(plot);
    QElapsedTimer timer;
    timer.start();
    for (int i = 0; i < 100000; ++i) plot.appendPoint("raw", i, std::sin(i * 0.001) + 2);
    const qint64 append_ms = timer.elapsed();
    timer.restart();
    plot.plot()->replot();
    const qint64 replot_ms = timer.elapsed();
    qInfo("100k appends (with smoothing): %lld ms, one redraw: %lld ms", static_cast<long long>(append_ms),
          static_cast<long long>(replot_ms));
    QCOMPARE(plot.pointCount("raw"), 100000);
    QCOMPARE(plot.pointCount("smooth"), 100000);
    QVERIFY2(append_ms < 3000, qPrintable(QString("appends took %1 ms").arg(append_ms)));
    QVERIFY2(replot_ms < 1500, qPrintable(QString("a redraw took %1 ms").arg(replot_ms)));
  }

  void smoothingIsDebiasedEma() {
    CurvePlot plot("Loss", "step", "loss");
    plot.addSeries("raw", "Raw", Qt::blue);
    plot.addSeries("smooth", "Smoothed", Qt::red);
    const std::vector<double> raw{4.0, 2.0, 3.5, 1.0, 2.5, 0.5, 1.5};
    const double w = 0.6;
    // Half the points exist before smoothing is set (recomputed), the rest arrive after (running).
    for (int i = 0; i < 3; ++i) plot.appendPoint("raw", i, raw[i]);
    plot.setSmoothing("raw", "smooth", w);
    plot.appendPoint("raw", 3, raw[3]);
    plot.appendPoints("raw", {4, 5, 6}, {raw[4], raw[5], raw[6]});

    const std::vector<double> expected = expectedSmoothing(raw, w);
    const QVector<QPointF> smoothed = plot.points("smooth");
    QCOMPARE(smoothed.size(), static_cast<qsizetype>(expected.size()));
    for (size_t i = 0; i < expected.size(); ++i) {
      QCOMPARE(smoothed[i].x(), static_cast<double>(i));
      QVERIFY2(std::fabs(smoothed[i].y() - expected[i]) < 1e-12,
               qPrintable(QString("point %1: %2 vs %3").arg(i).arg(smoothed[i].y()).arg(expected[i])));
    }
    // Debiasing: the first smoothed value is the first raw value, not (1 - w) times it.
    QCOMPARE(smoothed[0].y(), raw[0]);
    QVERIFY(std::fabs(plot.lastValue("smooth") - expected.back()) < 1e-12);

    // A NaN raw value is a gap in the raw curve and is skipped by the average.
    plot.appendPoint("raw", 7, std::nan(""));
    plot.appendPoint("raw", 8, 2.0);
    std::vector<double> finite = raw;
    finite.push_back(2.0);
    QCOMPARE(plot.pointCount("raw"), 9);
    QCOMPARE(plot.pointCount("smooth"), 8);
    QVERIFY(std::fabs(plot.lastValue("smooth") - expectedSmoothing(finite, w).back()) < 1e-12);

    // Changing the weight recomputes the whole smoothed series.
    plot.setSmoothing("raw", "smooth", 0.0);
    QCOMPARE(plot.pointCount("smooth"), 8);
    QCOMPARE(plot.lastValue("smooth"), 2.0);

    // Out-of-range weights are refused and leave the smoothing as it was.
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression("outside"));
    plot.setSmoothing("raw", "smooth", 1.0);
    QCOMPARE(plot.lastValue("smooth"), 2.0);
  }

  void csvMergesSeriesByX() {
    CurvePlot plot("Curves", "step", "value");
    plot.addSeries("loss", "Train loss", Qt::blue);
    plot.addSeries("knn", "kNN, top-1", Qt::red, SeriesStyle::Dots);
    plot.setReferenceLine("baseline", "Raw pixels", 0.25, Qt::gray);
    plot.appendPoints("loss", {0, 1, 2}, {1.5, 1.25, 1.0});
    plot.appendPoints("knn", {2.5, 1}, {0.75, 0.5});  // unsorted on purpose
    const QString expected =
        "x,Train loss,\"kNN, top-1\"\n"
        "0,1.5,\n"
        "1,1.25,0.5\n"
        "2,1,\n"
        "2.5,,0.75\n";
    QCOMPARE(plot.toCsv(), expected);

    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath("curves.csv");
    QString error;
    QVERIFY2(plot.exportCsv(path, &error), qPrintable(error));
    QFile file(path);
    QVERIFY(file.open(QIODevice::ReadOnly));
    QCOMPARE(QString::fromUtf8(file.readAll()), expected);
  }

  void exportPngWritesImage() {
    CurvePlot plot("Accuracy", "step", "top-1");
    plot.addSeries("acc", "Accuracy", QColor(255, 0, 0));
    for (int i = 0; i <= 200; ++i) plot.appendPoint("acc", i, 0.2 + 0.6 * i / 200.0);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath("accuracy.png");
    QString error;
    QVERIFY2(plot.exportPng(path, 800, 500, &error), qPrintable(error));
    QVERIFY(error.isEmpty());
    QVERIFY(QFileInfo(path).size() > 0);
    const QImage image(path);
    QVERIFY(!image.isNull());
    QCOMPARE(image.size(), QSize(800, 500));
    // The background is the palette's and the red curve was drawn (the widget was never shown).
    QCOMPARE(image.pixelColor(2, 2).rgb(), plot.palette().color(QPalette::Base).rgb());
    int red_pixels = 0;
    for (int y = 0; y < image.height(); ++y)
      for (int x = 0; x < image.width(); ++x) {
        const QColor c = image.pixelColor(x, y);
        if (c.red() > 200 && c.green() < 60 && c.blue() < 60) ++red_pixels;
      }
    QVERIFY2(red_pixels > 200, qPrintable(QString("%1 red pixels").arg(red_pixels)));
  }

  void exportReportsUnwritablePaths() {
    CurvePlot plot("Loss", "step", "loss");
    plot.addSeries("loss", "Loss", Qt::blue);
    plot.appendPoint("loss", 0, 1);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath("missing/folder/loss.png");
    QString error;
    QVERIFY(!plot.exportPng(path, 400, 300, &error));
    QVERIFY2(error.contains(QDir::toNativeSeparators(path)), qPrintable(error));
    QVERIFY(!QFileInfo::exists(path));

    error.clear();
    const QString pdf_path = dir.filePath("missing/loss.pdf");
    QVERIFY(!plot.exportPdf(pdf_path, 400, 300, &error));
    QVERIFY2(error.contains(QDir::toNativeSeparators(pdf_path)), qPrintable(error));
    error.clear();
    const QString csv_path = dir.filePath("missing/loss.csv");
    QVERIFY(!plot.exportCsv(csv_path, &error));
    QVERIFY2(error.contains(QDir::toNativeSeparators(csv_path)), qPrintable(error));
    error.clear();
    QVERIFY(!plot.exportPng(dir.filePath("zero.png"), 0, 300, &error));
    QVERIFY(error.contains("zero.png"));
  }

  void exportPdfWritesPage() {
    CurvePlot plot("Loss", "step", "loss");
    plot.addSeries("loss", "Loss", Qt::blue);
    for (int i = 0; i < 50; ++i) plot.appendPoint("loss", i, 1.0 / (1 + i));
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath("loss.pdf");
    QString error;
    QVERIFY2(plot.exportPdf(path, 800, 500, &error), qPrintable(error));
    QFile file(path);
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QByteArray bytes = file.readAll();
    QVERIFY(bytes.startsWith("%PDF"));
    // 800 x 500 pixels at 96 dpi is a 600 x 375 point page.
    const QRegularExpressionMatch box =
        QRegularExpression(R"(/MediaBox \[([-0-9. ]+)\])").match(QString::fromLatin1(bytes));
    QVERIFY2(box.hasMatch(), "no /MediaBox in the PDF");
    const QStringList corners = box.captured(1).split(' ', Qt::SkipEmptyParts);
    QCOMPARE(corners.size(), 4);
    QVERIFY2(std::fabs(corners[2].toDouble() - 600) < 1 && std::fabs(corners[3].toDouble() - 375) < 1,
             qPrintable(box.captured(0)));
  }

  void resetViewResumesFollowing() {
    CurvePlot plot("Loss", "step", "loss");
    plot.addSeries("loss", "Loss", Qt::blue);
    showAndSettle(plot);
    for (int i = 0; i < 100; ++i) plot.appendPoint("loss", i, i * 0.5);
    QTest::qWait(100);
    QVERIFY(plot.followsData());
    QSignalSpy spy(&plot, &CurvePlot::viewChanged);

    // What a drag or wheel step ends in: the axis range changed by someone other than the widget.
    plot.plot()->xAxis->setRange(10, 20);
    QVERIFY(!plot.followsData());
    QVERIFY(spy.count() >= 1);

    plot.appendPoint("loss", 500, 3);
    QTest::qWait(120);
    QCOMPARE(plot.plot()->xAxis->range().lower, 10.0);  // new data does not move the user's view
    QCOMPARE(plot.plot()->xAxis->range().upper, 20.0);

    const int before = spy.count();
    plot.resetView();
    QVERIFY(plot.followsData());
    QVERIFY(spy.count() > before);
    const QCPRange x = plot.plot()->xAxis->range();
    QVERIFY(x.lower <= 0 && x.upper >= 500);
    const QCPRange y = plot.plot()->yAxis->range();
    QVERIFY(y.lower <= 0 && y.upper >= 49.5);
  }

  void wheelAndDoubleClick() {
    CurvePlot plot("Loss", "step", "loss");
    plot.addSeries("loss", "Loss", Qt::blue);
    for (int i = 0; i < 100; ++i) plot.appendPoint("loss", i, i);
    showAndSettle(plot);
    QVERIFY(plot.followsData());
    const QCPRange fitted = plot.plot()->xAxis->range();

    QCustomPlot* target = plot.plot();
    const QPointF centre = target->axisRect()->rect().center();
    QWheelEvent wheel(centre, target->mapToGlobal(centre), QPoint(), QPoint(0, 120), Qt::NoButton, Qt::NoModifier,
                      Qt::NoScrollPhase, false);
    QApplication::sendEvent(target, &wheel);
    QVERIFY(!plot.followsData());
    QVERIFY(plot.plot()->xAxis->range().size() < fitted.size());  // zoomed in

    QTest::mouseDClick(target, Qt::LeftButton, Qt::NoModifier, centre.toPoint());
    QVERIFY(plot.followsData());
    QVERIFY(std::fabs(plot.plot()->xAxis->range().size() - fitted.size()) < 1e-9);
  }

  void referenceLineInLegendNotCsv() {
    CurvePlot plot("kNN accuracy", "step", "top-1");
    plot.addSeries("knn", "kNN top-1", Qt::blue);
    plot.appendPoints("knn", {0, 100, 200}, {0.3, 0.5, 0.6});
    plot.setReferenceLine("pixels", "Raw-pixel baseline", 0.8, Qt::darkGray);
    QVERIFY(plot.hasReferenceLine("pixels"));
    QVERIFY(!plot.hasSeries("pixels"));
    QVERIFY(legendLabels(plot).contains("Raw-pixel baseline"));
    QVERIFY(legendLabels(plot).contains("kNN top-1"));
    QVERIFY(!plot.toCsv().contains("Raw-pixel baseline"));
    QCOMPARE(plot.toCsv().section('\n', 0, 0), QString("x,kNN top-1"));

    plot.resetView();
    // The fitted view includes the baseline, and the line spans the whole visible x range.
    const QCPRange y = plot.plot()->yAxis->range();
    QVERIFY(y.upper >= 0.8 && y.lower <= 0.3);
    QCPGraph* line = nullptr;
    for (int i = 0; i < plot.plot()->graphCount(); ++i)
      if (plot.plot()->graph(i)->name() == "Raw-pixel baseline") line = plot.plot()->graph(i);
    QVERIFY(line);
    QCOMPARE(line->data()->size(), 2);
    QCOMPARE(line->data()->constBegin()->key, plot.plot()->xAxis->range().lower);
    QCOMPARE((line->data()->constEnd() - 1)->key, plot.plot()->xAxis->range().upper);
    QCOMPARE(line->data()->constBegin()->value, 0.8);

    // Moving it keeps one legend entry; removing it drops the entry.
    plot.setReferenceLine("pixels", "Raw-pixel baseline", 0.7, Qt::darkGray);
    QCOMPARE(legendLabels(plot).count("Raw-pixel baseline"), 1);
    plot.removeSeries("pixels");
    QVERIFY(!plot.hasReferenceLine("pixels"));
    QVERIFY(!legendLabels(plot).contains("Raw-pixel baseline"));
  }

  void logYSkipsNonPositiveValues() {
    CurvePlot plot("Learning rate", "step", "lr");
    plot.addSeries("lr", "Learning rate", Qt::blue);
    plot.appendPoints("lr", {0, 1, 2, 3}, {0.0, -1.0, 0.01, 10.0});
    plot.setLogY(true);
    QVERIFY(plot.logY());
    plot.resetView();
    QCPRange y = plot.plot()->yAxis->range();
    QVERIFY2(y.lower > 0 && y.lower < 0.01 && y.upper > 10, qPrintable(QString("%1 .. %2").arg(y.lower).arg(y.upper)));
    QVERIFY(y.lower > 0.001);  // a small margin, not a jump to a tiny value for the zero
    plot.setLogY(false);
    y = plot.plot()->yAxis->range();
    QVERIFY(y.lower < -1 && y.upper > 10);
  }

  void logYDoesNotDrawNonPositiveValues() {
    CurvePlot plot("Learning rate", "step", "lr");
    plot.addSeries("lr", "Learning rate", QColor(255, 0, 0));
    // Warm-up from 0: on a log axis the first point must be skipped, not drawn as a line
    // plunging from the second point to the bottom of the plot.
    for (int i = 0; i <= 100; ++i) plot.appendPoint("lr", i, i == 0 ? 0.0 : 1.0 + i);
    plot.setLogY(true);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath("lr.png");
    QVERIFY(plot.exportPng(path, 600, 400));
    const QImage image(path);
    QCOMPARE(image.size(), QSize(600, 400));
    // Right after the export the plot is still laid out at the export size: map with it.
    const QRect area = plot.plot()->axisRect()->rect();
    const int lowest = qRound(plot.plot()->yAxis->coordToPixel(2.0));  // the smallest positive value
    QVERIFY(lowest + 6 < area.bottom());
    int red_above = 0, red_below = 0;
    for (int y = area.top(); y < area.bottom(); ++y)
      for (int x = area.left(); x < area.right(); ++x) {
        const QColor c = image.pixelColor(x, y);
        if (c.red() > 200 && c.green() < 80 && c.blue() < 80) ++(y > lowest + 4 ? red_below : red_above);
      }
    QVERIFY2(red_above > 100, qPrintable(QString("%1 red pixels for the curve").arg(red_above)));
    QCOMPARE(red_below, 0);
  }

  void clearDataKeepsSeries() {
    CurvePlot plot("Loss", "step", "loss");
    plot.addSeries("raw", "Raw", Qt::blue);
    plot.addSeries("smooth", "Smoothed", Qt::red);
    plot.setSmoothing("raw", "smooth", 0.5);
    plot.appendPoints("raw", {0, 1, 2}, {3, 2, 1});
    plot.plot()->xAxis->setRange(5, 6);
    QVERIFY(!plot.followsData());
    plot.clearData();
    QVERIFY(plot.hasSeries("raw") && plot.hasSeries("smooth"));
    QCOMPARE(plot.pointCount("raw"), 0);
    QCOMPARE(plot.pointCount("smooth"), 0);
    QVERIFY(std::isnan(plot.lastValue("raw")));
    QVERIFY(plot.followsData());
    // The smoothing starts over: the first new point is its own average.
    plot.appendPoint("raw", 10, 7);
    QCOMPARE(plot.lastValue("smooth"), 7.0);
    QCOMPARE(plot.toCsv(), QString("x,Raw,Smoothed\n10,7,7\n"));
  }

  void unknownKeysAreIgnored() {
    CurvePlot plot("Loss", "step", "loss");
    plot.addSeries("loss", "Loss", Qt::blue);
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression("no series 'nope'"));
    plot.appendPoint("nope", 1, 1);
    QCOMPARE(plot.pointCount("nope"), 0);
    QVERIFY(std::isnan(plot.lastValue("nope")));
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression("2 x but 1 y"));
    plot.appendPoints("loss", {1, 2}, {1});
    QCOMPARE(plot.pointCount("loss"), 0);
    plot.removeSeries("loss");
    QVERIFY(!plot.hasSeries("loss"));
    QVERIFY(legendLabels(plot).isEmpty());
  }

  void followsPaletteChanges() {
    CurvePlot plot("Loss", "step", "loss");
    plot.addSeries("loss", "Loss", Qt::blue);
    QPalette dark = plot.palette();
    dark.setColor(QPalette::Base, QColor(30, 30, 34));
    dark.setColor(QPalette::Text, QColor(230, 230, 230));
    plot.setPalette(dark);
    QCOMPARE(plot.plot()->legend->textColor(), QColor(230, 230, 230));
    QCOMPARE(plot.plot()->legend->brush().color(), QColor(30, 30, 34));
    QCOMPARE(plot.plot()->xAxis->tickLabelColor(), QColor(230, 230, 230));
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath("dark.png");
    QVERIFY(plot.exportPng(path, 300, 200));
    QCOMPARE(QImage(path).pixelColor(2, 2), QColor(30, 30, 34));
  }
};

QTEST_MAIN(TestCurvePlot)
#include "test_curve_plot.moc"
