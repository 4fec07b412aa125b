#include "app/studio/training_page.h"

#include <cmath>

#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFileDialog>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QProgressBar>
#include <QScrollArea>
#include <QSpinBox>
#include <QStackedWidget>
#include <QThread>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>

#include "app/studio/schema_fields.h"
#include "core/exchange/weight_import.h"
#include "core/experiment/config_schema.h"
#include "core/methods/methods.h"
#include "core/base/text_format.h"
#include "widgets/number_field.h"

namespace studio {

QVector<Preset> TrainingPage::presets() {
  // A preset per method for each kind of data, in the method list's order (resources/presets:
  // fashion-mnist-<method>.json and your-images-<method>.json).
  QVector<Preset> out = {{tr("Quick CPU demo (Fashion-MNIST, 2 epochs)"), QStringLiteral(":/presets/quick-cpu-demo.json")}};
  for (const QString& data : {QStringLiteral("fashion-mnist"), QStringLiteral("your-images")}) {
    for (const MethodSpec& spec : methodSpecs()) {
      const QString title = QString::fromStdString(spec.title);
      out.push_back({data == QLatin1String("fashion-mnist") ? tr("Fashion-MNIST, %1").arg(title)
                                                             : tr("Your images, %1 (ResNet-18)").arg(title),
                     QStringLiteral(":/presets/%1-%2.json").arg(data, QString::fromStdString(spec.name))});
    }
  }
  out.push_back({tr("CIFAR-style ResNet-18"), QStringLiteral(":/presets/cifar-resnet18.json")});
  return out;
}

namespace {

void selectData(QComboBox* combo, const QString& value) {
  const int i = combo->findData(value);
  if (i >= 0) {
    combo->setCurrentIndex(i);
  } else if (combo->isEditable()) {
    combo->setEditText(value);
  }
}

QString comboValue(const QComboBox* combo) {
  if (combo->isEditable()) {
    const int i = combo->findText(combo->currentText());
    return i >= 0 && combo->itemData(i).isValid() ? combo->itemData(i).toString() : combo->currentText().trimmed();
  }
  return combo->currentData().toString();
}

}  // namespace

TrainingPage::TrainingPage(QWidget* parent) : QWidget(parent) {
  name_ = new QLineEdit;
  preset_ = new QComboBox;
  preset_->addItem(tr("Choose a preset…"), QString());
  for (const Preset& p : presets()) preset_->addItem(p.title, p.resource);
  method_ = new QComboBox;
  method_settings_ = new QStackedWidget;
  method_summary_ = new QLabel;
  method_summary_->setWordWrap(true);
  for (const MethodSpec& spec : methodSpecs()) {
    method_->addItem(QString::fromStdString(spec.title), QString::fromStdString(spec.name));
    method_->setItemData(method_->count() - 1, QString::fromStdString(spec.summary), Qt::ToolTipRole);
    auto* page = new QWidget;
    auto* form = new QFormLayout(page);
    form->setContentsMargins(0, 0, 0, 0);
    for (const MethodSetting& setting : spec.settings) {
      // The arrows step by the default's order of magnitude (0.1 for 0.5, 0.001 for 0.005).
      const double step = setting.integer ? 1.0
                          : setting.value > 0 ? std::pow(10.0, std::floor(std::log10(setting.value)))
                                              : 0.01;
      auto* field = new NumberField(setting.min, setting.max, setting.integer, step);
      field->setObjectName(QString::fromStdString("method." + spec.name + "." + setting.key));
      field->setValue(setting.value);
      QString label = QString::fromStdString(setting.key);
      label.replace(QLatin1Char('_'), QLatin1Char(' '));
      label[0] = label[0].toUpper();
      const QString tip = QString::fromStdString(setting.help) + QLatin1Char(' ') +
                          tr("Allowed: %1 to %2 (%3).")
                              .arg(QString::fromStdString(formatNumber(setting.min)),
                                   QString::fromStdString(formatNumber(setting.max)), field->objectName());
      addField(form, label, field, tip);
      method_fields_[spec.name].emplace_back(setting.key, field);
    }
    if (spec.settings.empty()) form->addRow(new QLabel(tr("This method has no settings of its own.")));
    method_settings_->addWidget(page);
  }
  backbone_ = new QComboBox;
  addChoice(backbone_, Backbone::ConvNet, tr("Small ConvNet (fast on CPU)"));
  addChoice(backbone_, Backbone::ResNet18, QStringLiteral("ResNet-18"));
  addChoice(backbone_, Backbone::ResNet34, QStringLiteral("ResNet-34"));
  addChoice(backbone_, Backbone::ResNet50, QStringLiteral("ResNet-50"));
  stem_ = new QComboBox;
  addChoice(stem_, ResNetStem::Auto, tr("Automatic (by image size)"));
  addChoice(stem_, ResNetStem::Cifar, tr("CIFAR (3×3, no pooling)"));
  addChoice(stem_, ResNetStem::ImageNet, tr("ImageNet (7×7 + pooling)"));
  width_ = schemaIntField("model.width", 4);
  head_ = new QLineEdit;
  head_->setPlaceholderText(QStringLiteral("512, 128"));
  batch_ = schemaIntField("train.batch_size", 32);
  epochs_ = schemaIntField("train.epochs");
  optimizer_ = new QComboBox;
  addChoice(optimizer_, OptimizerKind::AdamW, QStringLiteral("AdamW"));
  addChoice(optimizer_, OptimizerKind::Sgd, tr("SGD with momentum"));
  addChoice(optimizer_, OptimizerKind::Lars, tr("LARS (large batches)"));
  lr_ = schemaNumberField("optim.lr", 1e-4);
  weight_decay_ = schemaNumberField("optim.weight_decay", 1e-5);
  warmup_ = schemaNumberField("optim.warmup_epochs", 0.5);
  device_ = new QComboBox;
  device_->setEditable(true);
  device_->addItem(tr("Automatic (GPU when present)"), QStringLiteral("auto"));
  device_->addItem(tr("CPU"), QStringLiteral("cpu"));
  device_->addItem(tr("CUDA GPU"), QStringLiteral("cuda"));
  seed_ = schemaNumberField("train.seed", 1);
  threads_ = schemaIntField("train.threads");
  threads_->setSpecialValueText(tr("All cores (%1)").arg(QThread::idealThreadCount()));
  eval_every_ = schemaNumberField("monitor.every_epochs", 0.5);
  eval_every_->setSpecialValueText(tr("Only at the end"));
  map_size_ = schemaNumberField("monitor.map_size", 500);
  map_size_->setSpecialValueText(tr("No map"));
  init_path_ = new QLineEdit;
  init_path_->setObjectName(QStringLiteral("initFrom"));
  init_path_->setPlaceholderText(tr("Random initialisation"));
  init_path_->setClearButtonEnabled(true);
  init_choose_ = new QToolButton;
  init_choose_->setText(tr("Start from…"));
  init_choose_->setPopupMode(QToolButton::InstantPopup);
  auto* choose_menu = new QMenu(init_choose_);
  choose_menu->addAction(tr("A run folder…"), this, [this]() { chooseInitFrom(true); });
  choose_menu->addAction(tr("A weights file (.safetensors, .pt)…"), this, [this]() { chooseInitFrom(false); });
  init_choose_->setMenu(choose_menu);
  init_clear_ = new QToolButton;
  init_clear_->setText(tr("Random"));
  init_clear_->setToolTip(tr("Start from random weights again"));
  init_strict_ = new QCheckBox(tr("Refuse weights that do not fit"));
  init_strict_->setChecked(true);
  backbone_lr_mult_ = schemaNumberField("optim.backbone_lr_mult", 0.1);
  freeze_stages_ = schemaIntField("optim.freeze_stages");
  freeze_stages_->setSpecialValueText(tr("None"));
  init_report_ = new QLabel;
  init_report_->setObjectName(QStringLiteral("initReport"));
  init_report_->setWordWrap(true);
  init_report_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  init_check_timer_ = new QTimer(this);
  init_check_timer_->setSingleShot(true);
  init_check_timer_->setInterval(250);
  connect(init_check_timer_, &QTimer::timeout, this, &TrainingPage::runInitCheck);

  auto* general = new QGroupBox(tr("Experiment"));
  auto* gf = new QFormLayout(general);
  addField(gf, tr("&Name"), name_, tr("Names the run folder and the row in the Runs table."));
  addField(gf, tr("&Preset"), preset_,
           tr("Starting points that work: a quick CPU demo, the default Fashion-MNIST recipe, your own "
              "images with a ResNet-18, or the CIFAR-style ResNet-18 of the SimCLR paper."));
  addField(gf, tr("&Method"), method_,
           tr("How the encoder learns without labels. Contrastive methods (SimCLR, DCL, MoCo) pull an image's two "
              "views together and push other images apart; BYOL, SimSiam, Barlow Twins, VICReg and DINO need no "
              "negatives and often do better with small batches."));
  gf->addRow(method_summary_);
  gf->addRow(method_settings_);

  auto* model = new QGroupBox(tr("Model"));
  auto* mf = new QFormLayout(model);
  addField(mf, tr("&Backbone"), backbone_,
           tr("The encoder whose features you keep. The small ConvNet trains in minutes on a CPU; ResNets "
              "are stronger on larger, more varied images."));
  addField(mf, tr("S&tem"), stem_, tr("How a ResNet's first layer treats small images: CIFAR-style keeps detail at 32 px."));
  addField(mf, tr("&Width"), width_, tr("Channels of the ConvNet's first layer (later layers double it)."));
  addField(mf, tr("Projection &head"), head_,
           tr("Widths of the MLP after the encoder, comma-separated, the last being the embedding the loss "
              "sees. The head is dropped after pretraining."));

  auto* start = new QGroupBox(tr("Start from weights"));
  auto* sf = new QFormLayout(start);
  auto* path_row = new QWidget;
  auto* path_layout = new QHBoxLayout(path_row);
  path_layout->setContentsMargins(0, 0, 0, 0);
  path_layout->addWidget(init_path_, 1);
  path_layout->addWidget(init_choose_);
  path_layout->addWidget(init_clear_);
  addField(sf, tr("&Encoder"), path_row,
           tr("Start the encoder from another run (its last checkpoint) or from ResNet weights in a safetensors "
              "file named as torchvision or timm name them, instead of random weights."));
  init_path_->setToolTip(path_row->toolTip());
  addField(sf, tr("Strictness"), init_strict_,
           tr("Refuse weights with missing, unexpected or differently shaped tensors. Unticked, whatever fits is "
              "loaded and the rest starts random."));
  addField(sf, tr("Encoder learning &rate ×"), backbone_lr_mult_,
           tr("The encoder learns at the learning rate times this; the projection head at the full rate. Below 1 "
              "keeps more of what the weights already know."));
  addField(sf, tr("Fro&zen stages"), freeze_stages_,
           tr("The first stages of the encoder (the stem, then each group of blocks) stay as they are: their "
              "weights and batch-norm statistics do not change."));
  sf->addRow(init_report_);

  auto* optim = new QGroupBox(tr("Optimisation"));
  auto* of = new QFormLayout(optim);
  addField(of, tr("Batch si&ze"), batch_,
           tr("Images per step. Contrastive learning compares each image with every other in the batch, "
              "so larger batches give more negatives."));
  addField(of, tr("&Epochs"), epochs_, tr("Passes over the training images."));
  addField(of, tr("&Optimizer"), optimizer_, tr("AdamW is forgiving; SGD and LARS suit long runs with large batches."));
  addField(of, tr("&Learning rate"), lr_, tr("Peak learning rate after warm-up; a cosine schedule decays it."));
  addField(of, tr("Weight &decay"), weight_decay_, tr("Regularisation of the weights."));
  addField(of, tr("W&arm-up (epochs)"), warmup_, tr("Epochs over which the learning rate ramps up from zero."));

  auto* run = new QGroupBox(tr("Run"));
  auto* rf = new QFormLayout(run);
  addField(rf, tr("De&vice"), device_, tr("Where training runs: auto picks a CUDA GPU when one is usable, else the CPU."));
  addField(rf, tr("&Seed"), seed_, tr("The same seed, data and settings give the same run."));
  addField(rf, tr("CPU t&hreads"), threads_, tr("Threads the engine uses on the CPU."));
  addField(rf, tr("kNN e&very (epochs)"), eval_every_,
           tr("How often the frozen encoder is scored by kNN on held-out images, and the embedding map refreshed."));
  addField(rf, tr("&Map images"), map_size_,
           tr("Images whose embeddings the Embeddings page lays out with t-SNE at each evaluation."));

  auto* form_body = new QWidget;
  auto* columns = new QHBoxLayout(form_body);
  auto* left = new QVBoxLayout;
  left->addWidget(general);
  left->addWidget(model);
  left->addWidget(start);
  left->addStretch(1);
  auto* right = new QVBoxLayout;
  right->addWidget(optim);
  right->addWidget(run);
  right->addStretch(1);
  columns->addLayout(left, 1);
  columns->addLayout(right, 1);
  auto* scroll = new QScrollArea;
  scroll->setWidget(form_body);
  scroll->setWidgetResizable(true);
  scroll->setFrameShape(QFrame::NoFrame);

  start_button_ = new QToolButton;
  pause_button_ = new QToolButton;
  stop_button_ = new QToolButton;
  for (QToolButton* b : {start_button_, pause_button_, stop_button_}) {
    b->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    b->setMinimumHeight(32);
  }
  progress_ = new QProgressBar;
  progress_->setRange(0, 1);
  progress_->setValue(0);
  progress_->setFormat(tr("Not running"));
  progress_->setTextVisible(true);
  state_label_ = new QLabel;
  auto* controls = new QHBoxLayout;
  controls->addWidget(start_button_);
  controls->addWidget(pause_button_);
  controls->addWidget(stop_button_);
  controls->addWidget(progress_, 1);
  controls->addWidget(state_label_);

  auto* layout = new QVBoxLayout(this);
  layout->addWidget(scroll, 1);
  layout->addLayout(controls);

  connect(preset_, qOverload<int>(&QComboBox::activated), this, [this](int index) {
    const QString resource = preset_->itemData(index).toString();
    if (!resource.isEmpty()) Q_EMIT presetChosen(resource);
  });
  auto changed = [this]() {
    if (!filling_) Q_EMIT edited();
  };
  for (QLineEdit* e : {name_, head_}) connect(e, &QLineEdit::textEdited, this, changed);
  for (QComboBox* c : {method_, backbone_, stem_, optimizer_, device_})
    connect(c, &QComboBox::currentTextChanged, this, changed);
  for (QSpinBox* s : {width_, batch_, epochs_, threads_})
    connect(s, qOverload<int>(&QSpinBox::valueChanged), this, changed);
  for (QDoubleSpinBox* s : {lr_, weight_decay_, warmup_, eval_every_, seed_, map_size_})
    connect(s, qOverload<double>(&QDoubleSpinBox::valueChanged), this, changed);
  for (const auto& [method, fields] : method_fields_)
    for (const auto& field : fields)
      connect(field.second, qOverload<double>(&QDoubleSpinBox::valueChanged), this, changed);
  auto show_method = [this]() {
    const int i = std::max(0, method_->currentIndex());
    // The stack is as tall as the shown method's settings, not as the longest list (DINO's):
    // hidden pages ask for no room.
    for (int p = 0; p < method_settings_->count(); ++p)
      method_settings_->widget(p)->setSizePolicy(p == i ? QSizePolicy::Preferred : QSizePolicy::Ignored,
                                                 p == i ? QSizePolicy::Preferred : QSizePolicy::Ignored);
    method_settings_->setCurrentIndex(i);
    method_settings_->adjustSize();
    method_summary_->setText(method_->itemData(i, Qt::ToolTipRole).toString());
  };
  connect(method_, qOverload<int>(&QComboBox::currentIndexChanged), this, show_method);
  show_method();
  connect(backbone_, &QComboBox::currentTextChanged, this, [this]() {
    const bool convnet = currentChoice(backbone_, Backbone::ConvNet) == Backbone::ConvNet;
    width_->setEnabled(convnet);
    stem_->setEnabled(!convnet);
  });
  connect(backbone_lr_mult_, qOverload<double>(&QDoubleSpinBox::valueChanged), this, changed);
  connect(freeze_stages_, qOverload<int>(&QSpinBox::valueChanged), this, changed);
  connect(init_path_, &QLineEdit::textChanged, this, [this, changed]() {
    changed();
    scheduleInitCheck();
  });
  connect(init_strict_, &QCheckBox::toggled, this, [this, changed]() {
    changed();
    scheduleInitCheck();
  });
  connect(init_clear_, &QToolButton::clicked, this, [this]() { init_path_->clear(); });
  // The encoder the weights must fit is the one the form describes.
  for (QComboBox* c : {backbone_, stem_}) connect(c, &QComboBox::currentTextChanged, this, &TrainingPage::scheduleInitCheck);
  connect(width_, qOverload<int>(&QSpinBox::valueChanged), this, &TrainingPage::scheduleInitCheck);
}

QDoubleSpinBox* TrainingPage::methodField(const std::string& method, const std::string& key) const {
  const auto it = method_fields_.find(method);
  if (it == method_fields_.end()) return nullptr;
  for (const auto& [k, field] : it->second)
    if (k == key) return field;
  return nullptr;
}

void TrainingPage::setInitFrom(const QString& path) { init_path_->setText(path); }

QString TrainingPage::initFrom() const { return init_path_->text().trimmed(); }

void TrainingPage::chooseInitFrom(bool folder) {
  QString path;
  if (path_chooser_) {
    path = path_chooser_(folder);
  } else if (folder) {
    path = QFileDialog::getExistingDirectory(this, tr("Start from a run"), initFrom());
  } else {
    path = QFileDialog::getOpenFileName(this, tr("Start from weights"), initFrom(),
                                        tr("Weights (*.safetensors *.pt);;All files (*)"));
  }
  if (!path.isEmpty()) setInitFrom(QDir::toNativeSeparators(path));
}

void TrainingPage::setImageShape(int64_t channels, int64_t side) {
  if (channels == image_channels_ && side == image_side_) return;
  image_channels_ = channels;
  image_side_ = side;
  scheduleInitCheck();
}

QString TrainingPage::initReportText() const { return init_report_->text(); }

bool TrainingPage::initCheckPending() const { return init_check_timer_->isActive() || init_check_running_; }

void TrainingPage::scheduleInitCheck() {
  if (initFrom().isEmpty()) {
    ++init_generation_;  // a check still running is of no interest any more
    if (init_task_) init_task_->cancel.store(true);
    init_check_timer_->stop();
    init_check_running_ = false;
    showInitReport(QString(), false);
    return;
  }
  init_check_timer_->start();
}

void TrainingPage::runInitCheck() {
  ExperimentConfig config = applyTo(experiment_provider_ ? experiment_provider_() : ExperimentConfig());
  const int64_t channels = image_channels_;
  const int64_t side = config.augment.out_size > 0 ? config.augment.out_size : image_side_;
  const uint64_t generation = ++init_generation_;
  init_check_running_ = true;
  showInitReport(tr("Checking %1 against the encoder…").arg(initFrom()), false);
  init_task_ = runInBackground<WeightMatchReport>(
      this,
      [config, channels, side](TaskControl&) {
        return channels > 0 && side > 0 ? inspectInitWeights(config, channels, side) : inspectInitWeights(config);
      },
      [this, generation](WeightMatchReport report) {
        if (generation != init_generation_) return;
        init_check_running_ = false;
        const QString text = QString::fromStdString(report.describe(6, "\n"));
        showInitReport(report.clean() ? tr("✓ %1").arg(text) : tr("⚠ Loaded without the parts that do not fit: %1").arg(text),
                       false);
      },
      [this, generation](const QString& message, bool) {
        if (generation != init_generation_) return;
        init_check_running_ = false;
        showInitReport(message, true);
      });
}

void TrainingPage::showInitReport(const QString& text, bool error) {
  init_report_error_ = error && !text.isEmpty();
  init_report_->setText(text);
  init_report_->setVisible(!text.isEmpty());
  init_report_->setStyleSheet(init_report_error_ ? QStringLiteral("color: #c62828;") : QString());
  Q_EMIT initReportUpdated();
}

void TrainingPage::addField(QFormLayout* form, const QString& label, QWidget* field, const QString& text) {
  const QString tooltip = schemaTooltip(text, field);
  auto* l = new QLabel(label);
  l->setBuddy(field);
  field->setToolTip(tooltip);
  field->setWhatsThis(tooltip);
  l->setToolTip(tooltip);
  QString plain = label;
  field->setAccessibleName(plain.remove(QLatin1Char('&')));
  form->addRow(l, field);
}

void TrainingPage::setConfig(const ExperimentConfig& c) {
  filling_ = true;
  name_->setText(QString::fromStdString(c.name));
  selectData(method_, QString::fromStdString(c.method.name));
  selectChoice(backbone_, c.model.backbone);
  selectChoice(stem_, c.model.stem);
  width_->setValue(static_cast<int>(c.model.width));
  QStringList dims;
  for (int64_t d : c.model.head_dims) dims << QString::number(d);
  head_->setText(dims.join(QStringLiteral(", ")));
  batch_->setValue(static_cast<int>(c.train.batch_size));
  epochs_->setValue(static_cast<int>(c.train.epochs));
  selectChoice(optimizer_, c.optim.name);
  lr_->setValue(c.optim.lr);
  weight_decay_->setValue(c.optim.weight_decay);
  warmup_->setValue(c.optim.warmup_epochs);
  // Every method's fields: the config's value where it has one, else the method's default.
  for (const MethodSpec& spec : methodSpecs()) {
    const auto given = c.method.settings.find(spec.name);
    for (size_t i = 0; i < spec.settings.size(); ++i) {
      double value = spec.settings[i].value;
      if (given != c.method.settings.end()) {
        const auto it = given->second.find(spec.settings[i].key);
        if (it != given->second.end()) value = it->second;
      }
      method_fields_.at(spec.name)[i].second->setValue(value);
    }
  }  selectData(device_, QString::fromStdString(c.train.device));
  seed_->setValue(static_cast<double>(c.train.seed));  // exact up to 2^53, the schema's maximum
  threads_->setValue(static_cast<int>(c.train.threads));
  eval_every_->setValue(c.monitor.every_epochs);
  map_size_->setValue(static_cast<double>(c.monitor.map_size));
  init_path_->setText(QString::fromStdString(c.model.init_from));
  init_strict_->setChecked(c.model.init_strict);
  backbone_lr_mult_->setValue(c.optim.backbone_lr_mult);
  freeze_stages_->setValue(static_cast<int>(c.optim.freeze_stages));
  filling_ = false;
}

QString TrainingPage::validate() const {
  if (name_->text().trimmed().isEmpty()) return tr("The experiment needs a name.");
  const QStringList parts = head_->text().split(QLatin1Char(','), Qt::SkipEmptyParts);
  if (parts.isEmpty()) return tr("Projection head: give at least one width, e.g. \"512, 128\".");
  for (const QString& p : parts) {
    bool ok = false;
    const int v = p.trimmed().toInt(&ok);
    if (!ok || v < 1 || v > 65536)
      return tr("Projection head: \"%1\" is not a width between 1 and 65536.").arg(p.trimmed());
  }
  if (comboValue(device_).isEmpty()) return tr("Device: choose auto, cpu, cuda or cuda:N.");
  if (!initFrom().isEmpty() && init_report_error_) return tr("Start from: %1").arg(init_report_->text());
  return {};
}

QString TrainingPage::methodProblem(const ExperimentConfig& experiment) {
  try {
    checkMethodConfig(experiment.method, experiment.augment);
    return {};
  } catch (const std::exception& e) {
    return QString::fromStdString(e.what());
  }
}

ExperimentConfig TrainingPage::applyTo(ExperimentConfig c) const {
  c.name = name_->text().trimmed().toStdString();
  c.method.name = comboValue(method_).toStdString();
  c.model.backbone = currentChoice(backbone_, c.model.backbone);
  c.model.stem = currentChoice(stem_, c.model.stem);
  c.model.width = width_->value();
  std::vector<int64_t> dims;
  for (const QString& p : head_->text().split(QLatin1Char(','), Qt::SkipEmptyParts)) {
    bool ok = false;
    const int v = p.trimmed().toInt(&ok);
    if (ok && v > 0) dims.push_back(v);
  }
  if (!dims.empty()) c.model.head_dims = dims;
  c.train.batch_size = batch_->value();
  c.train.epochs = epochs_->value();
  c.optim.name = currentChoice(optimizer_, c.optim.name);
  c.optim.lr = lr_->value();
  c.optim.weight_decay = weight_decay_->value();
  c.optim.warmup_epochs = warmup_->value();
  // A method's setting is written when the config had it or the field differs from the
  // method's default: what was loaded saves back as it was, and what was edited is kept.
  for (const MethodSpec& spec : methodSpecs()) {
    const auto& fields = method_fields_.at(spec.name);
    for (size_t i = 0; i < spec.settings.size(); ++i) {
      const double value = fields[i].second->value();
      auto block = c.method.settings.find(spec.name);
      const bool had = block != c.method.settings.end() && block->second.count(spec.settings[i].key) > 0;
      if (had || value != spec.settings[i].value) c.method.settings[spec.name][spec.settings[i].key] = value;
    }
  }  c.train.device = comboValue(device_).toStdString();
  c.train.seed = static_cast<int64_t>(seed_->value());
  c.train.threads = threads_->value();
  c.monitor.every_epochs = eval_every_->value();
  c.monitor.map_size = static_cast<int64_t>(map_size_->value());
  c.model.init_from = initFrom().toStdString();
  c.model.init_strict = init_strict_->isChecked();
  c.optim.backbone_lr_mult = backbone_lr_mult_->value();
  c.optim.freeze_stages = freeze_stages_->value();
  return c;
}

void TrainingPage::setRunActions(QAction* start, QAction* pause, QAction* stop) {
  start_button_->setDefaultAction(start);
  pause_button_->setDefaultAction(pause);
  stop_button_->setDefaultAction(stop);
}

void TrainingPage::setEngineState(EngineController::State state) {
  const bool idle = state == EngineController::State::Idle;
  for (QWidget* w : std::initializer_list<QWidget*>{name_, preset_, method_, backbone_, stem_, width_, head_, batch_,
                                                     epochs_, optimizer_, lr_, weight_decay_, warmup_, method_settings_,
                                                     device_, seed_, threads_, eval_every_, map_size_, init_path_,
                                                     init_choose_, init_clear_, init_strict_, backbone_lr_mult_,
                                                     freeze_stages_})
    w->setEnabled(idle);
  const bool convnet = currentChoice(backbone_, Backbone::ConvNet) == Backbone::ConvNet;
  if (idle) width_->setEnabled(convnet);
  if (idle) stem_->setEnabled(!convnet);
  switch (state) {
    case EngineController::State::Idle:
      state_label_->setText(tr("Idle"));
      break;
    case EngineController::State::Starting:
      state_label_->setText(tr("Loading data…"));
      progress_->setRange(0, 0);  // busy until the first step reports the total
      break;
    case EngineController::State::Running:
      state_label_->setText(tr("Training"));
      break;
    case EngineController::State::Paused:
      state_label_->setText(tr("Paused"));
      break;
    case EngineController::State::Stopping:
      state_label_->setText(tr("Stopping: saving a checkpoint…"));
      break;
  }
  if (idle) {
    progress_->setRange(0, 1);
    progress_->setValue(0);
    progress_->setFormat(tr("Not running"));
  }
}

void TrainingPage::showProgress(qint64 step, qint64 total, double eta_s, double images_per_s) {
  if (total <= 0) return;
  // QProgressBar holds ints: scale long runs down.
  const qint64 scale = std::max<qint64>(1, total / 1000000 + 1);
  progress_->setRange(0, static_cast<int>(total / scale));
  progress_->setValue(static_cast<int>(step / scale));
  progress_->setFormat(tr("Step %1 of %2 · %3 images/s · %4 left")
                           .arg(step)
                           .arg(total)
                           .arg(images_per_s, 0, 'f', 0)
                           .arg(QString::fromStdString(formatClock(eta_s))));
}

}  // namespace studio
