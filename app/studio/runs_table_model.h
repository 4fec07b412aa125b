#pragma once
// The runs page's table: one row per run of the runs folder's index, updated in place as the
// index changes, and the proxy that filters and sorts it for the view.
#include <vector>

#include <QHash>
#include <QIcon>
#include <QSortFilterProxyModel>
#include <QStandardItemModel>
#include <QString>
#include <QStringList>

namespace studio {

struct RunRecord;

// The runs as rows. Column 0 carries the run's identity (folder, id, status) in the roles
// below; every cell carries the value it sorts by, so that 9.5% sorts below 80.0% and
// dates sort as dates.
class RunsTableModel : public QStandardItemModel {
  Q_OBJECT
 public:
  enum Column {
    NameColumn,
    StatusColumn,
    DatasetColumn,
    MethodColumn,
    BestKnnColumn,
    StartedColumn,
    DurationColumn,
    ColumnCount
  };

  static constexpr int kPathRole = Qt::UserRole + 1;
  static constexpr int kIdRole = Qt::UserRole + 2;
  static constexpr int kStatusRole = Qt::UserRole + 3;
  static constexpr int kSortRole = Qt::UserRole + 10;

  explicit RunsTableModel(QObject* parent = nullptr);
  ~RunsTableModel() override;

  // dir as the table stores run folders: absolute and clean; empty for a blank dir.
  static QString cleanDir(const QString& dir);

  // Makes the rows match records (the index's list), updating rows in place.
  void applyRecords(const std::vector<RunRecord>& records);
  // The row of the run in run_dir (any spelling of the path), or -1.
  int rowOfPath(const QString& run_dir) const;

 private:
  QIcon statusIcon(const QString& status);

  QHash<QString, QIcon> status_icons_;
};

// Matches every whitespace-separated term of the filter against name, dataset and status.
class RunFilterProxy : public QSortFilterProxyModel {
  Q_OBJECT
 public:
  // Sorts source's rows by their sort role, case-insensitively.
  explicit RunFilterProxy(RunsTableModel* source, QObject* parent = nullptr);

  void setFilterText(const QString& text);
  QString filterText() const;

 protected:
  bool filterAcceptsRow(int row, const QModelIndex& parent) const override;

 private:
  QString text_;
  QStringList terms_;
};

}  // namespace studio
