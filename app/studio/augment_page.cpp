#include "app/studio/augment_page.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QVBoxLayout>

#include "core/augment/augment_preview.h"
#include "widgets/augment_preview_grid.h"
#include "widgets/augmentation_designer.h"
#include "widgets/qimage_convert.h"

namespace studio {

AugmentPage::AugmentPage(QWidget* parent) : QWidget(parent) {
  designer_ = new AugmentationDesigner;
  grid_ = new AugmentPreviewGrid;
  grid_->setMessage(tr("Load a dataset on the Data page to preview augmentations."));
  sample_count_ = new QSpinBox;
  sample_count_->setRange(1, 32);
  sample_count_->setValue(8);
  sample_count_->setToolTip(tr("Sample images in the preview."));
  reroll_button_ = new QPushButton(tr("&Re-roll views"));
  reroll_button_->setToolTip(tr("Draw new random views of the same images (Ctrl+Shift+R)."));
  reroll_button_->setShortcut(QKeySequence(QStringLiteral("Ctrl+Shift+R")));
  samples_button_ = new QPushButton(tr("Other &images"));
  timing_ = new QLabel;
  auto* count_label = new QLabel(tr("&Samples"));
  count_label->setBuddy(sample_count_);

  auto* bar = new QHBoxLayout;
  bar->addWidget(count_label);
  bar->addWidget(sample_count_);
  bar->addWidget(reroll_button_);
  bar->addWidget(samples_button_);
  bar->addStretch(1);
  bar->addWidget(timing_);
  auto* preview = new QWidget;
  auto* pv = new QVBoxLayout(preview);
  pv->setContentsMargins(0, 0, 0, 0);
  pv->addLayout(bar);
  pv->addWidget(grid_, 1);

  auto* split = new QSplitter;
  split->addWidget(designer_);
  split->addWidget(preview);
  split->setStretchFactor(0, 0);
  split->setStretchFactor(1, 1);
  split->setChildrenCollapsible(false);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(split);

  connect(designer_, &AugmentationDesigner::configChanged, this, [this]() {
    Q_EMIT configEdited();
    requestRender();
  });
  connect(designer_, &AugmentationDesigner::previewOperationChanged, this, &AugmentPage::requestRender);
  connect(reroll_button_, &QPushButton::clicked, this, &AugmentPage::reroll);
  connect(samples_button_, &QPushButton::clicked, this, &AugmentPage::newSamples);
  connect(sample_count_, qOverload<int>(&QSpinBox::valueChanged), this, [this](int n) {
    samples_ = chooseSamples(n);
    requestRender();
  });
}

void AugmentPage::setDataset(const DatasetImagesPtr& images) {
  images_ = images;
  sample_offset_ = 0;
  samples_ = chooseSamples(sample_count_->value());
  requestRender();
}

void AugmentPage::setConfig(const AugmentConfig& config) {
  designer_->setConfig(config);
  requestRender();
}

AugmentConfig AugmentPage::config() const { return designer_->config(); }

void AugmentPage::setSeed(int64_t seed) {
  seed_ = seed;
  requestRender();
}

void AugmentPage::reroll() {
  ++roll_;
  requestRender();
}

void AugmentPage::newSamples() {
  sample_offset_ += 1;
  samples_ = chooseSamples(sample_count_->value());
  requestRender();
}

std::vector<int64_t> AugmentPage::chooseSamples(int count) const {
  std::vector<int64_t> out;
  if (!images_ || images_->train.empty()) return out;
  const ImageTable& t = images_->train;
  const auto classes = static_cast<int64_t>(t.class_names.size());
  if (classes > 0 && !t.labels.empty()) {
    // Classes in turn (slot k shows class k mod C), so the preview shows the data's variety;
    // "Other images" moves to the next image of each class.
    std::vector<std::vector<int64_t>> by_class(static_cast<size_t>(classes));
    const size_t wanted_per_class = static_cast<size_t>(sample_offset_ + count / classes + 1);
    for (int64_t i = 0; i < t.count; ++i) {
      const int64_t l = t.label(i);
      if (l >= 0 && l < classes && by_class[static_cast<size_t>(l)].size() < wanted_per_class)
        by_class[static_cast<size_t>(l)].push_back(i);
    }
    for (int k = 0; static_cast<int>(out.size()) < count && k < count * 4; ++k) {
      const auto& members = by_class[static_cast<size_t>(k % classes)];
      const size_t rank = static_cast<size_t>(sample_offset_ + k / classes);
      if (!members.empty()) out.push_back(members[rank % members.size()]);
    }
    if (static_cast<int>(out.size()) == count) return out;
    out.clear();
  }
  const int64_t stride = std::max<int64_t>(1, t.count / std::max(1, count));
  for (int k = 0; k < count && k < t.count; ++k) out.push_back((k * stride + sample_offset_ * 7919) % t.count);
  return out;
}

void AugmentPage::requestRender() {
  if (!images_ || samples_.empty()) return;
  if (!since_change_.isValid()) since_change_.start();
  if (rendering_) {
    render_again_ = true;  // the latest settings win once the current render is back
    return;
  }
  startRender();
}

void AugmentPage::startRender() {
  render_again_ = false;
  since_change_.restart();
  grid_->setBusy(true);
  AugmentConfig config = designer_->config();
  const QString op = designer_->previewOperation();
  if (!op.isEmpty()) config = isolateAugmentation(config, op.toStdString());
  const DatasetImagesPtr images = images_;
  const std::vector<int64_t> samples = samples_;
  const int64_t seed = seed_, roll = roll_;
  rendering_ = runInBackground<std::shared_ptr<AugmentPreview>>(
      this,
      [images, samples, config, seed, roll](TaskControl&) {
        return std::make_shared<AugmentPreview>(renderAugmentPreview(images->train, samples, config, seed, roll));
      },
      [this](std::shared_ptr<AugmentPreview> p) {
        rendering_.reset();
        last_render_ms_ = double(since_change_.nsecsElapsed()) / 1e6;
        QVector<QImage> originals, v1, v2;
        QVector<QVector<QImage>> locals(static_cast<int>(p->local_views.size()));
        for (int64_t i = 0; i < p->originals.count; ++i) {
          originals.push_back(toQImage(p->originals, i));
          v1.push_back(toQImage(p->view1, i));
          v2.push_back(toQImage(p->view2, i));
          for (size_t l = 0; l < p->local_views.size(); ++l) locals[int(l)].push_back(toQImage(p->local_views[l], i));
        }
        grid_->setBusy(false);
        grid_->setPreview(originals, v1, v2, locals);
        ++render_count_;
        timing_->setText(tr("Preview in %1 ms").arg(last_render_ms_, 0, 'f', 0));
        Q_EMIT previewRendered();
        if (render_again_) startRender();
      },
      [this](const QString& message, bool) {
        rendering_.reset();
        grid_->setBusy(false);
        grid_->setMessage(message);
        if (render_again_) startRender();
      });
}

}  // namespace studio
