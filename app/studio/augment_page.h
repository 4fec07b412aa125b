#pragma once
// The augmentation designer beside a live preview: every change re-renders the two views
// of a few sample images with the engine's pipeline and training's generator, in the
// background, coalescing changes that arrive while a render is running.
#include <QElapsedTimer>
#include <QWidget>

#include "app/studio/background_task.h"
#include "app/studio/data_page.h"
#include "core/experiment/config.h"

class QLabel;
class QPushButton;
class QSpinBox;

namespace studio {

class AugmentationDesigner;
class AugmentPreviewGrid;

class AugmentPage : public QWidget {
  Q_OBJECT
 public:
  explicit AugmentPage(QWidget* parent = nullptr);

  void setDataset(const DatasetImagesPtr& images);
  void setConfig(const AugmentConfig& config);  // fills the designer, re-renders
  AugmentConfig config() const;
  void setSeed(int64_t seed);

  void reroll();          // new views of the same images
  void newSamples();      // other images
  qint64 roll() const { return roll_; }
  int renderCount() const { return render_count_; }
  double lastRenderMs() const { return last_render_ms_; }
  AugmentationDesigner* designer() const { return designer_; }
  AugmentPreviewGrid* previewGrid() const { return grid_; }

 Q_SIGNALS:
  void configEdited();
  void previewRendered();

 private:
  void requestRender();
  void startRender();
  std::vector<int64_t> chooseSamples(int count) const;

  AugmentationDesigner* designer_;
  AugmentPreviewGrid* grid_;
  QSpinBox* sample_count_;
  QPushButton* reroll_button_;
  QPushButton* samples_button_;
  QLabel* timing_;
  DatasetImagesPtr images_;
  std::vector<int64_t> samples_;
  int64_t seed_ = 0;
  qint64 roll_ = 0;
  int sample_offset_ = 0;
  TaskHandle rendering_;
  bool render_again_ = false;
  int render_count_ = 0;
  double last_render_ms_ = 0;
  QElapsedTimer since_change_;
};

}  // namespace studio
