#include "app/studio/main_window.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QImage>
#include <QLabel>
#include <QListWidget>
#include <QMenuBar>
#include <QPalette>
#include <QPixmap>
#include <QScreen>
#include <QGuiApplication>
#include <QMessageBox>
#include <QStackedWidget>
#include <QStatusBar>
#include <QStyle>

#include "app/studio/augment_page.h"
#include "app/studio/embeddings_page.h"
#include "app/studio/monitor_page.h"
#include "app/studio/preferences.h"
#include "app/studio/preferences_dialog.h"
#include "app/studio/results_page.h"
#include "app/studio/runs_page.h"
#include "app/studio/theme.h"
#include "app/studio/training_page.h"
#include "core/base/metrics_record.h"
#include "core/base/text_format.h"
#include "core/version.h"

namespace studio {

namespace {

// Experiments are JSON; *.csexp.json is the name the desktop's MIME type recognises.
const char* const kExperimentFilter =
    QT_TRANSLATE_NOOP("MainWindow", "Experiments (*.csexp.json *.json);;All files (*)");

// A page's icon for the navigation list. The icons are drawn in the accent blue, which
// vanishes on the selection's blue: the selected row shows the same shape in the palette's
// highlighted-text colour instead.
// (Pixmaps at 1x and 2x in a pixmap icon: the SVG icon engine keeps one added pixmap per
// mode, so it cannot hold both scales.)
QIcon navigationIcon(const QString& name, const QColor& selected, const QSize& size) {
  const QIcon drawn(QStringLiteral(":/icons/%1.svg").arg(name));
  QIcon icon;
  for (const qreal scale : {1.0, 2.0}) {
    const QPixmap normal = drawn.pixmap(size, scale);
    QImage image = normal.toImage().convertToFormat(QImage::Format_ARGB32);
    for (int y = 0; y < image.height(); ++y) {
      auto* row = reinterpret_cast<QRgb*>(image.scanLine(y));
      for (int x = 0; x < image.width(); ++x)
        row[x] = qRgba(selected.red(), selected.green(), selected.blue(), qAlpha(row[x]));
    }
    icon.addPixmap(normal, QIcon::Normal);
    icon.addPixmap(QPixmap::fromImage(image), QIcon::Selected);
  }
  return icon;
}

ExperimentConfig readPresetResource(const QString& resource) {
  QFile file(resource);
  if (!file.open(QIODevice::ReadOnly)) throwBadInput("preset " + resource.toStdString() + " is missing");
  const QByteArray bytes = file.readAll();
  return ExperimentConfig::fromJson(Json::parse(bytes.constData(), bytes.constData() + bytes.size()));
}

}  // namespace

// The built-in Fashion-MNIST preset on the preferred device. Should the preset not read (a
// damaged installation), the engine's own defaults, and the window says so.
ExperimentConfig MainWindow::defaultExperiment() {
  ExperimentConfig c;
  try {
    c = readPresetResource(QStringLiteral(":/presets/fashion-mnist-simclr.json"));
  } catch (const std::exception& e) {
    const QString why = QString::fromStdString(e.what());
    qWarning("contrastive-studio: the default preset could not be read (%s): using the engine's defaults",
             qPrintable(why));
    statusBar()->showMessage(
        tr("The built-in default preset could not be read (%1): the engine's defaults are shown instead").arg(why), 15000);
  }
  c.train.device = preferences_->defaultDevice().toStdString();
  return c;
}

MainWindow::MainWindow(Preferences* preferences, QWidget* parent)
    : QMainWindow(parent), preferences_(preferences), engine_(new EngineController(this)) {
  setWindowIcon(QIcon(QStringLiteral(":/icons/contrastive-studio.svg")));
  setMinimumSize(kMinimumWidth, kMinimumHeight);

  data_page_ = new DataPage;
  augment_page_ = new AugmentPage;
  training_page_ = new TrainingPage;
  monitor_page_ = new MonitorPage;
  embeddings_page_ = new EmbeddingsPage;
  runs_page_ = new RunsPage;
  results_page_ = new ResultsPage;

  nav_ = new QListWidget;
  nav_->setAccessibleName(tr("Pages"));
  nav_->setIconSize(QSize(24, 24));
  nav_->setFixedWidth(170);
  stack_ = new QStackedWidget;
  const struct {
    QWidget* page;
    QString title;
    QString icon;
  } pages[] = {{data_page_, tr("Data"), QStringLiteral("data")},
               {augment_page_, tr("Augmentations"), QStringLiteral("augment")},
               {training_page_, tr("Training"), QStringLiteral("training")},
               {monitor_page_, tr("Monitor"), QStringLiteral("monitor")},
               {embeddings_page_, tr("Embeddings"), QStringLiteral("embeddings")},
               {runs_page_, tr("Runs"), QStringLiteral("runs")},
               {results_page_, tr("Results"), QStringLiteral("results")}};
  for (const auto& p : pages) {
    auto* item = new QListWidgetItem(p.title);
    item->setData(Qt::UserRole, p.icon);
    item->setSizeHint(QSize(0, 40));
    nav_->addItem(item);
    stack_->addWidget(p.page);
  }
  updateNavigationIcons();
  connect(nav_, &QListWidget::currentRowChanged, stack_, &QStackedWidget::setCurrentIndex);
  auto* central = new QWidget;
  auto* layout = new QHBoxLayout(central);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addWidget(nav_);
  layout->addWidget(stack_, 1);
  setCentralWidget(central);

  createActions();
  createMenus();
  createStatusBar();
  connectEngine();
  training_page_->setRunActions(start_action_, pause_action_, stop_action_);

  training_page_->setExperimentProvider([this]() { return currentExperiment(); });
  connect(data_page_, &DataPage::datasetLoaded, this, [this](const DatasetImagesPtr& images) {
    augment_page_->setDataset(images);
    training_page_->setImageShape(images->train.channels, images->train.height);
    statusBar()->showMessage(tr("Loaded %1: %2 images").arg(QString::fromStdString(images->name)).arg(images->train.count),
                             5000);
  });
  connect(data_page_, &DataPage::datasetConfigChanged, this, &MainWindow::markDirty);
  connect(data_page_, &DataPage::datasetConfigChanged, this, [this]() { training_page_->setImageShape(0, 0); });
  connect(data_page_, &DataPage::errorOccurred, this, [this](const QString& m) { last_error_ = m; });
  connect(augment_page_, &AugmentPage::configEdited, this, &MainWindow::markDirty);
  connect(training_page_, &TrainingPage::edited, this, [this]() {
    markDirty();
    augment_page_->setSeed(currentExperiment().train.seed);
  });
  connect(training_page_, &TrainingPage::presetChosen, this, &MainWindow::applyPreset);
  connect(runs_page_, &RunsPage::openRunRequested, this, &MainWindow::openRun);
  connect(runs_page_, &RunsPage::resumeRunRequested, this, &MainWindow::resumeRun);
  connect(runs_page_, &RunsPage::errorOccurred, this, [this](const QString& m) {
    last_error_ = m;
    statusBar()->showMessage(m, 8000);
  });

  connect(preferences_, &Preferences::themeChanged, this, [this](Preferences::Theme t) {
    applyTheme(t);
    updateNavigationIcons();  // the highlighted-text colour follows the theme
  });
  connect(preferences_, &Preferences::runsDirChanged, this, [this](const QString& dir) { runs_page_->setRunsDir(dir); });
  connect(preferences_, &Preferences::recentExperimentsChanged, this, &MainWindow::updateRecentMenu);

  setExperiment(defaultExperiment());
  runs_page_->setRunsDir(preferences_->runsDir());
  updateRecentMenu();
  updateActions();

  if (!restoreGeometry(preferences_->windowGeometry())) fitToScreen();
  restoreState(preferences_->windowState());
  nav_->setCurrentRow(std::clamp(preferences_->lastPage(), 0, nav_->count() - 1));
}

MainWindow::~MainWindow() = default;

void MainWindow::fitToScreen() {
  // The first start (nothing remembered yet): a size at which every page shows its plots,
  // tables and forms readably, within the screen's free area, centred. Qt's default is the
  // layout's minimum hint, about 2/3 of a laptop screen, where tables and combo boxes elide.
  const QScreen* screen = this->screen() ? this->screen() : QGuiApplication::primaryScreen();
  if (!screen) return;
  const QRect available = screen->availableGeometry();
  const QSize wanted = QSize(kPreferredWidth, kPreferredHeight).expandedTo(minimumSizeHint());
  const QSize size = wanted.boundedTo(available.size() * 0.95).expandedTo(minimumSize());
  resize(size);
  move(available.center() - QPoint(size.width() / 2, size.height() / 2));
}

void MainWindow::createActions() {
  start_action_ = new QAction(style()->standardIcon(QStyle::SP_MediaPlay), tr("&Start training"), this);
  start_action_->setShortcut(QKeySequence(QStringLiteral("Ctrl+R")));
  start_action_->setToolTip(tr("Start a run with the current experiment (Ctrl+R)"));
  connect(start_action_, &QAction::triggered, this, &MainWindow::startTraining);
  pause_action_ = new QAction(style()->standardIcon(QStyle::SP_MediaPause), tr("&Pause"), this);
  pause_action_->setShortcut(QKeySequence(QStringLiteral("Ctrl+P")));
  pause_action_->setToolTip(tr("Pause or resume the run (Ctrl+P)"));
  connect(pause_action_, &QAction::triggered, this, &MainWindow::togglePause);
  stop_action_ = new QAction(style()->standardIcon(QStyle::SP_MediaStop), tr("S&top"), this);
  stop_action_->setShortcut(QKeySequence(QStringLiteral("Ctrl+.")));
  stop_action_->setToolTip(tr("Stop the run after saving a checkpoint (Ctrl+.)"));
  connect(stop_action_, &QAction::triggered, this, &MainWindow::stopTraining);
}

void MainWindow::createMenus() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  file->addAction(tr("&New experiment"), QKeySequence::New, this, [this]() {
    setExperiment(defaultExperiment());
    experiment_path_.clear();
    dirty_ = false;
    updateTitle();
  });
  file->addAction(tr("&Open experiment…"), QKeySequence::Open, this, [this]() {
    const QString path = QFileDialog::getOpenFileName(this, tr("Open experiment"), QString(), tr(kExperimentFilter));
    if (!path.isEmpty()) openExperiment(path);
  });
  recent_menu_ = file->addMenu(tr("Open &recent"));
  file->addAction(tr("&Save experiment"), QKeySequence::Save, this, [this]() {
    QString path = experiment_path_;
    if (path.isEmpty())
      path = QFileDialog::getSaveFileName(this, tr("Save experiment"),
                                          QString::fromStdString(currentExperiment().name) + QStringLiteral(".csexp.json"),
                                          tr(kExperimentFilter));
    if (!path.isEmpty()) saveExperiment(path);
  });
  file->addAction(tr("Save experiment &as…"), QKeySequence::SaveAs, this, [this]() {
    const QString path = QFileDialog::getSaveFileName(
        this, tr("Save experiment"), QString::fromStdString(currentExperiment().name) + QStringLiteral(".csexp.json"),
        tr(kExperimentFilter));
    if (!path.isEmpty()) saveExperiment(path);
  });
  file->addSeparator();
  file->addAction(tr("&Preferences…"), QKeySequence::Preferences, this, &MainWindow::showPreferences);
  file->addSeparator();
  file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);

  QMenu* run = menuBar()->addMenu(tr("&Run"));
  run->addAction(start_action_);
  run->addAction(pause_action_);
  run->addAction(stop_action_);

  QMenu* view = menuBar()->addMenu(tr("&View"));
  for (int i = 0; i < nav_->count(); ++i) {
    QAction* a = view->addAction(nav_->item(i)->icon(), nav_->item(i)->text());
    a->setShortcut(QKeySequence(QStringLiteral("Ctrl+%1").arg(i + 1)));
    connect(a, &QAction::triggered, this, [this, i]() { showPage(static_cast<Page>(i)); });
  }

  QMenu* help = menuBar()->addMenu(tr("&Help"));
  help->addAction(tr("&About Contrastive Studio"), this, &MainWindow::showAbout);
  help->addAction(tr("About &Qt"), qApp, &QApplication::aboutQt);
}

void MainWindow::createStatusBar() {
  state_label_ = new QLabel(tr("Idle"));
  speed_label_ = new QLabel;
  eta_label_ = new QLabel;
  device_label_ = new QLabel;
  memory_label_ = new QLabel;
  for (QLabel* l : {state_label_, speed_label_, eta_label_, device_label_, memory_label_}) statusBar()->addPermanentWidget(l);
}

void MainWindow::connectEngine() {
  connect(engine_, &EngineController::stateChanged, this, [this](EngineController::State s) {
    training_page_->setEngineState(s);
    updateActions();
    static const char* const names[] = {QT_TR_NOOP("Idle"), QT_TR_NOOP("Starting"), QT_TR_NOOP("Training"),
                                        QT_TR_NOOP("Paused"), QT_TR_NOOP("Stopping")};
    state_label_->setText(tr(names[static_cast<int>(s)]));
    if (s == EngineController::State::Idle) {
      speed_label_->clear();
      eta_label_->clear();
      memory_label_->clear();
    }
  });
  connect(engine_, &EngineController::runStarted, this, [this](const QString& run_dir, const QString&) {
    runs_page_->refresh();
    statusBar()->showMessage(tr("Run folder: %1").arg(run_dir), 5000);
  });
  connect(engine_, &EngineController::metricsReceived, this, [this](const MetricsBatch& batch) {
    monitor_page_->addRecords(batch);
    const MetricsRecord* last_step = nullptr;
    for (const MetricsRecord& r : batch) {
      if (r.kind == RecordKind::Step) {
        last_step = &r;
      } else if (r.kind == RecordKind::Info && r.has("total_steps")) {
        total_steps_ = static_cast<qint64>(r.value("total_steps", 0));
        // "training N steps on <device>: ..." names the device the engine resolved.
        const auto on = r.text.find(" on ");
        const auto colon = r.text.find(':', on == std::string::npos ? 0 : on);
        if (on != std::string::npos && colon != std::string::npos)
          device_label_->setText(QString::fromStdString(r.text.substr(on + 4, colon - on - 4)));
      }
    }
    if (!last_step) return;
    const double speed = last_step->value("images_per_s");
    const double eta = last_step->value("eta_s");
    speed_label_->setText(tr("%1 images/s").arg(speed, 0, 'f', 0));
    eta_label_->setText(tr("ETA %1").arg(QString::fromStdString(formatClock(eta))));
    if (last_step->has("gpu_memory_mb"))
      memory_label_->setText(tr("GPU memory %1 MiB").arg(last_step->value("gpu_memory_mb"), 0, 'f', 0));
    training_page_->showProgress(last_step->step, total_steps_, eta, speed);
  });
  connect(engine_, &EngineController::snapshotReceived, this, [this](const SnapshotPtr& s) {
    embeddings_page_->setSnapshot(s, tr("live"));
  });
  connect(engine_, &EngineController::runFinished, this, [this](const RunSummary& s) {
    runs_page_->refresh();
    // A finished run is the one to measure next (unless the page is busy with another).
    if (!s.run_dir.isEmpty() && !results_page_->busy()) {
      results_page_->setDevice(preferences_->defaultDevice());
      results_page_->setRun(s.run_dir);
    }
    QString text = s.status == QLatin1String("finished") ? tr("Run finished") : tr("Run stopped (checkpoint saved)");
    text += tr(" after %1 steps in %2").arg(s.steps).arg(QString::fromStdString(formatClock(s.seconds)));
    if (s.best_knn >= 0) text += tr(": best kNN %1%").arg(100.0 * s.best_knn, 0, 'f', 1);
    if (s.raw_pixel_knn >= 0) text += tr(" (raw pixels %1%)").arg(100.0 * s.raw_pixel_knn, 0, 'f', 1);
    statusBar()->showMessage(text, 15000);
  });
  connect(engine_, &EngineController::runFailed, this, [this](const QString& message, const QString&) {
    runs_page_->refresh();
    reportError(tr("Training failed"), message);
  });
}

ExperimentConfig MainWindow::currentExperiment() const {
  ExperimentConfig c = training_page_->applyTo(experiment_);
  c.dataset = data_page_->datasetConfig();
  c.augment = augment_page_->config();
  return c;
}

void MainWindow::setExperiment(const ExperimentConfig& config) {
  experiment_ = config;
  data_page_->setDatasetConfig(config.dataset, config.train.seed);
  augment_page_->setSeed(config.train.seed);
  augment_page_->setConfig(config.augment);
  training_page_->setConfig(config);
  updateTitle();
}

bool MainWindow::openExperiment(const QString& path) {
  try {
    const ExperimentConfig c = loadExperimentConfig(path.toStdString());
    setExperiment(c);
    experiment_path_ = path;
    dirty_ = false;
    preferences_->addRecentExperiment(path);
    updateTitle();
    data_page_->load();
    return true;
  } catch (const std::exception& e) {
    reportError(tr("Could not open the experiment"), QString::fromStdString(e.what()));
    return false;
  }
}

bool MainWindow::saveExperiment(const QString& path) {
  QString problem = training_page_->validate();
  if (problem.isEmpty()) problem = TrainingPage::methodProblem(currentExperiment());
  if (!problem.isEmpty()) {
    reportError(tr("The experiment is not valid"), problem);
    return false;
  }
  try {
    const ExperimentConfig c = currentExperiment();
    // Validate through the same reader the CLI uses before writing.
    ExperimentConfig::fromJson(c.toJson());
    saveExperimentConfig(c, path.toStdString());
    experiment_ = c;
    experiment_path_ = path;
    dirty_ = false;
    preferences_->addRecentExperiment(path);
    updateTitle();
    statusBar()->showMessage(tr("Saved %1").arg(path), 4000);
    return true;
  } catch (const std::exception& e) {
    reportError(tr("Could not save the experiment"), QString::fromStdString(e.what()));
    return false;
  }
}

void MainWindow::applyPreset(const QString& resource) {
  try {
    ExperimentConfig preset = readPresetResource(resource);
    ExperimentConfig current = currentExperiment();
    // A preset on the user's own data (no built-in dataset named) keeps the chosen dataset.
    const bool builtin = preset.dataset.kind == DatasetKind::FashionMnist || !preset.dataset.path.empty();
    if (!builtin) preset.dataset = current.dataset;
    preset.train.device = current.train.device;
    setExperiment(preset);
    markDirty();
    if (builtin && !data_page_->busy()) data_page_->load();
  } catch (const std::exception& e) {
    reportError(tr("Could not apply the preset"), QString::fromStdString(e.what()));
  }
}

void MainWindow::startTraining() {
  if (engine_->busy()) return;
  QString problem = training_page_->validate();
  if (problem.isEmpty()) problem = TrainingPage::methodProblem(currentExperiment());
  if (!problem.isEmpty()) {
    reportError(tr("The experiment is not valid"), problem);
    showPage(TrainingPageIndex);
    return;
  }
  ExperimentConfig c;
  try {
    c = ExperimentConfig::fromJson(currentExperiment().toJson());
  } catch (const std::exception& e) {
    reportError(tr("The experiment is not valid"), QString::fromStdString(e.what()));
    return;
  }
  run_title_ = QString::fromStdString(c.name);
  monitor_page_->clear(run_title_);
  embeddings_page_->clear();
  if (engine_->start(c, preferences_->runsDir())) showPage(MonitorPageIndex);
}

void MainWindow::togglePause() {
  if (engine_->state() == EngineController::State::Paused) {
    engine_->resumePaused();
  } else {
    engine_->pause();
  }
}

void MainWindow::stopTraining() { engine_->stop(); }

void MainWindow::resumeRun(const QString& run_dir) {
  if (engine_->busy()) {
    reportError(tr("A run is in progress"), tr("Stop the current run before resuming another."));
    return;
  }
  run_title_ = QFileInfo(run_dir).fileName();
  monitor_page_->clear(run_title_);
  // The curve so far comes from the run's own records; the engine continues it.
  MetricsBatch history;
  for (const MetricsRecord& r : readMetricsFile((run_dir + QStringLiteral("/metrics.jsonl")).toStdString()))
    if (r.kind == RecordKind::Step || r.kind == RecordKind::Eval || r.has("collapse_warning")) history.push_back(r);
  monitor_page_->addRecords(history);
  embeddings_page_->clear();
  if (engine_->resume(preferences_->runsDir(), run_dir)) showPage(MonitorPageIndex);
}

void MainWindow::openRun(const QString& run_dir) {
  run_title_ = QFileInfo(run_dir).fileName();
  monitor_page_->clear(run_title_);
  MetricsBatch records;
  for (const MetricsRecord& r : readMetricsFile((run_dir + QStringLiteral("/metrics.jsonl")).toStdString()))
    records.push_back(r);
  monitor_page_->addRecords(records);
  showPage(MonitorPageIndex);
  results_page_->setDevice(preferences_->defaultDevice());
  results_page_->setRun(run_dir);
  if (engine_->busy() && engine_->currentRunDir() == run_dir) return;  // live already
  embeddings_page_->clear();
  const std::string dir = run_dir.toStdString();
  const std::string device = preferences_->defaultDevice().toStdString();
  runInBackground<SnapshotPtr>(
      this,
      [dir, device](TaskControl&) {
        const RunFolder folder = RunFolder::open(RunFolder::open("", dir).runsDir(), dir);
        return std::make_shared<const EmbeddingSnapshot>(embedRunMap(folder, 0, device == "auto" ? "cpu" : device));
      },
      [this, run_dir](SnapshotPtr s) { embeddings_page_->setSnapshot(s, QFileInfo(run_dir).fileName()); },
      [this](const QString& message, bool) { statusBar()->showMessage(tr("No embedding map: %1").arg(message), 8000); });
}

void MainWindow::showPage(Page page) { nav_->setCurrentRow(static_cast<int>(page)); }

void MainWindow::updateActions() {
  const auto s = engine_->state();
  start_action_->setEnabled(s == EngineController::State::Idle);
  pause_action_->setEnabled(s == EngineController::State::Running || s == EngineController::State::Paused);
  pause_action_->setText(s == EngineController::State::Paused ? tr("&Resume") : tr("&Pause"));
  pause_action_->setIcon(style()->standardIcon(s == EngineController::State::Paused ? QStyle::SP_MediaPlay
                                                                                    : QStyle::SP_MediaPause));
  stop_action_->setEnabled(s != EngineController::State::Idle && s != EngineController::State::Stopping);
}

void MainWindow::updateTitle() {
  const QString name = experiment_path_.isEmpty() ? QString::fromStdString(experiment_.name)
                                                  : QFileInfo(experiment_path_).fileName();
  setWindowTitle(QStringLiteral("%1%2 — Contrastive Studio").arg(name, dirty_ ? QStringLiteral(" *") : QString()));
}

void MainWindow::markDirty() {
  if (dirty_) return;
  dirty_ = true;
  updateTitle();
}

void MainWindow::updateRecentMenu() {
  recent_menu_->clear();
  const QStringList recent = preferences_->recentExperiments();
  for (const QString& path : recent)
    recent_menu_->addAction(QFileInfo(path).fileName(), this, [this, path]() { openExperiment(path); })->setToolTip(path);
  recent_menu_->setEnabled(!recent.isEmpty());
}

void MainWindow::reportError(const QString& title, const QString& message) {
  last_error_ = message;
  statusBar()->showMessage(message, 15000);
  // Window-modal but not blocking: the event loop (and the engine's signals) keep running.
  auto* box = new QMessageBox(QMessageBox::Warning, title, message, QMessageBox::Ok, this);
  box->setAttribute(Qt::WA_DeleteOnClose);
  box->setObjectName(QStringLiteral("errorBox"));
  box->open();
}

void MainWindow::showPreferences() {
  PreferencesDialog dialog(preferences_, this);
  dialog.exec();
}

void MainWindow::updateNavigationIcons() {
  const QColor selected = QApplication::palette(nav_).color(QPalette::HighlightedText);
  for (int row = 0; row < nav_->count(); ++row) {
    QListWidgetItem* item = nav_->item(row);
    item->setIcon(navigationIcon(item->data(Qt::UserRole).toString(), selected, nav_->iconSize()));
  }
}

void MainWindow::showAbout() {
  QMessageBox::about(this, tr("About Contrastive Studio"),
                     tr("<h3>Contrastive Studio %1</h3>"
                        "<p>Self-supervised contrastive pretraining on your images: design augmentations, "
                        "train SimCLR on the GPU or the CPU, and see what the representation learned.</p>"
                        "<p>Built with Qt %2 and LibTorch.</p>")
                         .arg(QStringLiteral(STUDIO_VERSION), QString::fromLatin1(qVersion())));
}

void MainWindow::closeEvent(QCloseEvent* event) {
  if (engine_->busy()) {
    const QString question = tr("A run is in progress. Stop it (its checkpoint is saved, so it can be resumed) and quit?");
    const bool yes = confirm_ ? confirm_(question)
                              : QMessageBox::question(this, tr("Quit Contrastive Studio"), question) == QMessageBox::Yes;
    if (!yes) {
      event->ignore();
      return;
    }
    statusBar()->showMessage(tr("Stopping the run and saving a checkpoint…"));
    engine_->stopAndWait(-1);
  }
  preferences_->setWindowGeometry(saveGeometry());
  preferences_->setWindowState(saveState());
  preferences_->setLastPage(nav_->currentRow());
  event->accept();
}

}  // namespace studio
