#pragma once
// The label-efficiency study as a chart: test accuracy against the number of labelled
// training images (log axis), one series per arm (representation x classifier) with the
// seeds' spread as error bars. Any number of arms: each is a series, coloured in turn, linear
// probes solid, kNN dashed, other classifiers dotted. On QCustomPlot; torch-free.
#include <QPointF>
#include <QString>
#include <QStringList>
#include <QVector>
#include <QWidget>

#include "core/eval/study_result.h"

class QCustomPlot;

namespace studio {

class StudyPlot : public QWidget {
  Q_OBJECT
 public:
  explicit StudyPlot(QWidget* parent = nullptr);

  void setStudy(const StudyResult& result);
  void clear();

  QStringList seriesNames() const { return names_; }
  // The points of an arm: (labelled images, mean top-1 in percent), fewest labels first.
  QVector<QPointF> seriesPoints(const QString& arm) const;
  QCustomPlot* plot() const { return plot_; }

 private:
  QCustomPlot* plot_;
  QStringList names_;
  QVector<QVector<QPointF>> points_;
  QVector<QVector<double>> spread_;
};

}  // namespace studio
