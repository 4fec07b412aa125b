#include "app/studio/screenshot_tour.h"

#include <cstdio>

#include <QApplication>
#include <QDir>
#include <QTimer>

#include "app/studio/augment_page.h"
#include "app/studio/embeddings_page.h"
#include "app/studio/main_window.h"
#include "app/studio/results_page.h"
#include "app/studio/runs_page.h"
#include "app/studio/training_page.h"
#include "widgets/embedding_scatter.h"

namespace studio {

namespace {
constexpr int kSettleMs = 400;  // lets animations and throttled redraws land before a grab
}

ScreenshotTour::ScreenshotTour(MainWindow* window, QString out_dir, QObject* parent)
    : QObject(parent), window_(window), out_dir_(std::move(out_dir)) {}

void ScreenshotTour::fail(const QString& message) {
  std::fprintf(stderr, "screenshots: %s\n", qPrintable(message));
  QApplication::exit(1);
}

void ScreenshotTour::grabPage(int page, const QString& name) {
  window_->showPage(static_cast<MainWindow::Page>(page));
  QApplication::processEvents();
  const QString path = out_dir_ + QLatin1Char('/') + name + QStringLiteral(".png");
  if (!window_->grab().save(path)) {
    fail(QStringLiteral("could not write %1").arg(path));
    return;
  }
  std::printf("screenshots: wrote %s\n", qPrintable(path));
  grabbed_.push_back({page, name});
}

void ScreenshotTour::grabEveryPageAtOtherSizes() {
  // Every page again, as the demo left it, on a small laptop screen and on a full-HD one:
  // every page must stay usable at the smallest (docs/screenshots/1024x640/) and use the space
  // at the largest. After the tour, so that no demo step runs inside these grabs.
  for (const QSize& size : {QSize(1024, 640), QSize(1920, 1080)}) {
    const QString dir = out_dir_ + QStringLiteral("/%1x%2").arg(size.width()).arg(size.height());
    if (!QDir().mkpath(dir)) {
      fail(QStringLiteral("cannot create %1").arg(dir));
      return;
    }
    window_->resize(size);
    for (const auto& [page, name] : grabbed_) {
      window_->showPage(static_cast<MainWindow::Page>(page));
      QApplication::processEvents();
      const QString path = dir + QLatin1Char('/') + name + QStringLiteral(".png");
      if (!window_->grab().save(path)) {
        fail(QStringLiteral("could not write %1").arg(path));
        return;
      }
      std::printf("screenshots: wrote %s\n", qPrintable(path));
    }
  }
}

void ScreenshotTour::start() {
  if (!QDir().mkpath(out_dir_)) {
    fail(QStringLiteral("cannot create %1").arg(out_dir_));
    return;
  }
  window_->resize(1280, 800);
  ExperimentConfig c = window_->currentExperiment();
  c.name = "screenshot-demo";
  c.dataset.kind = DatasetKind::FashionMnist;
  c.dataset.path.clear();
  c.dataset.train_limit = 4096;
  c.model.backbone = Backbone::ConvNet;
  c.model.width = 16;
  c.model.head_dims = {128, 64};
  c.train.batch_size = 128;
  c.train.epochs = 3;
  c.train.device = "cpu";
  c.monitor.every_epochs = 1;
  c.monitor.bank_size = 4096;
  c.monitor.query_size = 1000;
  c.monitor.map_size = 1000;
  c.monitor.k = 20;
  window_->setExperiment(c);

  DataPage* data = window_->dataPage();
  connect(data, &DataPage::errorOccurred, this, &ScreenshotTour::fail);
  connect(data, &DataPage::datasetLoaded, this, [this]() {
    QTimer::singleShot(kSettleMs, this, [this]() {
      grabPage(MainWindow::DataPageIndex, QStringLiteral("data"));
      window_->showPage(MainWindow::AugmentPageIndex);
      window_->augmentPage()->reroll();
    });
  });
  connect(window_->augmentPage(), &AugmentPage::previewRendered, this, [this]() {
    static bool once = false;
    if (once) return;
    once = true;
    QTimer::singleShot(kSettleMs, this, [this]() {
      grabPage(MainWindow::AugmentPageIndex, QStringLiteral("augmentations"));
      grabPage(MainWindow::TrainingPageIndex, QStringLiteral("training"));
      window_->startTraining();
    });
  });
  connect(window_->embeddingsPage(), &EmbeddingsPage::layoutFinished, this, [this]() {
    layout_done_ = true;
    if (run_done_) finishTraining();
  });
  connect(window_->engine(), &EngineController::runFinished, this, [this](const RunSummary& summary) {
    run_dir_ = summary.run_dir;
    run_done_ = true;
    if (layout_done_) finishTraining();
  });
  connect(window_->engine(), &EngineController::runFailed, this, [this](const QString& m) { fail(m); });
  data->load();
}

void ScreenshotTour::finishTraining() {
  // Layouts keep finishing (the final evaluation publishes one more map): tour once.
  if (finishing_) return;
  finishing_ = true;
  QTimer::singleShot(kSettleMs * 2, this, [this]() {
    grabPage(MainWindow::MonitorPageIndex, QStringLiteral("monitor"));
    EmbeddingsPage* page = window_->embeddingsPage();
    window_->showPage(MainWindow::EmbeddingsPageIndex);
    QApplication::processEvents();
    if (page->scatter()->pointCount() > 0) page->showNeighbours(0);
    QTimer::singleShot(kSettleMs, this, [this]() {
      grabPage(MainWindow::EmbeddingsPageIndex, QStringLiteral("embeddings"));
      // The runs page with the demo run selected, once its curves have been read.
      RunsPage* runs = window_->runsPage();
      window_->showPage(MainWindow::RunsPageIndex);
      auto* deadline = new QTimer(this);
      deadline->setSingleShot(true);
      connect(deadline, &QTimer::timeout, this, [this]() { fail(QStringLiteral("the runs page did not show the demo run")); });
      connect(runs, &RunsPage::detailsUpdated, this, [this, deadline]() {
        deadline->stop();
        QTimer::singleShot(kSettleMs, this, [this]() {
          grabPage(MainWindow::RunsPageIndex, QStringLiteral("runs"));
          grabResults();
        });
      }, Qt::SingleShotConnection);
      deadline->start(20000);
      runs->refresh();
      runs->selectRun(run_dir_);
    });
  });
}

void ScreenshotTour::grabResults() {
  // The Results page with a small label-efficiency study of the demo run (frozen arms only:
  // the supervised ones would train for minutes).
  ResultsPage* page = window_->resultsPage();
  window_->showPage(MainWindow::ResultsPageIndex);
  page->setRun(run_dir_);
  RunStudyOptions o = page->studyOptions();
  o.fractions = {0.01, 0.1, 1.0};
  o.seeds = 3;
  o.bank_size = 4096;
  o.query_size = 1000;
  o.representations = {"pretrained", "random-init", "raw-pixels"};
  o.device = "cpu";
  page->setStudyOptions(o);
  connect(page, &ResultsPage::taskFailed, this, [this](const QString& m, bool) { fail(m); });
  connect(page, &ResultsPage::studyFinished, this, [this]() {
    QTimer::singleShot(kSettleMs, this, [this]() {
      grabPage(MainWindow::ResultsPageIndex, QStringLiteral("results"));
      grabEveryPageAtOtherSizes();
      QApplication::exit(0);
    });
  });
  page->startStudy();
}

}  // namespace studio
