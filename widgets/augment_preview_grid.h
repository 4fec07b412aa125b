#pragma once
// Shows sample images next to their two augmented views (and their local views with
// multi-crop), painted directly: a refresh is a
// few small scaled copies and one repaint, cheap enough for several updates a second.
#include <QImage>
#include <QPixmap>
#include <QString>
#include <QVector>
#include <QWidget>

namespace studio {

// A grid of "Original | View 1 | View 2 [| Local 1 ...]" groups, one sample per group, with as
// many groups side by side as make the cells largest. Cells follow the widget's size; small
// images are enlarged without smoothing so their pixels stay visible. A local view is drawn
// at its size relative to the global views (a 12-pixel view beside 28-pixel ones fills 12/28
// of its cell), so the grid shows how little of the image it keeps.
class AugmentPreviewGrid : public QWidget {
  Q_OBJECT

 public:
  static constexpr int kMinCellSide = 16;
  static constexpr int kMaxCellSide = 256;

  explicit AugmentPreviewGrid(QWidget* parent = nullptr);

  // One entry per sample in each vector; the sample count is originals.size() (a missing
  // view is drawn as an empty cell). locals[l][sample]: the l-th local view of each sample.
  // Clears a message set by setMessage.
  void setPreview(const QVector<QImage>& originals, const QVector<QImage>& view1, const QVector<QImage>& view2,
                  const QVector<QVector<QImage>>& locals = {});
  void clear();

  int sampleCount() const { return static_cast<int>(images_[0].size()); }
  int columnCount() const { return static_cast<int>(images_.size()); }  // 3 + local views
  // which: 0 = original, 1, 2 = the global views, 3... = the local views; null if out of range.
  QImage viewImage(int sample, int which) const;

  // Dims the grid and shows "Updating…" while a new preview is rendered.
  void setBusy(bool busy);
  bool isBusy() const { return busy_; }
  // An error to show instead of the grid (the images stay, dimmed); "" clears it.
  void setMessage(const QString& message);
  QString message() const { return message_; }

  int cellSide() const;                         // for the current size
  int groupsPerRow() const;                     // for the current size
  QRect cellRect(int sample, int which) const;  // where a cell is drawn; empty if out of range

  QSize sizeHint() const override;
  QSize minimumSizeHint() const override;

 protected:
  void paintEvent(QPaintEvent* event) override;
  void resizeEvent(QResizeEvent* event) override;

 private:
  struct GridLayout {
    int side = 0;
    int per_row = 1;
  };
  GridLayout computeLayout(const QSize& size) const;
  int headerHeight() const;
  const QPixmap& scaled(int which, int sample, int side) const;

  QVector<QVector<QImage>> images_ = QVector<QVector<QImage>>(3);  // by column, then sample
  // Scaled copies for the current cell side, made on first paint after a change.
  mutable QVector<QVector<QPixmap>> scaled_;
  mutable int scaled_side_ = -1;
  bool busy_ = false;
  QString message_;
};

}  // namespace studio
