#pragma once
// The embedding map: a t-SNE (or PCA) layout of a fixed set of images, refreshed at each
// evaluation while a run trains, each refresh starting from the previous layout so points
// move rather than jump. Hover shows an image, a click its nearest neighbours, a lasso the
// selected images in a grid below.
#include <QWidget>

#include "app/studio/background_task.h"
#include "app/studio/training_worker.h"

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QListWidget;
class QProgressBar;
class QPushButton;

namespace studio {

class DatasetBrowser;
class EmbeddingScatter;

class EmbeddingsPage : public QWidget {
  Q_OBJECT
 public:
  explicit EmbeddingsPage(QWidget* parent = nullptr);

  // New embeddings (live from training or from a run's checkpoint). A snapshot of the same
  // images as the current one is laid out from the current layout.
  void setSnapshot(const SnapshotPtr& snapshot, const QString& source);
  void clear();
  void recompute();  // from scratch, with the chosen method
  bool busy() const { return static_cast<bool>(task_); }

  EmbeddingScatter* scatter() const { return scatter_; }
  DatasetBrowser* selectionGrid() const { return grid_; }
  QListWidget* neighbourStrip() const { return neighbours_; }
  int layoutCount() const { return layout_count_; }
  QString statusText() const;
  SnapshotPtr snapshot() const { return snapshot_; }
  void showNeighbours(int index);

 Q_SIGNALS:
  void layoutFinished();

 private:
  void startLayout(bool warm);
  void showSelection(const QVector<int>& indices);

  EmbeddingScatter* scatter_;
  DatasetBrowser* grid_;
  QListWidget* neighbours_;
  QComboBox* method_;
  QDoubleSpinBox* perplexity_;
  QPushButton* recompute_;
  QPushButton* cancel_;
  QProgressBar* progress_;
  QLabel* status_;
  QLabel* neighbour_title_;
  SnapshotPtr snapshot_;
  SnapshotPtr pending_;  // arrived while a layout was running
  QString source_, pending_source_;
  std::vector<float> layout_;
  TaskHandle task_;
  int layout_count_ = 0;
};

}  // namespace studio
