// contrastive-studio: the desktop application. Everything lives in studio_gui (tested
// there); this file only parses the command line and starts the window.
#include <QApplication>
#include <QCommandLineParser>
#include <QFileInfo>

#include <cstdio>

#include "app/studio/main_window.h"
#include "app/studio/preferences.h"
#include "app/studio/screenshot_tour.h"
#include "app/studio/theme.h"
#include "core/device/device.h"
#include "core/version.h"
#include "gpu/register_kernels.h"

int main(int argc, char** argv) {
  studio::loadCudaSupport();  // before anything asks torch about CUDA
  studio::gpu::registerDeviceKernels();  // this build's CUDA kernels, if it has any
  QApplication app(argc, argv);
  QApplication::setOrganizationName(QStringLiteral("contrastive-studio"));
  QApplication::setApplicationName(QStringLiteral("contrastive-studio"));
  QApplication::setApplicationDisplayName(QStringLiteral("Contrastive Studio"));
  QApplication::setApplicationVersion(QStringLiteral(STUDIO_VERSION));
  QApplication::setDesktopFileName(QStringLiteral("contrastive-studio"));

  QCommandLineParser parser;
  parser.setApplicationDescription(QStringLiteral("Contrastive self-supervised pretraining studio"));
  parser.addHelpOption();
  parser.addVersionOption();
  parser.addPositionalArgument(QStringLiteral("experiment"), QStringLiteral("An experiment file (.json) to open."),
                               QStringLiteral("[experiment]"));
  const QCommandLineOption screenshots(
      QStringLiteral("screenshots"),
      QStringLiteral("Run a short demo through every page and save a PNG of each into <dir>, then quit."),
      QStringLiteral("dir"));
  parser.addOption(screenshots);
  // Users type both `contrastive-studio EXP.json` and `--experiment EXP.json`.
  const QCommandLineOption experiment(QStringLiteral("experiment"), QStringLiteral("The experiment file (.json) to open."),
                                      QStringLiteral("file"));
  parser.addOption(experiment);
  parser.process(app);
  QString experiment_path = parser.value(experiment);
  if (!parser.positionalArguments().isEmpty()) {
    if (!experiment_path.isEmpty() || parser.positionalArguments().size() > 1) {
      std::fprintf(stderr, "contrastive-studio: give one experiment file (as an argument or with --experiment), not several\n");
      return 2;
    }
    experiment_path = parser.positionalArguments().first();
  }

  studio::Preferences preferences;
  studio::applyTheme(preferences.theme());
  studio::MainWindow window(&preferences);
  window.show();

  if (parser.isSet(screenshots)) {
    auto* tour = new studio::ScreenshotTour(&window, parser.value(screenshots), &app);
    tour->start();
  } else if (!experiment_path.isEmpty()) {
    window.openExperiment(QFileInfo(experiment_path).absoluteFilePath());
  } else {
    window.dataPage()->load();
  }
  return app.exec();
}
