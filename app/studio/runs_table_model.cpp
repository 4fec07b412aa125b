#include "app/studio/runs_table_model.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QPainter>
#include <QPixmap>
#include <QRegularExpression>
#include <QSet>
#include <QVariant>

#include "core/base/text_format.h"
#include "core/runs/run_index.h"

namespace studio {

namespace {

QColor statusColor(const QString& status) {
  if (status == QLatin1String("finished")) return QColor(46, 160, 67);
  if (status == QLatin1String("running")) return QColor(47, 128, 237);
  if (status == QLatin1String("paused") || status == QLatin1String("cancelled") ||
      status == QLatin1String("interrupted"))
    return QColor(230, 162, 32);
  if (status == QLatin1String("failed")) return QColor(218, 54, 51);
  return QColor(140, 140, 140);
}

QDateTime parseUtc(const std::string& iso) {
  QDateTime t = QDateTime::fromString(QString::fromStdString(iso), Qt::ISODate);
  // A stamp without a zone is still UTC: that is what core writes.
  if (t.isValid() && t.timeSpec() == Qt::LocalTime) t.setTimeSpec(Qt::UTC);
  return t;
}

struct Cell {
  QString text;
  QVariant sort;
  QString tooltip;
  Qt::Alignment alignment = Qt::AlignLeft | Qt::AlignVCenter;
};

std::vector<Cell> cellsOf(const RunRecord& r) {
  std::vector<Cell> cells(RunsTableModel::ColumnCount);
  const QString name = QString::fromStdString(r.name);
  cells[RunsTableModel::NameColumn] = {name, name, QString::fromStdString(r.path)};
  const QString status = QString::fromStdString(r.status);
  cells[RunsTableModel::StatusColumn] = {status, status, QString()};
  const QString dataset = QString::fromStdString(r.dataset);
  cells[RunsTableModel::DatasetColumn] = {dataset, dataset, QString()};
  const QString method = QString::fromStdString(r.method);
  cells[RunsTableModel::MethodColumn] = {method, method, QString()};

  const bool has_knn = r.best_knn >= 0 && std::isfinite(r.best_knn);
  cells[RunsTableModel::BestKnnColumn] = {has_knn ? QStringLiteral("%1%").arg(100.0 * r.best_knn, 0, 'f', 1)
                                                  : QStringLiteral("—"),
                                          has_knn ? r.best_knn : -1.0, QString(), Qt::AlignRight | Qt::AlignVCenter};

  const QDateTime started = parseUtc(r.started_at);
  const QString started_raw = QString::fromStdString(r.started_at);
  cells[RunsTableModel::StartedColumn] = {
      started.isValid() ? started.toLocalTime().toString(QStringLiteral("yyyy-MM-dd HH:mm")) : started_raw,
      started.isValid() ? QVariant(started.toMSecsSinceEpoch()) : QVariant(qint64(0)), started_raw};

  const QDateTime ended = parseUtc(r.ended_at);
  Cell duration;
  duration.alignment = Qt::AlignRight | Qt::AlignVCenter;
  if (r.status == "running") {
    // Still going: longer than anything that ended, and stable so the sort does not churn.
    duration.text = RunsTableModel::tr("running");
    duration.sort = std::numeric_limits<qint64>::max();
  } else if (started.isValid() && ended.isValid()) {
    const qint64 seconds = started.secsTo(ended);
    duration.text = QString::fromStdString(formatClock(double(std::max<qint64>(0, seconds))));
    duration.sort = seconds;
  } else {
    duration.text = QStringLiteral("—");
    duration.sort = qint64(-1);
  }
  cells[RunsTableModel::DurationColumn] = duration;
  return cells;
}

}  // namespace

// --- the model --------------------------------------------------------------------------

RunsTableModel::RunsTableModel(QObject* parent) : QStandardItemModel(0, ColumnCount, parent) {
  setHorizontalHeaderLabels(
      {tr("Name"), tr("Status"), tr("Dataset"), tr("Method"), tr("Best kNN"), tr("Started"), tr("Duration")});
  horizontalHeaderItem(BestKnnColumn)->setToolTip(tr("Best kNN top-1 accuracy on held-out images"));
  horizontalHeaderItem(StartedColumn)->setToolTip(tr("Start time, local"));
}

RunsTableModel::~RunsTableModel() = default;

QString RunsTableModel::cleanDir(const QString& dir) {
  if (dir.trimmed().isEmpty()) return QString();
  return QDir::cleanPath(QFileInfo(dir.trimmed()).absoluteFilePath());
}

void RunsTableModel::applyRecords(const std::vector<RunRecord>& records) {
  // Update rows in place rather than rebuilding the model, so that the selection, the
  // current row and the scroll position survive every refresh.
  QHash<QString, int> row_of_id;
  for (int row = 0; row < rowCount(); ++row) row_of_id.insert(item(row, 0)->data(kIdRole).toString(), row);

  QSet<QString> seen;
  for (const RunRecord& record : records) {
    const QString id = QString::fromStdString(record.id);
    if (seen.contains(id)) continue;
    seen.insert(id);
    const std::vector<Cell> cells = cellsOf(record);
    const QString status = QString::fromStdString(record.status);
    const QString path = cleanDir(QString::fromStdString(record.path));

    auto it = row_of_id.constFind(id);
    if (it == row_of_id.constEnd()) {
      QList<QStandardItem*> items;
      for (int column = 0; column < ColumnCount; ++column) {
        auto* cell = new QStandardItem(cells[column].text);
        cell->setFlags(Qt::ItemIsSelectable | Qt::ItemIsEnabled);
        cell->setData(cells[column].sort, kSortRole);
        cell->setTextAlignment(cells[column].alignment);
        if (!cells[column].tooltip.isEmpty()) cell->setToolTip(cells[column].tooltip);
        items << cell;
      }
      items[NameColumn]->setData(path, kPathRole);
      items[NameColumn]->setData(id, kIdRole);
      items[NameColumn]->setData(status, kStatusRole);
      items[StatusColumn]->setIcon(statusIcon(status));
      appendRow(items);
      continue;
    }
    const int row = *it;
    for (int column = 0; column < ColumnCount; ++column) {
      QStandardItem* cell = item(row, column);
      if (cell->text() != cells[column].text) cell->setText(cells[column].text);
      if (cell->data(kSortRole) != cells[column].sort) cell->setData(cells[column].sort, kSortRole);
      if (cell->toolTip() != cells[column].tooltip) cell->setToolTip(cells[column].tooltip);
    }
    QStandardItem* first = item(row, NameColumn);
    if (first->data(kPathRole).toString() != path) first->setData(path, kPathRole);
    if (first->data(kStatusRole).toString() != status) {
      first->setData(status, kStatusRole);
      item(row, StatusColumn)->setIcon(statusIcon(status));
    }
  }
  for (int row = rowCount() - 1; row >= 0; --row)
    if (!seen.contains(item(row, 0)->data(kIdRole).toString())) removeRow(row);
}

int RunsTableModel::rowOfPath(const QString& run_dir) const {
  const QString wanted = cleanDir(run_dir);
  for (int row = 0; row < rowCount(); ++row)
    if (item(row, NameColumn)->data(kPathRole).toString() == wanted) return row;
  return -1;
}

QIcon RunsTableModel::statusIcon(const QString& status) {
  auto it = status_icons_.constFind(status);
  if (it != status_icons_.constEnd()) return *it;
  QIcon icon;
  for (int side : {16, 32}) {
    QPixmap pixmap(side, side);
    pixmap.fill(Qt::transparent);
    QPainter painter(&pixmap);
    painter.setRenderHint(QPainter::Antialiasing);
    const QColor color = statusColor(status);
    painter.setPen(QPen(color.darker(130), side / 16.0));
    painter.setBrush(color);
    const double margin = side * 0.2;
    painter.drawEllipse(QRectF(margin, margin, side - 2 * margin, side - 2 * margin));
    painter.end();
    icon.addPixmap(pixmap);
  }
  status_icons_.insert(status, icon);
  return icon;
}

// --- the filter -------------------------------------------------------------------------

RunFilterProxy::RunFilterProxy(RunsTableModel* source, QObject* parent) : QSortFilterProxyModel(parent) {
  setSourceModel(source);
  setSortRole(RunsTableModel::kSortRole);
  setSortCaseSensitivity(Qt::CaseInsensitive);
  setSortLocaleAware(true);
  setDynamicSortFilter(true);
}

void RunFilterProxy::setFilterText(const QString& text) {
  text_ = text.trimmed();
  terms_ = text_.split(QRegularExpression(QStringLiteral("\\s+")), Qt::SkipEmptyParts);
  invalidateFilter();
}

QString RunFilterProxy::filterText() const { return text_; }

bool RunFilterProxy::filterAcceptsRow(int row, const QModelIndex& parent) const {
  if (terms_.isEmpty()) return true;
  QString haystack;
  for (int column : {RunsTableModel::NameColumn, RunsTableModel::DatasetColumn, RunsTableModel::StatusColumn})
    haystack += sourceModel()->index(row, column, parent).data().toString() + QLatin1Char('\n');
  for (const QString& term : terms_)
    if (!haystack.contains(term, Qt::CaseInsensitive)) return false;
  return true;
}

}  // namespace studio
