#pragma once
// Per-class test accuracy as bars, one group per class and one bar per compared arm, so that
// a class the representation serves badly (or that has few examples) stands out. On
// QCustomPlot; torch-free.
#include <QString>
#include <QStringList>
#include <QVector>
#include <QWidget>

class QCustomPlot;

namespace studio {

class ClassAccuracyPlot : public QWidget {
  Q_OBJECT
 public:
  explicit ClassAccuracyPlot(QWidget* parent = nullptr);

  // classes: C names; arms: one name per bar set; accuracy[a][c] in [0, 1], or < 0 for a
  // class absent from the test set (no bar).
  void setData(const QStringList& classes, const QStringList& arms, const QVector<QVector<double>>& accuracy);
  void clear();

  int barSetCount() const;
  QCustomPlot* plot() const { return plot_; }

 private:
  QCustomPlot* plot_;
};

}  // namespace studio
