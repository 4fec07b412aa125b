#include "widgets/image_grid_model.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "widgets/qimage_convert.h"

namespace studio {

ImageGridModel::ImageGridModel(QObject* parent) : QAbstractListModel(parent), cache_(kCacheEntries) {}

void ImageGridModel::setImages(const ImageTable& images) {
  beginResetModel();
  images_ = images;
  filter_.clear();
  filtered_ = false;
  cache_.clear();
  endResetModel();
}

void ImageGridModel::setFilter(std::vector<int64_t> indices) {
  beginResetModel();
  const int64_t count = images_.count;
  indices.erase(std::remove_if(indices.begin(), indices.end(), [count](int64_t i) { return i < 0 || i >= count; }),
                indices.end());
  filter_ = std::move(indices);
  filtered_ = true;
  endResetModel();
}

void ImageGridModel::clearFilter() {
  beginResetModel();
  filter_.clear();
  filter_.shrink_to_fit();
  filtered_ = false;
  endResetModel();
}

int64_t ImageGridModel::imageIndex(int row) const {
  if (row < 0 || row >= rowCount()) return -1;
  return filtered_ ? filter_[static_cast<size_t>(row)] : row;
}

int ImageGridModel::rowOfImage(int64_t index) const {
  if (index < 0 || index >= images_.count) return -1;
  if (!filtered_) return static_cast<int>(index);
  const auto it = std::find(filter_.begin(), filter_.end(), index);
  return it == filter_.end() ? -1 : static_cast<int>(it - filter_.begin());
}

void ImageGridModel::setThumbnailSide(int side) {
  side = std::max(8, side);
  if (side == side_) return;
  side_ = side;
  cache_.clear();
  // Every decoration changed size; views re-request only the visible ones.
  if (rowCount() > 0) Q_EMIT dataChanged(index(0), index(rowCount() - 1), {Qt::DecorationRole, Qt::SizeHintRole});
}

QString ImageGridModel::className(int64_t label) const {
  if (label < 0) return tr("Unlabeled");
  if (label < static_cast<int64_t>(images_.class_names.size()))
    return QString::fromStdString(images_.class_names[static_cast<size_t>(label)]);
  return tr("Class %1").arg(label);
}

int ImageGridModel::rowCount(const QModelIndex& parent) const {
  if (parent.isValid()) return 0;
  // Qt's views count rows in int; larger sets are clipped (no real dataset gets close).
  const int64_t rows = filtered_ ? static_cast<int64_t>(filter_.size()) : images_.count;
  return static_cast<int>(std::min<int64_t>(rows, std::numeric_limits<int>::max()));
}

QVariant ImageGridModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.column() != 0) return {};
  const int64_t image = imageIndex(index.row());
  if (image < 0) return {};
  switch (role) {
    case Qt::DecorationRole: {
      if (QPixmap* cached = cache_.object(image)) return *cached;
      auto* pixmap = new QPixmap(QPixmap::fromImage(thumbnail(toQImage(images_, image), side_)));
      const QPixmap copy = *pixmap;  // implicitly shared; the cache may evict on insert
      cache_.insert(image, pixmap);
      return copy;
    }
    case Qt::ToolTipRole:
      return QStringLiteral("#%1 \u00b7 %2").arg(image).arg(className(images_.label(image)));
    case kImageIndexRole:
      return QVariant::fromValue<qlonglong>(image);
    case kLabelRole:
      return QVariant::fromValue<qlonglong>(images_.label(image));
    default:
      return {};
  }
}

}  // namespace studio
