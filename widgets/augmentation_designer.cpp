#include "widgets/augmentation_designer.h"

#include <algorithm>

#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QScrollArea>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QToolButton>
#include <QVBoxLayout>

namespace studio {
namespace {

// What switching on blur or solarize gives before any config had them on (the defaults
// leave them off): the SimCLR and BYOL choices. The other ops start from the defaults.
constexpr double kDefaultBlurP = 0.5;
constexpr double kDefaultSolarizeP = 0.2;
constexpr int kMaxKernel = 63;
constexpr int kDecimals = 2;
constexpr int kMaxOutSize = 1024;  // the config reader's limit
constexpr int kMaxLocalCrops = 16;  // the config reader's limit

void explain(QWidget* widget, const QString& text) {
  widget->setToolTip(text);
  widget->setWhatsThis(text);
}

}  // namespace

QStringList AugmentationDesigner::operationIds() {
  return {QStringLiteral("crop"),      QStringLiteral("flip"), QStringLiteral("jitter"),
          QStringLiteral("grayscale"), QStringLiteral("blur"), QStringLiteral("solarize")};
}

QString AugmentationDesigner::operationTooltip(const QString& op) {
  if (op == QLatin1String("crop"))
    return tr(
        "Cuts a random box (area share and aspect ratio drawn from the ranges below) and resizes it to the "
        "output size. The single most important SimCLR augmentation: matching a part to the whole, or two "
        "parts to each other, forces the model to learn what the object is rather than where its pixels are.");
  if (op == QLatin1String("flip"))
    return tr(
        "Mirrors the view left to right. A cheap extra invariance: a mirrored object is the same object, so "
        "its embedding should not change.");
  if (op == QLatin1String("jitter"))
    return tr(
        "Randomly changes brightness, contrast, saturation and hue. Without it two crops of one image share "
        "their colour histogram, and the model solves the task by matching colours instead of learning "
        "shapes.");
  if (op == QLatin1String("grayscale"))
    return tr(
        "Converts the view to grayscale (colour images only). Like colour jitter it takes colour away as a "
        "shortcut, so the model must also recognise images by shape and texture.");
  if (op == QLatin1String("blur"))
    return tr(
        "Blurs the view with a Gaussian of random width. Makes the model rely on shapes rather than fine "
        "texture; it helps on larger images (SimCLR uses it on ImageNet) but often hurts on 28-32 pixel "
        "ones.");
  if (op == QLatin1String("solarize"))
    return tr(
        "Inverts the pixels brighter than a threshold. A strong photometric change, used by BYOL on one of "
        "its two views, that further stops the model matching views by raw intensities.");
  return {};
}

AugmentationDesigner::AugmentationDesigner(QWidget* parent) : QWidget(parent) {
  values_.blur_p = kDefaultBlurP;
  values_.solarize_p = kDefaultSolarizeP;
  operations_.reserve(static_cast<size_t>(operationIds().size()));

  auto* page = new QWidget;
  auto* column = new QVBoxLayout(page);

  // Mnemonics: every group title and parameter label has its own letter; the probability
  // labels share Alt+P, which cycles through them.
  QFormLayout* form = addOperation(column, QStringLiteral("crop"), tr("Random resized &crop"), nullptr, {});
  addDouble(form, QStringLiteral("crop_scale_min"), tr("Scale mi&n:"), &AugmentConfig::crop_scale_min, 0.01, 1.0, 0.05,
            tr("Smallest crop, as a share of the image area. Small crops make the task harder and the features "
               "more about objects than scenes; too small and the two views may share nothing to match."),
            &AugmentConfig::crop_scale_max, true);
  addDouble(form, QStringLiteral("crop_scale_max"), tr("Scale ma&x:"), &AugmentConfig::crop_scale_max, 0.01, 1.0, 0.05,
            tr("Largest crop, as a share of the image area. 1 lets a crop be the whole image, so parts get "
               "matched to wholes."),
            &AugmentConfig::crop_scale_min, false);
  const QString ratio_tip =
      tr("Range of the crop's aspect ratio (width / height), drawn log-uniformly. Some stretching teaches "
         "invariance to shape distortion; 3/4 to 4/3 is the usual choice.");
  addDouble(form, QStringLiteral("crop_ratio_min"), tr("&Ratio min:"), &AugmentConfig::crop_ratio_min, 0.1, 10.0, 0.05,
            ratio_tip, &AugmentConfig::crop_ratio_max, true);
  addDouble(form, QStringLiteral("crop_ratio_max"), tr("R&atio max:"), &AugmentConfig::crop_ratio_max, 0.1, 10.0, 0.05,
            ratio_tip, &AugmentConfig::crop_ratio_min, false);

  form = addOperation(column, QStringLiteral("flip"), tr("Horizontal &flip"), &AugmentConfig::flip_p,
                      tr("Chance that a view is mirrored. 0.5 makes mirrored and unmirrored views equally "
                         "likely, so the model cannot tell them apart by orientation."));

  form = addOperation(column, QStringLiteral("jitter"), tr("Colour &jitter"), &AugmentConfig::jitter_p,
                      tr("Chance that a view's colours are jittered. SimCLR uses 0.8: most view pairs then "
                         "differ in colour, so colour alone cannot match them."));
  addDouble(form, QStringLiteral("brightness"), tr("&Brightness:"), &AugmentConfig::brightness, 0.0, 1.0, 0.05,
            tr("Largest brightness change: the factor is drawn from [1 - b, 1 + b]. Varies the lighting so "
               "views cannot be matched by overall brightness."));
  addDouble(form, QStringLiteral("contrast"), tr("Con&trast:"), &AugmentConfig::contrast, 0.0, 1.0, 0.05,
            tr("Largest contrast change: the factor is drawn from [1 - c, 1 + c]. Varies the intensity spread "
               "so views cannot be matched by it."));
  addDouble(form, QStringLiteral("saturation"), tr("&Saturation:"), &AugmentConfig::saturation, 0.0, 1.0, 0.05,
            tr("Largest saturation change: the factor is drawn from [1 - s, 1 + s] (colour images only). Stops "
               "views being matched by how colourful they are."));
  addDouble(form, QStringLiteral("hue"), tr("&Hue:"), &AugmentConfig::hue, 0.0, 0.5, 0.01,
            tr("Largest hue shift, in turns of the colour wheel (0.5 = opposite colours; colour images only). "
               "Shifts colours so views cannot be matched by their dominant colour."));

  form = addOperation(column, QStringLiteral("grayscale"), tr("&Grayscale"), &AugmentConfig::grayscale_p,
                      tr("Chance that a view is made grayscale. SimCLR uses 0.2: enough to stop the model "
                         "depending on colour, while most views keep it."));

  form = addOperation(column, QStringLiteral("blur"), tr("Gaussian bl&ur"), &AugmentConfig::blur_p,
                      tr("Chance that a view is blurred. SimCLR uses 0.5 on ImageNet; on small images a "
                         "lower chance, or none, usually works better."));
  const QString sigma_tip =
      tr("Range of the blur's standard deviation, in output pixels. Larger values remove more detail and push "
         "the model towards coarse, shape-based features.");
  addDouble(form, QStringLiteral("blur_sigma_min"), tr("Sigma &min:"), &AugmentConfig::blur_sigma_min, 0.01, 10.0, 0.1,
            sigma_tip, &AugmentConfig::blur_sigma_max, true);
  addDouble(form, QStringLiteral("blur_sigma_max"), tr("S&igma max:"), &AugmentConfig::blur_sigma_max, 0.01, 10.0, 0.1,
            sigma_tip, &AugmentConfig::blur_sigma_min, false);
  kernel_ = new QSpinBox;
  kernel_->setObjectName(QStringLiteral("blur_kernel"));
  kernel_->setRange(0, kMaxKernel);
  kernel_->setSingleStep(2);  // from one odd size to the next
  kernel_->setSpecialValueText(tr("Auto"));
  kernel_->setSuffix(tr(" px"));
  // Committed on Enter or focus loss: correcting "1" to 3 while "15" is being typed would
  // fight the user.
  kernel_->setKeyboardTracking(false);
  addRow(form, tr("&Kernel:"), kernel_,
         tr("Side of the blur kernel, odd (even values are rounded up). Auto uses about a tenth of the output "
            "size; a kernel too small for the sigma cuts the blur short."));
  connect(kernel_, qOverload<int>(&QSpinBox::valueChanged), this, [this](int value) { onKernelEdited(value); });

  form = addOperation(column, QStringLiteral("solarize"), tr("Solari&ze"), &AugmentConfig::solarize_p,
                      tr("Chance that a view is solarized. BYOL uses 0.2 on one of its views; small values "
                         "add variety without making most views unnatural."));
  addDouble(form, QStringLiteral("solarize_threshold"), tr("Thr&eshold:"), &AugmentConfig::solarize_threshold, 0.0, 1.0,
            0.05,
            tr("Pixels brighter than this (0-1) are inverted. A lower threshold inverts more of the image, a "
               "stronger change the model must see through."));

  auto* output = new QGroupBox(tr("Output size"));
  const QString out_tip =
      tr("Side of the square views the network sees. \"Same as dataset\" keeps the images' own size; larger "
         "views cost memory and time, and keep more of a small crop's detail.");
  explain(output, out_tip);
  auto* output_form = new QFormLayout(output);
  out_size_ = new QSpinBox;
  out_size_->setObjectName(QStringLiteral("out_size"));
  out_size_->setRange(0, kMaxOutSize);
  out_size_->setSpecialValueText(tr("Same as dataset"));
  out_size_->setSuffix(tr(" px"));
  out_size_->setKeyboardTracking(false);
  addRow(output_form, tr("Output si&de:"), out_size_, out_tip);
  connect(out_size_, qOverload<int>(&QSpinBox::valueChanged), this, [this](int value) {
    values_.out_size = value;
    Q_EMIT configChanged();
  });
  column->addWidget(output);

  // Multi-crop: not an operation of the pipeline but more views from it, so a plain group.
  auto* local = new QGroupBox(tr("&Local views (multi-crop)"));
  local->setObjectName(QStringLiteral("local"));
  explain(local, tr("Small crops of each image beside the two global views (SwAV, DINO). The model must match "
                    "a detail to the whole, which teaches it parts and objects; each local view costs a pass of "
                    "the encoder at its smaller size. SimCLR and DCL compare every pair of views; BYOL, SimSiam "
                    "and DINO predict each global view from every other one; MoCo, Barlow Twins and VICReg "
                    "compare two views only and cannot use them."));
  auto* local_form = new QFormLayout(local);
  local_form->setFieldGrowthPolicy(QFormLayout::FieldsStayAtSizeHint);
  local_crops_ = new QSpinBox;
  local_crops_->setObjectName(QStringLiteral("local_crops"));
  local_crops_->setRange(0, kMaxLocalCrops);
  local_crops_->setSpecialValueText(tr("None"));
  local_crops_->setKeyboardTracking(false);
  addRow(local_form, tr("&Views per image:"), local_crops_,
         tr("Local views drawn per image and step. DINO uses 6 to 10 on ImageNet; 2 to 4 is a good start on "
            "small images. 0 trains on the two global views only."));
  connect(local_crops_, qOverload<int>(&QSpinBox::valueChanged), this, [this](int value) {
    values_.local_crops = value;
    refreshLocalEnabled();
    Q_EMIT configChanged();
  });
  local_size_ = new QSpinBox;
  local_size_->setObjectName(QStringLiteral("local_size"));
  local_size_->setRange(0, kMaxOutSize);
  local_size_->setSpecialValueText(tr("Auto"));
  local_size_->setSuffix(tr(" px"));
  local_size_->setKeyboardTracking(false);
  addRow(local_form, tr("L&ocal side:"), local_size_,
         tr("Side of a local view. Auto uses 3/7 of the global views' side (DINO's 96 of 224: 12 for 28-pixel "
            "images); at least %1 pixels.").arg(kMinLocalViewSide));
  connect(local_size_, qOverload<int>(&QSpinBox::valueChanged), this, [this](int value) {
    // 1 to 7 pixels are too small for the encoder: stepping down from the smallest goes to Auto.
    int corrected = value;
    if (value > 0 && value < kMinLocalViewSide)
      corrected = values_.local_size >= kMinLocalViewSide && value < values_.local_size ? 0 : int(kMinLocalViewSide);
    if (corrected != value) {
      const QSignalBlocker block(local_size_);
      local_size_->setValue(corrected);
    }
    values_.local_size = corrected;
    Q_EMIT configChanged();
  });
  const QString local_scale_tip =
      tr("Range of a local view's area, as a share of the image. DINO uses 0.05 to 0.4: details, where the global "
         "views keep 0.4 to 1 of it.");
  addDouble(local_form, QStringLiteral("local_scale_min"), tr("Local scale lo&w:"), &AugmentConfig::local_scale_min,
            0.01, 1.0, 0.05, local_scale_tip, &AugmentConfig::local_scale_max, true);
  addDouble(local_form, QStringLiteral("local_scale_max"), tr("Local scale hi&gh:"), &AugmentConfig::local_scale_max,
            0.01, 1.0, 0.05, local_scale_tip, &AugmentConfig::local_scale_min, false);
  column->addWidget(local);
  column->addStretch(1);

  auto* scroll = new QScrollArea(this);
  scroll->setWidget(page);
  scroll->setWidgetResizable(true);
  scroll->setFrameShape(QFrame::NoFrame);
  scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(scroll);

  for (size_t i = 1; i < tab_chain_.size(); ++i) setTabOrder(tab_chain_[i - 1], tab_chain_[i]);
  refreshWidgets();
}

QFormLayout* AugmentationDesigner::addOperation(QLayout* column, const QString& id, const QString& title,
                                                double AugmentConfig::*probability_field,
                                                const QString& probability_tip) {
  Operation op;
  op.id = id;
  op.probability_field = probability_field;
  op.group = new QGroupBox(title);
  op.group->setObjectName(id);
  op.group->setCheckable(true);
  explain(op.group, operationTooltip(id));
  tab_chain_.push_back(op.group);
  auto* form = new QFormLayout(op.group);
  form->setFieldGrowthPolicy(QFormLayout::FieldsStayAtSizeHint);

  op.preview = new QToolButton;
  op.preview->setObjectName(id + QStringLiteral("Preview"));
  op.preview->setText(tr("Preview alone"));
  op.preview->setCheckable(true);
  op.preview->setAutoRaise(true);
  op.preview->setFocusPolicy(Qt::StrongFocus);  // reachable by Tab like the spins
  explain(op.preview, tr("Show only this operation in the preview, applied to every view, to see its effect on its "
                         "own. Uncheck to preview the whole pipeline again."));
  auto* preview_row = new QHBoxLayout;
  preview_row->addStretch(1);
  preview_row->addWidget(op.preview);
  form->addRow(preview_row);
  tab_chain_.push_back(op.preview);

  const size_t index = operations_.size();
  operations_.push_back(op);
  if (probability_field)
    operations_[index].probability = addDouble(form, id + QStringLiteral("_p"), tr("&Probability:"), probability_field,
                                               0.0, 1.0, 0.05, probability_tip);
  connect(op.group, &QGroupBox::toggled, this, [this, index](bool on) { onGroupToggled(index, on); });
  connect(op.preview, &QToolButton::toggled, this, [this, index](bool on) { onPreviewToggled(index, on); });
  column->addWidget(op.group);
  return form;
}

QDoubleSpinBox* AugmentationDesigner::addDouble(QFormLayout* form, const QString& key, const QString& label,
                                                double AugmentConfig::*member, double min, double max, double step,
                                                const QString& tip, double AugmentConfig::*partner, bool is_min) {
  auto* spin = new QDoubleSpinBox;
  spin->setObjectName(key);
  spin->setRange(min, max);
  spin->setSingleStep(step);
  // The form shows rounded values; the config keeps the exact ones until a value is edited
  // (4/3 must survive a round trip through the form).
  spin->setDecimals(kDecimals);
  // One configChanged per committed value, not per keystroke: each one re-renders the preview.
  spin->setKeyboardTracking(false);
  addRow(form, label, spin, tip);
  const size_t index = fields_.size();
  fields_.push_back({spin, member, partner, is_min});
  connect(spin, qOverload<double>(&QDoubleSpinBox::valueChanged), this,
          [this, index](double value) { onDoubleEdited(index, value); });
  return spin;
}

void AugmentationDesigner::addRow(QFormLayout* form, const QString& label, QWidget* field, const QString& tip) {
  auto* text = new QLabel(label);
  text->setBuddy(field);
  explain(text, tip);
  explain(field, tip);
  form->addRow(text, field);
  tab_chain_.push_back(field);
}

QGroupBox* AugmentationDesigner::operationGroup(const QString& op) const {
  for (const Operation& o : operations_)
    if (o.id == op) return o.group;
  return nullptr;
}

void AugmentationDesigner::setConfig(const AugmentConfig& config) {
  const AugmentConfig previous = values_;
  values_ = config;
  for (const Operation& op : operations_) {
    // Probability 0 means off: keep the remembered probability for switching it on again.
    if (op.probability_field && config.*op.probability_field <= 0)
      values_.*op.probability_field = previous.*op.probability_field;
  }
  int64_t& kernel = values_.blur_kernel;
  if (kernel > 0 && kernel < 3) kernel = 3;
  if (kernel > 0 && kernel % 2 == 0) kernel = std::min<int64_t>(kernel + 1, kMaxKernel);
  for (const Operation& op : operations_) {
    const QSignalBlocker block(op.group);
    op.group->setChecked(op.probability_field ? config.*op.probability_field > 0 : config.crop);
  }
  refreshWidgets();
}

AugmentConfig AugmentationDesigner::config() const {
  AugmentConfig c = values_;
  for (const Operation& op : operations_) {
    if (!op.probability_field)
      c.crop = op.group->isChecked();
    else if (!op.group->isChecked())
      c.*op.probability_field = 0.0;
  }
  return c;
}

void AugmentationDesigner::setPreviewOperation(const QString& op) {
  preview_op_ = operationIds().contains(op) ? op : QString();
  for (const Operation& o : operations_) {
    const QSignalBlocker block(o.preview);
    o.preview->setChecked(o.id == preview_op_);
  }
}

void AugmentationDesigner::onDoubleEdited(size_t index, double value) {
  const Field& field = fields_[index];
  values_.*field.member = value;
  if (field.partner) {
    // Keep min <= max by moving the other end along, as range sliders do.
    double& other = values_.*field.partner;
    if (field.is_min ? value > other : value < other) {
      other = value;
      if (QDoubleSpinBox* spin = spinOf(field.partner)) {
        const QSignalBlocker block(spin);
        spin->setValue(value);
      }
    }
  }
  Q_EMIT configChanged();
}

void AugmentationDesigner::onKernelEdited(int value) {
  int corrected = value;
  if (value > 0 && value < 3)
    // Stepping down from 3 means "smaller than the smallest": back to automatic.
    corrected = values_.blur_kernel >= 3 && value < values_.blur_kernel ? 0 : 3;
  else if (value > 0 && value % 2 == 0)
    corrected = std::min(value + 1, kMaxKernel);  // the engine needs a centre pixel
  if (corrected != value) {
    const QSignalBlocker block(kernel_);
    kernel_->setValue(corrected);
  }
  values_.blur_kernel = corrected;
  Q_EMIT configChanged();
}

void AugmentationDesigner::onGroupToggled(size_t index, bool) {
  // The group disables its children when off; previewing an op that is off still makes
  // sense (it shows what switching it on would do), so the toggle stays usable.
  operations_[index].preview->setEnabled(true);
  Q_EMIT configChanged();
}

void AugmentationDesigner::onPreviewToggled(size_t index, bool on) {
  Operation& op = operations_[index];
  if (on) {
    for (Operation& other : operations_) {
      if (&other == &op || !other.preview->isChecked()) continue;
      const QSignalBlocker block(other.preview);
      other.preview->setChecked(false);
    }
    preview_op_ = op.id;
    Q_EMIT previewOperationChanged(preview_op_);
  } else if (preview_op_ == op.id) {
    preview_op_.clear();
    Q_EMIT previewOperationChanged(preview_op_);
  }
}

void AugmentationDesigner::refreshWidgets() {
  for (const Field& field : fields_) {
    const QSignalBlocker block(field.spin);
    field.spin->setValue(values_.*field.member);
  }
  {
    const QSignalBlocker block(kernel_);
    kernel_->setValue(static_cast<int>(values_.blur_kernel));
  }
  {
    const QSignalBlocker block(out_size_);
    out_size_->setValue(static_cast<int>(values_.out_size));
  }
  {
    const QSignalBlocker block_count(local_crops_), block_side(local_size_);
    local_crops_->setValue(static_cast<int>(values_.local_crops));
    local_size_->setValue(static_cast<int>(values_.local_size));
  }
  refreshLocalEnabled();
  for (const Operation& op : operations_) op.preview->setEnabled(true);
}

void AugmentationDesigner::refreshLocalEnabled() {
  // The side and scales mean nothing without local views; they keep their values meanwhile.
  const bool on = values_.local_crops > 0;
  local_size_->setEnabled(on);
  for (double AugmentConfig::*member : {&AugmentConfig::local_scale_min, &AugmentConfig::local_scale_max})
    if (QDoubleSpinBox* spin = spinOf(member)) spin->setEnabled(on);
}

QDoubleSpinBox* AugmentationDesigner::spinOf(double AugmentConfig::*member) const {
  for (const Field& field : fields_)
    if (field.member == member) return field.spin;
  return nullptr;
}

}  // namespace studio
