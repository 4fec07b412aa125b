#include "app/studio/data_page.h"

#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QMimeData>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QStandardPaths>
#include <QVBoxLayout>

#include "app/importer/image_folder_importer.h"
#include "app/studio/schema_fields.h"
#include "widgets/dataset_browser.h"

namespace studio {

namespace {

struct Imported {
  ImportReport report;
  DatasetImages images;
};

bool isPackedPath(const QString& path) { return path.endsWith(QLatin1String(".csds"), Qt::CaseInsensitive); }

}  // namespace

QString DataPage::importedDatasetsDir() {
  return QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) + QStringLiteral("/datasets");
}

DataPage::DataPage(QWidget* parent) : QWidget(parent) {
  qRegisterMetaType<DatasetImagesPtr>();
  setAcceptDrops(true);

  kind_ = new QComboBox;
  addChoice(kind_, DatasetKind::FashionMnist, tr("Fashion-MNIST (built in)"));
  addChoice(kind_, DatasetKind::Mnist, tr("MNIST (IDX folder)"));
  addChoice(kind_, DatasetKind::Cifar10, tr("CIFAR-10 (binary folder)"));
  addChoice(kind_, DatasetKind::Cifar100, tr("CIFAR-100 (binary folder)"));
  // Short item texts: the longest sets the form's width, which must fit a 1024-pixel screen.
  addChoice(kind_, DatasetKind::Packed, tr("Packed dataset (.csds)"));
  kind_->setItemData(kind_->count() - 1, tr("A packed dataset file, e.g. a folder of your images imported by the studio"),
                     Qt::ToolTipRole);
  path_ = new QLineEdit;
  path_->setPlaceholderText(tr("Built-in location"));
  browse_ = new QPushButton(tr("&Browse…"));
  // Ranges from the experiment schema: every value the engine takes is shown as it is.
  train_limit_ = schemaNumberField("dataset.train_limit", 1000);
  train_limit_->setSpecialValueText(tr("All images"));
  holdout_ = schemaNumberField("dataset.holdout_fraction", 0.05);
  load_button_ = new QPushButton(tr("&Load"));
  load_button_->setDefault(true);

  auto* source = new QGroupBox(tr("Dataset"));
  auto* sf = new QFormLayout(source);
  auto* kind_label = new QLabel(tr("&Source"));
  kind_label->setBuddy(kind_);
  sf->addRow(kind_label, kind_);
  auto* path_row = new QHBoxLayout;
  path_row->addWidget(path_, 1);
  path_row->addWidget(browse_);
  auto* path_label = new QLabel(tr("&Path"));
  path_label->setBuddy(path_);
  sf->addRow(path_label, path_row);
  auto* limit_label = new QLabel(tr("Use at &most"));
  limit_label->setBuddy(train_limit_);
  train_limit_->setToolTip(
      schemaTooltip(tr("Train on the first N images only: quicker experiments on a slow machine."), train_limit_));
  sf->addRow(limit_label, train_limit_);
  auto* holdout_label = new QLabel(tr("&Held out"));
  holdout_label->setBuddy(holdout_);
  holdout_->setToolTip(schemaTooltip(tr("Share of a labeled packed dataset kept aside to measure kNN accuracy. "
                                        "Built-in datasets use their own test split."),
                                     holdout_));
  sf->addRow(holdout_label, holdout_);
  sf->addRow(QString(), load_button_);

  import_size_ = new QSpinBox;
  import_size_->setRange(8, 1024);
  import_size_->setValue(64);
  import_size_->setSuffix(tr(" px"));
  import_size_->setToolTip(tr("Images are resized to this square side. 32-96 px trains quickly on a CPU."));
  import_channels_ = new QComboBox;
  import_channels_->addItem(tr("Colour (RGB)"), 3);
  import_channels_->addItem(tr("Grayscale"), 1);
  import_fit_ = new QComboBox;
  import_fit_->addItem(tr("Centre crop"), 0);
  import_fit_->addItem(tr("Letterbox (pad)"), 1);
  import_button_ = new QPushButton(tr("&Import image folder…"));
  import_button_->setToolTip(tr("One subfolder per class gives labels; a flat folder is imported unlabeled. "
                                "You can also drop a folder on this page."));
  auto* import_box = new QGroupBox(tr("Your images"));
  auto* imf = new QFormLayout(import_box);
  auto* size_label = new QLabel(tr("Si&ze"));
  size_label->setBuddy(import_size_);
  imf->addRow(size_label, import_size_);
  auto* ch_label = new QLabel(tr("C&olour"));
  ch_label->setBuddy(import_channels_);
  imf->addRow(ch_label, import_channels_);
  auto* fit_label = new QLabel(tr("&Fit"));
  fit_label->setBuddy(import_fit_);
  imf->addRow(fit_label, import_fit_);
  imf->addRow(QString(), import_button_);
  auto* drop_hint = new QLabel(tr("Drop a folder of images here to import it."));
  drop_hint->setWordWrap(true);
  imf->addRow(drop_hint);

  progress_ = new QProgressBar;
  progress_->setVisible(false);
  cancel_button_ = new QPushButton(tr("Cancel"));
  cancel_button_->setVisible(false);
  status_ = new QLabel;
  status_->setWordWrap(true);
  error_ = new QLabel;
  error_->setWordWrap(true);
  error_->setVisible(false);
  error_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  error_->setStyleSheet(QStringLiteral("QLabel { color: #b00020; font-weight: bold; }"));
  error_->setAccessibleName(tr("Dataset error"));

  auto* side = new QVBoxLayout;
  side->addWidget(source);
  side->addWidget(import_box);
  side->addWidget(progress_);
  side->addWidget(cancel_button_);
  side->addWidget(status_);
  side->addWidget(error_);
  side->addStretch(1);
  auto* side_widget = new QWidget;
  side_widget->setLayout(side);
  side_widget->setMaximumWidth(420);

  browser_ = new DatasetBrowser;
  auto* layout = new QHBoxLayout(this);
  layout->addWidget(side_widget);
  layout->addWidget(browser_, 1);

  connect(kind_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this]() {
    updateKindWidgets();
    Q_EMIT datasetConfigChanged();
  });
  connect(path_, &QLineEdit::textEdited, this, &DataPage::datasetConfigChanged);
  connect(train_limit_, qOverload<double>(&QDoubleSpinBox::valueChanged), this, &DataPage::datasetConfigChanged);
  connect(holdout_, qOverload<double>(&QDoubleSpinBox::valueChanged), this, &DataPage::datasetConfigChanged);
  connect(browse_, &QPushButton::clicked, this, [this]() {
    if (currentChoice(kind_, DatasetKind::FashionMnist) == DatasetKind::Packed) {
      choosePackedFile();
    } else {
      chooseFolder();
    }
  });
  connect(load_button_, &QPushButton::clicked, this, &DataPage::load);
  connect(import_button_, &QPushButton::clicked, this, &DataPage::chooseImportFolder);
  connect(cancel_button_, &QPushButton::clicked, this, &DataPage::cancel);
  updateKindWidgets();
}

void DataPage::updateKindWidgets() {
  const DatasetKind kind = currentChoice(kind_, DatasetKind::FashionMnist);
  const bool builtin = kind == DatasetKind::FashionMnist;
  path_->setPlaceholderText(builtin ? tr("Built-in location (%1)").arg(QString::fromStdString(builtinFashionMnistDir()))
                                    : kind == DatasetKind::Packed ? tr("A .csds file") : tr("A folder"));
  holdout_->setEnabled(kind == DatasetKind::Packed);
}

void DataPage::setDatasetConfig(const DatasetConfig& config, int64_t seed) {
  const QSignalBlocker b1(kind_), b2(path_), b3(train_limit_), b4(holdout_);
  kind_->setCurrentIndex(0);
  selectChoice(kind_, config.kind);
  path_->setText(QString::fromStdString(config.path));
  train_limit_->setValue(static_cast<double>(config.train_limit));  // exact: the schema stops at 2^40
  holdout_->setValue(config.holdout_fraction);
  seed_ = seed;
  updateKindWidgets();
}

DatasetConfig DataPage::datasetConfig() const {
  DatasetConfig c;
  c.kind = currentChoice(kind_, c.kind);
  c.path = path_->text().trimmed().toStdString();
  c.train_limit = static_cast<int64_t>(train_limit_->value());
  c.holdout_fraction = holdout_->value();
  return c;
}

QString DataPage::errorText() const { return error_->isVisible() ? error_->text() : QString(); }

void DataPage::showError(const QString& message) {
  error_->setText(message);
  error_->setVisible(!message.isEmpty());
  if (!message.isEmpty()) Q_EMIT errorOccurred(message);
}

void DataPage::setBusy(const QString& what, TaskHandle task) {
  task_ = std::move(task);
  status_->setText(what);
  progress_->setRange(0, 0);
  progress_->setVisible(true);
  cancel_button_->setVisible(true);
  load_button_->setEnabled(false);
  import_button_->setEnabled(false);
  Q_EMIT busyChanged(true);
}

void DataPage::setIdle() {
  task_.reset();
  progress_->setVisible(false);
  cancel_button_->setVisible(false);
  load_button_->setEnabled(true);
  import_button_->setEnabled(true);
  Q_EMIT busyChanged(false);
}

void DataPage::cancel() {
  if (task_) {
    task_->cancel.store(true);
    status_->setText(tr("Cancelling…"));
  }
}

void DataPage::load() {
  if (busy()) return;
  showError(QString());
  const DatasetConfig config = datasetConfig();
  const int64_t seed = seed_;
  const QString what = tr("Loading %1…").arg(kind_->currentText());
  auto task = runInBackground<DatasetImagesPtr>(
      this,
      [config, seed](TaskControl&) { return std::make_shared<const DatasetImages>(loadDatasetImages(config, seed)); },
      [this](DatasetImagesPtr images) {
        setIdle();
        images_ = images;
        browser_->setImages(images->train, QString::fromStdString(images->name));
        status_->setText(tr("%1: %2 training images (%3×%4, %5 channel(s)), %6 held out")
                             .arg(QString::fromStdString(images->name))
                             .arg(images->train.count)
                             .arg(images->train.width)
                             .arg(images->train.height)
                             .arg(images->train.channels)
                             .arg(images->eval.count));
        Q_EMIT datasetLoaded(images);
      },
      [this](const QString& message, bool cancelled) {
        setIdle();
        if (cancelled) {
          status_->setText(tr("Cancelled."));
        } else {
          status_->setText(QString());
          showError(tr("Could not load the dataset: %1").arg(message));
        }
      });
  setBusy(what, task);
}

void DataPage::importFolder(const QString& folder) {
  if (busy()) return;
  showError(QString());
  QDir().mkpath(importedDatasetsDir());
  const QString name = QFileInfo(QDir::cleanPath(folder)).fileName();
  const QString out = importedDatasetsDir() + QLatin1Char('/') + (name.isEmpty() ? QStringLiteral("images") : name) +
                      QStringLiteral(".csds");
  ImportOptions options;
  options.size = import_size_->value();
  options.channels = import_channels_->currentData().toInt();
  options.fit = import_fit_->currentData().toInt() == 1 ? ImportOptions::Fit::Letterbox : ImportOptions::Fit::CenterCrop;
  DatasetConfig config = datasetConfig();
  config.kind = DatasetKind::Packed;
  config.path = out.toStdString();
  const int64_t seed = seed_;
  QPointer<DataPage> self(this);
  auto task = runInBackground<std::shared_ptr<Imported>>(
      this,
      [folder, out, options, config, seed, self](TaskControl& control) mutable {
        options.progress = [&control, self](int64_t done, int64_t total) {
          if (self) {
            postTo(self.data(), [self, done, total]() {
              if (!self || !self->busy()) return;
              self->progress_->setRange(0, static_cast<int>(std::min<int64_t>(total, INT32_MAX)));
              self->progress_->setValue(static_cast<int>(std::min<int64_t>(done, INT32_MAX)));
              self->progress_->setFormat(tr("%v of %m images"));
            });
          }
          return !control.cancelled();
        };
        auto result = std::make_shared<Imported>();
        result->report = importImageFolder(folder.toStdString(), out.toStdString(), options);
        result->images = loadDatasetImages(config, seed);
        return result;
      },
      [this, out](std::shared_ptr<Imported> result) {
        setIdle();
        {
          const QSignalBlocker b1(kind_), b2(path_);
          selectChoice(kind_, DatasetKind::Packed);
          path_->setText(out);
          updateKindWidgets();
        }
        Q_EMIT datasetConfigChanged();
        images_ = std::make_shared<const DatasetImages>(std::move(result->images));
        browser_->setImages(images_->train, QString::fromStdString(images_->name));
        QVector<QPair<QString, QString>> skipped;
        for (const SkippedFile& s : result->report.skipped)
          skipped.push_back({QString::fromStdString(s.path), QString::fromStdString(s.reason)});
        browser_->setSkippedFiles(skipped);
        status_->setText(tr("Imported %1 images into %2; %3 file(s) skipped.")
                             .arg(result->report.imported)
                             .arg(out)
                             .arg(result->report.skipped.size()));
        Q_EMIT datasetLoaded(images_);
      },
      [this](const QString& message, bool cancelled) {
        setIdle();
        if (cancelled) {
          status_->setText(tr("Import cancelled; nothing was written."));
        } else {
          showError(tr("Could not import the folder: %1").arg(message));
        }
      });
  setBusy(tr("Importing %1…").arg(folder), task);
}

void DataPage::chooseFolder() {
  const QString dir = QFileDialog::getExistingDirectory(this, tr("Dataset folder"), path_->text());
  if (dir.isEmpty()) return;
  path_->setText(dir);
  Q_EMIT datasetConfigChanged();
}

void DataPage::choosePackedFile() {
  const QString file = QFileDialog::getOpenFileName(this, tr("Packed dataset"), importedDatasetsDir(),
                                                    tr("Packed datasets (*.csds);;All files (*)"));
  if (file.isEmpty()) return;
  path_->setText(file);
  Q_EMIT datasetConfigChanged();
}

void DataPage::chooseImportFolder() {
  const QString dir = QFileDialog::getExistingDirectory(this, tr("Folder of images to import"));
  if (!dir.isEmpty()) importFolder(dir);
}

void DataPage::dragEnterEvent(QDragEnterEvent* event) {
  const auto urls = event->mimeData()->urls();
  if (urls.size() == 1 && urls.first().isLocalFile()) {
    const QFileInfo info(urls.first().toLocalFile());
    if (info.isDir() || isPackedPath(info.filePath())) event->acceptProposedAction();
  }
}

void DataPage::dropEvent(QDropEvent* event) {
  const auto urls = event->mimeData()->urls();
  if (urls.isEmpty() || !urls.first().isLocalFile()) return;
  const QString path = urls.first().toLocalFile();
  if (QFileInfo(path).isDir()) {
    importFolder(path);
  } else if (isPackedPath(path)) {
    selectChoice(kind_, DatasetKind::Packed);
    path_->setText(path);
    Q_EMIT datasetConfigChanged();
    load();
  }
  event->acceptProposedAction();
}

}  // namespace studio
