#include "widgets/augment_preview_grid.h"

#include <algorithm>

#include <QPaintEvent>
#include <QPainter>
#include <QStringList>

#include "widgets/qimage_convert.h"

namespace studio {
namespace {

constexpr int kMargin = 8;
constexpr int kCellGap = 4;     // between the cells of a group, and between rows
constexpr int kGroupGap = 16;   // between groups side by side: groups read as groups

}  // namespace

AugmentPreviewGrid::AugmentPreviewGrid(QWidget* parent) : QWidget(parent) {
  setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
  setBackgroundRole(QPalette::Base);
  setAutoFillBackground(true);
}

void AugmentPreviewGrid::setPreview(const QVector<QImage>& originals, const QVector<QImage>& view1,
                                    const QVector<QImage>& view2, const QVector<QVector<QImage>>& locals) {
  images_ = {originals, view1, view2};
  images_ += locals;
  scaled_ = QVector<QVector<QPixmap>>(images_.size());
  scaled_side_ = -1;
  message_.clear();
  updateGeometry();  // the size hint depends on the sample count
  update();
}

void AugmentPreviewGrid::clear() { setPreview({}, {}, {}); }

QImage AugmentPreviewGrid::viewImage(int sample, int which) const {
  if (which < 0 || which >= columnCount() || sample < 0 || sample >= sampleCount() || sample >= images_[which].size()) return {};
  return images_[which][sample];
}

void AugmentPreviewGrid::setBusy(bool busy) {
  if (busy == busy_) return;
  busy_ = busy;
  update();
}

void AugmentPreviewGrid::setMessage(const QString& message) {
  message_ = message;
  update();
}

int AugmentPreviewGrid::cellSide() const { return computeLayout(size()).side; }
int AugmentPreviewGrid::groupsPerRow() const { return computeLayout(size()).per_row; }

QRect AugmentPreviewGrid::cellRect(int sample, int which) const {
  if (sample < 0 || sample >= sampleCount() || which < 0 || which >= columnCount()) return {};
  const GridLayout layout = computeLayout(size());
  const int side = layout.side, columns = columnCount();
  const int row = sample / layout.per_row, col = sample % layout.per_row;
  const int x = kMargin + col * (columns * side + (columns - 1) * kCellGap + kGroupGap) + which * (side + kCellGap);
  const int y = kMargin + headerHeight() + row * (side + kCellGap);
  return {x, y, side, side};
}

QSize AugmentPreviewGrid::sizeHint() const {
  const int rows = std::max(1, sampleCount());
  const int side = 96, columns = columnCount();
  return {2 * kMargin + columns * side + (columns - 1) * kCellGap, 2 * kMargin + headerHeight() + rows * side + (rows - 1) * kCellGap};
}

QSize AugmentPreviewGrid::minimumSizeHint() const {
  const int columns = columnCount();
  return {2 * kMargin + columns * kMinCellSide + (columns - 1) * kCellGap, 2 * kMargin + headerHeight() + kMinCellSide};
}

int AugmentPreviewGrid::headerHeight() const { return fontMetrics().height() + kCellGap; }

AugmentPreviewGrid::GridLayout AugmentPreviewGrid::computeLayout(const QSize& size) const {
  GridLayout best;
  const int n = sampleCount();
  if (n == 0) return best;
  const int width = size.width() - 2 * kMargin;
  const int height = size.height() - 2 * kMargin - headerHeight();
  // Try every number of groups per row and keep the one with the largest cells; ties go to
  // fewer groups (one sample per row reads best).
  const int columns = columnCount();
  best.side = -1;
  for (int per_row = 1; per_row <= n; ++per_row) {
    const int rows = (n + per_row - 1) / per_row;
    const int by_width =
        (width - (per_row - 1) * kGroupGap - per_row * (columns - 1) * kCellGap) / (columns * per_row);
    const int by_height = (height - (rows - 1) * kCellGap) / rows;
    const int side = std::clamp(std::min(by_width, by_height), kMinCellSide, kMaxCellSide);
    if (side > best.side) best = {side, per_row};
    if (rows == 1) break;
  }
  return best;
}

const QPixmap& AugmentPreviewGrid::scaled(int which, int sample, int side) const {
  const qreal dpr = devicePixelRatioF();
  if (side != scaled_side_ || scaled_.size() != images_.size()) {
    scaled_ = QVector<QVector<QPixmap>>(images_.size());
    scaled_side_ = side;
  }
  QVector<QPixmap>& cache = scaled_[which];
  if (cache.size() != images_[which].size()) cache = QVector<QPixmap>(images_[which].size());
  QPixmap& pixmap = cache[sample];
  const QImage& image = images_[which][sample];
  if (pixmap.isNull() && !image.isNull()) {
    // A local view at its size relative to a global one: its share of the cell.
    double share = 1.0;
    if (which >= 3 && !images_[1].isEmpty() && images_[1][0].width() > 0)
      share = std::min(1.0, double(image.width()) / double(images_[1][0].width()));
    // Made at device pixels so that high-DPI screens get crisp cells too.
    pixmap = QPixmap::fromImage(thumbnail(image, std::max(1, qRound(side * share * dpr))));
    pixmap.setDevicePixelRatio(dpr);
  }
  return pixmap;
}

void AugmentPreviewGrid::paintEvent(QPaintEvent*) {
  QPainter painter(this);
  const QPalette& pal = palette();
  const int n = sampleCount();

  if (n == 0 && message_.isEmpty()) {
    painter.setPen(pal.color(QPalette::PlaceholderText));
    painter.drawText(rect(), Qt::AlignCenter, busy_ ? tr("Updating\u2026") : tr("No preview"));
    return;
  }

  const GridLayout layout = computeLayout(size());
  const int side = layout.side;
  const int columns = columnCount();
  const int group_width = columns * side + (columns - 1) * kCellGap;
  const int header = headerHeight();
  QStringList titles = {tr("Original"), tr("View 1"), tr("View 2")};
  for (int l = 1; l + 2 < columns; ++l) titles << tr("Local %1").arg(l);
  const QColor frame = pal.color(QPalette::Mid);

  for (int t = 0; t < std::min(layout.per_row, n); ++t) {
    const int x0 = kMargin + t * (group_width + kGroupGap);
    painter.setPen(pal.color(QPalette::Text));
    for (int c = 0; c < columns; ++c) {
      const QRect title(x0 + c * (side + kCellGap), kMargin, side, header - kCellGap);
      painter.drawText(title, Qt::AlignHCenter | Qt::AlignBottom,
                       painter.fontMetrics().elidedText(titles[c], Qt::ElideRight, side));
    }
  }

  for (int i = 0; i < n; ++i) {
    if (cellRect(i, 0).top() > height()) break;
    for (int c = 0; c < columns; ++c) {
      const QRect cell = cellRect(i, c);
      painter.setPen(frame);
      painter.drawRect(cell.adjusted(0, 0, -1, -1));
      if (i >= images_[c].size()) continue;
      const QPixmap& pixmap = scaled(c, i, side);
      if (pixmap.isNull()) continue;
      const QSize logical = (QSizeF(pixmap.size()) / pixmap.devicePixelRatio()).toSize();
      const QRect target(cell.x() + (side - logical.width()) / 2, cell.y() + (side - logical.height()) / 2,
                         logical.width(), logical.height());
      painter.drawPixmap(target, pixmap);
    }
  }

  if (busy_ || !message_.isEmpty()) {
    QColor veil = pal.color(QPalette::Base);
    veil.setAlpha(170);
    painter.fillRect(rect(), veil);
  }
  if (!message_.isEmpty()) {
    const QRect box = rect().adjusted(2 * kMargin, 2 * kMargin, -2 * kMargin, -2 * kMargin);
    painter.setPen(QColor(0xc0, 0x20, 0x20));
    painter.drawText(box, Qt::AlignCenter | Qt::TextWordWrap, message_);
  } else if (busy_) {
    QFont bold = painter.font();
    bold.setBold(true);
    painter.setFont(bold);
    painter.setPen(pal.color(QPalette::Text));
    painter.drawText(rect(), Qt::AlignCenter, tr("Updating\u2026"));
  }
}

void AugmentPreviewGrid::resizeEvent(QResizeEvent* event) {
  QWidget::resizeEvent(event);
  update();  // cell side follows the size; scaled copies are remade on paint
}

}  // namespace studio
