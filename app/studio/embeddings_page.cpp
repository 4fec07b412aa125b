#include "app/studio/embeddings_page.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QProgressBar>
#include <QPushButton>
#include <QSplitter>
#include <QThread>
#include <QVBoxLayout>

#include "widgets/dataset_browser.h"
#include "widgets/embedding_scatter.h"
#include "widgets/qimage_convert.h"

namespace studio {

namespace {

constexpr int kNeighbours = 12;

QVector<QPointF> toPoints(const std::vector<float>& xy) {
  QVector<QPointF> points(static_cast<int>(xy.size() / 2));
  for (int i = 0; i < points.size(); ++i) points[i] = QPointF(xy[2 * size_t(i)], xy[2 * size_t(i) + 1]);
  return points;
}

bool sameImages(const SnapshotPtr& a, const SnapshotPtr& b) {
  return a && b && a->rows == b->rows && a->images.pixels == b->images.pixels;
}

}  // namespace

EmbeddingsPage::EmbeddingsPage(QWidget* parent) : QWidget(parent) {
  scatter_ = new EmbeddingScatter;
  scatter_->setPlaceholderText(tr("No embeddings yet: they appear after the first evaluation of a run, "
                                  "or open a run on the Runs page."));
  grid_ = new DatasetBrowser;
  neighbours_ = new QListWidget;
  neighbours_->setViewMode(QListView::IconMode);
  neighbours_->setFlow(QListView::LeftToRight);
  neighbours_->setWrapping(false);
  neighbours_->setIconSize(QSize(64, 64));
  neighbours_->setFixedHeight(118);
  neighbours_->setAccessibleName(tr("Nearest neighbours"));
  neighbour_title_ = new QLabel(tr("Click a point to see its nearest neighbours in embedding space."));

  method_ = new QComboBox;
  method_->addItem(tr("t-SNE"), QStringLiteral("tsne"));
  method_->addItem(tr("PCA (instant)"), QStringLiteral("pca"));
  perplexity_ = new QDoubleSpinBox;
  perplexity_->setRange(2.0, 200.0);
  perplexity_->setValue(30.0);
  perplexity_->setToolTip(tr("Roughly how many neighbours each point keeps close: 30 suits a few thousand points."));
  recompute_ = new QPushButton(tr("Re&compute"));
  cancel_ = new QPushButton(tr("Cancel"));
  cancel_->setEnabled(false);
  progress_ = new QProgressBar;
  progress_->setRange(0, 1);
  progress_->setValue(0);
  progress_->setTextVisible(false);
  progress_->setMaximumWidth(160);
  status_ = new QLabel;
  status_->setWordWrap(true);

  auto* bar = new QHBoxLayout;
  auto* method_label = new QLabel(tr("&Layout"));
  method_label->setBuddy(method_);
  auto* perp_label = new QLabel(tr("&Perplexity"));
  perp_label->setBuddy(perplexity_);
  bar->addWidget(method_label);
  bar->addWidget(method_);
  bar->addWidget(perp_label);
  bar->addWidget(perplexity_);
  bar->addWidget(recompute_);
  bar->addWidget(cancel_);
  bar->addWidget(progress_);
  bar->addWidget(status_, 1);

  auto* top = new QWidget;
  auto* tv = new QVBoxLayout(top);
  tv->setContentsMargins(0, 0, 0, 0);
  tv->addLayout(bar);
  tv->addWidget(scatter_, 1);
  tv->addWidget(neighbour_title_);
  tv->addWidget(neighbours_);
  auto* split = new QSplitter(Qt::Vertical);
  split->addWidget(top);
  split->addWidget(grid_);
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 1);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(split);

  scatter_->setThumbnailProvider([this](int index) -> QImage {
    if (!snapshot_ || index < 0 || index >= snapshot_->images.count) return {};
    return toQImage(snapshot_->images, index);
  });
  connect(scatter_, &EmbeddingScatter::pointClicked, this, &EmbeddingsPage::showNeighbours);
  connect(scatter_, &EmbeddingScatter::selectionChanged, this, &EmbeddingsPage::showSelection);
  connect(recompute_, &QPushButton::clicked, this, &EmbeddingsPage::recompute);
  connect(cancel_, &QPushButton::clicked, this, [this]() {
    if (task_) task_->cancel.store(true);
  });
  connect(method_, qOverload<int>(&QComboBox::activated), this, [this]() {
    perplexity_->setEnabled(method_->currentData().toString() == QLatin1String("tsne"));
    recompute();
  });
  connect(neighbours_, &QListWidget::itemActivated, this, [this](QListWidgetItem* item) {
    showNeighbours(item->data(Qt::UserRole).toInt());
  });
}

QString EmbeddingsPage::statusText() const { return status_->text(); }

void EmbeddingsPage::clear() {
  if (task_) task_->cancel.store(true);
  snapshot_.reset();
  pending_.reset();
  layout_.clear();
  scatter_->clear();
  neighbours_->clear();
  grid_->setImages(ImageTable{}, QString());
  status_->clear();
}

void EmbeddingsPage::setSnapshot(const SnapshotPtr& snapshot, const QString& source) {
  if (!snapshot || snapshot->rows < 4) return;
  if (task_) {
    // The newest embeddings win; the running layout stops at its next callback.
    pending_ = snapshot;
    pending_source_ = source;
    task_->cancel.store(true);
    return;
  }
  const bool warm = sameImages(snapshot_, snapshot) && !layout_.empty();
  if (!sameImages(snapshot_, snapshot)) {
    grid_->setImages(snapshot->images, tr("Map images"));
    neighbours_->clear();
  }
  snapshot_ = snapshot;
  source_ = source;
  startLayout(warm);
}

void EmbeddingsPage::recompute() {
  if (!snapshot_) return;
  if (task_) {
    pending_ = snapshot_;
    pending_source_ = source_;
    layout_.clear();
    task_->cancel.store(true);
    return;
  }
  layout_.clear();
  startLayout(false);
}

void EmbeddingsPage::startLayout(bool warm) {
  MapLayoutOptions options;
  options.method = method_->currentData().toString() == QLatin1String("pca") ? MapLayoutOptions::Method::Pca
                                                                             : MapLayoutOptions::Method::Tsne;
  options.perplexity = perplexity_->value();
  // Leave a core to the GUI and, during training, share the rest with the engine.
  options.threads = std::max(1, QThread::idealThreadCount() - 1);
  options.callback_every = 25;
  const SnapshotPtr snapshot = snapshot_;
  const std::vector<float> initial = warm ? layout_ : std::vector<float>{};
  const int64_t total = warm ? options.warm_iterations : options.iterations;
  progress_->setRange(0, options.method == MapLayoutOptions::Method::Pca ? 0 : static_cast<int>(total));
  progress_->setValue(0);
  cancel_->setEnabled(true);
  status_->setText(tr("Laying out %1 images (%2)…").arg(snapshot->rows).arg(source_));
  QPointer<EmbeddingsPage> self(this);
  // A cold start replaces the points at its first callback; a warm one moves them.
  const bool first = scatter_->pointCount() != snapshot->rows || !warm;
  task_ = runInBackground<MapLayout>(
      this,
      [snapshot, options, initial, self, first](TaskControl& control) mutable {
        bool shown = !first;
        return computeMapLayout(*snapshot, options, initial, [&](int64_t iteration, const std::vector<float>& xy) {
          if (self) {
            const bool set = !shown;
            shown = true;
            postTo(self.data(), [self, snapshot, xy, iteration, set]() {
              if (!self || self->snapshot_ != snapshot) return;
              QVector<int> labels(static_cast<int>(snapshot->rows));
              for (int i = 0; i < labels.size(); ++i) labels[i] = static_cast<int>(snapshot->images.label(i));
              if (set) {
                QStringList names;
                for (const auto& n : snapshot->images.class_names) names << QString::fromStdString(n);
                self->scatter_->setPoints(toPoints(xy), labels, names);
              } else {
                self->scatter_->updateLayout(toPoints(xy));
              }
              self->progress_->setValue(static_cast<int>(iteration));
            });
          }
          return !control.cancelled();
        });
      },
      [this, snapshot](MapLayout result) {
        task_.reset();
        cancel_->setEnabled(false);
        progress_->setRange(0, 1);
        progress_->setValue(1);
        if (snapshot == snapshot_ && !result.stopped) {
          layout_ = result.xy;
          QVector<int> labels(static_cast<int>(snapshot->rows));
          for (int i = 0; i < labels.size(); ++i) labels[i] = static_cast<int>(snapshot->images.label(i));
          if (scatter_->pointCount() != labels.size()) {
            QStringList names;
            for (const auto& n : snapshot->images.class_names) names << QString::fromStdString(n);
            scatter_->setPoints(toPoints(result.xy), labels, names);
          } else {
            scatter_->updateLayout(toPoints(result.xy));
          }
          ++layout_count_;
          QString text = tr("%1 images · %2 · step %3 (epoch %4)")
                             .arg(snapshot->rows)
                             .arg(source_)
                             .arg(snapshot->step)
                             .arg(snapshot->epoch, 0, 'f', 1);
          if (result.kl_divergence >= 0) text += tr(" · KL %1").arg(result.kl_divergence, 0, 'f', 3);
          if (result.neighbour_preservation >= 0)
            text += tr(" · 10-NN kept %1%").arg(100.0 * result.neighbour_preservation, 0, 'f', 1);
          status_->setText(text);
          Q_EMIT layoutFinished();
        } else if (!pending_) {
          status_->setText(tr("Layout stopped."));
        }
        if (pending_) {
          SnapshotPtr next = std::move(pending_);
          pending_.reset();
          setSnapshot(next, pending_source_);
        }
      },
      [this](const QString& message, bool) {
        task_.reset();
        cancel_->setEnabled(false);
        progress_->setRange(0, 1);
        status_->setText(tr("Could not lay out the embeddings: %1").arg(message));
        if (pending_) {
          SnapshotPtr next = std::move(pending_);
          pending_.reset();
          setSnapshot(next, pending_source_);
        }
      });
}

void EmbeddingsPage::showNeighbours(int index) {
  if (!snapshot_ || index < 0 || index >= snapshot_->rows) return;
  neighbours_->clear();
  const auto found = nearestInMap(*snapshot_, index, kNeighbours);
  QVector<int> highlighted{index};
  auto label_of = [this](int64_t i) {
    const int64_t l = snapshot_->images.label(i);
    return l >= 0 && l < static_cast<int64_t>(snapshot_->images.class_names.size())
               ? QString::fromStdString(snapshot_->images.class_names[static_cast<size_t>(l)])
               : tr("unlabeled");
  };
  for (const auto& [i, similarity] : found) {
    auto* item = new QListWidgetItem(QIcon(QPixmap::fromImage(thumbnail(toQImage(snapshot_->images, i), 64))),
                                     QStringLiteral("%1\n%2").arg(label_of(i)).arg(similarity, 0, 'f', 3));
    item->setData(Qt::UserRole, static_cast<int>(i));
    item->setToolTip(tr("Image #%1 (%2), cosine similarity %3").arg(i).arg(label_of(i)).arg(similarity, 0, 'f', 4));
    neighbours_->addItem(item);
    highlighted.push_back(static_cast<int>(i));
  }
  scatter_->setHighlighted(highlighted);
  neighbour_title_->setText(tr("Nearest neighbours of image #%1 (%2), most similar first:").arg(index).arg(label_of(index)));
}

void EmbeddingsPage::showSelection(const QVector<int>& indices) {
  if (!snapshot_) return;
  std::vector<int64_t> rows(indices.begin(), indices.end());
  if (rows.empty()) {
    grid_->showClass(-1);
  } else {
    grid_->showIndices(rows, tr("Lasso selection"));
  }
}

}  // namespace studio
