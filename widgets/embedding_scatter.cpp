#include "widgets/embedding_scatter.h"

#include <algorithm>
#include <cmath>
#include <iterator>

#include <QDebug>
#include <QEvent>
#include <QFontMetricsF>
#include <QKeyEvent>
#include <QLineF>
#include <QLocale>
#include <QMouseEvent>
#include <QPaintEvent>
#include <QPainter>
#include <QVariantAnimation>
#include <QWheelEvent>

namespace studio {
namespace {

constexpr int kAnimationMs = 300;
constexpr double kFitMarginPx = 24;
constexpr double kClickSlopPx = 4;  // a press that moves less than this is a click, not a lasso
constexpr double kLassoStepPx = 2;  // closer lasso vertices add nothing but containment cost
constexpr int kThumbnailMaxPx = 96;
constexpr double kWheelZoomPerNotch = 1.2;
constexpr double kKeyZoom = 1.25;
constexpr double kKeyPanShare = 0.1;  // of the widget size per arrow press
constexpr double kMaxZoomIn = 5000;   // relative to the fitted view
constexpr double kMaxZoomOut = 20;
constexpr double kLegendMarginPx = 8;
constexpr double kLegendPadPx = 6;
constexpr double kLegendNameMaxPx = 160;
constexpr double kOutlinePx = 1.5;
constexpr int kGridPointsPerCell = 4;
constexpr int kMaxGridSide = 1024;
constexpr int kMaxCachedSprites = 512;

// tab10 with its grey swapped for a teal: grey is reserved for unlabeled points.
constexpr QRgb kBasePalette[] = {0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd,
                                 0x8c564b, 0xe377c2, 0xbcbd22, 0x17becf, 0x1b9e77};
constexpr QRgb kUnlabeledGrey = 0x9a9a9a;

bool isFinite(const QPointF& p) { return std::isfinite(p.x()) && std::isfinite(p.y()); }

QString number(qlonglong n) { return QLocale().toString(n); }

// Whole-number enlargement keeps every source pixel the same size (crisp 28x28 digits);
// large images are reduced smoothly.
QImage scaledThumbnail(const QImage& image) {
  if (image.isNull()) return {};
  const int side = std::max(image.width(), image.height());
  if (side > kThumbnailMaxPx)
    return image.scaled(kThumbnailMaxPx, kThumbnailMaxPx, Qt::KeepAspectRatio, Qt::SmoothTransformation);
  const int factor = kThumbnailMaxPx / side;
  if (factor >= 2) return image.scaled(image.size() * factor, Qt::IgnoreAspectRatio, Qt::FastTransformation);
  return image;
}

}  // namespace

EmbeddingScatter::EmbeddingScatter(QWidget* parent) : QWidget(parent) {
  placeholder_ = tr("No embeddings yet: they appear after the first evaluation");
  setFocusPolicy(Qt::StrongFocus);
  setMouseTracking(true);
  setAttribute(Qt::WA_OpaquePaintEvent);  // paintEvent covers every pixel
  setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);

  animation_ = new QVariantAnimation(this);
  animation_->setDuration(kAnimationMs);
  animation_->setStartValue(0.0);
  animation_->setEndValue(1.0);
  animation_->setEasingCurve(QEasingCurve::OutCubic);
  connect(animation_, &QVariantAnimation::valueChanged, this,
          [this](const QVariant& value) { applyProgress(value.toDouble()); });
  connect(animation_, &QVariantAnimation::finished, this, [this] { applyProgress(1.0); });

  setAccessibleName(tr("Embedding map"));
  updateAccessibleText();
}

EmbeddingScatter::~EmbeddingScatter() = default;

// ---------------------------------------------------------------------------------------------
// Data

void EmbeddingScatter::setPoints(const QVector<QPointF>& layout, const QVector<int>& labels,
                                 const QStringList& class_names) {
  if (labels.size() != layout.size())
    qWarning("EmbeddingScatter::setPoints: %lld positions but %lld labels; missing labels count as unlabeled",
             static_cast<long long>(layout.size()), static_cast<long long>(labels.size()));
  animation_->stop();

  QVector<int> normalised(layout.size(), kUnlabeled);
  const int common = static_cast<int>(std::min(layout.size(), labels.size()));
  for (int i = 0; i < common; ++i) normalised[i] = std::max(labels[i], kUnlabeled);

  targets_ = layout;
  displayed_ = layout;
  from_.clear();
  labels_ = std::move(normalised);
  class_names_ = class_names;
  rebuildClasses();

  const bool had_hidden = hidden_.contains(true);
  hidden_ = QVector<bool>(members_.size(), false);
  const bool had_selection = !selection_.isEmpty();
  selection_.clear();
  highlighted_.clear();
  const bool had_hover = hovered_ >= 0;
  hovered_ = -1;
  thumbnail_ = QImage();
  drag_ = Drag::None;
  lasso_.clear();
  press_point_ = -1;

  rebuildGrid();
  updateDataBounds();
  follows_ = true;
  fitView();
  invalidateLegend();
  invalidateLayer();
  updateAccessibleText();

  if (had_selection) Q_EMIT selectionChanged(selection_);
  if (had_hidden) Q_EMIT classVisibilityChanged();
  if (had_hover) Q_EMIT pointHovered(-1);
}

void EmbeddingScatter::updateLayout(const QVector<QPointF>& layout) {
  if (layout.size() != targets_.size()) {
    qWarning("EmbeddingScatter::updateLayout: %lld positions for %lld points; replacing the points",
             static_cast<long long>(layout.size()), static_cast<long long>(targets_.size()));
    QVector<int> labels(layout.size(), kUnlabeled);
    std::copy_n(labels_.cbegin(), std::min(labels_.size(), labels.size()), labels.begin());
    const QStringList names = class_names_;
    setPoints(layout, labels, names);
    return;
  }
  if (targets_.isEmpty()) return;

  animation_->stop();
  from_ = displayed_;  // a refresh during an animation continues from what is on screen
  targets_ = layout;
  rebuildGrid();
  if (!isVisible()) {
    applyProgress(1.0);  // nobody watches: skip the frames
    return;
  }
  animation_->start();
}

void EmbeddingScatter::clear() { setPoints({}, {}, {}); }

int EmbeddingScatter::pointCount() const { return static_cast<int>(targets_.size()); }

QPointF EmbeddingScatter::position(int index) const {
  return index >= 0 && index < targets_.size() ? targets_[index] : QPointF();
}

int EmbeddingScatter::label(int index) const {
  return index >= 0 && index < labels_.size() ? labels_[index] : kUnlabeled;
}

QString EmbeddingScatter::className(int label) const {
  if (label < 0) return tr("Unlabeled");
  if (label < class_names_.size() && !class_names_[label].isEmpty()) return class_names_[label];
  return tr("Class %1").arg(label);
}

void EmbeddingScatter::setThumbnailProvider(std::function<QImage(int index)> provider) {
  thumbnail_provider_ = std::move(provider);
  thumbnail_ = QImage();
  if (hovered_ >= 0 && thumbnail_provider_) thumbnail_ = scaledThumbnail(thumbnail_provider_(hovered_));
  update();
}

void EmbeddingScatter::rebuildClasses() {
  int max_label = kUnlabeled;
  for (int l : labels_) max_label = std::max(max_label, l);
  const int slots = std::max(max_label + 1, static_cast<int>(class_names_.size())) + 1;
  members_ = QVector<QVector<int>>(slots);
  for (int i = 0; i < labels_.size(); ++i) members_[slotOf(labels_[i])].append(i);
}

void EmbeddingScatter::rebuildGrid() {
  grid_start_.clear();
  grid_items_.clear();
  grid_cols_ = grid_rows_ = 0;

  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  int finite = 0;
  for (const QPointF& p : targets_) {
    if (!isFinite(p)) continue;
    if (finite++ == 0) {
      x0 = x1 = p.x();
      y0 = y1 = p.y();
    } else {
      x0 = std::min(x0, p.x());
      x1 = std::max(x1, p.x());
      y0 = std::min(y0, p.y());
      y1 = std::max(y1, p.y());
    }
  }
  if (finite == 0) return;

  // A flat layout (PCA of collinear points, a single point) still needs cells of non-zero size.
  const double extent = std::max({x1 - x0, y1 - y0, 1e-9});
  const double w = std::max(x1 - x0, extent * 1e-3), h = std::max(y1 - y0, extent * 1e-3);
  const double cells = std::max(1, finite / kGridPointsPerCell);
  grid_cols_ = std::clamp(static_cast<int>(std::lround(std::sqrt(cells * w / h))), 1, kMaxGridSide);
  grid_rows_ = std::clamp(static_cast<int>(std::ceil(cells / grid_cols_)), 1, kMaxGridSide);
  grid_bounds_ = QRectF(x0, y0, w, h);
  grid_cell_w_ = w / grid_cols_;
  grid_cell_h_ = h / grid_rows_;

  // Counting sort of the points into cells.
  const int n = static_cast<int>(targets_.size());
  QVector<int> cell_of(n, -1);
  grid_start_ = QVector<int>(grid_cols_ * grid_rows_ + 1, 0);
  for (int i = 0; i < n; ++i) {
    const QPointF& p = targets_[i];
    if (!isFinite(p)) continue;
    const int cx = std::clamp(static_cast<int>((p.x() - x0) / grid_cell_w_), 0, grid_cols_ - 1);
    const int cy = std::clamp(static_cast<int>((p.y() - y0) / grid_cell_h_), 0, grid_rows_ - 1);
    cell_of[i] = cy * grid_cols_ + cx;
    ++grid_start_[cell_of[i] + 1];
  }
  for (int c = 0; c < grid_cols_ * grid_rows_; ++c) grid_start_[c + 1] += grid_start_[c];
  grid_items_ = QVector<int>(finite);
  QVector<int> fill(grid_start_.cbegin(), grid_start_.cend() - 1);
  for (int i = 0; i < n; ++i)
    if (cell_of[i] >= 0) grid_items_[fill[cell_of[i]]++] = i;
}

void EmbeddingScatter::applyProgress(double t) {
  if (t >= 1.0 || from_.size() != targets_.size()) {
    displayed_ = targets_;
  } else {
    displayed_.resize(targets_.size());
    for (int i = 0; i < targets_.size(); ++i) {
      const QPointF& a = from_[i];
      const QPointF& b = targets_[i];
      displayed_[i] = isFinite(a) ? a + (b - a) * t : b;
    }
  }
  updateDataBounds();
  if (follows_) fitView();
  invalidateLayer();
}

void EmbeddingScatter::updateDataBounds() {
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  bool any = false;
  for (const QPointF& p : displayed_) {
    if (!isFinite(p)) continue;
    if (!any) {
      x0 = x1 = p.x();
      y0 = y1 = p.y();
      any = true;
    } else {
      x0 = std::min(x0, p.x());
      x1 = std::max(x1, p.x());
      y0 = std::min(y0, p.y());
      y1 = std::max(y1, p.y());
    }
  }
  data_bounds_ = QRectF(QPointF(x0, y0), QPointF(x1, y1));
}

// ---------------------------------------------------------------------------------------------
// Classes

void EmbeddingScatter::setClassVisible(int label, bool visible) {
  const int slot = slotOf(label);
  if (slot >= hidden_.size() || hidden_[slot] == !visible) return;
  QVector<bool> hidden = hidden_;
  hidden[slot] = !visible;
  setHidden(hidden);
}

bool EmbeddingScatter::isClassVisible(int label) const { return slotVisible(slotOf(label)); }

void EmbeddingScatter::isolateClass(int label) {
  const int slot = slotOf(label);
  if (slot >= hidden_.size()) return;
  QVector<bool> hidden(hidden_.size(), true);
  hidden[slot] = false;
  setHidden(hidden);
}

void EmbeddingScatter::showAllClasses() { setHidden(QVector<bool>(hidden_.size(), false)); }

void EmbeddingScatter::setHidden(const QVector<bool>& hidden) {
  if (hidden == hidden_) return;
  hidden_ = hidden;
  if (hovered_ >= 0 && !pointVisible(hovered_)) setHovered(-1, hover_pos_);
  invalidateLegend();
  invalidateLayer();
  Q_EMIT classVisibilityChanged();
}

bool EmbeddingScatter::isIsolated(int label) const {
  const int slot = slotOf(label);
  if (slot >= hidden_.size() || hidden_[slot]) return false;
  int others = 0;
  for (int s = 0; s < members_.size(); ++s) {
    if (s == slot || members_[s].isEmpty()) continue;
    if (!hidden_[s]) return false;
    ++others;
  }
  return others > 0;  // the only class there is is not "isolated": clicking it should hide it
}

void EmbeddingScatter::legendClicked(int label, bool isolate) {
  if (isIsolated(label))
    showAllClasses();
  else if (isolate)
    isolateClass(label);
  else
    setClassVisible(label, !isClassVisible(label));
}

// ---------------------------------------------------------------------------------------------
// Selection and highlights

void EmbeddingScatter::setSelection(const QVector<int>& indices) {
  QVector<int> valid;
  valid.reserve(indices.size());
  for (int i : indices)
    if (i >= 0 && i < targets_.size()) valid.append(i);
  replaceSelection(std::move(valid), false);
}

QVector<int> EmbeddingScatter::selection() const { return selection_; }

void EmbeddingScatter::replaceSelection(QVector<int> indices, bool always_emit) {
  std::sort(indices.begin(), indices.end());
  indices.erase(std::unique(indices.begin(), indices.end()), indices.end());
  const bool changed = indices != selection_;
  if (changed) {
    selection_ = std::move(indices);
    invalidateLayer();
    updateAccessibleText();
  }
  if (changed || always_emit) Q_EMIT selectionChanged(selection_);
}

void EmbeddingScatter::setHighlighted(const QVector<int>& indices) {
  QVector<int> valid;
  for (int i : indices)
    if (i >= 0 && i < targets_.size()) valid.append(i);
  if (valid == highlighted_) return;
  highlighted_ = std::move(valid);
  invalidateLayer();
}

QVector<int> EmbeddingScatter::highlighted() const { return highlighted_; }

void EmbeddingScatter::finishLasso(bool add) {
  const QPolygonF polygon = lasso_;
  lasso_.clear();
  QVector<int> chosen;
  if (add) chosen = selection_;
  if (polygon.size() >= 3) {
    // Against the drawn positions: the user encircles what is on screen, even mid-animation.
    const QRectF bounds = polygon.boundingRect();
    for (int slot = 0; slot < members_.size(); ++slot) {
      if (!slotVisible(slot)) continue;
      for (int i : members_[slot]) {
        const QPointF w = toWidget(displayed_[i]);
        if (bounds.contains(w) && polygon.containsPoint(w, Qt::OddEvenFill)) chosen.append(i);
      }
    }
  }
  replaceSelection(std::move(chosen), true);
}

// ---------------------------------------------------------------------------------------------
// View

int EmbeddingScatter::pointAt(const QPointF& widget_pos, double radius_px) const {
  if (grid_cols_ == 0 || !(scale_ > 0) || !(radius_px >= 0)) return -1;
  const QPointF d = toData(widget_pos);
  const double r = radius_px / scale_;
  const double fx0 = std::floor((d.x() - r - grid_bounds_.left()) / grid_cell_w_);
  const double fx1 = std::floor((d.x() + r - grid_bounds_.left()) / grid_cell_w_);
  const double fy0 = std::floor((d.y() - r - grid_bounds_.top()) / grid_cell_h_);
  const double fy1 = std::floor((d.y() + r - grid_bounds_.top()) / grid_cell_h_);
  if (!(fx1 >= 0 && fx0 < grid_cols_ && fy1 >= 0 && fy0 < grid_rows_)) return -1;  // also NaN
  const int cx0 = static_cast<int>(std::max(0.0, fx0)), cx1 = static_cast<int>(std::min(grid_cols_ - 1.0, fx1));
  const int cy0 = static_cast<int>(std::max(0.0, fy0)), cy1 = static_cast<int>(std::min(grid_rows_ - 1.0, fy1));

  int best = -1;
  double best_d2 = r * r;
  for (int cy = cy0; cy <= cy1; ++cy) {
    for (int cx = cx0; cx <= cx1; ++cx) {
      const int cell = cy * grid_cols_ + cx;
      for (int k = grid_start_[cell]; k < grid_start_[cell + 1]; ++k) {
        const int i = grid_items_[k];
        if (!pointVisible(i)) continue;
        const QPointF delta = targets_[i] - d;
        const double d2 = QPointF::dotProduct(delta, delta);
        if (d2 < best_d2 || (best < 0 && d2 <= best_d2)) {
          best = i;
          best_d2 = d2;
        }
      }
    }
  }
  return best;
}

QPointF EmbeddingScatter::toWidget(const QPointF& data_pos) const {
  return QPointF(width() / 2.0 + (data_pos.x() - center_.x()) * scale_,
                 height() / 2.0 - (data_pos.y() - center_.y()) * scale_);
}

QPointF EmbeddingScatter::toData(const QPointF& widget_pos) const {
  return QPointF(center_.x() + (widget_pos.x() - width() / 2.0) / scale_,
                 center_.y() - (widget_pos.y() - height() / 2.0) / scale_);
}

double EmbeddingScatter::fitScale() const {
  const double aw = std::max(1.0, width() - 2 * kFitMarginPx);
  const double ah = std::max(1.0, height() - 2 * kFitMarginPx);
  const double bw = data_bounds_.width(), bh = data_bounds_.height();
  if (bw <= 0 && bh <= 0) return std::min(aw, ah);  // one distinct position: any scale fits
  if (bw <= 0) return ah / bh;
  if (bh <= 0) return aw / bw;
  return std::min(aw / bw, ah / bh);
}

void EmbeddingScatter::fitView() {
  scale_ = fitScale();
  center_ = data_bounds_.center();
}

void EmbeddingScatter::resetView() {
  follows_ = true;
  fitView();
  viewChanged();
}

bool EmbeddingScatter::followsData() const { return follows_; }

void EmbeddingScatter::zoomBy(double factor, const QPointF& widget_anchor) {
  if (!(factor > 0)) return;
  const double fit = fitScale();
  const double scale = std::clamp(scale_ * factor, fit / kMaxZoomOut, fit * kMaxZoomIn);
  if (scale == scale_) return;
  const QPointF anchor = toData(widget_anchor);  // stays under the cursor
  scale_ = scale;
  center_ = QPointF(anchor.x() - (widget_anchor.x() - width() / 2.0) / scale_,
                    anchor.y() + (widget_anchor.y() - height() / 2.0) / scale_);
  follows_ = false;
  viewChanged();
}

void EmbeddingScatter::panBy(const QPointF& widget_delta) {
  if (widget_delta.isNull()) return;
  center_ -= QPointF(widget_delta.x() / scale_, -widget_delta.y() / scale_);
  follows_ = false;
  viewChanged();
}

void EmbeddingScatter::viewChanged() { invalidateLayer(); }

void EmbeddingScatter::invalidateLayer() {
  layer_valid_ = false;
  update();
}

void EmbeddingScatter::invalidateLegend() {
  legend_valid_ = false;
  update();
}

// ---------------------------------------------------------------------------------------------
// Legend

const QVector<EmbeddingScatter::LegendEntry>& EmbeddingScatter::legend() const {
  if (legend_valid_) return legend_;
  legend_valid_ = true;
  legend_.clear();

  QVector<int> labels;
  for (int slot = 1; slot < members_.size(); ++slot)
    if (!members_[slot].isEmpty()) labels.append(slot - 1);
  if (!members_.isEmpty() && !members_[0].isEmpty()) labels.append(kUnlabeled);
  if (labels.isEmpty()) return legend_;

  const QFontMetricsF fm(font());
  const double row_h = fm.height() + 4;
  const double swatch = std::round(fm.height() * 0.6);
  double name_w = 0, count_w = 0;
  for (int l : labels) {
    name_w = std::max(name_w, std::min(kLegendNameMaxPx, fm.horizontalAdvance(className(l))));
    count_w = std::max(count_w, fm.horizontalAdvance(number(members_[slotOf(l)].size())));
  }
  const double col_w = 2 + swatch + 6 + name_w + 12 + count_w + 2;
  // Many classes (CIFAR-100) flow into more columns instead of running off the bottom.
  const double avail_h = height() - 2 * kLegendMarginPx - 2 * kLegendPadPx;
  const int rows = std::max(1, static_cast<int>(avail_h / row_h));
  const int count = static_cast<int>(labels.size());
  const int cols = (count + rows - 1) / rows;
  const double box_w = cols * col_w + 2 * kLegendPadPx;
  const double left = width() - kLegendMarginPx - box_w + kLegendPadPx;
  const double top = kLegendMarginPx + kLegendPadPx;
  for (int k = 0; k < count; ++k)
    legend_.append({labels[k], QRectF(left + (k / rows) * col_w, top + (k % rows) * row_h, col_w, row_h)});
  return legend_;
}

QRectF EmbeddingScatter::legendBox() const {
  QRectF box;
  for (const LegendEntry& e : legend()) box = box.united(e.rect);
  if (box.isNull()) return box;
  return box.adjusted(-kLegendPadPx, -kLegendPadPx, kLegendPadPx, kLegendPadPx);
}

QRectF EmbeddingScatter::legendItemRect(int label) const {
  const int normalised = std::max(label, kUnlabeled);
  for (const LegendEntry& e : legend())
    if (e.label == normalised) return e.rect;
  return QRectF();
}

bool EmbeddingScatter::legendHit(const QPointF& widget_pos, int* label) const {
  for (const LegendEntry& e : legend()) {
    if (e.rect.contains(widget_pos)) {
      *label = e.label;
      return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Painting

double EmbeddingScatter::pointRadius() const {
  const int n = std::max(1, pointCount());
  const double fit = fitScale();
  const double zoom = fit > 0 ? scale_ / fit : 1.0;
  // Points share the area: dense maps get small points, zooming in enlarges them.
  const double area = std::max(1, width() * height()) * zoom * zoom;
  const double radius = std::clamp(0.33 * std::sqrt(area / n), 1.5, 5.0);
  return std::round(radius * 4) / 4;  // quantised, so that zooming reuses sprites
}

QImage EmbeddingScatter::sprite(Sprite kind, const QColor& fill, double radius) const {
  const qreal dpr = devicePixelRatioF();
  const QColor outline = palette().color(QPalette::Text);
  const QString key = QStringLiteral("%1/%2/%3/%4/%5")
                          .arg(static_cast<int>(kind))
                          .arg(fill.rgba(), 0, 16)
                          .arg(outline.rgba(), 0, 16)
                          .arg(radius)
                          .arg(dpr);
  const auto found = sprites_.constFind(key);
  if (found != sprites_.cend()) return found.value();
  if (sprites_.size() >= kMaxCachedSprites) sprites_.clear();

  const double extent = radius + (kind == Sprite::Disc ? 0.0 : kOutlinePx);
  const int side = static_cast<int>(std::ceil(2 * extent)) + 2;  // a pixel of air for antialiasing
  QImage image(QSize(side, side) * dpr, QImage::Format_ARGB32_Premultiplied);
  image.setDevicePixelRatio(dpr);
  image.fill(Qt::transparent);
  QPainter p(&image);
  p.setRenderHint(QPainter::Antialiasing);
  const QPointF centre(side / 2.0, side / 2.0);
  switch (kind) {
    case Sprite::Disc:
      p.setPen(Qt::NoPen);
      p.setBrush(fill);
      break;
    case Sprite::Ring:
      p.setPen(QPen(fill, kOutlinePx));
      p.setBrush(Qt::NoBrush);
      break;
    case Sprite::OutlinedDisc:
      p.setPen(QPen(outline, kOutlinePx));
      p.setBrush(fill);
      break;
  }
  p.drawEllipse(centre, radius, radius);
  p.end();
  sprites_.insert(key, image);
  return image;
}

void EmbeddingScatter::paintEvent(QPaintEvent*) {
  QPainter p(this);
  if (targets_.isEmpty()) {
    p.fillRect(rect(), palette().color(QPalette::Base));
    paintPlaceholder(p);
    return;
  }
  const qreal dpr = devicePixelRatioF();
  const QSize device_size = (QSizeF(size()) * dpr).toSize();
  if (layer_.size() != device_size || layer_.devicePixelRatio() != dpr) {
    layer_ = QImage(device_size, QImage::Format_ARGB32_Premultiplied);
    layer_.setDevicePixelRatio(dpr);
    layer_valid_ = false;
  }
  if (!layer_valid_) {
    QPainter lp(&layer_);
    paintLayer(lp);
    layer_valid_ = true;
  }
  p.drawImage(QPoint(0, 0), layer_);

  if (hovered_ >= 0 && drag_ == Drag::None && pointVisible(hovered_) && isFinite(displayed_[hovered_])) {
    const double r = pointRadius();
    const QImage marker = sprite(Sprite::OutlinedDisc, classColor(labels_[hovered_]), std::max(r + 2, r * 1.5));
    const double half = marker.width() / (2 * marker.devicePixelRatio());
    const QPointF at = toWidget(displayed_[hovered_]);
    p.drawImage(QPoint(qRound(at.x() - half), qRound(at.y() - half)), marker);
  }

  if (drag_ == Drag::Lasso && lasso_.size() > 1) {
    p.setRenderHint(QPainter::Antialiasing);
    QColor fill = palette().color(QPalette::Highlight);
    fill.setAlpha(40);
    QPen pen(palette().color(QPalette::Highlight), 1.5, Qt::DashLine);
    p.setPen(pen);
    p.setBrush(fill);
    p.drawPolygon(lasso_);
    p.setRenderHint(QPainter::Antialiasing, false);
  }

  paintLegend(p);
  paintThumbnail(p);
}

void EmbeddingScatter::paintLayer(QPainter& p) {
  p.fillRect(rect(), palette().color(QPalette::Base));
  const int n = pointCount();
  const double r = pointRadius();
  // Translucent points in dense maps, so that overlap reads as density.
  const int alpha = n > 20000 ? 170 : n > 5000 ? 205 : 235;
  const double s = scale_;
  const double ox = width() / 2.0 - center_.x() * s;
  const double oy = height() / 2.0 + center_.y() * s;
  const double w = width(), h = height();

  // Stamps a sprite centred on each given point on screen; off-screen and non-finite ones skip.
  auto stamp = [&](const QImage& image, const QVector<int>& indices) {
    const double half = image.width() / (2 * image.devicePixelRatio());
    for (int i : indices) {
      const QPointF& d = displayed_[i];
      const double x = ox + d.x() * s, y = oy - d.y() * s;
      if (!(x >= -half && x <= w + half && y >= -half && y <= h + half)) continue;
      p.drawImage(QPoint(qRound(x - half), qRound(y - half)), image);
    }
  };

  // Unlabeled first so that the classes draw on top of the grey.
  for (int slot = 0; slot < members_.size(); ++slot) {
    if (!slotVisible(slot) || members_[slot].isEmpty()) continue;
    QColor colour = classColor(slot - 1);
    colour.setAlpha(alpha);
    stamp(sprite(Sprite::Disc, colour, r), members_[slot]);
  }

  if (!selection_.isEmpty()) {
    QVector<int> visible;
    visible.reserve(selection_.size());
    for (int i : selection_)
      if (pointVisible(i)) visible.append(i);
    stamp(sprite(Sprite::Ring, palette().color(QPalette::Text), r + 1.5), visible);
  }

  for (int i : highlighted_) {
    if (!pointVisible(i)) continue;
    stamp(sprite(Sprite::OutlinedDisc, classColor(labels_[i]), std::max(r * 1.8, r + 2.5)), {i});
  }
}

void EmbeddingScatter::paintLegend(QPainter& p) {
  const QVector<LegendEntry>& entries = legend();
  if (entries.isEmpty()) return;
  const QFontMetricsF fm(font());
  const double swatch = std::round(fm.height() * 0.6);

  p.setRenderHint(QPainter::Antialiasing);
  QColor background = palette().color(QPalette::Base);
  background.setAlpha(215);  // points under the legend still show through faintly
  p.setPen(palette().color(QPalette::Mid));
  p.setBrush(background);
  p.drawRoundedRect(legendBox(), 4, 4);

  const QColor text = palette().color(QPalette::Text);
  QColor faded = text;
  faded.setAlpha(110);
  for (const LegendEntry& e : entries) {
    const bool visible = isClassVisible(e.label);
    const QRectF swatch_rect(e.rect.left() + 2, e.rect.center().y() - swatch / 2, swatch, swatch);
    const QColor colour = classColor(e.label);
    if (visible) {
      p.setPen(Qt::NoPen);
      p.setBrush(colour);
    } else {
      p.setPen(QPen(colour, 1.5));  // hollow: hidden, but still recognisable
      p.setBrush(Qt::NoBrush);
    }
    p.drawRect(swatch_rect);

    p.setPen(visible ? text : faded);
    const double name_left = swatch_rect.right() + 6;
    const QString count = number(members_[slotOf(e.label)].size());
    const double count_w = fm.horizontalAdvance(count);
    const QRectF count_rect(e.rect.right() - 2 - count_w, e.rect.top(), count_w, e.rect.height());
    const QRectF name_rect(name_left, e.rect.top(), count_rect.left() - 8 - name_left, e.rect.height());
    p.drawText(name_rect, Qt::AlignLeft | Qt::AlignVCenter,
               fm.elidedText(className(e.label), Qt::ElideRight, std::min(kLegendNameMaxPx, name_rect.width())));
    p.drawText(count_rect, Qt::AlignRight | Qt::AlignVCenter, count);
  }
  p.setRenderHint(QPainter::Antialiasing, false);
}

void EmbeddingScatter::paintThumbnail(QPainter& p) {
  if (hovered_ < 0 || drag_ != Drag::None) return;
  const QFontMetricsF fm(font());
  const QString name = fm.elidedText(className(labels_[hovered_]), Qt::ElideRight, 200);
  constexpr double kPad = 4;
  constexpr double kOffset = 16;  // keeps the box clear of the cursor
  const QSizeF image_size = thumbnail_.isNull() ? QSizeF() : QSizeF(thumbnail_.size()) / thumbnail_.devicePixelRatio();
  const double inner_w = std::max(image_size.width(), fm.horizontalAdvance(name));
  const double inner_h = image_size.height() + (image_size.isEmpty() ? 0 : kPad) + fm.height();
  QRectF box(0, 0, std::ceil(inner_w + 2 * kPad), std::ceil(inner_h + 2 * kPad));

  // Beside the cursor, flipped to the other side where it would leave the widget.
  QPointF at = hover_pos_ + QPointF(kOffset, kOffset);
  if (at.x() + box.width() > width()) at.setX(hover_pos_.x() - kOffset - box.width());
  if (at.y() + box.height() > height()) at.setY(hover_pos_.y() - kOffset - box.height());
  box.moveTopLeft(QPointF(std::round(std::max(0.0, at.x())), std::round(std::max(0.0, at.y()))));

  p.setPen(palette().color(QPalette::Mid));
  p.setBrush(palette().color(QPalette::ToolTipBase));
  p.drawRect(box);
  double y = box.top() + kPad;
  if (!image_size.isEmpty()) {
    const QPointF image_at(std::round(box.center().x() - image_size.width() / 2), y);
    p.drawImage(image_at, thumbnail_);
    y += image_size.height() + kPad;
  }
  p.setPen(palette().color(QPalette::ToolTipText));
  p.drawText(QRectF(box.left(), y, box.width(), fm.height()), Qt::AlignHCenter | Qt::AlignVCenter, name);
}

void EmbeddingScatter::paintPlaceholder(QPainter& p) {
  p.setPen(palette().color(QPalette::PlaceholderText));
  p.drawText(QRectF(rect()).adjusted(kFitMarginPx, kFitMarginPx, -kFitMarginPx, -kFitMarginPx),
             Qt::AlignCenter | Qt::TextWordWrap, placeholder_);
}

QColor EmbeddingScatter::classColor(int label) {
  if (label < 0) return QColor(kUnlabeledGrey);
  constexpr int kBase = static_cast<int>(std::size(kBasePalette));
  QColor colour(kBasePalette[label % kBase]);
  const int round = label / kBase;
  if (round == 0) return colour;
  // Later rounds: the same hues, alternately lighter and darker (then a hue nudge), kept in
  // a mid band of lightness so that they stay legible on light and dark backgrounds.
  float hue, saturation, lightness, alpha;
  colour.getHslF(&hue, &saturation, &lightness, &alpha);
  const int step = (round + 1) / 2;
  const float shift = 0.14f * static_cast<float>((step - 1) % 2 + 1);
  lightness = std::clamp(round % 2 == 1 ? lightness + shift : lightness - shift, 0.28f, 0.78f);
  if (round > 2) hue = std::fmod(hue + 0.04f * static_cast<float>(round / 3) + 1.0f, 1.0f);
  colour.setHslF(std::max(hue, 0.0f), saturation, lightness, alpha);
  return colour;
}

// ---------------------------------------------------------------------------------------------
// Events

void EmbeddingScatter::resizeEvent(QResizeEvent* event) {
  QWidget::resizeEvent(event);
  if (follows_) fitView();  // otherwise the user's view keeps its centre and zoom
  invalidateLegend();
  invalidateLayer();
}

void EmbeddingScatter::changeEvent(QEvent* event) {
  QWidget::changeEvent(event);
  switch (event->type()) {
    case QEvent::PaletteChange:
      sprites_.clear();  // outlines and rings take the text colour
      invalidateLayer();
      break;
    case QEvent::FontChange:
      invalidateLegend();
      break;
    default:
      break;
  }
}

void EmbeddingScatter::mousePressEvent(QMouseEvent* event) {
  const QPointF pos = event->position();
  if (event->button() == Qt::LeftButton) {
    if (legendBox().contains(pos)) {
      int label = kUnlabeled;
      if (legendHit(pos, &label)) legendClicked(label, event->modifiers().testFlag(Qt::ControlModifier));
      drag_ = Drag::None;
    } else {
      drag_ = Drag::Pending;
      press_pos_ = last_pos_ = pos;
      press_point_ = pointAt(pos);
      lasso_adds_ = event->modifiers().testFlag(Qt::ShiftModifier);
      lasso_.clear();
    }
    event->accept();
    return;
  }
  if (event->button() == Qt::RightButton || event->button() == Qt::MiddleButton) {
    drag_ = Drag::Pan;
    last_pos_ = pos;
    setCursor(Qt::ClosedHandCursor);
    update();  // hides the hover box while panning
    event->accept();
    return;
  }
  QWidget::mousePressEvent(event);
}

void EmbeddingScatter::mouseMoveEvent(QMouseEvent* event) {
  const QPointF pos = event->position();
  switch (drag_) {
    case Drag::Pending:
      if ((event->buttons() & Qt::LeftButton) && QLineF(press_pos_, pos).length() >= kClickSlopPx) {
        drag_ = Drag::Lasso;
        lasso_ = QPolygonF({press_pos_, pos});
        update();
      }
      break;
    case Drag::Lasso:
      if (QLineF(lasso_.constLast(), pos).length() >= kLassoStepPx) {
        lasso_.append(pos);
        update();
      }
      break;
    case Drag::Pan:
      panBy(pos - last_pos_);
      last_pos_ = pos;
      break;
    case Drag::None: {
      int label = kUnlabeled;
      const bool over_legend = legendBox().contains(pos);
      if (over_legend && legendHit(pos, &label))
        setCursor(Qt::PointingHandCursor);
      else
        unsetCursor();
      setHovered(over_legend ? -1 : pointAt(pos), pos);
      break;
    }
  }
  event->accept();
}

void EmbeddingScatter::mouseReleaseEvent(QMouseEvent* event) {
  if (event->button() == Qt::LeftButton && (drag_ == Drag::Pending || drag_ == Drag::Lasso)) {
    const Drag drag = drag_;
    drag_ = Drag::None;
    const bool add = lasso_adds_ || event->modifiers().testFlag(Qt::ShiftModifier);
    if (drag == Drag::Lasso) {
      finishLasso(add);
      update();
    } else if (press_point_ >= 0) {
      Q_EMIT pointClicked(press_point_);
    } else if (!add) {
      replaceSelection({}, false);
    }
    press_point_ = -1;
    event->accept();
    return;
  }
  if ((event->button() == Qt::RightButton || event->button() == Qt::MiddleButton) && drag_ == Drag::Pan) {
    drag_ = Drag::None;
    unsetCursor();
    update();
    event->accept();
    return;
  }
  QWidget::mouseReleaseEvent(event);
}

void EmbeddingScatter::mouseDoubleClickEvent(QMouseEvent* event) {
  const QPointF pos = event->position();
  if (event->button() == Qt::LeftButton) {
    if (legendBox().contains(pos)) {
      int label = kUnlabeled;
      if (legendHit(pos, &label)) isolateClass(label);
      drag_ = Drag::None;
      event->accept();
      return;
    }
    if (pointAt(pos) < 0) {
      drag_ = Drag::None;
      resetView();
      event->accept();
      return;
    }
  }
  mousePressEvent(event);  // the second click on a point is a click like the first
}

void EmbeddingScatter::wheelEvent(QWheelEvent* event) {
  double notches = event->angleDelta().y() / 120.0;
  if (notches == 0 && !event->pixelDelta().isNull()) notches = event->pixelDelta().y() / 60.0;
  if (notches == 0 || targets_.isEmpty()) {
    event->ignore();
    return;
  }
  zoomBy(std::pow(kWheelZoomPerNotch, notches), event->position());
  event->accept();
}

void EmbeddingScatter::keyPressEvent(QKeyEvent* event) {
  const QPointF centre(width() / 2.0, height() / 2.0);
  const double dx = width() * kKeyPanShare, dy = height() * kKeyPanShare;
  switch (event->key()) {
    case Qt::Key_Plus:
    case Qt::Key_Equal:
      zoomBy(kKeyZoom, centre);
      break;
    case Qt::Key_Minus:
      zoomBy(1 / kKeyZoom, centre);
      break;
    case Qt::Key_0:
      resetView();
      break;
    // An arrow shows more of that side, like scrolling: the content moves the other way.
    case Qt::Key_Left:
      panBy(QPointF(dx, 0));
      break;
    case Qt::Key_Right:
      panBy(QPointF(-dx, 0));
      break;
    case Qt::Key_Up:
      panBy(QPointF(0, dy));
      break;
    case Qt::Key_Down:
      panBy(QPointF(0, -dy));
      break;
    case Qt::Key_Escape:
      if (drag_ == Drag::Lasso || drag_ == Drag::Pending) {
        drag_ = Drag::None;
        lasso_.clear();
        update();
      } else {
        replaceSelection({}, false);
      }
      break;
    default:
      QWidget::keyPressEvent(event);
      return;
  }
  event->accept();
}

void EmbeddingScatter::leaveEvent(QEvent* event) {
  QWidget::leaveEvent(event);
  if (drag_ == Drag::None) {
    unsetCursor();
    setHovered(-1, hover_pos_);
  }
}

void EmbeddingScatter::setHovered(int index, const QPointF& widget_pos) {
  const bool moved = widget_pos != hover_pos_;
  hover_pos_ = widget_pos;
  if (index == hovered_) {
    if (index >= 0 && moved) update();  // the hover box follows the cursor
    return;
  }
  hovered_ = index;
  thumbnail_ = QImage();
  if (index >= 0 && thumbnail_provider_) thumbnail_ = scaledThumbnail(thumbnail_provider_(index));
  update();
  Q_EMIT pointHovered(index);
}

// ---------------------------------------------------------------------------------------------
// Misc

void EmbeddingScatter::setPlaceholderText(const QString& text) {
  if (text == placeholder_) return;
  placeholder_ = text;
  updateAccessibleText();
  if (targets_.isEmpty()) update();
}

QString EmbeddingScatter::placeholderText() const { return placeholder_; }

void EmbeddingScatter::updateAccessibleText() {
  if (targets_.isEmpty()) {
    setAccessibleDescription(placeholder_);
    return;
  }
  int classes = 0;
  for (int slot = 1; slot < members_.size(); ++slot)
    if (!members_[slot].isEmpty()) ++classes;
  setAccessibleDescription(tr("Map of %1 embedded images in %2 classes, %3 selected. Drag to select with a lasso, "
                              "scroll to zoom, click legend entries to show or hide classes.")
                               .arg(number(pointCount()))
                               .arg(classes)
                               .arg(number(selection_.size())));
}

QSize EmbeddingScatter::sizeHint() const { return QSize(640, 480); }

QSize EmbeddingScatter::minimumSizeHint() const { return QSize(200, 150); }

}  // namespace studio
