#include "widgets/dataset_browser.h"

#include <algorithm>

#include <QComboBox>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QListView>
#include <QLocale>
#include <QSignalBlocker>
#include <QSlider>
#include <QSplitter>
#include <QStackedWidget>
#include <QScrollBar>
#include <QTableWidget>
#include <QTreeWidget>
#include <QVBoxLayout>

#include "widgets/image_grid_model.h"

namespace studio {
namespace {

constexpr int kMinThumbnailSide = 24;
constexpr int kMaxThumbnailSide = 192;
constexpr int kCellPadding = 6;  // between thumbnails, so that the current one's frame shows
// Rows laid out per batch: big enough that the scroll range settles quickly for 100,000
// images, small enough that each step stays well under a frame.
constexpr int kLayoutBatch = 2000;

QString number(int64_t n) { return QLocale().toString(static_cast<qlonglong>(n)); }

}  // namespace

DatasetBrowser::DatasetBrowser(QWidget* parent) : QWidget(parent), model_(new ImageGridModel(this)) {
  class_filter_ = new QComboBox(this);
  class_filter_->setObjectName(QStringLiteral("classFilter"));
  class_filter_->setSizeAdjustPolicy(QComboBox::AdjustToContents);
  // Never narrower than its text ("All classes (6" on a small screen): the layout takes the
  // room from the stretch beside it instead.
  class_filter_->setSizePolicy(QSizePolicy::Minimum, QSizePolicy::Fixed);
  class_filter_->setToolTip(
      tr("Which images the grid shows: all, one class, the unlabeled ones, or a selection "
         "made elsewhere (for example a lasso in the embedding map)."));
  auto* filter_label = new QLabel(tr("S&how:"), this);
  filter_label->setBuddy(class_filter_);

  size_slider_ = new QSlider(Qt::Horizontal, this);
  size_slider_->setObjectName(QStringLiteral("thumbnailSize"));
  size_slider_->setRange(kMinThumbnailSide, kMaxThumbnailSide);
  size_slider_->setSingleStep(8);
  size_slider_->setPageStep(32);
  size_slider_->setValue(ImageGridModel::kDefaultThumbnailSide);
  size_slider_->setMinimumWidth(80);  // a squeezed slider renders as a bare handle
  size_slider_->setMaximumWidth(160);
  size_slider_->setToolTip(
      tr("Thumbnail size in pixels. Small images are enlarged without smoothing, so each "
         "pixel stays visible."));
  auto* size_label = new QLabel(tr("Thumbnail si&ze:"), this);
  size_label->setBuddy(size_slider_);

  totals_ = new QLabel(this);
  totals_->setObjectName(QStringLiteral("totalsLabel"));
  totals_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  totals_->setWordWrap(true);  // wraps in a narrow pane instead of squeezing the controls

  auto* bar = new QHBoxLayout;
  bar->addWidget(filter_label);
  bar->addWidget(class_filter_);
  bar->addSpacing(12);
  bar->addWidget(size_label);
  bar->addWidget(size_slider_);
  bar->addStretch(1);

  view_ = new QListView(this);
  view_->setObjectName(QStringLiteral("imageGrid"));
  view_->setViewMode(QListView::IconMode);
  view_->setMovement(QListView::Static);
  view_->setResizeMode(QListView::Adjust);
  view_->setWrapping(true);
  view_->setUniformItemSizes(true);
  view_->setLayoutMode(QListView::Batched);
  view_->setBatchSize(kLayoutBatch);
  view_->setSelectionMode(QAbstractItemView::SingleSelection);
  view_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  view_->setVerticalScrollMode(QAbstractItemView::ScrollPerPixel);
  view_->setModel(model_);

  placeholder_ = new QLabel(tr("No dataset loaded"), this);
  placeholder_->setObjectName(QStringLiteral("placeholder"));
  placeholder_->setAlignment(Qt::AlignCenter);
  placeholder_->setWordWrap(true);
  placeholder_->setForegroundRole(QPalette::PlaceholderText);
  placeholder_->setAutoFillBackground(true);
  placeholder_->setBackgroundRole(QPalette::Base);

  grid_stack_ = new QStackedWidget(this);
  grid_stack_->addWidget(placeholder_);
  grid_stack_->addWidget(view_);

  counts_ = new QTableWidget(0, 3, this);
  counts_->setObjectName(QStringLiteral("classCounts"));
  counts_->setHorizontalHeaderLabels({tr("Class"), tr("Images"), tr("Share")});
  counts_->verticalHeader()->hide();
  counts_->setWordWrap(false);  // one line per class: "T-shirt/top" must not break at the slash
  counts_->setTextElideMode(Qt::ElideMiddle);
  counts_->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
  counts_->horizontalHeader()->setSectionResizeMode(1, QHeaderView::ResizeToContents);
  counts_->horizontalHeader()->setSectionResizeMode(2, QHeaderView::ResizeToContents);
  counts_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  counts_->setSelectionBehavior(QAbstractItemView::SelectRows);
  counts_->setSelectionMode(QAbstractItemView::SingleSelection);
  counts_->setToolTip(
      tr("Images per class. A strongly unbalanced set skews the kNN monitor towards the large "
         "classes. Double-click a row to show that class."));

  skipped_ = new QTreeWidget(this);
  skipped_->setObjectName(QStringLiteral("skippedFiles"));
  skipped_->setColumnCount(2);
  skipped_->setRootIsDecorated(false);
  skipped_->setUniformRowHeights(true);
  skipped_->setHeaderLabels({tr("File"), tr("Reason")});
  skipped_->setToolTip(tr("Files the import could not use, with the reason for each."));
  skipped_box_ = new QGroupBox(tr("Skipped files"), this);
  auto* skipped_layout = new QVBoxLayout(skipped_box_);
  skipped_layout->setContentsMargins(0, 0, 0, 0);
  skipped_layout->addWidget(skipped_);
  skipped_box_->hide();

  auto* side = new QSplitter(Qt::Vertical, this);
  side->addWidget(counts_);
  side->addWidget(skipped_box_);
  side->setChildrenCollapsible(false);

  auto* split = new QSplitter(Qt::Horizontal, this);
  split->addWidget(grid_stack_);
  split->addWidget(side);
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 1);
  split->setChildrenCollapsible(false);

  // The totals on a line of their own: beside the controls they made the page too wide for
  // a 1024-pixel screen.
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(bar);
  layout->addWidget(totals_);
  layout->addWidget(split, 1);

  connect(class_filter_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] { applyComboFilter(); });
  connect(size_slider_, &QSlider::valueChanged, this, [this](int side_px) { applyThumbnailSide(side_px); });
  connect(view_, &QListView::activated, this, [this](const QModelIndex& index) {
    const int64_t image = model_->imageIndex(index.row());
    if (image >= 0) Q_EMIT imageActivated(image);
  });
  connect(view_->selectionModel(), &QItemSelectionModel::currentChanged, this, [this] { emitCurrentIfChanged(); });
  connect(counts_, &QTableWidget::cellActivated, this, [this](int row, int) {
    if (const QTableWidgetItem* item = counts_->item(row, 0)) showClass(item->data(Qt::UserRole).toInt());
  });

  applyThumbnailSide(size_slider_->value());
  setImages(ImageTable{}, QString());
}

void DatasetBrowser::setImages(const ImageTable& images, const QString& dataset_name) {
  images_ = images;
  dataset_name_ = dataset_name;
  selection_.clear();
  selection_description_.clear();

  int64_t classes = static_cast<int64_t>(images_.class_names.size());
  unlabeled_count_ = 0;
  if (!images_.labels.empty()) {
    for (int64_t i = 0; i < images_.count; ++i) classes = std::max(classes, images_.label(i) + 1);
  }
  class_counts_.assign(static_cast<size_t>(classes), 0);
  for (int64_t i = 0; i < images_.count; ++i) {
    const int64_t label = images_.label(i);
    if (label < 0)
      ++unlabeled_count_;
    else
      ++class_counts_[static_cast<size_t>(label)];
  }

  const int64_t previous = last_current_;
  model_->setImages(images_);
  rebuildClassFilter();
  {
    const QSignalBlocker block(class_filter_);
    class_filter_->setCurrentIndex(0);  // a new set starts unfiltered, as the model does
  }
  rebuildCountsTable();
  updateTotals();
  updatePlaceholder();
  class_filter_->setEnabled(!images_.empty());
  size_slider_->setEnabled(!images_.empty());
  // The old current image belongs to the old table: report that nothing is current now.
  last_current_ = -1;
  if (previous != -1) Q_EMIT currentImageChanged(-1);
}

void DatasetBrowser::setSkippedFiles(const QVector<QPair<QString, QString>>& file_and_reason) {
  skipped_->clear();
  QList<QTreeWidgetItem*> items;
  items.reserve(file_and_reason.size());
  for (const auto& [file, reason] : file_and_reason) {
    auto* item = new QTreeWidgetItem({file, reason});
    item->setToolTip(0, file);
    item->setToolTip(1, reason);
    items.append(item);
  }
  skipped_->addTopLevelItems(items);
  const QString count = number(file_and_reason.size());
  skipped_->setHeaderLabels({tr("File (%1 skipped)").arg(count), tr("Reason")});
  skipped_box_->setTitle(tr("Skipped files (%1)").arg(count));
  skipped_->resizeColumnToContents(0);
  skipped_box_->setVisible(!file_and_reason.isEmpty());
}

void DatasetBrowser::showClass(int label) {
  int row = class_filter_->findData(label);
  if (row < 0) row = class_filter_->findData(kAllClasses);  // a label the set does not have: all
  const QSignalBlocker block(class_filter_);
  class_filter_->setCurrentIndex(row);
  applyComboFilter();
}

void DatasetBrowser::showIndices(const std::vector<int64_t>& indices, const QString& description) {
  selection_ = indices;
  selection_description_ = description;
  const QSignalBlocker block(class_filter_);
  rebuildClassFilter();
  class_filter_->setCurrentIndex(class_filter_->findData(kSelection));
  applyComboFilter();
}

int DatasetBrowser::visibleCount() const { return model_->rowCount(); }

int64_t DatasetBrowser::currentImageIndex() const {
  const QModelIndex current = view_->currentIndex();
  return current.isValid() ? model_->imageIndex(current.row()) : -1;
}

void DatasetBrowser::rebuildClassFilter() {
  const QSignalBlocker block(class_filter_);
  const QVariant previous = class_filter_->currentData();
  class_filter_->clear();
  if (images_.empty()) {
    class_filter_->addItem(tr("All classes (0)"), kAllClasses);
  } else {
    class_filter_->addItem(tr("All classes (%1)").arg(number(images_.count)), kAllClasses);
    for (size_t c = 0; c < class_counts_.size(); ++c)
      class_filter_->addItem(
          QStringLiteral("%1 (%2)").arg(model_->className(static_cast<int64_t>(c)), number(class_counts_[c])),
          static_cast<int>(c));
    if (unlabeled_count_ > 0) class_filter_->addItem(tr("Unlabeled (%1)").arg(number(unlabeled_count_)), kUnlabeled);
  }
  if (!selection_.empty() || !selection_description_.isEmpty()) {
    class_filter_->addItem(tr("Selection (%1)").arg(number(static_cast<int64_t>(selection_.size()))), kSelection);
    class_filter_->setItemData(class_filter_->count() - 1, selection_description_, Qt::ToolTipRole);
  }
  const int keep = class_filter_->findData(previous);
  class_filter_->setCurrentIndex(keep >= 0 ? keep : 0);
}

void DatasetBrowser::rebuildCountsTable() {
  counts_->setRowCount(0);
  if (images_.empty()) return;
  const auto addRow = [this](const QString& name, int64_t count, int filter) {
    const int row = counts_->rowCount();
    counts_->insertRow(row);
    auto* name_item = new QTableWidgetItem(name);
    name_item->setData(Qt::UserRole, filter);
    auto* count_item = new QTableWidgetItem(number(count));
    count_item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    const double share = 100.0 * static_cast<double>(count) / static_cast<double>(images_.count);
    auto* share_item = new QTableWidgetItem(QStringLiteral("%1 %").arg(QLocale().toString(share, 'f', 1)));
    share_item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    counts_->setItem(row, 0, name_item);
    counts_->setItem(row, 1, count_item);
    counts_->setItem(row, 2, share_item);
  };
  for (size_t c = 0; c < class_counts_.size(); ++c)
    addRow(model_->className(static_cast<int64_t>(c)), class_counts_[c], static_cast<int>(c));
  if (unlabeled_count_ > 0) addRow(tr("Unlabeled"), unlabeled_count_, kUnlabeled);
  fitCountsTable();
}

void DatasetBrowser::fitCountsTable() {
  // The pane is as wide as the longest class name and the counts need, so the splitter
  // cannot squeeze names into "Pullo..." on a small screen; an imported folder's very long
  // names are the exception: past kMaxCountsWidth they elide, and the tooltip says them whole.
  constexpr int kMaxCountsWidth = 360;
  QHeaderView* header = counts_->horizontalHeader();
  const QAbstractItemView* view = counts_;  // QTableView hides the public sizeHintForColumn
  int width = 2 * counts_->frameWidth() + counts_->verticalScrollBar()->sizeHint().width();
  for (int column = 0; column < counts_->columnCount(); ++column)
    width += std::max(view->sizeHintForColumn(column), header->sectionSizeHint(column));
  for (int row = 0; row < counts_->rowCount(); ++row)
    if (QTableWidgetItem* item = counts_->item(row, 0)) item->setToolTip(item->text());
  counts_->setMinimumWidth(std::min(width, kMaxCountsWidth));
}

void DatasetBrowser::applyComboFilter() {
  const int64_t current = currentImageIndex();
  const int filter = class_filter_->currentData().isValid() ? class_filter_->currentData().toInt() : kAllClasses;
  if (filter == kAllClasses)
    model_->clearFilter();
  else if (filter == kSelection)
    model_->setFilter(selection_);
  else
    model_->setFilter(indicesOfLabel(filter == kUnlabeled ? -1 : filter));
  restoreCurrent(current);
  updateTotals();
  updatePlaceholder();
  emitCurrentIfChanged();
}

void DatasetBrowser::applyThumbnailSide(int side) {
  model_->setThumbnailSide(side);
  view_->setIconSize(QSize(side, side));
  view_->setGridSize(QSize(side + kCellPadding, side + kCellPadding));
}

void DatasetBrowser::updateTotals() {
  if (images_.empty()) {
    totals_->clear();
    return;
  }
  const QString kind = images_.channels == 1 ? tr("grayscale") : tr("colour");
  QString text = tr("%1 images \u00b7 %2 classes \u00b7 %3\u00d7%4 %5")
                     .arg(number(images_.count))
                     .arg(class_counts_.size())
                     .arg(images_.width)
                     .arg(images_.height)
                     .arg(kind);
  if (!dataset_name_.isEmpty()) text = dataset_name_ + QStringLiteral(": ") + text;
  if (model_->isFiltered()) text += tr(" \u00b7 showing %1").arg(number(model_->rowCount()));
  totals_->setText(text);
}

void DatasetBrowser::updatePlaceholder() {
  if (images_.empty())
    placeholder_->setText(tr("No dataset loaded"));
  else if (model_->rowCount() == 0)
    placeholder_->setText(tr("No images match this filter"));
  const bool show_grid = model_->rowCount() > 0;
  grid_stack_->setCurrentWidget(show_grid ? static_cast<QWidget*>(view_) : placeholder_);
}

void DatasetBrowser::restoreCurrent(int64_t image) {
  // Keep the same image current across filter changes when it is still shown.
  const int row = model_->rowOfImage(image);
  if (row < 0) return;
  const QModelIndex index = model_->index(row);
  view_->selectionModel()->setCurrentIndex(index, QItemSelectionModel::ClearAndSelect);
  view_->scrollTo(index);
}

void DatasetBrowser::emitCurrentIfChanged() {
  const int64_t current = currentImageIndex();
  if (current == last_current_) return;
  last_current_ = current;
  Q_EMIT currentImageChanged(current);
}

std::vector<int64_t> DatasetBrowser::indicesOfLabel(int64_t label) const {
  std::vector<int64_t> out;
  if (label >= 0 && static_cast<size_t>(label) < class_counts_.size())
    out.reserve(static_cast<size_t>(class_counts_[static_cast<size_t>(label)]));
  else if (label < 0)
    out.reserve(static_cast<size_t>(unlabeled_count_));
  for (int64_t i = 0; i < images_.count; ++i)
    if (images_.label(i) == label) out.push_back(i);
  return out;
}

}  // namespace studio
