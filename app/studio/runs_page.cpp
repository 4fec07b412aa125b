#include "app/studio/runs_page.h"

#include <algorithm>
#include <exception>
#include <filesystem>
#include <system_error>
#include <utility>
#include <vector>

#include <QDesktopServices>
#include <QDir>
#include <QFileInfo>
#include <QFileSystemWatcher>
#include <QFrame>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QKeyEvent>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QShortcut>
#include <QSplitter>
#include <QStackedWidget>
#include <QStandardItem>
#include <QStyle>
#include <QTableView>
#include <QTimer>
#include <QToolButton>
#include <QUrl>
#include <QVBoxLayout>

#include "app/studio/export_dialog.h"
#include "core/runs/run_index.h"

namespace studio {

namespace {

constexpr int kDetailsDelayMs = 120;  // a drag across rows loads the curves once

const char kEmptyText[] = QT_TRANSLATE_NOOP("studio::RunsPage",
                                            "No runs yet. Start one on the Training page, or with contrastive-cli train.");

// Statuses from which the trainer can pick a run up again from its last checkpoint.
bool isResumableStatus(const QString& status) {
  return status == QLatin1String("cancelled") || status == QLatin1String("interrupted") ||
         status == QLatin1String("failed") || status == QLatin1String("paused");
}

}  // namespace

RunsPage::RunsPage(QWidget* parent) : QWidget(parent) {
  model_ = new RunsTableModel(this);
  proxy_ = new RunFilterProxy(model_, this);

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

  buildUi();  // the details panel starts cleared
  updateButtons();
  updatePlaceholder();
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
    const QString dir = proxy_->index(index.row(), NameColumn).data(RunsTableModel::kPathRole).toString();
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
  details_ = new RunDetailsPanel(this);
  connect(details_, &RunDetailsPanel::updated, this, &RunsPage::detailsUpdated);
  connect(details_, &RunDetailsPanel::errorOccurred, this, &RunsPage::reportError);

  splitter_ = new QSplitter(Qt::Vertical, this);
  splitter_->addWidget(top);
  splitter_->addWidget(details_);
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
  setTabOrder(export_button_, details_->configView());
}

// --- the index ------------------------------------------------------------------------

void RunsPage::setRunsDir(const QString& dir) {
  runs_dir_ = RunsTableModel::cleanDir(dir);
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
  model_->applyRecords(records);
  updatePlaceholder();
  updateButtons();

  // A selected run that is still training grows its metrics file: follow it.
  if (!details_->loading() && !details_timer_->isActive() && !details_->shownDirs().isEmpty()) {
    const QStringList dirs = selectedRunDirs().mid(0, kMaxOverlaidRuns);
    if (details_->outdated(dirs)) requestDetails();
  }
}

int RunsPage::runCount() const { return model_->rowCount(); }

QTableView* RunsPage::table() const { return table_; }

QStringList RunsPage::selectedRunDirs() const {
  QModelIndexList rows = table_->selectionModel()->selectedRows(NameColumn);
  std::sort(rows.begin(), rows.end(), [](const QModelIndex& a, const QModelIndex& b) { return a.row() < b.row(); });
  QStringList dirs;
  for (const QModelIndex& index : rows) dirs << index.data(RunsTableModel::kPathRole).toString();
  return dirs;
}

QStringList RunsPage::selectedRunIds() const {
  QStringList ids;
  for (const QString& dir : selectedRunDirs()) {
    const int row = model_->rowOfPath(dir);
    if (row >= 0) ids << model_->item(row, NameColumn)->data(RunsTableModel::kIdRole).toString();
  }
  return ids;
}

void RunsPage::selectRun(const QString& run_dir) {
  int row = model_->rowOfPath(run_dir);
  if (row < 0) {
    refresh();  // a run the caller just started may not have been read yet
    row = model_->rowOfPath(run_dir);
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
    dir = proxy_->index(current.row(), NameColumn).data(RunsTableModel::kPathRole).toString();
  Q_EMIT openRunRequested(dir);
}

void RunsPage::resumeSelected() {
  const QStringList dirs = selectedRunDirs();
  if (dirs.size() != 1) return;
  const int row = model_->rowOfPath(dirs.first());
  if (row < 0) return;
  const QString status = model_->item(row, NameColumn)->data(RunsTableModel::kStatusRole).toString();
  if (!isResumableStatus(status) || !QFileInfo::exists(dirs.first() + QStringLiteral("/checkpoints/last.pt"))) return;
  Q_EMIT resumeRunRequested(dirs.first());
}

void RunsPage::deleteSelected() {
  struct Target {
    QString dir, id, name, status;
  };
  std::vector<Target> targets;
  for (const QString& dir : selectedRunDirs()) {
    const int row = model_->rowOfPath(dir);
    if (row < 0) continue;
    const QStandardItem* item = model_->item(row, NameColumn);
    targets.push_back({dir, item->data(RunsTableModel::kIdRole).toString(), item->text(),
                       item->data(RunsTableModel::kStatusRole).toString()});
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
    const QString root = RunsTableModel::cleanDir(runs_dir_);
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
    const int row = model_->rowOfPath(dirs.first());
    const QString status =
        row >= 0 ? model_->item(row, NameColumn)->data(RunsTableModel::kStatusRole).toString() : QString();
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

// --- details of the selection -----------------------------------------------------------

void RunsPage::onSelectionChanged() {
  updateButtons();
  details_timer_->start();
}

bool RunsPage::detailsPending() const { return details_->loading() || details_timer_->isActive(); }

void RunsPage::requestDetails() {
  details_timer_->stop();
  const QStringList all = selectedRunDirs();
  const QStringList dirs = all.mid(0, kMaxOverlaidRuns);
  // The panel loads what it is given; no runs clears it.
  std::vector<RunDetailsPanel::Run> runs;
  for (const QString& dir : dirs) {
    const int row = model_->rowOfPath(dir);
    const QStandardItem* item = row >= 0 ? model_->item(row, NameColumn) : nullptr;
    const QStandardItem* method = row >= 0 ? model_->item(row, MethodColumn) : nullptr;
    runs.push_back({dir, item ? item->data(RunsTableModel::kIdRole).toString() : QFileInfo(dir).fileName(),
                    item ? item->text() : QFileInfo(dir).fileName(), method ? method->text() : QString()});
  }
  details_->showRuns(runs, static_cast<int>(all.size()));
}

}  // namespace studio
