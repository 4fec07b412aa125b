#pragma once
// `contrastive-studio --screenshots DIR`: drives the real window through a short demo
// (load Fashion-MNIST, preview augmentations, train a few steps, lay out the embeddings,
// list the run) and saves a PNG of every main view, for the README. `./studio screenshots`
// runs it under Xvfb into docs/screenshots/.
#include <QObject>
#include <QString>

namespace studio {

class MainWindow;

class ScreenshotTour : public QObject {
  Q_OBJECT
 public:
  ScreenshotTour(MainWindow* window, QString out_dir, QObject* parent = nullptr);
  void start();

 private:
  void grabPage(int page, const QString& name);
  void fail(const QString& message);
  void finishTraining();
  void grabResults();

  MainWindow* window_;
  QString out_dir_;
  QString run_dir_;
  bool layout_done_ = false, run_done_ = false, finishing_ = false;
};

}  // namespace studio
