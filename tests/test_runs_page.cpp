// The runs page (index table, live updates, overlay plots, resume and delete), the
// preferences and the themes. Runs on the offscreen platform; no LibTorch.
#include <QtTest/QtTest>

#include <QAbstractButton>
#include <QApplication>
#include <QLineEdit>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QStyle>
#include <QTableView>
#include <QTemporaryDir>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "app/studio/preferences.h"
#include "app/studio/runs_page.h"
#include "app/studio/theme.h"
#include "core/base/metrics_record.h"
#include "core/runs/run_folder.h"
#include "core/runs/run_index.h"
#include "widgets/curve_plot.h"

using namespace studio;

namespace {

constexpr int kWaitMs = 5000;

struct MadeRun {
  QString dir;
  RunRecord record;
};

struct RunSpec {
  std::string name;
  std::string status;
  double best_knn = -1;
  int steps = 0;
  int evals = 0;
  bool checkpoint = false;
  std::string started_at = "2026-11-25T10:00:00Z";
  std::string ended_at = "2026-11-25T11:02:03Z";
  std::string dataset = "fashion-mnist";
  std::string method = "simclr";
};

MetricsRecord stepRecord(int step) {
  MetricsRecord r;
  r.kind = RecordKind::Step;
  r.step = step;
  r.epoch = step / 10.0;
  r.values = {{"loss", 6.0 - 0.05 * step}, {"lr", 1e-3}, {"images_per_s", 900.0}};
  return r;
}

// A run folder as the trainer leaves it: config.json, metrics.jsonl, maybe a checkpoint,
// and run.json. Not yet in any index (the caller decides how it gets there).
MadeRun makeRun(const QString& runs_dir, const RunSpec& spec) {
  const RunFolder folder = RunFolder::create(runs_dir.toStdString(), spec.name);
  const nlohmann::json config = {{"name", spec.name},
                                 {"dataset", {{"kind", spec.dataset}}},
                                 {"method", {{"name", spec.method}}},
                                 {"train", {{"epochs", 3}, {"batch_size", 64}}}};
  std::ofstream(folder.configPath()) << config.dump(2) << "\n";

  MetricsRecord info;
  info.kind = RecordKind::Info;
  info.text = "starting";
  info.values = {{"total_steps", double(spec.steps)}};
  folder.appendMetrics(info.toJson());
  for (int s = 1; s <= spec.steps; ++s) {
    folder.appendMetrics(stepRecord(s).toJson());
    if (spec.evals > 0 && s % std::max(1, spec.steps / spec.evals) == 0) {
      MetricsRecord eval;
      eval.kind = RecordKind::Eval;
      eval.step = s;
      eval.epoch = s / 10.0;
      eval.values = {{"knn_top1", 0.1 + 0.01 * s}, {"raw_pixel_knn_top1", 0.3}};
      folder.appendMetrics(eval.toJson());
    }
  }
  if (spec.checkpoint) std::ofstream(folder.checkpointPath()) << "not really a checkpoint";

  RunRecord r;
  r.id = folder.id();
  r.name = spec.name;
  r.dataset = spec.dataset;
  r.method = spec.method;
  r.status = spec.status;
  r.started_at = spec.started_at;
  r.ended_at = spec.status == "running" ? "" : spec.ended_at;
  r.best_knn = spec.best_knn;
  r.path = folder.path();
  writeRunRecord(folder.path(), r);
  return {QString::fromStdString(folder.path()), r};
}

// Source-independent lookups through the view's (sorted, filtered) model.
int rowOfName(QTableView* table, const QString& name) {
  for (int row = 0; row < table->model()->rowCount(); ++row)
    if (table->model()->index(row, RunsPage::NameColumn).data().toString() == name) return row;
  return -1;
}

QString cell(QTableView* table, const QString& name, int column) {
  const int row = rowOfName(table, name);
  return row < 0 ? QString() : table->model()->index(row, column).data().toString();
}

void addToSelection(QTableView* table, const QString& name) {
  const int row = rowOfName(table, name);
  QVERIFY2(row >= 0, qPrintable(name));
  table->selectionModel()->select(table->model()->index(row, 0),
                                  QItemSelectionModel::Select | QItemSelectionModel::Rows);
}

}  // namespace

class TestRunsPage : public QObject {
  Q_OBJECT

 private:
  std::unique_ptr<QTemporaryDir> scratch_;
  QString runs_;
  MadeRun alpha_, beta_, gamma_;

 private Q_SLOTS:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    qRegisterMetaType<studio::Preferences::Theme>();
  }

  // A fresh runs folder per test: alpha finished (80.0%), beta cancelled with a checkpoint
  // (9.5%), gamma finished (12.0%), indexed the way core does it.
  void init() {
    scratch_ = std::make_unique<QTemporaryDir>();
    QVERIFY(scratch_->isValid());
    runs_ = scratch_->filePath(QStringLiteral("runs"));
    alpha_ = makeRun(runs_, {"alpha", "finished", 0.8, 20, 2, true, "2026-11-25T10:00:00Z", "2026-11-25T11:02:03Z"});
    beta_ = makeRun(runs_, {"beta", "cancelled", 0.095, 12, 3, true, "2026-11-26T09:00:00Z", "2026-11-26T09:00:42Z",
                            "cifar10", "byol"});
    gamma_ = makeRun(runs_, {"gamma", "finished", 0.12, 7, 1, false, "2026-11-24T08:00:00Z", "2026-11-24T10:00:00Z"});
    RunIndex index(runs_.toStdString());
    QCOMPARE(index.rebuildFromFolders(), 3);
  }

  void cleanup() { scratch_.reset(); }

  void showsEveryRunWithStatusAndBestKnn() {
    RunsPage page;
    page.setRunsDir(runs_);
    QCOMPARE(page.runCount(), 3);
    QCOMPARE(page.table()->model()->rowCount(), 3);
    QVERIFY(page.placeholderText().isEmpty());
    QVERIFY(page.messageText().isEmpty());
    QCOMPARE(cell(page.table(), "alpha", RunsPage::StatusColumn), QStringLiteral("finished"));
    QCOMPARE(cell(page.table(), "beta", RunsPage::StatusColumn), QStringLiteral("cancelled"));
    QCOMPARE(cell(page.table(), "alpha", RunsPage::BestKnnColumn), QStringLiteral("80.0%"));
    QCOMPARE(cell(page.table(), "beta", RunsPage::BestKnnColumn), QStringLiteral("9.5%"));
    QCOMPARE(cell(page.table(), "gamma", RunsPage::BestKnnColumn), QStringLiteral("12.0%"));
    QCOMPARE(cell(page.table(), "beta", RunsPage::DatasetColumn), QStringLiteral("cifar10"));
    QCOMPARE(cell(page.table(), "alpha", RunsPage::DurationColumn), QStringLiteral("1:02:03"));
    QCOMPARE(cell(page.table(), "beta", RunsPage::DurationColumn), QStringLiteral("0:42"));

    // As text, "9.5%" would sort after "80.0%": the column must sort by value.
    page.table()->sortByColumn(RunsPage::BestKnnColumn, Qt::AscendingOrder);
    QCOMPARE(page.table()->model()->index(0, 0).data().toString(), QStringLiteral("beta"));
    QCOMPARE(page.table()->model()->index(1, 0).data().toString(), QStringLiteral("gamma"));
    QCOMPARE(page.table()->model()->index(2, 0).data().toString(), QStringLiteral("alpha"));
    page.table()->sortByColumn(RunsPage::BestKnnColumn, Qt::DescendingOrder);
    QCOMPARE(page.table()->model()->index(0, 0).data().toString(), QStringLiteral("alpha"));

    // The filter matches name, dataset and status.
    page.filterEdit()->setText(QStringLiteral("cifar"));
    QCOMPARE(page.table()->model()->rowCount(), 1);
    page.filterEdit()->setText(QStringLiteral("finished"));
    QCOMPARE(page.table()->model()->rowCount(), 2);
    page.filterEdit()->setText(QStringLiteral("nothing-like-this"));
    QCOMPARE(page.table()->model()->rowCount(), 0);
    QVERIFY(page.placeholderText().contains(QStringLiteral("nothing-like-this")));
    page.filterEdit()->clear();
    QCOMPARE(page.table()->model()->rowCount(), 3);
  }

  void emptyFolderShowsTheEmptyState() {
    RunsPage page;
    page.setRunsDir(scratch_->filePath(QStringLiteral("empty-runs")));
    QCOMPARE(page.runCount(), 0);
    QCOMPARE(page.placeholderText(),
             QStringLiteral("No runs yet. Start one on the Training page, or with contrastive-cli train."));
  }

  void runsAddedOutsideAppear() {
    RunsPage page;
    QSignalSpy errors(&page, &RunsPage::errorOccurred);
    page.setRunsDir(runs_);
    addToSelection(page.table(), "gamma");
    QCOMPARE(page.selectedRunDirs(), QStringList{gamma_.dir});

    // As the CLI would: a new folder, then an upsert through its own connection.
    RunIndex cli(runs_.toStdString());
    MadeRun delta = makeRun(runs_, {"delta", "running", -1, 3, 0, false, "2026-11-27T10:00:00Z", ""});
    cli.upsert(delta.record);
    page.refresh();
    QCOMPARE(page.runCount(), 4);
    QCOMPARE(cell(page.table(), "delta", RunsPage::BestKnnColumn), QStringLiteral("—"));
    QCOMPARE(cell(page.table(), "delta", RunsPage::DurationColumn), QStringLiteral("running"));
    QCOMPARE(page.selectedRunDirs(), QStringList{gamma_.dir});  // the selection survives

    // Hidden, only the file watcher can notice.
    MadeRun epsilon = makeRun(runs_, {"epsilon", "finished", 0.5, 3, 1, false, "2026-11-27T11:00:00Z"});
    cli.upsert(epsilon.record);
    QTRY_COMPARE_WITH_TIMEOUT(page.runCount(), 5, kWaitMs);

    // Shown, the poll also picks up a status change of a run the CLI finishes.
    page.show();
    QVERIFY(QTest::qWaitForWindowExposed(&page));
    delta.record.status = "finished";
    delta.record.ended_at = "2026-11-27T10:30:00Z";
    delta.record.best_knn = 0.42;
    writeRunRecord(delta.dir.toStdString(), delta.record);
    cli.upsert(delta.record);
    QTRY_COMPARE_WITH_TIMEOUT(cell(page.table(), "delta", RunsPage::StatusColumn), QStringLiteral("finished"), kWaitMs);
    QCOMPARE(cell(page.table(), "delta", RunsPage::BestKnnColumn), QStringLiteral("42.0%"));
    QCOMPARE(cell(page.table(), "delta", RunsPage::DurationColumn), QStringLiteral("30:00"));
    QCOMPARE(page.selectedRunDirs(), QStringList{gamma_.dir});
    QCOMPARE(errors.count(), 0);
  }

  void selectedRunsOverlayTheirCurves() {
    RunsPage page;
    page.setRunsDir(runs_);
    addToSelection(page.table(), "alpha");
    QTRY_VERIFY_WITH_TIMEOUT(!page.detailsPending(), kWaitMs);
    QVERIFY(page.lossPlot()->hasSeries(alpha_.dir));
    QCOMPARE(page.lossPlot()->pointCount(alpha_.dir), 20);
    QCOMPARE(page.knnPlot()->pointCount(alpha_.dir), 2);
    QVERIFY(page.configView()->toPlainText().contains(QStringLiteral("\"alpha\"")));

    addToSelection(page.table(), "beta");
    QTRY_VERIFY_WITH_TIMEOUT(!page.detailsPending() && page.lossPlot()->hasSeries(beta_.dir), kWaitMs);
    QCOMPARE(page.lossPlot()->pointCount(alpha_.dir), 20);
    QCOMPARE(page.lossPlot()->pointCount(beta_.dir), 12);
    QCOMPARE(page.knnPlot()->pointCount(beta_.dir), 3);
    QVERIFY(!page.lossPlot()->hasSeries(gamma_.dir));
    // Legend labels are the run names, one series per run; runs of different methods (alpha
    // SimCLR, beta BYOL) also name their method.
    const QString csv = page.lossPlot()->toCsv();
    QVERIFY2(csv.startsWith(QStringLiteral("x,")) && csv.contains(QStringLiteral("alpha · simclr")) &&
                 csv.contains(QStringLiteral("beta · byol")),
             qPrintable(csv.left(200)));
    QVERIFY(page.knnPlot()->toCsv().contains(QStringLiteral("beta · byol")));
    // The config is the first selected run's (in table order).
    const QString first = page.selectedRunDirs().first();
    const QString first_name = first == alpha_.dir ? QStringLiteral("\"alpha\"") : QStringLiteral("\"beta\"");
    QVERIFY(page.configView()->toPlainText().contains(first_name));

    // A selected run that grows (still training) gets its new points on refresh.
    const RunFolder alpha = RunFolder::open(runs_.toStdString(), alpha_.dir.toStdString());
    for (int s = 21; s <= 25; ++s) alpha.appendMetrics(stepRecord(s).toJson());
    QTest::qWait(20);  // a distinct modification time is not needed (the size changes), but be kind to coarse clocks
    page.refresh();
    QTRY_COMPARE_WITH_TIMEOUT(page.lossPlot()->pointCount(alpha_.dir), 25, kWaitMs);
    QCOMPARE(page.lossPlot()->pointCount(beta_.dir), 12);

    // Back to one run: the other's curves go.
    page.table()->clearSelection();
    addToSelection(page.table(), "gamma");
    QTRY_VERIFY_WITH_TIMEOUT(!page.detailsPending() && page.lossPlot()->hasSeries(gamma_.dir), kWaitMs);
    QVERIFY(!page.lossPlot()->hasSeries(alpha_.dir));
    QVERIFY(!page.lossPlot()->hasSeries(beta_.dir));
    QCOMPARE(page.lossPlot()->pointCount(gamma_.dir), 7);
  }

  void resumeOnlyForAStoppedRunWithACheckpoint() {
    MadeRun zeta = makeRun(runs_, {"zeta", "cancelled", 0.2, 3, 1, false, "2026-11-27T12:00:00Z"});  // no checkpoint
    RunsPage page;
    page.setRunsDir(runs_);
    QCOMPARE(page.runCount(), 4);
    QSignalSpy resumed(&page, &RunsPage::resumeRunRequested);

    QVERIFY(!page.resumeButton()->isEnabled());  // nothing selected
    page.selectRun(alpha_.dir);
    QVERIFY(!page.resumeButton()->isEnabled());  // finished, though it has a checkpoint
    page.selectRun(zeta.dir);
    QVERIFY(!page.resumeButton()->isEnabled());  // cancelled, but nothing to resume from
    page.selectRun(gamma_.dir);
    QVERIFY(!page.resumeButton()->isEnabled());
    page.selectRun(beta_.dir);
    QVERIFY(page.resumeButton()->isEnabled());
    addToSelection(page.table(), "gamma");
    QVERIFY(!page.resumeButton()->isEnabled());  // exactly one run
    page.selectRun(beta_.dir);
    QVERIFY(page.resumeButton()->isEnabled());

    page.resumeButton()->click();
    QCOMPARE(resumed.count(), 1);
    QCOMPARE(resumed.at(0).at(0).toString(), beta_.dir);
  }

  void openByButtonAndKeyboard() {
    RunsPage page;
    page.setRunsDir(runs_);
    QSignalSpy opened(&page, &RunsPage::openRunRequested);
    page.selectRun(gamma_.dir);
    page.openButton()->click();
    QCOMPARE(opened.count(), 1);
    QCOMPARE(opened.at(0).at(0).toString(), gamma_.dir);
    QTest::keyClick(page.table(), Qt::Key_Return);
    QCOMPARE(opened.count(), 2);
    QCOMPARE(opened.at(1).at(0).toString(), gamma_.dir);
  }

  void deleteRemovesFolderAndRow() {
    RunsPage page;
    page.setRunsDir(runs_);
    QSignalSpy errors(&page, &RunsPage::errorOccurred);
    QString asked;
    page.setDeleteConfirmation([&asked](const QString& question) {
      asked = question;
      return true;
    });
    page.selectRun(gamma_.dir);
    page.deleteButton()->click();
    QVERIFY2(asked.contains(QStringLiteral("gamma")), qPrintable(asked));
    QVERIFY(!QFileInfo::exists(gamma_.dir));
    QCOMPARE(page.runCount(), 2);
    QCOMPARE(rowOfName(page.table(), "gamma"), -1);
    QVERIFY(!RunIndex(runs_.toStdString()).find(gamma_.record.id).has_value());
    QCOMPARE(errors.count(), 0);

    // Declined: nothing happens.
    page.setDeleteConfirmation([](const QString&) { return false; });
    page.selectRun(alpha_.dir);
    QTest::keyClick(page.table(), Qt::Key_Delete);
    QVERIFY(QFileInfo::exists(alpha_.dir));
    QCOMPARE(page.runCount(), 2);
  }

  void deleteThroughTheMessageBox() {
    RunsPage page;
    page.setRunsDir(runs_);
    page.show();
    QVERIFY(QTest::qWaitForWindowExposed(&page));
    page.selectRun(alpha_.dir);
    QString question;
    QTimer::singleShot(200, &page, [&question]() {
      auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget());
      if (!box) return;
      question = box->text();
      box->button(QMessageBox::Yes)->click();
    });
    page.deleteButton()->click();
    QVERIFY2(question.contains(QStringLiteral("alpha")), qPrintable(question));
    QVERIFY(!QFileInfo::exists(alpha_.dir));
    QCOMPARE(page.runCount(), 2);
  }

  void deleteRefusesARunningRun() {
    MadeRun live = makeRun(runs_, {"live", "running", -1, 2, 0, false, "2026-11-28T10:00:00Z", ""});
    RunsPage page;
    page.setRunsDir(runs_);
    QSignalSpy errors(&page, &RunsPage::errorOccurred);
    bool asked = false;
    page.setDeleteConfirmation([&asked](const QString&) {
      asked = true;
      return true;
    });
    page.selectRun(live.dir);
    page.deleteSelected();
    QVERIFY(!asked);
    QVERIFY(QFileInfo::exists(live.dir));
    QCOMPARE(page.runCount(), 4);
    QCOMPARE(errors.count(), 1);
    QVERIFY2(errors.at(0).at(0).toString().contains(QStringLiteral("live")), qPrintable(errors.at(0).at(0).toString()));
    QVERIFY(page.messageText().contains(QStringLiteral("running")));
  }

  void unreadableIndexIsReportedNotThrown() {
    // A file where the runs folder should be.
    const QString file = scratch_->filePath(QStringLiteral("not-a-folder"));
    QVERIFY(QFile(file).open(QIODevice::WriteOnly));
    RunsPage page;
    QSignalSpy errors(&page, &RunsPage::errorOccurred);
    page.setRunsDir(file);
    QCOMPARE(page.runCount(), 0);
    QCOMPARE(errors.count(), 1);
    QVERIFY2(errors.at(0).at(0).toString().contains(file), qPrintable(errors.at(0).at(0).toString()));
    page.refresh();  // the same problem again is not reported again
    QCOMPARE(errors.count(), 1);

    // A runs.sqlite that is no database.
    const QString broken = scratch_->filePath(QStringLiteral("broken-runs"));
    QVERIFY(QDir().mkpath(broken));
    QFile db(broken + QStringLiteral("/runs.sqlite"));
    QVERIFY(db.open(QIODevice::WriteOnly));
    db.write(QByteArray(4096, 'x'));
    db.close();
    page.setRunsDir(broken);
    QCOMPARE(errors.count(), 2);
    QVERIFY2(errors.at(1).at(0).toString().contains(QStringLiteral("runs.sqlite")),
             qPrintable(errors.at(1).at(0).toString()));
    QVERIFY(!page.placeholderText().isEmpty());

    // And a good folder afterwards works as usual.
    page.setRunsDir(runs_);
    QCOMPARE(page.runCount(), 3);
    QVERIFY(page.messageText().isEmpty());
  }

  void preferencesRoundTrip() {
    QTemporaryDir dir;
    const QString ini = dir.filePath(QStringLiteral("studio.ini"));
    {
      QSettings settings(ini, QSettings::IniFormat);
      Preferences prefs(&settings, nullptr);
      QCOMPARE(prefs.theme(), Preferences::Theme::System);
      QCOMPARE(prefs.defaultDevice(), QStringLiteral("auto"));
      QCOMPARE(prefs.runsDir(), QDir::cleanPath(QString::fromStdString(defaultRunsDir())));
      QCOMPARE(prefs.lastPage(), 0);
      QVERIFY(prefs.recentExperiments().isEmpty());

      QSignalSpy theme(&prefs, &Preferences::themeChanged);
      QSignalSpy runs(&prefs, &Preferences::runsDirChanged);
      QSignalSpy device(&prefs, &Preferences::defaultDeviceChanged);
      QSignalSpy recent(&prefs, &Preferences::recentExperimentsChanged);
      QSignalSpy geometry(&prefs, &Preferences::windowGeometryChanged);
      QSignalSpy state(&prefs, &Preferences::windowStateChanged);
      QSignalSpy page(&prefs, &Preferences::lastPageChanged);

      prefs.setTheme(Preferences::Theme::Dark);
      prefs.setTheme(Preferences::Theme::Dark);
      QCOMPARE(theme.count(), 1);
      QCOMPARE(theme.at(0).at(0).value<Preferences::Theme>(), Preferences::Theme::Dark);
      QCOMPARE(prefs.theme(), Preferences::Theme::Dark);

      const QString runs_dir = dir.filePath(QStringLiteral("my-runs"));
      prefs.setRunsDir(runs_dir);
      prefs.setRunsDir(runs_dir);
      QCOMPARE(runs.count(), 1);
      QCOMPARE(runs.at(0).at(0).toString(), runs_dir);
      QCOMPARE(prefs.runsDir(), runs_dir);

      QVERIFY(prefs.setDefaultDevice(QStringLiteral("cuda:1")));
      QVERIFY(prefs.setDefaultDevice(QStringLiteral("cuda:1")));
      QVERIFY(!prefs.setDefaultDevice(QStringLiteral("gpu")));
      QVERIFY(!prefs.setDefaultDevice(QStringLiteral("cuda:x")));
      QCOMPARE(device.count(), 1);
      QCOMPARE(prefs.defaultDevice(), QStringLiteral("cuda:1"));

      prefs.setWindowGeometry(QByteArray("geometry-bytes"));
      prefs.setWindowGeometry(QByteArray("geometry-bytes"));
      QCOMPARE(geometry.count(), 1);
      prefs.setWindowState(QByteArray("state-bytes"));
      QCOMPARE(state.count(), 1);
      prefs.setLastPage(4);
      prefs.setLastPage(4);
      QCOMPARE(page.count(), 1);
      QCOMPARE(page.at(0).at(0).toInt(), 4);

      // Recent experiments: most recent first, no duplicates, at most 8, only existing files.
      QStringList files;
      for (int i = 0; i < 10; ++i) {
        const QString f = dir.filePath(QStringLiteral("exp%1.json").arg(i));
        QFile out(f);
        QVERIFY(out.open(QIODevice::WriteOnly));
        files << f;
      }
      for (const QString& f : files) prefs.addRecentExperiment(f);
      QCOMPARE(recent.count(), 10);
      QStringList list = prefs.recentExperiments();
      QCOMPARE(list.size(), Preferences::kMaxRecentExperiments);
      QCOMPARE(list.first(), files[9]);
      QCOMPARE(list.last(), files[2]);
      prefs.addRecentExperiment(files[5]);
      list = prefs.recentExperiments();
      QCOMPARE(list.size(), 8);
      QCOMPARE(list.first(), files[5]);
      QCOMPARE(list.count(files[5]), 1);
      prefs.addRecentExperiment(files[5]);  // already first: no change
      QCOMPARE(recent.count(), 11);
      QVERIFY(QFile::remove(files[9]));
      list = prefs.recentExperiments();
      QCOMPARE(list.size(), 7);
      QVERIFY(!list.contains(files[9]));
    }
    // Written through: a new object on the same file reads it all back.
    QSettings settings(ini, QSettings::IniFormat);
    Preferences again(&settings, nullptr);
    QCOMPARE(again.theme(), Preferences::Theme::Dark);
    QCOMPARE(again.runsDir(), dir.filePath(QStringLiteral("my-runs")));
    QCOMPARE(again.defaultDevice(), QStringLiteral("cuda:1"));
    QCOMPARE(again.windowGeometry(), QByteArray("geometry-bytes"));
    QCOMPARE(again.windowState(), QByteArray("state-bytes"));
    QCOMPARE(again.lastPage(), 4);
    QCOMPARE(again.recentExperiments().size(), 7);
    QCOMPARE(again.recentExperiments().first(), dir.filePath(QStringLiteral("exp5.json")));

    // A hand-edited invalid device reads as the default.
    settings.setValue(QStringLiteral("training/defaultDevice"), QStringLiteral("tpu"));
    QCOMPARE(again.defaultDevice(), QStringLiteral("auto"));
  }

  void themes() {
    const QPalette original = QApplication::palette();
    applyTheme(Preferences::Theme::Dark);
    QVERIFY(isDarkPalette(QApplication::palette()));
    QCOMPARE(QApplication::style()->name().toLower(), QStringLiteral("fusion"));
    // Text must stay legible: far lighter than the background it sits on.
    const QPalette dark = QApplication::palette();
    QVERIFY(dark.color(QPalette::Text).lightness() - dark.color(QPalette::Base).lightness() > 150);
    QVERIFY(dark.color(QPalette::Disabled, QPalette::Text) != dark.color(QPalette::Active, QPalette::Text));
    QVERIFY(dark.color(QPalette::ToolTipText).lightness() - dark.color(QPalette::ToolTipBase).lightness() > 120);

    applyTheme(Preferences::Theme::Light);
    QVERIFY(!isDarkPalette(QApplication::palette()));
    QCOMPARE(QApplication::palette().color(QPalette::Window), lightPalette().color(QPalette::Window));

    applyTheme(Preferences::Theme::System);
    QCOMPARE(QApplication::palette().color(QPalette::Window), original.color(QPalette::Window));
    QCOMPARE(QApplication::palette().color(QPalette::Text), original.color(QPalette::Text));
  }
};

QTEST_MAIN(TestRunsPage)
#include "test_runs_page.moc"
