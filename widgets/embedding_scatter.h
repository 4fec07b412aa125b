#pragma once
// The embedding map: a 2-D layout (t-SNE or PCA) of up to ~70,000 embedded images, coloured
// by class, with a clickable legend, lasso selection, zoom/pan, hover thumbnails and animated
// layout refreshes. Painted with QPainter only: points are stamped from cached sprites (one per
// class colour), hit-testing goes through a uniform grid, so large maps stay interactive.
#include <functional>

#include <QColor>
#include <QHash>
#include <QImage>
#include <QPointF>
#include <QPolygonF>
#include <QRectF>
#include <QString>
#include <QStringList>
#include <QVector>
#include <QWidget>

class QVariantAnimation;

namespace studio {

// Scatter plot of an embedding layout, one colour per class (label -1 = unlabeled, grey).
// Data y grows upwards. While the user has not zoomed or panned, the view follows the data
// (fits it with a margin), also while a layout refresh animates.
// Mouse: left-drag lassos (Shift adds), click a point to report it, click empty space to clear
// the selection, wheel zooms at the cursor, right/middle-drag pans, double-click resets the view.
// Keys: +/- zoom, 0 resets, arrows pan, Escape clears the selection.
class EmbeddingScatter : public QWidget {
  Q_OBJECT

 public:
  static constexpr int kUnlabeled = -1;

  explicit EmbeddingScatter(QWidget* parent = nullptr);
  ~EmbeddingScatter() override;

  // Replaces everything (selection, highlights, hidden classes, view). layout.size() ==
  // labels.size(); any negative label counts as unlabeled; class_names may be empty.
  void setPoints(const QVector<QPointF>& layout, const QVector<int>& labels, const QStringList& class_names);
  // Same points, new positions, animated from where they are drawn now. A size mismatch warns
  // and falls back to setPoints with the old labels (cut or padded with unlabeled).
  void updateLayout(const QVector<QPointF>& layout);
  void clear();
  int pointCount() const;
  QPointF position(int index) const;  // final (target) data position
  int label(int index) const;         // -1 when unlabeled or out of range
  QString className(int label) const;

  // Thumbnail shown beside the cursor while hovering a point; may return a null QImage.
  void setThumbnailProvider(std::function<QImage(int index)> provider);

  void setClassVisible(int label, bool visible);
  bool isClassVisible(int label) const;
  void isolateClass(int label);  // only this class visible
  void showAllClasses();

  void setSelection(const QVector<int>& indices);
  QVector<int> selection() const;  // sorted, unique
  // E.g. nearest neighbours of a clicked point: drawn larger with an outline.
  void setHighlighted(const QVector<int>& indices);
  QVector<int> highlighted() const;

  // Nearest visible point within radius_px of widget_pos (at final positions), -1 if none.
  int pointAt(const QPointF& widget_pos, double radius_px = 6.0) const;
  QPointF toWidget(const QPointF& data_pos) const;
  QPointF toData(const QPointF& widget_pos) const;
  void resetView();
  bool followsData() const;
  void zoomBy(double factor, const QPointF& widget_anchor);
  void panBy(const QPointF& widget_delta);

  // Widget rect of a legend entry, empty when the class has none (no points).
  QRectF legendItemRect(int label) const;

  void setPlaceholderText(const QString& text);
  QString placeholderText() const;

  // Colour of a class (label -1: the unlabeled grey); mid-lightness, legible on light and dark.
  static QColor classColor(int label);

  QSize sizeHint() const override;
  QSize minimumSizeHint() const override;

 Q_SIGNALS:
  void pointClicked(int index);
  void pointHovered(int index);                         // -1 when leaving points
  void selectionChanged(const QVector<int>& indices);   // after a lasso, setSelection or clear
  void classVisibilityChanged();

 protected:
  void paintEvent(QPaintEvent* event) override;
  void resizeEvent(QResizeEvent* event) override;
  void changeEvent(QEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void mouseReleaseEvent(QMouseEvent* event) override;
  void mouseDoubleClickEvent(QMouseEvent* event) override;
  void wheelEvent(QWheelEvent* event) override;
  void keyPressEvent(QKeyEvent* event) override;
  void leaveEvent(QEvent* event) override;

 private:
  enum class Drag { None, Pending, Lasso, Pan };
  enum class Sprite { Disc, Ring, OutlinedDisc };
  struct LegendEntry {
    int label = kUnlabeled;
    QRectF rect;
  };

  static int slotOf(int label) { return label < 0 ? 0 : label + 1; }
  bool slotVisible(int slot) const { return slot >= hidden_.size() || !hidden_[slot]; }
  bool pointVisible(int index) const { return slotVisible(slotOf(labels_[index])); }

  void rebuildClasses();
  void rebuildGrid();
  void applyProgress(double t);
  void updateDataBounds();
  double fitScale() const;
  void fitView();
  void viewChanged();
  void invalidateLayer();
  void invalidateLegend();
  void updateAccessibleText();
  void setHovered(int index, const QPointF& widget_pos);
  void replaceSelection(QVector<int> indices, bool always_emit);
  void finishLasso(bool add);
  void setHidden(const QVector<bool>& hidden);
  bool isIsolated(int label) const;
  void legendClicked(int label, bool isolate);
  bool legendHit(const QPointF& widget_pos, int* label) const;  // false outside entries
  const QVector<LegendEntry>& legend() const;
  QRectF legendBox() const;
  double pointRadius() const;
  QImage sprite(Sprite kind, const QColor& fill, double radius) const;

  void paintLayer(QPainter& p);
  void paintLegend(QPainter& p);
  void paintThumbnail(QPainter& p);
  void paintPlaceholder(QPainter& p);

  // Data.
  QVector<QPointF> targets_;    // final positions
  QVector<QPointF> from_;       // animation start
  QVector<QPointF> displayed_;  // what is drawn now
  QVector<int> labels_;         // normalised: -1 or >= 0
  QStringList class_names_;
  QVector<QVector<int>> members_;  // per slot (0 = unlabeled, label + 1), point indices
  QVector<bool> hidden_;           // per slot
  QVector<int> selection_;
  QVector<int> highlighted_;
  QRectF data_bounds_;             // of displayed_, finite points only

  // Hit-test grid over targets_: points of cell c are grid_items_[grid_start_[c] .. grid_start_[c + 1]).
  QRectF grid_bounds_;
  int grid_cols_ = 0, grid_rows_ = 0;
  double grid_cell_w_ = 1, grid_cell_h_ = 1;
  QVector<int> grid_start_, grid_items_;

  // View: data (x, y) maps to (width / 2 + (x - cx) * s, height / 2 - (y - cy) * s).
  QPointF center_;
  double scale_ = 1;
  bool follows_ = true;
  QVariantAnimation* animation_;

  // Interaction.
  Drag drag_ = Drag::None;
  QPointF press_pos_, last_pos_;
  int press_point_ = -1;
  bool lasso_adds_ = false;  // Shift was held at the press
  QPolygonF lasso_;
  int hovered_ = -1;
  QPointF hover_pos_;
  std::function<QImage(int)> thumbnail_provider_;
  QImage thumbnail_;  // of hovered_, already scaled

  QString placeholder_;

  // Caches (mutable: filled while painting or answering const queries).
  mutable QVector<LegendEntry> legend_;
  mutable bool legend_valid_ = false;
  mutable QHash<QString, QImage> sprites_;
  QImage layer_;  // background, points, selection rings and highlights
  bool layer_valid_ = false;
};

}  // namespace studio
