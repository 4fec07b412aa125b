#include "app/studio/runs_page.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <filesystem>
#include <limits>
#include <system_error>
#include <utility>

#include <QDateTime>
#include <QDesktopServices>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QFileSystemWatcher>
#include <QFontDatabase>
#include <QFrame>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QKeyEvent>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPainter>
#include <QPixmap>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QRegularExpression>
#include <QSet>
#include <QShortcut>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QStackedWidget>
#include <QStandardItemModel>
#include <QStyle>
#include <QTableView>
#include <QTimer>
#include <QToolButton>
#include <QUrl>
#include <QVBoxLayout>

#include "app/studio/background_task.h"
#include "app/studio/export_dialog.h"
#include "app/studio/run_curves.h"
#include "core/base/error.h"
#include "core/base/metrics_record.h"
#include "core/runs/run_index.h"
#include "core/base/text_format.h"
#include "widgets/curve_plot.h"

namespace studio {

namespace {

// Roles of the source model. Column 0 carries the run's identity; every cell carries the
// value it sorts by, so that 9.5% sorts below 80.0% and dates sort as dates.
constexpr int kPathRole = Qt::UserRole + 1;
constexpr int kIdRole = Qt::UserRole + 2;
constexpr int kStatusRole = Qt::UserRole + 3;
constexpr int kSortRole = Qt::UserRole + 10;

constexpr int kDetailsDelayMs = 120;  // a drag across rows loads the curves once
constexpr qint64 kMaxConfigBytes = 1 << 20;
const QString kRawPixelsKey = QStringLiteral("__raw_pixels__");

const char kEmptyText[] = QT_TRANSLATE_NOOP("studio::RunsPage",
                                            "No runs yet. Start one on the Training page, or with contrastive-cli train.");

// Statuses from which the trainer can pick a run up again from its last checkpoint.
bool isResumableStatus(const QString& status) {
  return status == QLatin1String("cancelled") || status == QLatin1String("interrupted") ||
         status == QLatin1String("failed") || status == QLatin1String("paused");
}

QColor statusColor(const QString& status) {
  if (status == QLatin1String("finished")) return QColor(46, 160, 67);
  if (status == QLatin1String("running")) return QColor(47, 128, 237);
  if (status == QLatin1String("paused") || status == QLatin1String("cancelled") ||
      status == QLatin1String("interrupted"))
    return QColor(230, 162, 32);
  if (status == QLatin1String("failed")) return QColor(218, 54, 51);
  return QColor(140, 140, 140);
}

// Qualitative colours that stay distinct on light and dark backgrounds.
QColor runColor(int i) {
  static const QColor colors[] = {QColor(31, 119, 180), QColor(255, 127, 14), QColor(44, 160, 44),
                                  QColor(214, 39, 40),  QColor(148, 103, 189), QColor(140, 86, 75),
                                  QColor(227, 119, 194), QColor(127, 127, 127), QColor(188, 189, 34),
                                  QColor(23, 190, 207)};
  return colors[i % (sizeof colors / sizeof colors[0])];
}

QString cleanDir(const QString& dir) {
  if (dir.trimmed().isEmpty()) return QString();
  return QDir::cleanPath(QFileInfo(dir.trimmed()).absoluteFilePath());
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
  std::vector<Cell> cells(RunsPage::ColumnCount);
  const QString name = QString::fromStdString(r.name);
  cells[RunsPage::NameColumn] = {name, name, QString::fromStdString(r.path)};
  const QString status = QString::fromStdString(r.status);
  cells[RunsPage::StatusColumn] = {status, status, QString()};
  const QString dataset = QString::fromStdString(r.dataset);
  cells[RunsPage::DatasetColumn] = {dataset, dataset, QString()};
  const QString method = QString::fromStdString(r.method);
  cells[RunsPage::MethodColumn] = {method, method, QString()};

  const bool has_knn = r.best_knn >= 0 && std::isfinite(r.best_knn);
  cells[RunsPage::BestKnnColumn] = {has_knn ? QStringLiteral("%1%").arg(100.0 * r.best_knn, 0, 'f', 1)
                                            : QStringLiteral("—"),
                                    has_knn ? r.best_knn : -1.0, QString(), Qt::AlignRight | Qt::AlignVCenter};

  const QDateTime started = parseUtc(r.started_at);
  const QString started_raw = QString::fromStdString(r.started_at);
  cells[RunsPage::StartedColumn] = {
      started.isValid() ? started.toLocalTime().toString(QStringLiteral("yyyy-MM-dd HH:mm")) : started_raw,
      started.isValid() ? QVariant(started.toMSecsSinceEpoch()) : QVariant(qint64(0)), started_raw};

  const QDateTime ended = parseUtc(r.ended_at);
  Cell duration;
  duration.alignment = Qt::AlignRight | Qt::AlignVCenter;
  if (r.status == "running") {
    // Still going: longer than anything that ended, and stable so the sort does not churn.
    duration.text = RunsPage::tr("running");
    duration.sort = std::numeric_limits<qint64>::max();
  } else if (started.isValid() && ended.isValid()) {
    const qint64 seconds = started.secsTo(ended);
    duration.text = QString::fromStdString(formatClock(double(std::max<qint64>(0, seconds))));
    duration.sort = seconds;
  } else {
    duration.text = QStringLiteral("—");
    duration.sort = qint64(-1);
  }
  cells[RunsPage::DurationColumn] = duration;
  return cells;
}

}  // namespace

// Matches every whitespace-separated term of the filter against name, dataset and status.
class RunFilterProxy : public QSortFilterProxyModel {
 public:
  using QSortFilterProxyModel::QSortFilterProxyModel;

  void setFilterText(const QString& text) {
    text_ = text.trimmed();
    terms_ = text_.split(QRegularExpression(QStringLiteral("\\s+")), Qt::SkipEmptyParts);
    invalidateFilter();
  }
  QString filterText() const { return text_; }

 protected:
  bool filterAcceptsRow(int row, const QModelIndex& parent) const override {
    if (terms_.isEmpty()) return true;
    QString haystack;
    for (int column : {RunsPage::NameColumn, RunsPage::DatasetColumn, RunsPage::StatusColumn})
      haystack += sourceModel()->index(row, column, parent).data().toString() + QLatin1Char('\n');
    for (const QString& term : terms_)
      if (!haystack.contains(term, Qt::CaseInsensitive)) return false;
    return true;
  }

 private:
  QString text_;
  QStringList terms_;
};

struct RunsPage::LoadedRun {
  QString dir;
  QString id;
  QString name;
  RunCurves curves;
  QString error;
};

struct RunsPage::Details {
  uint64_t generation = 0;
  QStringList dirs;
  std::vector<LoadedRun> runs;
  QString signature;
  QString config_dir;
  QString config_text;
  QString config_error;  // shown instead of the text
  bool config_unreadable = false;  // there but not readable: an error, not just absent
};

RunsPage::RunsPage(QWidget* parent) : QWidget(parent) {
  model_ = new QStandardItemModel(0, ColumnCount, this);
  model_->setHorizontalHeaderLabels(
      {tr("Name"), tr("Status"), tr("Dataset"), tr("Method"), tr("Best kNN"), tr("Started"), tr("Duration")});
  model_->horizontalHeaderItem(BestKnnColumn)->setToolTip(tr("Best kNN top-1 accuracy on held-out images"));
  model_->horizontalHeaderItem(StartedColumn)->setToolTip(tr("Start time, local"));

  proxy_ = new RunFilterProxy(this);
  proxy_->setSourceModel(model_);
  proxy_->setSortRole(kSortRole);
  proxy_->setSortCaseSensitivity(Qt::CaseInsensitive);
  proxy_->setSortLocaleAware(true);
  proxy_->setDynamicSortFilter(true);

  watcher_ = new QFileSystemWatcher(this);
  connect(watcher_, &QFileSystemWatcher::directoryChanged, this, [this](const QString&) {
    rewatchFiles();  // runs.sqlite-wal may have just appeared
    scheduleRefresh();
  });
  connect(watcher_, &QFileSystemWatcher::fileChanged, this, [this](const QString&) {
    rewatchFiles();  // a replaced or deleted file drops out of the watch list
    scheduleRefresh();
  });

  debounce_timer_ = new QTimer(this);
  debounce_timer_->setSingleShot(true);
  debounce_timer_->setInterval(kDebounceMs);
  connect(debounce_timer_, &QTimer::timeout, this, &RunsPage::refresh);

  // The watcher misses changes on some filesystems (network mounts); polling while the
  // page is visible covers those.
  poll_timer_ = new QTimer(this);
  poll_timer_->setInterval(kPollIntervalMs);
  connect(poll_timer_, &QTimer::timeout, this, &RunsPage::refresh);

  details_timer_ = new QTimer(this);
  details_timer_->setSingleShot(true);
  details_timer_->setInterval(kDetailsDelayMs);
  connect(details_timer_, &QTimer::timeout, this, &RunsPage::requestDetails);

  buildUi();
  updateButtons();
  updatePlaceholder();
  clearDetails();
}

RunsPage::~RunsPage() = default;

void RunsPage::buildUi() {
  // Banner for errors and notices, above everything.
  banner_ = new QFrame(this);
  banner_->setFrameShape(QFrame::StyledPanel);
  banner_icon_ = new QLabel(banner_);
  banner_text_ = new QLabel(banner_);
  banner_text_->setWordWrap(true);
  banner_text_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  banner_text_->setObjectName(QStringLiteral("runsMessage"));
  auto* dismiss = new QToolButton(banner_);
  dismiss->setText(QStringLiteral("✕"));
  dismiss->setAutoRaise(true);
  dismiss->setToolTip(tr("Dismiss"));
  dismiss->setAccessibleName(tr("Dismiss message"));
  connect(dismiss, &QToolButton::clicked, this, &RunsPage::clearMessage);
  auto* banner_layout = new QHBoxLayout(banner_);
  banner_layout->setContentsMargins(6, 4, 4, 4);
  banner_layout->addWidget(banner_icon_, 0, Qt::AlignTop);
  banner_layout->addWidget(banner_text_, 1);
  banner_layout->addWidget(dismiss, 0, Qt::AlignTop);
  banner_->hide();

  filter_ = new QLineEdit(this);
  filter_->setObjectName(QStringLiteral("runsFilter"));
  filter_->setPlaceholderText(tr("Filter runs…"));
  filter_->setClearButtonEnabled(true);
  filter_->setToolTip(tr("Shows runs whose name, dataset or status contain every word typed (Ctrl+F)"));
  filter_->setAccessibleName(tr("Filter runs"));
  connect(filter_, &QLineEdit::textChanged, this, [this](const QString& text) {
    proxy_->setFilterText(text);
    updatePlaceholder();
    updateButtons();
  });
  // Type, then Return: straight to the matching runs.
  connect(filter_, &QLineEdit::returnPressed, this, [this]() {
    if (proxy_->rowCount() == 0) return;
    if (!table_->selectionModel()->hasSelection()) table_->selectRow(0);
    table_->setFocus();
  });
  auto* find = new QShortcut(QKeySequence::Find, this);
  find->setContext(Qt::WidgetWithChildrenShortcut);
  connect(find, &QShortcut::activated, this, [this]() {
    filter_->setFocus();
    filter_->selectAll();
  });
  count_label_ = new QLabel(this);

  table_ = new QTableView(this);
  table_->setObjectName(QStringLiteral("runsTable"));
  table_->setAccessibleName(tr("Runs"));
  table_->setModel(proxy_);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setSelectionMode(QAbstractItemView::ExtendedSelection);
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table_->setAlternatingRowColors(true);
  table_->setWordWrap(false);
  table_->setSortingEnabled(true);
  table_->sortByColumn(StartedColumn, Qt::DescendingOrder);
  table_->verticalHeader()->hide();
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  table_->horizontalHeader()->setSectionResizeMode(NameColumn, QHeaderView::Stretch);
  table_->horizontalHeader()->setHighlightSections(false);
  table_->installEventFilter(this);
  connect(table_, &QTableView::doubleClicked, this, [this](const QModelIndex& index) {
    if (!index.isValid()) return;
    const QString dir = proxy_->index(index.row(), NameColumn).data(kPathRole).toString();
    if (!dir.isEmpty()) Q_EMIT openRunRequested(dir);
  });
  connect(table_->selectionModel(), &QItemSelectionModel::selectionChanged, this, &RunsPage::onSelectionChanged);

  placeholder_ = new QLabel(this);
  placeholder_->setObjectName(QStringLiteral("runsPlaceholder"));
  placeholder_->setAlignment(Qt::AlignCenter);
  placeholder_->setWordWrap(true);
  placeholder_->setEnabled(false);  // the disabled colour reads as a hint
  view_stack_ = new QStackedWidget(this);
  view_stack_->addWidget(table_);
  view_stack_->addWidget(placeholder_);

  // Mnemonics avoid the main window's menus (File, Run, View, Help).
  open_button_ = new QPushButton(style()->standardIcon(QStyle::SP_DialogOpenButton), tr("&Open"), this);
  open_button_->setToolTip(tr("Show the selected run's curves and embeddings (Return, or double-click)"));
  resume_button_ = new QPushButton(style()->standardIcon(QStyle::SP_MediaPlay), tr("Res&ume"), this);
  delete_button_ = new QPushButton(style()->standardIcon(QStyle::SP_TrashIcon), tr("&Delete…"), this);
  delete_button_->setToolTip(tr("Delete the selected runs' folders (Delete)"));
  show_folder_button_ = new QPushButton(style()->standardIcon(QStyle::SP_DirOpenIcon), tr("Show fo&lder"), this);
  show_folder_button_->setToolTip(tr("Open the selected run's folder in the file manager"));
  export_button_ = new QPushButton(style()->standardIcon(QStyle::SP_DialogSaveButton), tr("E&xport…"), this);
  export_button_->setObjectName(QStringLiteral("runsExport"));
  for (QPushButton* b : {open_button_, resume_button_, delete_button_, show_folder_button_, export_button_})
    b->setAutoDefault(false);
  connect(export_button_, &QPushButton::clicked, this, &RunsPage::exportSelected);
  connect(open_button_, &QPushButton::clicked, this, &RunsPage::openSelected);
  connect(resume_button_, &QPushButton::clicked, this, &RunsPage::resumeSelected);
  connect(delete_button_, &QPushButton::clicked, this, &RunsPage::deleteSelected);
  connect(show_folder_button_, &QPushButton::clicked, this, &RunsPage::showSelectedFolder);

  auto* filter_row = new QHBoxLayout;
  filter_row->addWidget(filter_, 1);
  filter_row->addWidget(count_label_);
  auto* button_row = new QHBoxLayout;
  button_row->addWidget(open_button_);
  button_row->addWidget(resume_button_);
  button_row->addWidget(delete_button_);
  button_row->addWidget(show_folder_button_);
  button_row->addWidget(export_button_);
  button_row->addStretch(1);

  auto* top = new QWidget(this);
  auto* top_layout = new QVBoxLayout(top);
  top_layout->setContentsMargins(0, 0, 0, 0);
  top_layout->addLayout(filter_row);
  top_layout->addWidget(view_stack_, 1);
  top_layout->addLayout(button_row);

  // Details of the selection.
  details_hint_ = new QLabel(this);
  details_hint_->setWordWrap(true);
  loss_plot_ = new CurvePlot(tr("Loss"), tr("step"), tr("loss"), this);
  loss_plot_->setObjectName(QStringLiteral("runsLossPlot"));
  knn_plot_ = new CurvePlot(tr("kNN accuracy"), tr("step"), tr("top-1 accuracy (%)"), this);
  knn_plot_->setObjectName(QStringLiteral("runsKnnPlot"));
  config_view_ = new QPlainTextEdit(this);
  config_view_->setObjectName(QStringLiteral("runsConfig"));
  config_view_->setReadOnly(true);
  config_view_->setLineWrapMode(QPlainTextEdit::NoWrap);
  config_view_->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
  config_view_->setAccessibleName(tr("Configuration of the selected run"));
  config_view_->setPlaceholderText(tr("The selected run's config.json"));

  auto* curves = new QSplitter(Qt::Horizontal, this);
  curves->addWidget(loss_plot_);
  curves->addWidget(knn_plot_);
  curves->addWidget(config_view_);
  curves->setStretchFactor(0, 2);
  curves->setStretchFactor(1, 2);
  curves->setStretchFactor(2, 1);
  curves->setChildrenCollapsible(false);

  auto* bottom = new QWidget(this);
  auto* bottom_layout = new QVBoxLayout(bottom);
  bottom_layout->setContentsMargins(0, 0, 0, 0);
  bottom_layout->addWidget(details_hint_);
  bottom_layout->addWidget(curves, 1);

  splitter_ = new QSplitter(Qt::Vertical, this);
  splitter_->addWidget(top);
  splitter_->addWidget(bottom);
  splitter_->setStretchFactor(0, 1);
  splitter_->setStretchFactor(1, 1);
  splitter_->setChildrenCollapsible(false);

  auto* layout = new QVBoxLayout(this);
  layout->addWidget(banner_);
  layout->addWidget(splitter_, 1);

  setTabOrder(filter_, table_);
  setTabOrder(table_, open_button_);
  setTabOrder(open_button_, resume_button_);
  setTabOrder(resume_button_, delete_button_);
  setTabOrder(delete_button_, show_folder_button_);
  setTabOrder(show_folder_button_, export_button_);
  setTabOrder(export_button_, config_view_);
}

// --- the index ------------------------------------------------------------------------

void RunsPage::setRunsDir(const QString& dir) {
  runs_dir_ = cleanDir(dir);
  index_.reset();
  index_error_.clear();
  model_->removeRows(0, model_->rowCount());
  clearMessage();
  for (const QStringList& paths : {watcher_->files(), watcher_->directories()})
    if (!paths.isEmpty()) watcher_->removePaths(paths);
  if (runs_dir_.isEmpty()) {
    updatePlaceholder();
    updateButtons();
    return;
  }
  openIndex(true);
  watchRunsDir();
  refresh();
}

QString RunsPage::runsDir() const { return runs_dir_; }

void RunsPage::openIndex(bool rebuild) {
  try {
    index_ = std::make_unique<RunIndex>(runs_dir_.toStdString());
  } catch (const std::exception& e) {
    index_.reset();
    reportIndexError(tr("Cannot open the run index in %1: %2").arg(QDir::toNativeSeparators(runs_dir_),
                                                                    QString::fromStdString(e.what())));
    return;
  }
  if (!rebuild) return;
  // The CLI may have run while the studio was closed, or folders may have been copied in
  // by hand: agree with the folders once, then follow the index.
  try {
    index_->rebuildFromFolders();
  } catch (const std::exception& e) {
    reportIndexError(tr("Cannot read the run folders in %1: %2").arg(QDir::toNativeSeparators(runs_dir_),
                                                                      QString::fromStdString(e.what())));
  }
}

void RunsPage::watchRunsDir() {
  if (runs_dir_.isEmpty()) return;
  rewatchFiles();
}

void RunsPage::rewatchFiles() {
  if (runs_dir_.isEmpty()) return;
  QStringList wanted;
  if (QFileInfo(runs_dir_).isDir() && !watcher_->directories().contains(runs_dir_)) wanted << runs_dir_;
  const QStringList watched = watcher_->files();
  for (const char* name : {"runs.sqlite", "runs.sqlite-wal"}) {
    const QString file = runs_dir_ + QLatin1Char('/') + QLatin1String(name);
    if (!watched.contains(file) && QFileInfo::exists(file)) wanted << file;
  }
  if (!wanted.isEmpty()) watcher_->addPaths(wanted);
}

void RunsPage::scheduleRefresh() { debounce_timer_->start(); }

void RunsPage::refresh() {
  debounce_timer_->stop();
  if (runs_dir_.isEmpty()) return;
  if (!index_) {
    // The folder may have become reachable again (a remounted drive): try quietly.
    openIndex(false);
    if (!index_) {
      updatePlaceholder();
      return;
    }
    rewatchFiles();
  }
  std::vector<RunRecord> records;
  try {
    records = index_->list();
  } catch (const std::exception& e) {
    reportIndexError(tr("Cannot read the run index in %1: %2").arg(QDir::toNativeSeparators(runs_dir_),
                                                                    QString::fromStdString(e.what())));
    updatePlaceholder();
    return;
  }
  if (!index_error_.isEmpty()) {
    // Recovered: take the stale error down, but leave other messages alone.
    if (banner_text_->text() == index_error_) clearMessage();
    index_error_.clear();
  }
  applyRecords(records);
  updatePlaceholder();
  updateButtons();

  // A selected run that is still training grows its metrics file: follow it.
  if (!details_in_flight_ && !details_timer_->isActive() && !shown_dirs_.isEmpty()) {
    const QStringList dirs = selectedRunDirs().mid(0, kMaxOverlaidRuns);
    if (dirs == shown_dirs_ && metricsSignature(dirs) != shown_signature_) requestDetails();
  }
}

void RunsPage::applyRecords(const std::vector<RunRecord>& records) {
  // Update rows in place rather than rebuilding the model, so that the selection, the
  // current row and the scroll position survive every refresh.
  QHash<QString, int> row_of_id;
  for (int row = 0; row < model_->rowCount(); ++row) row_of_id.insert(model_->item(row, 0)->data(kIdRole).toString(), row);

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
        auto* item = new QStandardItem(cells[column].text);
        item->setFlags(Qt::ItemIsSelectable | Qt::ItemIsEnabled);
        item->setData(cells[column].sort, kSortRole);
        item->setTextAlignment(cells[column].alignment);
        if (!cells[column].tooltip.isEmpty()) item->setToolTip(cells[column].tooltip);
        items << item;
      }
      items[NameColumn]->setData(path, kPathRole);
      items[NameColumn]->setData(id, kIdRole);
      items[NameColumn]->setData(status, kStatusRole);
      items[StatusColumn]->setIcon(statusIcon(status));
      model_->appendRow(items);
      continue;
    }
    const int row = *it;
    for (int column = 0; column < ColumnCount; ++column) {
      QStandardItem* item = model_->item(row, column);
      if (item->text() != cells[column].text) item->setText(cells[column].text);
      if (item->data(kSortRole) != cells[column].sort) item->setData(cells[column].sort, kSortRole);
      if (item->toolTip() != cells[column].tooltip) item->setToolTip(cells[column].tooltip);
    }
    QStandardItem* first = model_->item(row, NameColumn);
    if (first->data(kPathRole).toString() != path) first->setData(path, kPathRole);
    if (first->data(kStatusRole).toString() != status) {
      first->setData(status, kStatusRole);
      model_->item(row, StatusColumn)->setIcon(statusIcon(status));
    }
  }
  for (int row = model_->rowCount() - 1; row >= 0; --row)
    if (!seen.contains(model_->item(row, 0)->data(kIdRole).toString())) model_->removeRow(row);
}

int RunsPage::runCount() const { return model_->rowCount(); }

QTableView* RunsPage::table() const { return table_; }

QStringList RunsPage::selectedRunDirs() const {
  QModelIndexList rows = table_->selectionModel()->selectedRows(NameColumn);
  std::sort(rows.begin(), rows.end(), [](const QModelIndex& a, const QModelIndex& b) { return a.row() < b.row(); });
  QStringList dirs;
  for (const QModelIndex& index : rows) dirs << index.data(kPathRole).toString();
  return dirs;
}

QStringList RunsPage::selectedRunIds() const {
  QStringList ids;
  for (const QString& dir : selectedRunDirs()) {
    const int row = sourceRowOfPath(dir);
    if (row >= 0) ids << model_->item(row, NameColumn)->data(kIdRole).toString();
  }
  return ids;
}

int RunsPage::sourceRowOfPath(const QString& run_dir) const {
  const QString wanted = cleanDir(run_dir);
  for (int row = 0; row < model_->rowCount(); ++row)
    if (model_->item(row, NameColumn)->data(kPathRole).toString() == wanted) return row;
  return -1;
}

void RunsPage::selectRun(const QString& run_dir) {
  int row = sourceRowOfPath(run_dir);
  if (row < 0) {
    refresh();  // a run the caller just started may not have been read yet
    row = sourceRowOfPath(run_dir);
    if (row < 0) return;
  }
  QModelIndex index = proxy_->mapFromSource(model_->index(row, NameColumn));
  if (!index.isValid()) {
    filter_->clear();  // hidden by the filter: the caller asked for this run explicitly
    index = proxy_->mapFromSource(model_->index(row, NameColumn));
  }
  if (!index.isValid()) return;
  table_->selectionModel()->setCurrentIndex(index, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
  table_->scrollTo(index);
}

// --- actions ---------------------------------------------------------------------------

void RunsPage::openSelected() {
  const QStringList dirs = selectedRunDirs();
  if (dirs.isEmpty()) return;
  // The current row when it is selected (the one the keyboard is on), else the first.
  const QModelIndex current = table_->currentIndex();
  QString dir = dirs.first();
  if (current.isValid() && table_->selectionModel()->isRowSelected(current.row(), QModelIndex()))
    dir = proxy_->index(current.row(), NameColumn).data(kPathRole).toString();
  Q_EMIT openRunRequested(dir);
}

void RunsPage::resumeSelected() {
  const QStringList dirs = selectedRunDirs();
  if (dirs.size() != 1) return;
  const int row = sourceRowOfPath(dirs.first());
  if (row < 0) return;
  const QString status = model_->item(row, NameColumn)->data(kStatusRole).toString();
  if (!isResumableStatus(status) || !QFileInfo::exists(dirs.first() + QStringLiteral("/checkpoints/last.pt"))) return;
  Q_EMIT resumeRunRequested(dirs.first());
}

void RunsPage::deleteSelected() {
  struct Target {
    QString dir, id, name, status;
  };
  std::vector<Target> targets;
  for (const QString& dir : selectedRunDirs()) {
    const int row = sourceRowOfPath(dir);
    if (row < 0) continue;
    const QStandardItem* item = model_->item(row, NameColumn);
    targets.push_back({dir, item->data(kIdRole).toString(), item->text(), item->data(kStatusRole).toString()});
  }
  if (targets.empty()) return;

  QStringList running;
  for (const Target& t : targets)
    if (t.status == QLatin1String("running")) running << t.name;
  if (!running.isEmpty()) {
    reportError(running.size() == 1
                    ? tr("The run \"%1\" is still running and cannot be deleted. Stop it first.").arg(running.first())
                    : tr("These runs are still running and cannot be deleted: %1. Stop them first.")
                          .arg(running.join(QStringLiteral(", "))));
    return;
  }

  QString question;
  if (targets.size() == 1) {
    question = tr("Delete the run \"%1\"?\n\nIts folder %2 and everything in it (checkpoints, metrics, "
                  "embeddings) will be removed. This cannot be undone.")
                   .arg(targets.front().name, QDir::toNativeSeparators(targets.front().dir));
  } else {
    QStringList lines;
    for (const Target& t : targets) lines << QStringLiteral("• %1 (%2)").arg(t.name, QDir::toNativeSeparators(t.dir));
    question = tr("Delete these %1 runs?\n\n%2\n\nTheir folders and everything in them will be removed. This "
                  "cannot be undone.")
                   .arg(targets.size())
                   .arg(lines.join(QLatin1Char('\n')));
  }
  const bool yes = confirm_ ? confirm_(question)
                            : QMessageBox::question(this, tr("Delete runs"), question, QMessageBox::Yes | QMessageBox::No,
                                                    QMessageBox::No) == QMessageBox::Yes;
  if (!yes) return;

  QStringList failures;
  int deleted = 0;
  for (const Target& t : targets) {
    // Only ever remove what is recognisably a run folder: a damaged index row must not
    // turn into deleting the runs folder itself or something outside it.
    const QString root = cleanDir(runs_dir_);
    if (t.dir.isEmpty() || t.dir == root || (root + QLatin1Char('/')).startsWith(t.dir + QLatin1Char('/')) ||
        !QFileInfo(t.dir + QStringLiteral("/run.json")).isFile()) {
      if (!QFileInfo::exists(t.dir)) {
        // Already gone from disk: only the index row is left to drop.
        try {
          if (index_) index_->remove(t.id.toStdString());
          ++deleted;
        } catch (const std::exception& e) {
          failures << QString::fromStdString(e.what());
        }
      } else {
        failures << tr("%1 does not look like a run folder (no run.json); left untouched")
                        .arg(QDir::toNativeSeparators(t.dir));
      }
      continue;
    }
    std::error_code ec;
    std::filesystem::remove_all(std::filesystem::path(t.dir.toStdString()), ec);
    if (ec) {
      failures << tr("%1: %2").arg(QDir::toNativeSeparators(t.dir), QString::fromStdString(ec.message()));
      // Partly removed: the index keeps it only while the folder still describes a run.
      if (QFileInfo(t.dir + QStringLiteral("/run.json")).isFile()) continue;
    }
    try {
      if (index_) index_->remove(t.id.toStdString());
      if (!ec) ++deleted;
    } catch (const std::exception& e) {
      failures << QString::fromStdString(e.what());
    }
  }
  refresh();
  if (!failures.isEmpty()) {
    reportError(tr("Could not delete every run folder:\n%1").arg(failures.join(QLatin1Char('\n'))));
  } else if (deleted > 0) {
    showMessage(deleted == 1 ? tr("Deleted the run \"%1\".").arg(targets.front().name)
                             : tr("Deleted %1 runs.").arg(deleted),
                false);
  }
}

void RunsPage::showSelectedFolder() {
  const QStringList dirs = selectedRunDirs();
  if (dirs.isEmpty()) return;
  const QString dir = dirs.first();
  if (!QFileInfo(dir).isDir()) {
    reportError(tr("The run folder %1 no longer exists.").arg(QDir::toNativeSeparators(dir)));
    return;
  }
  if (!QDesktopServices::openUrl(QUrl::fromLocalFile(dir)))
    reportError(tr("Cannot open %1 in the file manager.").arg(QDir::toNativeSeparators(dir)));
}

void RunsPage::exportSelected() {
  const QStringList dirs = selectedRunDirs();
  if (dirs.size() != 1) return;
  if (export_dialog_ && export_dialog_->runDir() == dirs.first()) {
    export_dialog_->raise();
    export_dialog_->activateWindow();
    return;
  }
  if (export_dialog_ && export_dialog_->busy()) {
    reportError(tr("An export is still running; wait for it or cancel it first."));
    export_dialog_->raise();
    return;
  }
  if (export_dialog_) export_dialog_->close();
  export_dialog_ = new ExportDialog(dirs.first(), this);
  export_dialog_->setAttribute(Qt::WA_DeleteOnClose);
  export_dialog_->setModal(false);
  export_dialog_->show();
}

ExportDialog* RunsPage::exportDialog() const { return export_dialog_.data(); }

void RunsPage::updateButtons() {
  const QStringList dirs = selectedRunDirs();
  open_button_->setEnabled(!dirs.isEmpty());
  delete_button_->setEnabled(!dirs.isEmpty());
  show_folder_button_->setEnabled(!dirs.isEmpty());
  const bool exportable = dirs.size() == 1 && QFileInfo::exists(dirs.first() + QStringLiteral("/checkpoints/last.pt"));
  export_button_->setEnabled(exportable);
  export_button_->setToolTip(exportable ? tr("Export the selected run's encoder as safetensors or ONNX, with a model card")
                                        : tr("Select one run that has a checkpoint to export it"));

  bool resumable = false;
  QString why = tr("Select one cancelled, interrupted, failed or paused run that has a checkpoint to resume it");
  if (dirs.size() == 1) {
    const int row = sourceRowOfPath(dirs.first());
    const QString status = row >= 0 ? model_->item(row, NameColumn)->data(kStatusRole).toString() : QString();
    if (!isResumableStatus(status)) {
      why = tr("A %1 run cannot be resumed").arg(status);
    } else if (!QFileInfo::exists(dirs.first() + QStringLiteral("/checkpoints/last.pt"))) {
      why = tr("This run saved no checkpoint to resume from");
    } else {
      resumable = true;
      why = tr("Continue training the selected run from its last checkpoint");
    }
  }
  resume_button_->setEnabled(resumable);
  resume_button_->setToolTip(why);

  const int shown = proxy_->rowCount();
  const int total = model_->rowCount();
  if (shown != total)
    count_label_->setText(tr("%1 of %2 runs").arg(shown).arg(total));
  else
    count_label_->setText(total == 1 ? tr("1 run") : tr("%1 runs").arg(total));
}

void RunsPage::updatePlaceholder() {
  QString text;
  if (model_->rowCount() == 0) {
    if (!index_error_.isEmpty() || (!runs_dir_.isEmpty() && !index_))
      text = tr("The runs in %1 cannot be read. See the message above.").arg(QDir::toNativeSeparators(runs_dir_));
    else
      text = tr(kEmptyText);
  } else if (proxy_->rowCount() == 0) {
    text = tr("No runs match “%1”.").arg(proxy_->filterText());
  }
  placeholder_->setText(text);
  const bool show_table = text.isEmpty();
  const bool table_had_focus = table_->hasFocus();
  view_stack_->setCurrentWidget(show_table ? static_cast<QWidget*>(table_) : placeholder_);
  if (!show_table && table_had_focus) filter_->setFocus();
}

QString RunsPage::placeholderText() const {
  return view_stack_->currentWidget() == placeholder_ ? placeholder_->text() : QString();
}

bool RunsPage::eventFilter(QObject* watched, QEvent* event) {
  if (watched == table_ && (event->type() == QEvent::ShortcutOverride || event->type() == QEvent::KeyPress)) {
    auto* key = static_cast<QKeyEvent*>(event);
    const bool plain = (key->modifiers() & ~Qt::KeypadModifier) == Qt::NoModifier;
    const bool open = plain && (key->key() == Qt::Key_Return || key->key() == Qt::Key_Enter);
    const bool del = plain && (key->key() == Qt::Key_Delete || key->matches(QKeySequence::Delete));
    if (open || del) {
      // Claim the keys from window-wide shortcuts while the table has focus.
      event->accept();
      if (event->type() == QEvent::KeyPress) {
        if (open) openSelected();
        else deleteSelected();
      }
      return true;
    }
  }
  return QWidget::eventFilter(watched, event);
}

void RunsPage::showEvent(QShowEvent* event) {
  QWidget::showEvent(event);
  poll_timer_->start();
  scheduleRefresh();  // catch up on what happened while hidden
}

void RunsPage::hideEvent(QHideEvent* event) {
  QWidget::hideEvent(event);
  poll_timer_->stop();
}

// --- messages ---------------------------------------------------------------------------

void RunsPage::showMessage(const QString& message, bool error) {
  const QStyle::StandardPixmap icon = error ? QStyle::SP_MessageBoxWarning : QStyle::SP_MessageBoxInformation;
  const int size = style()->pixelMetric(QStyle::PM_SmallIconSize, nullptr, this);
  banner_icon_->setPixmap(style()->standardIcon(icon, nullptr, this).pixmap(size, size));
  banner_text_->setText(message);
  banner_->show();
}

void RunsPage::clearMessage() {
  banner_text_->clear();
  banner_->hide();
}

QString RunsPage::messageText() const { return banner_->isHidden() ? QString() : banner_text_->text(); }

void RunsPage::reportError(const QString& message) {
  showMessage(message, true);
  Q_EMIT errorOccurred(message);
}

void RunsPage::reportIndexError(const QString& message) {
  // The poll would repeat the same failure every few seconds: say it once.
  if (message == index_error_) return;
  index_error_ = message;
  reportError(message);
}

QIcon RunsPage::statusIcon(const QString& status) {
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

// --- details of the selection -----------------------------------------------------------

void RunsPage::onSelectionChanged() {
  updateButtons();
  details_timer_->start();
}

bool RunsPage::detailsPending() const { return details_in_flight_ || details_timer_->isActive(); }

QString RunsPage::metricsSignature(const QStringList& dirs) const {
  QStringList parts;
  for (const QString& dir : dirs) {
    const QFileInfo metrics(dir + QStringLiteral("/metrics.jsonl"));
    const QFileInfo config(dir + QStringLiteral("/config.json"));
    parts << QStringLiteral("%1:%2:%3:%4")
                 .arg(metrics.size())
                 .arg(metrics.lastModified().toMSecsSinceEpoch())
                 .arg(config.size())
                 .arg(config.lastModified().toMSecsSinceEpoch());
  }
  return parts.join(QLatin1Char('|'));
}

void RunsPage::requestDetails() {
  details_timer_->stop();
  const QStringList all = selectedRunDirs();
  const QStringList dirs = all.mid(0, kMaxOverlaidRuns);
  if (dirs.isEmpty()) {
    ++details_generation_;  // a load still running is of no interest any more
    details_in_flight_ = false;
    clearDetails();
    Q_EMIT detailsUpdated();
    return;
  }

  struct Input {
    QString dir, id, name;
  };
  std::vector<Input> inputs;
  for (const QString& dir : dirs) {
    const int row = sourceRowOfPath(dir);
    const QStandardItem* item = row >= 0 ? model_->item(row, NameColumn) : nullptr;
    inputs.push_back({dir, item ? item->data(kIdRole).toString() : QFileInfo(dir).fileName(),
                      item ? item->text() : QFileInfo(dir).fileName()});
  }
  const uint64_t generation = ++details_generation_;
  const QString signature = metricsSignature(dirs);
  details_in_flight_ = true;

  // Metrics files of long runs hold tens of thousands of lines: parse them off the GUI thread.
  runInBackground<Details>(
      this,
      [inputs, dirs, generation, signature](TaskControl& control) {
        Details details;
        details.generation = generation;
        details.dirs = dirs;
        details.signature = signature;
        for (const Input& input : inputs) {
          if (control.cancelled()) break;
          LoadedRun run;
          run.dir = input.dir;
          run.id = input.id;
          run.name = input.name;
          const std::string path = (input.dir + QStringLiteral("/metrics.jsonl")).toStdString();
          try {
            run.curves.add(readMetricsFile(path));
          } catch (const std::exception& e) {
            run.error = tr("Cannot read %1: %2").arg(QString::fromStdString(path), QString::fromStdString(e.what()));
          }
          details.runs.push_back(std::move(run));
        }

        details.config_dir = dirs.first();
        const QString config_path = dirs.first() + QStringLiteral("/config.json");
        QFile file(config_path);
        if (!file.exists()) {
          details.config_error = tr("No config.json in %1").arg(QDir::toNativeSeparators(dirs.first()));
        } else if (!file.open(QIODevice::ReadOnly)) {
          details.config_error =
              tr("Cannot read %1: %2").arg(QDir::toNativeSeparators(config_path), file.errorString());
          details.config_unreadable = true;
        } else {
          details.config_text = QString::fromUtf8(file.read(kMaxConfigBytes));
          if (!file.atEnd()) details.config_text += tr("\n… (truncated)");
        }
        return details;
      },
      [this](Details details) {
        if (details.generation != details_generation_) return;  // the selection moved on
        details_in_flight_ = false;
        showDetails(details);
      },
      [this, generation](const QString& message, bool) {
        if (generation != details_generation_) return;
        details_in_flight_ = false;
        reportError(tr("Cannot load the selected runs' curves: %1").arg(message));
      });
}

void RunsPage::clearDetails() {
  for (const QString& key : shown_dirs_) {
    loss_plot_->removeSeries(key);
    knn_plot_->removeSeries(key);
  }
  if (knn_plot_->hasReferenceLine(kRawPixelsKey)) knn_plot_->removeSeries(kRawPixelsKey);
  shown_dirs_.clear();
  shown_loss_points_.clear();
  shown_knn_points_.clear();
  shown_signature_.clear();
  shown_config_dir_.clear();
  config_view_->clear();
  details_hint_->setText(tr("Select a run to see its curves and configuration; select several to overlay their curves."));
}

void RunsPage::showDetails(const Details& details) {
  // A reload of the same runs only appends what is new, so the user's zoom survives while a
  // run trains. A shrunk file (a resumed run drops the steps after its checkpoint) or a
  // different selection redraws from scratch.
  bool rebuild = details.dirs != shown_dirs_;
  for (const LoadedRun& run : details.runs) {
    if (run.curves.step.size() < shown_loss_points_.value(run.dir) ||
        run.curves.knn_step.size() < shown_knn_points_.value(run.dir))
      rebuild = true;
  }
  if (rebuild) {
    clearDetails();
    QHash<QString, int> name_count;
    for (const LoadedRun& run : details.runs) ++name_count[run.name];
    int i = 0;
    for (const LoadedRun& run : details.runs) {
      // Default names repeat ("experiment"): tell such runs apart by their folder.
      const QString label = name_count.value(run.name) > 1 ? QStringLiteral("%1 (%2)").arg(run.name, run.id) : run.name;
      const QColor color = runColor(i++);
      loss_plot_->addSeries(run.dir, label, color, SeriesStyle::Line);
      knn_plot_->addSeries(run.dir, label, color, SeriesStyle::Line);
    }
    shown_dirs_ = details.dirs;
    loss_plot_->resetView();
    knn_plot_->resetView();
  }

  QStringList errors;
  if (details.config_unreadable) errors << details.config_error;
  for (const LoadedRun& run : details.runs) {
    if (!run.error.isEmpty()) errors << run.error;
    const int loss_done = shown_loss_points_.value(run.dir);
    if (run.curves.step.size() > loss_done)
      loss_plot_->appendPoints(run.dir, run.curves.step.mid(loss_done), run.curves.loss.mid(loss_done));
    shown_loss_points_[run.dir] = static_cast<int>(run.curves.step.size());
    const int knn_done = shown_knn_points_.value(run.dir);
    if (run.curves.knn_step.size() > knn_done)
      knn_plot_->appendPoints(run.dir, run.curves.knn_step.mid(knn_done), run.curves.knn_percent.mid(knn_done));
    shown_knn_points_[run.dir] = static_cast<int>(run.curves.knn_step.size());
  }
  // The raw-pixel baseline belongs to one dataset: show it when one run is shown.
  if (details.runs.size() == 1 && details.runs.front().curves.raw_pixel_knn_percent >= 0) {
    knn_plot_->setReferenceLine(kRawPixelsKey, tr("raw pixels"), details.runs.front().curves.raw_pixel_knn_percent,
                                QColor(127, 127, 127));
  } else if (knn_plot_->hasReferenceLine(kRawPixelsKey)) {
    knn_plot_->removeSeries(kRawPixelsKey);
  }
  shown_signature_ = details.signature;

  const QString config = details.config_error.isEmpty() ? details.config_text : details.config_error;
  if (details.config_dir != shown_config_dir_ || config_view_->toPlainText() != config) {
    config_view_->setPlainText(config);
    shown_config_dir_ = details.config_dir;
  }

  const int selected = selectedRunDirs().size();
  QString hint;
  if (selected > kMaxOverlaidRuns)
    hint = tr("Showing the curves of the first %1 of %2 selected runs.").arg(kMaxOverlaidRuns).arg(selected);
  else if (details.runs.size() == 1)
    hint = tr("Curves of \"%1\". Select several runs to overlay their curves.").arg(details.runs.front().name);
  else
    hint = tr("%1 runs overlaid, one colour each.").arg(details.runs.size());
  details_hint_->setText(hint);

  if (!errors.isEmpty()) {
    const QString message = errors.join(QLatin1Char('\n'));
    // Re-reads of a growing run would repeat it: report each distinct problem once.
    if (message != last_details_error_) {
      last_details_error_ = message;
      reportError(message);
    }
  } else {
    last_details_error_.clear();
  }
  Q_EMIT detailsUpdated();
}

}  // namespace studio
