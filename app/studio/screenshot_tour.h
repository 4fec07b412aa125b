#pragma once
// `contrastive-studio --screenshots DIR`: drives the real window through a short demo
// (load Fashion-MNIST, preview augmentations, train a few steps, lay out the embeddings,
// list the run) and saves a PNG of every main view, for the README. `./studio screenshots`
// runs it under Xvfb into docs/screenshots/.
#include <QObject>
#include <QString>

#include <utility>
#include <vector>

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
  void grabEveryPageAtOtherSizes();

  MainWindow* window_;
  QString out_dir_;
  QString run_dir_;
  std::vector<std::pair<int, QString>> grabbed_;  // (page, file name) in tour order
  bool layout_done_ = false, run_done_ = false, finishing_ = false;
};

}  // namespace studio
