#pragma once
// Browses a dataset's images as a thumbnail grid with a class filter, per-class counts and
// the files an import skipped. Built for 100,000+ images: the grid has uniform cells and a
// batched layout, and only thumbnails that are scrolled into view are ever made.
#include <cstdint>
#include <vector>

#include <QPair>
#include <QString>
#include <QVector>
#include <QWidget>

#include "core/data/image_table.h"

class QComboBox;
class QGroupBox;
class QLabel;
class QListView;
class QModelIndex;
class QSlider;
class QStackedWidget;
class QTableWidget;
class QTreeWidget;

namespace studio {

class ImageGridModel;

// The dataset browser: a filterable thumbnail grid, class counts and skipped files.
// Child object names (for tests and style sheets): "classFilter", "thumbnailSize",
// "totalsLabel", "imageGrid", "placeholder", "classCounts", "skippedFiles".
class DatasetBrowser : public QWidget {
  Q_OBJECT

 public:
  // Filter values of the class combo besides class labels (>= 0).
  static constexpr int kAllClasses = -1;
  static constexpr int kUnlabeled = -2;
  static constexpr int kSelection = -3;

  explicit DatasetBrowser(QWidget* parent = nullptr);

  void setImages(const ImageTable& images, const QString& dataset_name);
  void setSkippedFiles(const QVector<QPair<QString, QString>>& file_and_reason);

  // A class label, kAllClasses (-1) or kUnlabeled; the combo follows.
  void showClass(int label);
  // An arbitrary set of images (e.g. a lasso selection in the embedding map), listed in the
  // combo as "Selection (n)" with the description as its tooltip.
  void showIndices(const std::vector<int64_t>& indices, const QString& description);

  int visibleCount() const;
  int64_t currentImageIndex() const;  // -1 if none
  QListView* view() const { return view_; }
  ImageGridModel* model() const { return model_; }

 Q_SIGNALS:
  void imageActivated(int64_t index);  // double-click or Enter
  void currentImageChanged(int64_t index);

 private:
  void rebuildClassFilter();
  void rebuildCountsTable();
  void fitCountsTable();
  void applyComboFilter();
  void applyThumbnailSide(int side);
  void updateTotals();
  void updatePlaceholder();
  void restoreCurrent(int64_t image);
  void emitCurrentIfChanged();
  std::vector<int64_t> indicesOfLabel(int64_t label) const;

  ImageTable images_;
  QString dataset_name_;
  std::vector<int64_t> class_counts_;  // per label 0..n-1
  int64_t unlabeled_count_ = 0;
  std::vector<int64_t> selection_;
  QString selection_description_;
  int64_t last_current_ = -1;

  ImageGridModel* model_;
  QComboBox* class_filter_;
  QSlider* size_slider_;
  QLabel* totals_;
  QStackedWidget* grid_stack_;
  QLabel* placeholder_;
  QListView* view_;
  QTableWidget* counts_;
  QGroupBox* skipped_box_;
  QTreeWidget* skipped_;
};

}  // namespace studio
