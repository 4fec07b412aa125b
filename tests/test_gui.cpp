// The studio driven through its window on the offscreen platform: training through the
// UI, pause/resume/stop, the augmentation preview, experiment files, bad data, closing
// during a run, and the GUI thread's responsiveness while the engine trains.
#include <QtTest/QtTest>

#include <QListWidget>

#include <QAction>
#include <QComboBox>
#include <QFile>
#include <QScreen>
#include <QStackedWidget>
#include <QStyle>
#include <QElapsedTimer>
#include <QSettings>
#include <QTableView>
#include <QTimer>

#include <filesystem>
#include <fstream>

#include "app/studio/augment_page.h"
#include "app/studio/data_page.h"
#include "app/studio/embeddings_page.h"
#include "app/studio/main_window.h"
#include "app/studio/monitor_page.h"
#include "app/studio/preferences.h"
#include "app/studio/runs_page.h"
#include "app/studio/training_page.h"
#include "core/experiment/config.h"
#include "core/base/text_format.h"
#include "core/experiment/config_schema.h"
#include "core/methods/methods.h"
#include "core/runs/run_index.h"
#include "tests/test_support.h"
#include "widgets/augment_preview_grid.h"
#include "widgets/curve_plot.h"
#include "widgets/embedding_scatter.h"

using namespace studio;
namespace fs = std::filesystem;

namespace {

// A run small enough to finish in seconds on two cores, with evaluations and a map.
ExperimentConfig tinyExperiment(const std::string& name, int64_t epochs = 2) {
  ExperimentConfig c;
  c.name = name;
  c.dataset.kind = DatasetKind::FashionMnist;
  c.dataset.train_limit = 1024;
  c.model.backbone = Backbone::ConvNet;
  c.model.width = 8;
  c.model.head_dims = {64, 32};
  c.method.settings["simclr"]["temperature"] = 0.2;
  c.optim.lr = 2e-3;
  c.optim.warmup_epochs = 0.5;
  c.train.epochs = epochs;
  c.train.batch_size = 64;
  c.train.device = "cpu";
  c.train.threads = 1;
  c.train.checkpoint_every_steps = 8;
  c.monitor.every_epochs = 1;
  c.monitor.bank_size = 1024;
  c.monitor.query_size = 300;
  c.monitor.map_size = 300;
  c.monitor.k = 20;
  return c;
}

// Records the longest gap between ticks of a 5 ms timer: how long the event loop stalled.
class StallMeter : public QObject {
 public:
  StallMeter() {
    connect(&timer_, &QTimer::timeout, this, [this]() {
      const qint64 ns = clock_.nsecsElapsed();
      if (last_ns_ > 0) longest_ms_ = std::max(longest_ms_, double(ns - last_ns_) / 1e6);
      last_ns_ = ns;
    });
    timer_.setTimerType(Qt::PreciseTimer);
  }
  void start() {
    clock_.start();
    last_ns_ = 0;
    longest_ms_ = 0;
    timer_.start(5);
  }
  void stop() { timer_.stop(); }
  double longestMs() const { return longest_ms_; }

 private:
  QTimer timer_;
  QElapsedTimer clock_;
  qint64 last_ns_ = 0;
  double longest_ms_ = 0;
};

}  // namespace

class GuiTest : public QObject {
  Q_OBJECT

 private:
  std::unique_ptr<QSettings> settings_;
  std::unique_ptr<Preferences> prefs_;
  QString runs_dir_;

  std::unique_ptr<MainWindow> makeWindow() {
    auto w = std::make_unique<MainWindow>(prefs_.get());
    w->resize(1200, 800);
    w->show();
    return w;
  }

  static void loadData(MainWindow& w) {
    QSignalSpy loaded(w.dataPage(), &DataPage::datasetLoaded);
    w.dataPage()->load();
    QTRY_VERIFY_WITH_TIMEOUT(loaded.count() == 1, 60000);
  }

 private Q_SLOTS:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    const std::string dir = test::scratchDir("gui");
    settings_ = std::make_unique<QSettings>(QString::fromStdString(dir + "/settings.ini"), QSettings::IniFormat);
    prefs_ = std::make_unique<Preferences>(settings_.get(), nullptr);
    runs_dir_ = QString::fromStdString(dir + "/runs");
    prefs_->setRunsDir(runs_dir_);
    prefs_->setDefaultDevice(QStringLiteral("cpu"));
  }


  // One schema (core/experiment/config_schema.h): every preset, and an experiment with each numeric key
  // at the least and at the most the engine accepts, goes into the studio's pages and comes
  // back unchanged (the fields used to clamp: lr below 1e-6, seeds above 2^30, ...).
  void pagesKeepEveryValidExperiment() {
    auto w = makeWindow();
    std::string problems;
    auto roundTrip = [&](const ExperimentConfig& c, const std::string& what) {
      w->setExperiment(c);
      const Json want = c.toJson(), got = w->currentExperiment().toJson();
      std::string changed;
      for (const auto& [section, values] : want.items()) {
        if (!values.is_object() || !got.contains(section)) continue;
        for (const auto& [name, value] : values.items())
          if (got[section].value(name, Json()) != value)
            changed += " " + section + "." + name + ": " + value.dump() + " -> " + got[section].value(name, Json()).dump();
      }
      if (want != got) problems += "\n" + what + ": saved back changed:" + changed;
    };
    for (const auto& entry : fs::directory_iterator(fs::path(test::sourceDir()) / "resources" / "presets")) {
      std::ifstream in(entry.path());
      const auto preset = ExperimentConfig::fromJson(Json::parse(in));
      roundTrip(preset, entry.path().filename().string());
    }
    for (const auto& key : numericKeys()) {
      for (const double value : {key.min, key.max}) {
        Json j = ExperimentConfig().toJson();
        const auto dot = key.path.find('.');
        Json& section = j[key.path.substr(0, dot)];
        auto set = [&](const std::string& name, double v) {
          if (key.integer()) section[name] = static_cast<int64_t>(v);
          else section[name] = v;
        };
        const std::string name = key.path.substr(dot + 1);
        set(name, value);
        // A pair's other end follows where the pair must stay ordered (crop_scale_min <= max).
        for (const auto& [from, to] : {std::pair<std::string, std::string>{"_min", "_max"}, {"_max", "_min"}}) {
          if (name.size() > from.size() && name.compare(name.size() - from.size(), from.size(), from) == 0) {
            const std::string other = name.substr(0, name.size() - from.size()) + to;
            if (section.contains(other) && ((from == "_min" && section[other].get<double>() < value) ||
                                            (from == "_max" && section[other].get<double>() > value)))
              set(other, value);
          }
        }
        ExperimentConfig c;
        try {
          c = ExperimentConfig::fromJson(j);
        } catch (const std::exception& e) {
          QFAIL((key.path + " = " + std::to_string(value) + " is in the schema's range but refused: " + e.what()).c_str());
        }
        roundTrip(c, key.path + " = " + std::to_string(value));
      }
    }
    // Every value of every choice key (the engine's closed lists), kept as it was loaded.
    for (const auto& key : choiceKeys()) {
      for (const auto& value : key.values) {
        Json j = ExperimentConfig().toJson();
        const auto dot = key.path.find('.');
        j[key.path.substr(0, dot)][key.path.substr(dot + 1)] = value;
        if (key.path == "dataset.kind" && value == "packed") j["dataset"]["path"] = "/data/mine.csds";
        ExperimentConfig c;
        try {
          c = ExperimentConfig::fromJson(j);
        } catch (const std::exception& e) {
          QFAIL((key.path + " = " + value + " is one of the schema's values but refused: " + e.what()).c_str());
        }
        roundTrip(c, key.path + " = " + value);
      }
    }
    // Every method, and each of its own settings at its least and most (core/methods declares them).
    for (const MethodSpec& spec : methodSpecs()) {
      ExperimentConfig c;
      c.method.name = spec.name;
      roundTrip(c, "method.name = " + spec.name);
      for (const MethodSetting& setting : spec.settings)
        for (const double value : {setting.min, setting.max}) {
          ExperimentConfig m;
          m.method.name = spec.name;
          m.method.settings[spec.name][setting.key] = value;
          roundTrip(m, "method." + spec.name + "." + setting.key + " = " + formatNumber(value));
        }
    }
    QVERIFY2(problems.empty(), problems.c_str());
  }

  // The Training page lists every method and shows the chosen one's own settings; an edited
  // setting goes into that method's block, and the others' blocks are kept.
  void everyMethodHasAPresetForEachKindOfData() {
    // Two presets per method (Fashion-MNIST, the user's images), listed by the Training page in
    // the method list's order, each a resource that reads and passes the method check.
    const QVector<Preset> presets = TrainingPage::presets();
    for (const MethodSpec& spec : methodSpecs()) {
      for (const QString data : {QStringLiteral("fashion-mnist"), QStringLiteral("your-images")}) {
        const QString resource = QStringLiteral(":/presets/%1-%2.json").arg(data, QString::fromStdString(spec.name));
        const auto listed = std::find_if(presets.begin(), presets.end(), [&](const Preset& p) { return p.resource == resource; });
        QVERIFY2(listed != presets.end(), qPrintable(resource));
        QVERIFY2(listed->title.contains(QString::fromStdString(spec.title)), qPrintable(listed->title));
        QFile file(resource);
        QVERIFY2(file.open(QIODevice::ReadOnly), qPrintable(resource));
        const QByteArray bytes = file.readAll();
        const auto c = ExperimentConfig::fromJson(Json::parse(bytes.constData(), bytes.constData() + bytes.size()));
        QCOMPARE(c.method.name, spec.name);
        QVERIFY2(TrainingPage::methodProblem(c).isEmpty(), qPrintable(TrainingPage::methodProblem(c)));
        QCOMPARE(c.dataset.kind, data == QLatin1String("fashion-mnist") ? DatasetKind::FashionMnist : DatasetKind::Packed);
      }
    }
    for (const Preset& p : presets) QVERIFY2(QFile::exists(p.resource), qPrintable(p.resource));
    // The method check names what is wrong with an experiment the studio holds.
    ExperimentConfig moco;
    moco.method.name = "moco";
    moco.augment.local_crops = 2;
    QVERIFY(TrainingPage::methodProblem(moco).contains(QStringLiteral("augment.local_crops = 2: MoCo v2 compares two views only")));
  }

  void methodListAndFieldsComeFromTheMethods() {
    auto w = makeWindow();
    auto* page = w->findChild<TrainingPage*>();
    QVERIFY(page);
    QCOMPARE(page->methodCombo()->count(), int(methodSpecs().size()));
    ExperimentConfig c;
    c.method.name = "byol";
    c.method.settings["simclr"]["temperature"] = 0.3;
    w->setExperiment(c);
    QCOMPARE(page->methodCombo()->currentData().toString(), QStringLiteral("byol"));
    QDoubleSpinBox* momentum = page->methodField("byol", "momentum");
    QVERIFY(momentum && momentum->isVisibleTo(page));
    QVERIFY(!page->methodField("simclr", "temperature")->isVisibleTo(page));
    QCOMPARE(page->methodField("simclr", "temperature")->value(), 0.3);
    QVERIFY(momentum->toolTip().contains(QStringLiteral("method.byol.momentum")));
    momentum->setValue(0.995);
    const ExperimentConfig edited = w->currentExperiment();
    QCOMPARE(edited.method.settings.at("byol").at("momentum"), 0.995);
    QCOMPARE(edited.method.settings.at("simclr").at("temperature"), 0.3);
    QVERIFY(edited.method.settings.at("byol").count("predictor_hidden") == 0);  // left at its default
  }

  // The Training page's numeric fields say the schema's range in their tooltips.
  void fieldTooltipsStateTheSchemaRange() {
    auto w = makeWindow();
    int checked = 0;
    for (QAbstractSpinBox* field : w->findChildren<QAbstractSpinBox*>()) {
      const QString key = field->property("studioSchemaKey").toString();
      if (key.isEmpty()) continue;
      const ConfigKey& k = configKey(key.toStdString());
      const QString range = QString::fromStdString(formatNumber(k.min)) + QStringLiteral(" to ") +
                            QString::fromStdString(formatNumber(k.max));
      QVERIFY2(field->toolTip().contains(range), qPrintable(key + ": " + field->toolTip()));
      ++checked;
    }
    QVERIFY2(checked >= 10, qPrintable(QStringLiteral("only %1 fields carry a schema key").arg(checked)));
  }

  // The page icons are accent-blue shapes; on the selected row they are drawn in the
  // palette's highlighted-text colour, or they would vanish on the selection's blue.
  void selectedPageIconUsesTheHighlightedTextColour() {
    auto w = makeWindow();
    QListWidget* nav = nullptr;
    for (auto* list : w->findChildren<QListWidget*>())
      if (list->accessibleName() == QStringLiteral("Pages")) nav = list;
    QVERIFY(nav);
    QCOMPARE(nav->count(), 7);
    const QColor text = QApplication::palette(nav).color(QPalette::HighlightedText);
    for (int row = 0; row < nav->count(); ++row) {
      const QIcon icon = nav->item(row)->icon();
      const QImage normal = icon.pixmap(nav->iconSize(), 1.0, QIcon::Normal).toImage().convertToFormat(QImage::Format_ARGB32);
      const QImage selected =
          icon.pixmap(nav->iconSize(), 1.0, QIcon::Selected).toImage().convertToFormat(QImage::Format_ARGB32);
      QCOMPARE(selected.size(), normal.size());
      int opaque = 0;
      for (int y = 0; y < selected.height(); ++y)
        for (int x = 0; x < selected.width(); ++x) {
          const QRgb n = normal.pixel(x, y), sel = selected.pixel(x, y);
          QCOMPARE(qAlpha(sel), qAlpha(n));  // the same shape
          if (qAlpha(sel) < 255) continue;
          ++opaque;
          QCOMPARE(QColor(sel).rgb(), text.rgb());
        }
      QVERIFY2(opaque > 10, qPrintable(nav->item(row)->text() + QStringLiteral(": the icon drew nothing")));
    }
  }

  // A first start with nothing remembered opens at a size that fits the screen and its
  // pages, centred; Qt's default would be the layout's minimum hint.
  void firstWindowFitsTheScreen() {
    QSettings settings(QString::fromStdString(test::scratchDir("gui-first-start") + "/settings.ini"), QSettings::IniFormat);
    Preferences fresh(&settings, nullptr);
    MainWindow w(&fresh);
    const QRect available = w.screen()->availableGeometry();
    const QSize expected = QSize(MainWindow::kPreferredWidth, MainWindow::kPreferredHeight)
                               .boundedTo(available.size() * 0.95)
                               .expandedTo(w.minimumSize());
    QCOMPARE(w.size(), expected);
    // Centred in the free area (the offscreen screen may be smaller than the minimum size).
    QVERIFY2(std::abs(w.geometry().center().x() - available.center().x()) <= 1 &&
                 std::abs(w.geometry().center().y() - available.center().y()) <= 1,
             qPrintable(QStringLiteral("window %1,%2 %3x%4 in %5,%6 %7x%8")
                            .arg(w.geometry().x()).arg(w.geometry().y()).arg(w.width()).arg(w.height())
                            .arg(available.x()).arg(available.y()).arg(available.width()).arg(available.height())));
  }

  // At 1024x640, the smallest screen the studio supports, every page is usable: its layout's
  // minimum fits (nothing is squeezed over its neighbours), no combo box is narrower than its
  // text, and class names in tables are shown whole.
  void everyPageIsUsableAt1024x640() {
    auto w = makeWindow();
    w->resize(1024, 640);
    loadData(*w);
    const QStringList classes = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                 "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
    QCoreApplication::processEvents();
    auto* stack = w->findChild<QStackedWidget*>();
    QVERIFY(stack);
    int class_cells = 0;
    for (int page = MainWindow::DataPageIndex; page <= MainWindow::ResultsPageIndex; ++page) {
      w->showPage(static_cast<MainWindow::Page>(page));
      QCoreApplication::processEvents();
      QWidget* current = stack->currentWidget();
      const QString where = QStringLiteral("page %1 (%2)").arg(page).arg(QString::fromLatin1(current->metaObject()->className()));
      const QSize minimum = current->minimumSizeHint();
      // STUDIO_DEBUG_LAYOUT=1 lists the wide and tall widgets: what sets a page's minimum.
      if (qEnvironmentVariableIsSet("STUDIO_DEBUG_LAYOUT"))
        for (QWidget* child : current->findChildren<QWidget*>())
          if (child->isVisibleTo(w.get()) && (child->minimumSizeHint().width() > 150 || child->minimumSizeHint().height() > 150))
            qInfo("%s %s min %dx%d", child->metaObject()->className(), qPrintable(child->objectName()), child->minimumSizeHint().width(), child->minimumSizeHint().height());
      QVERIFY2(minimum.width() <= stack->width() && minimum.height() <= stack->height(),
               qPrintable(QStringLiteral("%1 needs at least %2x%3 but has %4x%5")
                              .arg(where).arg(minimum.width()).arg(minimum.height()).arg(stack->width()).arg(stack->height())));
      for (QComboBox* combo : current->findChildren<QComboBox*>()) {
        if (!combo->isVisibleTo(w.get()) || combo->sizeAdjustPolicy() == QComboBox::AdjustToMinimumContentsLengthWithIcon)
          continue;
        // What the shown text needs: a combo box of the same style holding only that text.
        QComboBox probe;
        probe.setFont(combo->font());
        probe.setEditable(combo->isEditable());
        probe.setSizeAdjustPolicy(QComboBox::AdjustToContents);
        probe.addItem(combo->itemIcon(combo->currentIndex()), combo->currentText());
        probe.setIconSize(combo->iconSize());
        const int needed = probe.sizeHint().width();
        QVERIFY2(combo->width() >= needed, qPrintable(QStringLiteral("%1: combo box \"%2\" is %3 px wide, its text needs %4")
                                                          .arg(where, combo->currentText()).arg(combo->width()).arg(needed)));
      }
      for (QAbstractItemView* view : current->findChildren<QAbstractItemView*>()) {
        auto* table = qobject_cast<QTableView*>(view);
        if (!table || !table->isVisibleTo(w.get()) || !table->model()) continue;
        const QAbstractItemModel* model = table->model();
        for (int row = 0; row < std::min(model->rowCount(), 50); ++row)
          for (int column = 0; column < model->columnCount(); ++column) {
            const QString text = model->index(row, column).data(Qt::DisplayRole).toString();
            if (!classes.contains(text) || table->isColumnHidden(column)) continue;
            ++class_cells;
            const int needed = table->fontMetrics().horizontalAdvance(text) + 2 * table->style()->pixelMetric(QStyle::PM_FocusFrameHMargin);
            QVERIFY2(table->columnWidth(column) >= needed,
                     qPrintable(QStringLiteral("%1: class name \"%2\" in a column %3 px wide, needs %4")
                                    .arg(where, text).arg(table->columnWidth(column)).arg(needed)));
          }
      }
    }
    QVERIFY2(class_cells >= 10, "the data page's class table was not checked");
  }

  void experimentFileRoundTrips() {
    auto w = makeWindow();
    ExperimentConfig c = tinyExperiment("round-trip");
    c.augment.blur_p = 0.25;
    c.augment.crop_scale_min = 0.35;
    c.optim.name = OptimizerKind::Sgd;
    c.optim.lr = 0.05;
    c.train.seed = 7;
    c.model.head_dims = {96, 48};
    w->setExperiment(c);
    const QString path = QString::fromStdString(test::scratchDir("gui-experiment") + "/exp.json");
    QVERIFY(w->saveExperiment(path));
    // The CLI's reader accepts the file and sees the same experiment.
    const ExperimentConfig read = loadExperimentConfig(path.toStdString());
    QCOMPARE(QString::fromStdString(read.toJson().dump()), QString::fromStdString(w->currentExperiment().toJson().dump()));
    QCOMPARE(read.augment.blur_p, 0.25);
    QVERIFY(read.optim.name == OptimizerKind::Sgd);
    QCOMPARE(read.model.head_dims, (std::vector<int64_t>{96, 48}));
    auto other = makeWindow();
    QVERIFY(other->openExperiment(path));
    QCOMPARE(QString::fromStdString(other->currentExperiment().toJson().dump()), QString::fromStdString(read.toJson().dump()));
    QVERIFY(prefs_->recentExperiments().contains(path));
  }

  void augmentationChangeChangesPreview() {
    auto w = makeWindow();
    w->setExperiment(tinyExperiment("preview"));
    w->showPage(MainWindow::AugmentPageIndex);
    QSignalSpy rendered(w->augmentPage(), &AugmentPage::previewRendered);
    loadData(*w);
    QTRY_VERIFY_WITH_TIMEOUT(rendered.count() >= 1, 20000);
    QTRY_VERIFY(w->augmentPage()->previewGrid()->sampleCount() == 8);
    const QImage before = w->augmentPage()->previewGrid()->viewImage(0, 1);
    const QImage original = w->augmentPage()->previewGrid()->viewImage(0, 0);
    QVERIFY(!before.isNull());

    // Solarize every view: the preview must change, and soon.
    AugmentConfig a = w->augmentPage()->config();
    a.solarize_p = 1.0;
    a.solarize_threshold = 0.1;
    const int count = rendered.count();
    w->augmentPage()->setConfig(a);
    QTRY_VERIFY_WITH_TIMEOUT(rendered.count() > count, 5000);
    QTRY_VERIFY(!w->augmentPage()->designer() || true);
    const QImage after = w->augmentPage()->previewGrid()->viewImage(0, 1);
    QVERIFY(after != before);
    QCOMPARE(w->augmentPage()->previewGrid()->viewImage(0, 0), original);  // the original does not change
    qInfo("augmentation preview refreshed %.1f ms after the change", w->augmentPage()->lastRenderMs());
    QVERIFY2(w->augmentPage()->lastRenderMs() < 200.0, "the preview must refresh within 200 ms of a change");

    // Re-rolling draws new views of the same images.
    const int count2 = rendered.count();
    w->augmentPage()->reroll();
    QTRY_VERIFY_WITH_TIMEOUT(rendered.count() > count2, 5000);
    QVERIFY(w->augmentPage()->previewGrid()->viewImage(0, 1) != after);
  }

  // The Monitor page draws the embeddings' health beside kNN and shows the engine's collapse
  // warning above the plots until an evaluation finds the embeddings healthy again.
  void monitorShowsHealthAndTheCollapseWarning() {
    MonitorPage page;
    page.clear(QStringLiteral("health"));
    auto eval = [](int64_t step, double spread, double rank, bool collapsing) {
      MetricsRecord e;
      e.kind = RecordKind::Eval;
      e.step = step;
      e.values = {{"knn_top1", 0.5},          {"embedding_std", spread / 8}, {"embedding_spread", spread},
                  {"effective_rank", rank},   {"embedding_dims", 64.0},      {"collapsing", collapsing ? 1.0 : 0.0},
                  {"alignment", 0.25},        {"uniformity", -3.5}};
      return e;
    };
    MetricsRecord warning;
    warning.kind = RecordKind::Info;
    warning.step = 10;
    warning.text = "warning: the BYOL embeddings are collapsing: ...";
    warning.values = {{"collapse_warning", 1.0}};
    QCOMPARE(page.collapseWarning(), QString());
    page.addRecords({eval(0, 0.6, 40, false), eval(10, 0.01, 1.5, true), warning});
    QCOMPARE(page.healthPlot()->pointCount("spread"), 2);
    QCOMPARE(page.healthPlot()->lastValue("spread"), 0.01);
    QCOMPARE(page.healthPlot()->lastValue("rank"), 1.5 / 64);
    QCOMPARE(page.geometryPlot()->lastValue("alignment"), 0.25);
    QCOMPARE(page.geometryPlot()->lastValue("uniformity"), -3.5);
    QCOMPARE(page.collapseWarning(), QString::fromStdString(warning.text));
    QVERIFY2(page.summaryText().contains(QStringLiteral("spread 0.01")), qPrintable(page.summaryText()));
    // Still collapsing: the warning stays; healthy again: it goes.
    page.addRecords({eval(20, 0.02, 1.7, true)});
    QCOMPARE(page.collapseWarning(), QString::fromStdString(warning.text));
    page.addRecords({eval(30, 0.5, 30, false)});
    QCOMPARE(page.collapseWarning(), QString());
    QCOMPARE(page.healthPlot()->pointCount("spread"), 4);
    page.addRecords({warning});
    QVERIFY(!page.collapseWarning().isEmpty());
    page.clear(QStringLiteral("next"));
    QCOMPARE(page.collapseWarning(), QString());
    QCOMPARE(page.healthPlot()->pointCount("spread"), 0);
  }

  void trainingThroughTheUi() {
    auto w = makeWindow();
    w->setExperiment(tinyExperiment("gui-run", 3));
    RunIndex index(runs_dir_.toStdString());
    const size_t runs_before = index.list().size();
    const int rows_before = w->runsPage()->runCount();

    QSignalSpy finished(w->engine(), &EngineController::runFinished);
    QSignalSpy layouts(w->embeddingsPage(), &EmbeddingsPage::layoutFinished);
    StallMeter stall;
    stall.start();
    w->startAction()->trigger();
    QCOMPARE(w->engine()->state(), EngineController::State::Starting);
    QVERIFY(!w->startAction()->isEnabled());

    // The loss curve gets points while the run goes on.
    CurvePlot* loss = w->monitorPage()->lossPlot();
    QTRY_VERIFY_WITH_TIMEOUT(loss->pointCount("loss") >= 3, 60000);

    // Pause: the engine stops stepping; resume: it goes on.
    w->pauseAction()->trigger();
    QCOMPARE(w->engine()->state(), EngineController::State::Paused);
    QTest::qWait(600);  // a step in flight may still land
    const int paused_points = loss->pointCount("loss");
    QTest::qWait(800);
    QCOMPARE(loss->pointCount("loss"), paused_points);
    w->pauseAction()->trigger();
    QCOMPARE(w->engine()->state(), EngineController::State::Running);
    QTRY_VERIFY_WITH_TIMEOUT(loss->pointCount("loss") > paused_points, 20000);

    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 300000);
    stall.stop();
    const RunSummary summary = finished.first().first().value<RunSummary>();
    QCOMPARE(summary.status, QStringLiteral("finished"));
    QCOMPARE(loss->pointCount("loss"), 3 * (1024 / 64));
    QTRY_COMPARE(w->engine()->state(), EngineController::State::Idle);
    QVERIFY(w->monitorPage()->knnPlot()->pointCount("knn") >= 3);  // step 0 and each epoch
    // The embeddings' health at each evaluation, on its 0..1 scale.
    QCOMPARE(w->monitorPage()->healthPlot()->pointCount("spread"), w->monitorPage()->knnPlot()->pointCount("knn"));
    const double spread = w->monitorPage()->healthPlot()->lastValue("spread");
    // At most sqrt(N / (N - 1)) (the unbiased std of unit rows): 1.01 covers any N over 50.
    QVERIFY2(spread > 0 && spread <= 1.01, qPrintable(QString::number(spread)));

    // The runs table gains the run; the index (shared with the CLI) has it as finished.
    QTRY_COMPARE_WITH_TIMEOUT(w->runsPage()->runCount(), rows_before + 1, 10000);
    QCOMPARE(index.list().size(), runs_before + 1);
    QCOMPARE(index.list().front().status, std::string("finished"));

    // The embedding map was laid out from the live snapshots.
    QTRY_VERIFY_WITH_TIMEOUT(layouts.count() >= 1, 120000);
    QCOMPARE(w->embeddingsPage()->scatter()->pointCount(), 300);

    qInfo("longest event-loop stall during training: %.1f ms", stall.longestMs());
    QVERIFY2(stall.longestMs() < 50.0, "the GUI thread stalled for 50 ms or more during training");
  }

  void stopKeepsACheckpointAndResumeContinues() {
    auto w = makeWindow();
    w->setExperiment(tinyExperiment("gui-stop", 4));
    QSignalSpy started(w->engine(), &EngineController::runStarted);
    QSignalSpy finished(w->engine(), &EngineController::runFinished);
    w->startTraining();
    QTRY_VERIFY_WITH_TIMEOUT(w->monitorPage()->lossPlot()->pointCount("loss") >= 2, 60000);
    w->stopAction()->trigger();
    QCOMPARE(w->engine()->state(), EngineController::State::Stopping);
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 60000);
    const RunSummary stopped = finished.takeFirst().first().value<RunSummary>();
    QCOMPARE(stopped.status, QStringLiteral("cancelled"));
    QVERIFY(stopped.steps < 4 * 16);
    QVERIFY(std::filesystem::exists(stopped.run_dir.toStdString() + "/checkpoints/last.pt"));
    QTRY_COMPARE(w->engine()->state(), EngineController::State::Idle);

    // Resume from the runs page: the run continues from its checkpoint to the end.
    w->runsPage()->refresh();
    w->resumeRun(stopped.run_dir);
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 300000);
    const RunSummary resumed = finished.first().first().value<RunSummary>();
    QCOMPARE(resumed.status, QStringLiteral("finished"));
    QCOMPARE(resumed.run_dir, stopped.run_dir);
    QCOMPARE(resumed.steps, qint64(4 * 16));
  }

  void corruptDatasetShowsAnErrorAndTheAppStaysUsable() {
    auto w = makeWindow();
    const std::string dir = test::scratchDir("gui-corrupt");
    const std::string bad = dir + "/broken.csds";
    {
      std::ofstream out(bad, std::ios::binary);
      out << "CSDS this is not a packed dataset";
    }
    ExperimentConfig c = tinyExperiment("gui-corrupt");
    c.dataset.kind = DatasetKind::Packed;
    c.dataset.path = bad;
    w->setExperiment(c);
    QSignalSpy errors(w->dataPage(), &DataPage::errorOccurred);
    w->dataPage()->load();
    QTRY_VERIFY_WITH_TIMEOUT(errors.count() == 1, 20000);
    QVERIFY2(w->dataPage()->errorText().contains(QStringLiteral("broken.csds")), qPrintable(w->dataPage()->errorText()));
    QVERIFY(!w->dataPage()->busy());

    // Training on it fails with a message naming the file; the window keeps working.
    QSignalSpy failed(w->engine(), &EngineController::runFailed);
    w->startTraining();
    QTRY_VERIFY_WITH_TIMEOUT(failed.count() == 1, 30000);
    QVERIFY2(w->lastError().contains(QStringLiteral("broken.csds")), qPrintable(w->lastError()));
    QTRY_COMPARE(w->engine()->state(), EngineController::State::Idle);
    QVERIFY(w->startAction()->isEnabled());

    c.dataset = DatasetConfig{};
    c.dataset.train_limit = 512;
    w->setExperiment(c);
    loadData(*w);
    QVERIFY(w->dataPage()->errorText().isEmpty());
    QCOMPARE(w->dataPage()->images()->train.count, int64_t(512));
  }

  void closingDuringARunStopsItWithACheckpoint() {
    auto w = makeWindow();
    w->setExperiment(tinyExperiment("gui-close", 20));
    QSignalSpy started(w->engine(), &EngineController::runStarted);
    w->startTraining();
    QTRY_VERIFY_WITH_TIMEOUT(w->monitorPage()->lossPlot()->pointCount("loss") >= 2, 60000);
    const QString run_dir = w->engine()->currentRunDir();
    QVERIFY(!run_dir.isEmpty());
    QString asked;
    w->setCloseConfirmation([&asked](const QString& question) {
      asked = question;
      return true;
    });
    QVERIFY(w->close());
    QVERIFY(asked.contains(QStringLiteral("checkpoint")));
    QCOMPARE(w->engine()->state(), EngineController::State::Idle);
    QVERIFY(std::filesystem::exists(run_dir.toStdString() + "/checkpoints/last.pt"));
    QCOMPARE(readRunRecord(run_dir.toStdString()).status, std::string("cancelled"));
  }
};

QTEST_MAIN(GuiTest)
#include "test_gui.moc"
