#pragma once
// A list model over an ImageTable for thumbnail grids. Thumbnails are made on demand, when
// a view asks for a row's decoration, and kept in a bounded cache: a 100,000-image set
// costs only the thumbnails that were actually on screen.
#include <cstdint>
#include <vector>

#include <QAbstractListModel>
#include <QCache>
#include <QPixmap>

#include "core/data/image_table.h"

namespace studio {

// Rows are the table's images, or the images of a filter (row -> image index).
// Roles: DecorationRole = thumbnail QPixmap at thumbnailSide(), ToolTipRole =
// "#index · class name", kImageIndexRole = image index (qlonglong), kLabelRole = label
// (qlonglong, -1 = unlabeled).
class ImageGridModel : public QAbstractListModel {
  Q_OBJECT

 public:
  static constexpr int kImageIndexRole = Qt::UserRole;
  static constexpr int kLabelRole = Qt::UserRole + 1;
  static constexpr int kDefaultThumbnailSide = 64;
  static constexpr int kCacheEntries = 4000;

  explicit ImageGridModel(QObject* parent = nullptr);

  // Shares the table's pixels; clears the filter and the thumbnail cache.
  void setImages(const ImageTable& images);
  const ImageTable& images() const { return images_; }

  // Shows only these image indices, in this order (an empty vector shows no rows). Indices
  // out of range are dropped.
  void setFilter(std::vector<int64_t> indices);
  void clearFilter();  // all images
  bool isFiltered() const { return filtered_; }

  int64_t imageIndex(int row) const;    // -1 for a row out of range
  int rowOfImage(int64_t index) const;  // -1 when the image is not shown

  void setThumbnailSide(int side);
  int thumbnailSide() const { return side_; }
  int cachedThumbnailCount() const { return static_cast<int>(cache_.count()); }

  QString className(int64_t label) const;  // "Unlabeled" for -1, "Class N" without a name

  int rowCount(const QModelIndex& parent = QModelIndex()) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;

 private:
  ImageTable images_;
  std::vector<int64_t> filter_;
  bool filtered_ = false;
  int side_ = kDefaultThumbnailSide;
  // Keyed by image index, not row, so that changing the filter keeps what was made.
  mutable QCache<qint64, QPixmap> cache_;
};

}  // namespace studio
