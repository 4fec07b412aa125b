// The Results page on a small finished run, offscreen: the label-efficiency study run in the
// background (table, plot, saved files, reloading them), cancelling it, the per-class view
// and confusion matrix, the duplicate/leak scan on a dataset with planted copies (shown as
// image pairs), the page's place in the main window, and the neighbour query the map uses,
// timed over 70,000 embeddings.
#include <QtTest/QtTest>

#include <QComboBox>
#include <QLabel>
#include <QTabWidget>
#include <QListWidget>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QTableWidget>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>

#include "app/studio/main_window.h"
#include "app/studio/preferences.h"
#include "app/studio/results_page.h"
#include "core/eval/embedding_map.h"
#include "core/data/packed_dataset.h"
#include "core/train/trainer.h"
#include "tests/test_support.h"
#include "widgets/class_accuracy_plot.h"
#include "widgets/study_plot.h"

using namespace studio;

namespace {

constexpr int kDistinct = 128;  // distinct images; each is stored twice (planted duplicates)
constexpr int kWaitMs = 240000;

// 12x12 grey images in 4 classes (a bright bar whose row band depends on the class, plus
// noise), every one of them twice in a row: row 2i and 2i + 1 are the same picture.
std::string writeDoubledDataset(const std::string& dir) {
  PackedDataset p;
  p.count = 2 * kDistinct;
  p.channels = 1;
  p.height = 12;
  p.width = 12;
  p.class_names = {"top", "upper", "lower", "bottom"};
  uint32_t rng = 4242;
  for (int i = 0; i < kDistinct; ++i) {
    const int cls = i % 4;
    std::vector<uint8_t> image;
    for (int r = 0; r < 12; ++r)
      for (int c = 0; c < 12; ++c) {
        rng = rng * 1664525u + 1013904223u;
        image.push_back(static_cast<uint8_t>((r / 3 == cls ? 190 : 30) + static_cast<int>(rng >> 26)));
      }
    for (int copy = 0; copy < 2; ++copy) {
      p.pixels.insert(p.pixels.end(), image.begin(), image.end());
      p.labels.push_back(cls);
    }
  }
  const std::string path = dir + "/doubled.csds";
  writePackedDataset(path, p);
  return path;
}

bool sameImage(const ImageTable& a, int64_t i, const ImageTable& b, int64_t j) {
  return std::memcmp(a.image(i), b.image(j), static_cast<size_t>(a.imageBytes())) == 0;
}

}  // namespace

class TestResultsPage : public QObject {
  Q_OBJECT

 private:
  QString run_dir_;
  std::unique_ptr<QSettings> settings_;
  std::unique_ptr<Preferences> prefs_;

  static RunStudyOptions smallStudy() {
    RunStudyOptions o;
    o.fractions = {0.1, 1.0};
    o.seeds = 2;
    o.bank_size = 0;
    o.query_size = 0;
    o.device = "cpu";
    return o;
  }

 private Q_SLOTS:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    const std::string dir = test::scratchDir("results_page");
    ExperimentConfig c;
    c.name = "doubled";
    c.dataset.kind = DatasetKind::Packed;
    c.dataset.path = writeDoubledDataset(dir);
    c.dataset.holdout_fraction = 0.25;
    c.model.width = 8;
    c.model.head_dims = {32, 16};
    c.train.epochs = 1;
    c.train.batch_size = 32;
    c.train.threads = 2;
    c.train.device = "cpu";
    c.monitor.every_epochs = 0;
    c.augment.saturation = 0;
    c.augment.hue = 0;
    Trainer trainer(c, dir + "/runs");
    const auto outcome = trainer.run([](const MetricsRecord&) { return true; });
    QCOMPARE(QString::fromStdString(outcome.status), QStringLiteral("finished"));
    run_dir_ = QString::fromStdString(outcome.run_dir);
    settings_ = std::make_unique<QSettings>(QString::fromStdString(dir + "/settings.ini"), QSettings::IniFormat);
    prefs_ = std::make_unique<Preferences>(settings_.get(), nullptr);
    prefs_->setRunsDir(QString::fromStdString(dir + "/runs"));
    prefs_->setDefaultDevice(QStringLiteral("cpu"));
  }

  void studyRunsInTheBackgroundAndIsSaved() {
    ResultsPage page;
    page.resize(1100, 800);
    page.show();
    QVERIFY(!page.runStudyButton()->isEnabled());  // no run yet
    page.setRun(run_dir_);
    QVERIFY(page.runStudyButton()->isEnabled());
    page.setStudyOptions(smallStudy());
    QSignalSpy finished(&page, &ResultsPage::studyFinished);
    QTest::mouseClick(page.runStudyButton(), Qt::LeftButton);
    QVERIFY(page.busy());
    QVERIFY(page.cancelButton()->isEnabled());
    QVERIFY(!page.runStudyButton()->isEnabled());
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kWaitMs);
    QVERIFY(!page.busy());

    // 3 representations x 2 classifiers x 2 shares, fewest labels first within an arm.
    const StudyResult& r = page.study();
    QCOMPARE(r.cells.size(), size_t(12));
    QCOMPARE(r.class_names.size(), size_t(4));
    QCOMPARE(page.studyTable()->rowCount(), 12);
    QCOMPARE(page.studyTable()->item(0, 0)->text(), QStringLiteral("pretrained / linear probe"));
    QCOMPARE(page.studyTable()->item(0, 1)->text(), QStringLiteral("10%"));
    QCOMPARE(page.studyPlot()->seriesNames().size(), 6);
    for (const auto& cell : r.cells) {
      QVERIFY(cell.mean >= 0 && cell.mean <= 1);
      QCOMPARE(cell.top1.size(), size_t(cell.label_fraction < 1 ? 2 : 1));
      int64_t total = 0;
      for (const int64_t v : cell.confusion) total += v;
      QCOMPARE(total, r.test_images);
      const auto points = page.studyPlot()->seriesPoints(QString::fromStdString(cell.arm));
      QCOMPARE(points.size(), 2);
      const QPointF& p = points[cell.label_fraction < 1 ? 0 : 1];
      QCOMPARE(p.x(), double(cell.labeled_images));
      QVERIFY(std::abs(p.y() - 100 * cell.mean) < 1e-9);
    }
    // The probes on this easy data learn it: the pretrained probe with all labels is well above chance.
    QVERIFY2(r.cells[1].mean > 0.6, qPrintable(QString::number(r.cells[1].mean)));

    // Per class: the first arm at its largest share is shown; bars for every arm at that share.
    QCOMPARE(page.confusionTable()->rowCount(), 4);
    QCOMPARE(page.confusionTable()->columnCount(), 4);
    QCOMPARE(page.classPlot()->barSetCount(), 6);
    page.cellChooser()->setCurrentIndex(2);  // pretrained / kNN at 10%: no probabilities
    QCOMPARE(page.confusionTable()->item(0, 0)->text().toLongLong(), r.cells[2].confusion[0]);

    // Saved in the run folder, and shown again when the run is reopened.
    for (const char* ext : {".json", ".csv", ".svg"})
      QVERIFY(std::filesystem::exists(run_dir_.toStdString() + "/label_efficiency" + ext));
    ResultsPage reopened;
    reopened.setRun(run_dir_);
    QCOMPARE(reopened.study().cells.size(), size_t(12));
    QCOMPARE(reopened.studyTable()->rowCount(), 12);
    QCOMPARE(reopened.study().cells[5].top1, r.cells[5].top1);
    QVERIFY(reopened.statusText().contains(QStringLiteral("saved")));
  }

  void cancellingAStudyStopsIt() {
    ResultsPage page;
    page.setRun(run_dir_);
    auto o = smallStudy();
    o.fractions = {0.05, 0.1, 0.2, 0.5, 1.0};
    o.seeds = 20;
    page.setStudyOptions(o);
    QSignalSpy failed(&page, &ResultsPage::taskFailed);
    QSignalSpy finished(&page, &ResultsPage::studyFinished);
    page.startStudy();
    QVERIFY(page.busy());
    // Wait for the first fits to report, then cancel.
    QTRY_VERIFY_WITH_TIMEOUT(page.progressBar()->maximum() > 1 && page.progressBar()->value() >= 1, kWaitMs);
    QTest::mouseClick(page.cancelButton(), Qt::LeftButton);
    QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, kWaitMs);
    QCOMPARE(failed.at(0).at(1).toBool(), true);  // cancelled, not an error
    QCOMPARE(finished.count(), 0);
    QVERIFY(!page.busy());
    QVERIFY(page.runStudyButton()->isEnabled());
    QVERIFY(page.statusText().contains(QStringLiteral("cancelled")));
  }

  void supervisedArmsAreMoreRows() {
    // The supervised arms (issue 7's trainer) are more cells of the same study: one row and
    // one plot series each, beside a frozen arm.
    ResultsPage page;
    page.setRun(run_dir_);
    auto o = smallStudy();
    o.fractions = {1.0};
    o.seeds = 1;
    o.representations = {"pretrained", "scratch", "finetuned"};
    o.classifiers = {"kNN"};
    o.finetune.max_epochs = 1;
    o.finetune.min_epoch_samples = 64;
    page.setStudyOptions(o);
    const auto back = page.studyOptions();
    QCOMPARE(back.representations, o.representations);
    QCOMPARE(back.finetune.max_epochs, int64_t(1));
    QCOMPARE(back.finetune.min_epoch_samples, int64_t(64));
    QSignalSpy finished(&page, &ResultsPage::studyFinished);
    QSignalSpy failed(&page, &ResultsPage::taskFailed);
    page.startStudy();
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() + failed.count() > 0, kWaitMs);
    QVERIFY2(failed.isEmpty(), qPrintable(failed.isEmpty() ? QString() : failed.at(0).at(0).toString()));
    const StudyResult& r = page.study();
    QCOMPARE(r.cells.size(), size_t(3));
    QCOMPARE(QString::fromStdString(r.cells[1].arm), QStringLiteral("scratch / supervised"));
    QCOMPARE(QString::fromStdString(r.cells[2].arm), QStringLiteral("finetuned / supervised"));
    for (const auto& cell : r.cells) {
      QVERIFY(cell.mean >= 0 && cell.mean <= 1);
      int64_t total = 0;
      for (const int64_t v : cell.confusion) total += v;
      QCOMPARE(total, r.test_images);
    }
    QCOMPARE(page.studyTable()->rowCount(), 3);
    QCOMPARE(page.studyPlot()->seriesNames().size(), 3);
  }

  void badSettingsAreRefused() {
    ResultsPage page;
    page.setRun(run_dir_);
    auto o = smallStudy();
    o.fractions = {};
    page.setStudyOptions(o);  // an empty share list reads back as invalid
    page.startStudy();
    QVERIFY(!page.busy());
    QVERIFY(page.statusText().contains(QStringLiteral("1%,10%,100%")));
    o = smallStudy();
    o.classifiers.clear();
    page.setStudyOptions(o);
    page.startStudy();
    QVERIFY(!page.busy());
    QVERIFY(page.statusText().contains(QStringLiteral("at least one")));
  }

  void duplicateScanShowsPlantedPairs() {
    ResultsPage page;
    page.resize(1100, 800);
    page.show();
    page.setRun(run_dir_);
    page.setDevice(QStringLiteral("cpu"));
    page.setScanSizes(0, 0);
    QSignalSpy done(&page, &ResultsPage::scanFinished);
    page.startDuplicateScan();
    QTRY_COMPARE_WITH_TIMEOUT(done.count(), 1, kWaitMs);
    const DuplicateScan& scan = page.scan();
    QCOMPARE(scan.train.count + scan.test.count, int64_t(2 * kDistinct));
    // Every image has its twin somewhere: twins on both sides of the split are leaks, twins
    // both in training are duplicates. Count them from the pixels.
    int64_t leaks = 0, duplicates = 0;
    for (int64_t i = 0; i < scan.train.count; ++i) {
      for (int64_t j = 0; j < scan.test.count; ++j) leaks += sameImage(scan.train, i, scan.test, j);
      for (int64_t j = i + 1; j < scan.train.count; ++j) duplicates += sameImage(scan.train, i, scan.train, j);
    }
    QVERIFY(leaks > 0 && duplicates > 0);
    // Identical pictures have identical embeddings: all found at the default 0.98.
    int64_t found_leaks = 0, found_duplicates = 0;
    for (const auto& p : scan.leaks) found_leaks += sameImage(scan.train, p.a, scan.test, p.b);
    for (const auto& p : scan.duplicates) found_duplicates += sameImage(scan.train, p.a, scan.train, p.b);
    QCOMPARE(found_leaks, leaks);
    QCOMPARE(found_duplicates, duplicates);
    for (const auto& p : scan.leaks) QVERIFY(p.similarity >= 0.98f - 1e-5f);
    // Shown as image pairs, most similar first, with the counts in the summary.
    QCOMPARE(page.leakList()->count(), static_cast<int>(std::min<size_t>(200, scan.leaks.size())));
    QCOMPARE(page.duplicateList()->count(), static_cast<int>(std::min<size_t>(200, scan.duplicates.size())));
    const QListWidgetItem* first = page.leakList()->item(0);
    QVERIFY(!first->icon().isNull());
    QCOMPARE(first->icon().availableSizes().value(0), QSize(134, 64));
    QVERIFY(first->toolTip().contains(QStringLiteral("held-out")));
    QVERIFY(page.scanSummary()->text().contains(QString::number(scan.leak_pairs)));
    QCOMPARE(page.tabs()->currentIndex(), 2);
  }

  void mainWindowHasTheResultsPage() {
    MainWindow w(prefs_.get());
    w.resize(1200, 800);
    QVERIFY(w.resultsPage());
    w.showPage(MainWindow::ResultsPageIndex);
    w.openRun(run_dir_);
    QCOMPARE(w.resultsPage()->runDir(), run_dir_);
    QVERIFY(w.resultsPage()->runStudyButton()->isEnabled());
  }

  void neighbourQueryOver70000EmbeddingsIsFast() {
    // The map's neighbour query (what a click on a point runs), over 70,000 x 128 embeddings.
    EmbeddingSnapshot s;
    s.rows = 70000;
    s.dims = 128;
    s.features.resize(static_cast<size_t>(s.rows * s.dims));
    std::mt19937 rng(7);
    std::normal_distribution<float> normal;
    for (int64_t i = 0; i < s.rows; ++i) {
      double norm = 0;
      float* row = s.features.data() + i * s.dims;
      for (int64_t d = 0; d < s.dims; ++d) {
        row[d] = normal(rng);
        norm += double(row[d]) * row[d];
      }
      for (int64_t d = 0; d < s.dims; ++d) row[d] = static_cast<float>(row[d] / std::sqrt(norm));
    }
    std::vector<double> ms;
    for (int q = 0; q < 21; ++q) {
      const auto started = std::chrono::steady_clock::now();
      const auto found = nearestInMap(s, q * 3331, 12);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
      QCOMPARE(found.size(), size_t(12));
      QVERIFY(found.front().second >= found.back().second);
    }
    std::sort(ms.begin(), ms.end());
    qInfo("neighbour query over 70000 x 128 embeddings (the map's click): median %.2f ms, worst %.2f ms", ms[10],
          ms.back());
    QVERIFY2(ms[10] < 50.0, qPrintable(QString("median %1 ms").arg(ms[10])));
  }
};

QTEST_MAIN(TestResultsPage)
#include "test_results_page.moc"
