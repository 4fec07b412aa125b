// The studio's model exchange on the offscreen platform: "Start from..." on the training
// page (a run folder or a weights file, chosen through an injected chooser; the match
// report or the error shown; the next run starts from those weights) and "Export..." on the
// runs page (format, licence, output folder, progress, the result or the error shown in
// the window). No modal dialog ever waits for a person.
#include <QtTest/QtTest>

#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QLineEdit>
#include <QMenu>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardItemModel>
#include <QStandardPaths>
#include <QTableView>
#include <QToolButton>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "app/studio/data_page.h"
#include "app/studio/export_dialog.h"
#include "app/studio/main_window.h"
#include "app/studio/preferences.h"
#include "app/studio/runs_page.h"
#include "app/studio/training_page.h"
#include "core/exchange/model_export.h"
#include "core/data/packed_dataset.h"
#include "core/runs/run_index.h"
#include "core/train/trainer.h"
#include "tests/test_support.h"
#include "tests/tiny_dataset.h"

namespace fs = std::filesystem;
using namespace studio;
using Json = nlohmann::json;

namespace {

constexpr int kWaitMs = 60000;

ExperimentConfig barsExperiment(const std::string& data, const std::string& name) {
  ExperimentConfig c = test::tinyExperiment(data, name);
  c.augment.saturation = 0;
  c.augment.hue = 0;
  c.train.epochs = 1;
  c.train.threads = 1;
  c.train.device = "cpu";
  c.monitor.k = 5;
  c.monitor.map_size = 0;
  return c;
}

QString q(const std::string& s) { return QString::fromStdString(s); }

}  // namespace

class ExchangeGuiTest : public QObject {
  Q_OBJECT

 private:
  std::string dir_, data_;
  QString runs_dir_, source_run_;
  std::unique_ptr<QSettings> settings_;
  std::unique_ptr<Preferences> prefs_;

 private Q_SLOTS:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    dir_ = test::scratchDir("exchange_gui");
    data_ = test::writeTinyDataset(dir_, 1, 160);
    runs_dir_ = q(dir_ + "/runs");
    settings_ = std::make_unique<QSettings>(q(dir_ + "/settings.ini"), QSettings::IniFormat);
    prefs_ = std::make_unique<Preferences>(settings_.get(), nullptr);
    prefs_->setRunsDir(runs_dir_);
    prefs_->setDefaultDevice(QStringLiteral("cpu"));
    // A finished run whose encoder the tests start from and export.
    Trainer source(barsExperiment(data_, "source"), runs_dir_.toStdString());
    QCOMPARE(source.run({}).status, std::string("finished"));
    source_run_ = q(source.folder().path());
  }

  void startFromOnTheTrainingPage() {
    TrainingPage page;
    const ExperimentConfig base = barsExperiment(data_, "target");
    page.setExperimentProvider([base]() { return base; });
    page.setConfig(base);
    page.show();
    QVERIFY(page.initReportText().isEmpty());

    // The menu's "A run folder..." asks the chooser for a folder; the check runs in the background.
    bool asked_for_folder = false;
    page.setPathChooser([&](bool folder) {
      asked_for_folder = folder;
      return source_run_;
    });
    QSignalSpy updated(&page, &TrainingPage::initReportUpdated);
    QMenu* menu = page.initChooseButton()->menu();
    QVERIFY(menu && menu->actions().size() == 2);
    menu->actions().at(0)->trigger();
    QVERIFY(asked_for_folder);
    QCOMPARE(page.initFrom(), source_run_);
    QTRY_VERIFY_WITH_TIMEOUT(!page.initCheckPending(), kWaitMs);
    QVERIFY2(page.initReportText().contains(QStringLiteral("18 of 18 encoder tensors matched")), qPrintable(page.initReportText()));
    QVERIFY(!page.initReportIsError());
    QVERIFY(updated.count() >= 2);  // "checking", then the report
    QVERIFY(page.validate().isEmpty());
    const ExperimentConfig applied = page.applyTo(base);
    QCOMPARE(q(applied.model.init_from), source_run_);
    QVERIFY(applied.model.init_strict);

    // A wider encoder no longer fits: the error is shown, and a run cannot start.
    ExperimentConfig wider = base;
    wider.model.width = 16;
    wider.model.init_from = source_run_.toStdString();
    page.setConfig(wider);
    QTRY_VERIFY_WITH_TIMEOUT(!page.initCheckPending() && page.initReportIsError(), kWaitMs);
    QVERIFY2(page.initReportText().contains(QStringLiteral("do not fit the convnet encoder")), qPrintable(page.initReportText()));
    QVERIFY2(page.validate().startsWith(QStringLiteral("Start from:")), qPrintable(page.validate()));
    // Not strict: loaded without what does not fit, a warning rather than an error.
    page.initStrictBox()->setChecked(false);
    QTRY_VERIFY_WITH_TIMEOUT(!page.initCheckPending() && !page.initReportIsError() &&
                                 page.initReportText().contains(QStringLiteral("Loaded without")),
                             kWaitMs);
    QVERIFY(page.validate().isEmpty());
    QVERIFY(!page.applyTo(base).model.init_strict);

    // A weights file through "A weights file...", and a path that is not there.
    page.setConfig(base);
    const std::string weights = dir_ + "/encoder-export";
    ExportOptions o;
    o.out_dir = weights;
    exportModel(RunFolder::open(std::string(), source_run_.toStdString()), o);
    page.setPathChooser([&](bool folder) {
      asked_for_folder = folder;
      return q(weights + "/encoder.safetensors");
    });
    menu->actions().at(1)->trigger();
    QVERIFY(!asked_for_folder);
    QTRY_VERIFY_WITH_TIMEOUT(!page.initCheckPending() && page.initReportText().startsWith(QStringLiteral("✓")), kWaitMs);
    page.initPathEdit()->setText(q(dir_ + "/nothing-here.safetensors"));
    QTRY_VERIFY_WITH_TIMEOUT(!page.initCheckPending() && page.initReportIsError(), kWaitMs);
    QVERIFY2(page.initReportText().contains(QStringLiteral("no such file")), qPrintable(page.initReportText()));
    // Back to random weights: no report, nothing to start from.
    page.initPathEdit()->clear();
    QVERIFY(page.initReportText().isEmpty() && !page.initReportIsError());
    QVERIFY(page.applyTo(base).model.init_from.empty());
  }

  // Through the window: the run started from the training page starts from the weights.
  void runStartedFromTheWindowUsesTheWeights() {
    MainWindow w(prefs_.get());
    w.resize(1100, 760);
    w.show();
    w.setExperiment(barsExperiment(data_, "from-weights"));
    w.trainingPage()->setInitFrom(source_run_);
    QTRY_VERIFY_WITH_TIMEOUT(!w.trainingPage()->initCheckPending(), kWaitMs);
    QVERIFY2(!w.trainingPage()->initReportIsError(), qPrintable(w.trainingPage()->initReportText()));
    QCOMPARE(q(w.currentExperiment().model.init_from), source_run_);
    QSignalSpy finished(w.engine(), &EngineController::runFinished);
    w.startAction()->trigger();
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 3 * kWaitMs);
    RunIndex index(runs_dir_.toStdString());
    std::string run_dir;
    for (const auto& r : index.list())
      if (r.name == "from-weights") run_dir = r.path;
    QVERIFY(!run_dir.empty());
    const Json report = Json::parse(readTextFile(run_dir + "/init_weights.json"));
    QCOMPARE(report["matched"].size(), size_t(18));
    QCOMPARE(q(report["source"].get<std::string>()), source_run_ + "/checkpoints/last.pt");
    w.setCloseConfirmation([](const QString&) { return true; });
  }

  void exportFromTheRunsPage() {
    RunsPage page;
    page.resize(1000, 700);
    page.show();
    page.setRunsDir(runs_dir_);
    QVERIFY(!page.exportButton()->isEnabled());  // nothing selected
    page.selectRun(source_run_);
    QTRY_VERIFY(page.exportButton()->isEnabled());
    QTest::mouseClick(page.exportButton(), Qt::LeftButton);
    ExportDialog* dialog = page.exportDialog();
    QVERIFY(dialog && dialog->isVisible() && !dialog->isModal());
    QCOMPARE(dialog->runDir(), source_run_);
    // No fine-tuned classifier yet: that choice is there but disabled.
    auto* model_items = qobject_cast<QStandardItemModel*>(dialog->modelCombo()->model());
    QVERIFY(model_items && !model_items->item(1)->isEnabled());
    const bool onnx = !findOnnxExporter().empty();
    if (onnx) dialog->formatCombo()->setCurrentIndex(1);
    else QWARN("contrastive-onnx-export is not built: the dialog is tested with safetensors only");
    const QString format = onnx ? QStringLiteral("onnx") : QStringLiteral("safetensors");
    QVERIFY2(dialog->outputEdit()->text().endsWith(QStringLiteral("export-") + format), qPrintable(dialog->outputEdit()->text()));
    // Browse... asks the injected chooser.
    const QString out = q(dir_ + "/exported");
    dialog->setFolderChooser([&]() { return out; });
    QTest::mouseClick(dialog->browseButton(), Qt::LeftButton);
    QCOMPARE(dialog->outputEdit()->text(), out);
    dialog->licenceEdit()->setText(QStringLiteral("CC0 (generated bars)"));
    QSignalSpy exported(dialog, &ExportDialog::exported);
    QTest::mouseClick(dialog->exportButton(), Qt::LeftButton);
    QVERIFY(dialog->busy());
    QVERIFY(!dialog->exportButton()->isEnabled());
    QTRY_VERIFY_WITH_TIMEOUT(!dialog->busy(), kWaitMs);
    QCOMPARE(exported.count(), 1);
    QVERIFY2(!dialog->statusIsError(), qPrintable(dialog->statusText()));
    const QString model_path = out + QStringLiteral("/encoder.") + format;
    QCOMPARE(dialog->exportedPath(), model_path);
    QVERIFY(QFileInfo(model_path).size() > 1000);
    QVERIFY2(dialog->statusText().contains(model_path), qPrintable(dialog->statusText()));
    QCOMPARE(dialog->progressBar()->value(), 100);
    const Json card = Json::parse(readTextFile((out + "/model_card.json").toStdString()));
    QCOMPARE(card["dataset"]["licence"].get<std::string>(), std::string("CC0 (generated bars)"));
    QVERIFY(QFileInfo::exists(out + "/model_card.md"));

    // A run whose checkpoint is broken: the error is shown in the window, which stays open.
    const RunFolder broken = RunFolder::create(runs_dir_.toStdString(), "broken");
    saveExperimentConfig(barsExperiment(data_, "broken"), broken.configPath());
    fs::create_directories(fs::path(broken.checkpointPath()).parent_path());
    std::ofstream(broken.checkpointPath()) << "not a checkpoint";
    RunRecord r;
    r.id = broken.id();
    r.name = "broken";
    r.status = "finished";
    r.path = broken.path();
    writeRunRecord(broken.path(), r);
    RunIndex(runs_dir_.toStdString()).upsert(r);
    page.refresh();
    page.selectRun(q(broken.path()));
    QTRY_VERIFY(page.exportButton()->isEnabled());
    QTest::mouseClick(page.exportButton(), Qt::LeftButton);
    ExportDialog* second = page.exportDialog();
    QVERIFY(second && second->runDir() == q(broken.path()));
    QSignalSpy failed(second, &ExportDialog::failed);
    second->outputEdit()->setText(q(dir_ + "/broken-export"));
    QTest::mouseClick(second->exportButton(), Qt::LeftButton);
    QTRY_VERIFY_WITH_TIMEOUT(!second->busy(), kWaitMs);
    QCOMPARE(failed.count(), 1);
    QVERIFY(second->statusIsError() && second->isVisible());
    QVERIFY2(second->statusText().contains(QStringLiteral("checkpoint")) &&
                 second->statusText().contains(q(broken.checkpointPath())),
             qPrintable(second->statusText()));
    QVERIFY(!QFileInfo::exists(q(dir_ + "/broken-export/encoder.safetensors")));
    QVERIFY(second->exportButton()->isEnabled());  // the user can fix and retry
    second->close();
  }
};

QTEST_MAIN(ExchangeGuiTest)
#include "test_exchange_gui.moc"
