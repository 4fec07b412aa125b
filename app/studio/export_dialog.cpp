#include "app/studio/export_dialog.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPointer>
#include <QProgressBar>
#include <QPushButton>
#include <QStandardItemModel>
#include <QVBoxLayout>

#include "core/exchange/model_export.h"
#include "core/runs/run_folder.h"

namespace studio {

ExportDialog::ExportDialog(const QString& run_dir, QWidget* parent) : QDialog(parent), run_dir_(run_dir) {
  setWindowTitle(tr("Export %1").arg(QFileInfo(run_dir).fileName()));
  setObjectName(QStringLiteral("exportDialog"));

  format_ = new QComboBox;
  format_->addItem(tr("safetensors (PyTorch, torchvision's names)"), QStringLiteral("safetensors"));
  format_->addItem(tr("ONNX (opset 17, dynamic batch)"), QStringLiteral("onnx"));
  if (findOnnxExporter().empty()) {
    // Disabled, not hidden: the user learns what is missing.
    auto* model = qobject_cast<QStandardItemModel*>(format_->model());
    if (model) model->item(1)->setEnabled(false);
    format_->setItemData(1, tr("contrastive-onnx-export was not found (it is built when libonnx-dev is installed)"),
                         Qt::ToolTipRole);
  }
  model_ = new QComboBox;
  model_->addItem(tr("Encoder (the run's last checkpoint)"), QStringLiteral("encoder"));
  model_->addItem(tr("Fine-tuned classifier (encoder + head)"), QStringLiteral("classifier"));
  const bool has_classifier = QFileInfo::exists(run_dir + QStringLiteral("/finetune/classifier.safetensors"));
  if (auto* model = qobject_cast<QStandardItemModel*>(model_->model()); model && !has_classifier) {
    model->item(1)->setEnabled(false);
    model_->setItemData(1, tr("The run has no fine-tuned classifier (contrastive-cli finetune makes one)"), Qt::ToolTipRole);
  }
  licence_ = new QLineEdit;
  licence_->setPlaceholderText(tr("e.g. CC BY 4.0, or \"my own photographs\""));
  licence_->setToolTip(tr("The training images' licence, written into the model card as you give it."));
  output_ = new QLineEdit;
  output_->setObjectName(QStringLiteral("exportOutput"));
  browse_ = new QPushButton(tr("Browse…"));
  auto* output_row = new QWidget;
  auto* output_layout = new QHBoxLayout(output_row);
  output_layout->setContentsMargins(0, 0, 0, 0);
  output_layout->addWidget(output_, 1);
  output_layout->addWidget(browse_);

  progress_ = new QProgressBar;
  progress_->setRange(0, 100);
  progress_->setVisible(false);
  status_ = new QLabel;
  status_->setObjectName(QStringLiteral("exportStatus"));
  status_->setWordWrap(true);
  status_->setTextInteractionFlags(Qt::TextSelectableByMouse);

  auto* form = new QFormLayout;
  form->addRow(tr("&Format"), format_);
  form->addRow(tr("&Model"), model_);
  form->addRow(tr("Data &licence"), licence_);
  form->addRow(tr("&Output folder"), output_row);

  auto* buttons = new QDialogButtonBox;
  export_button_ = buttons->addButton(tr("&Export"), QDialogButtonBox::AcceptRole);
  export_button_->setDefault(true);
  close_button_ = buttons->addButton(QDialogButtonBox::Close);
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(form);
  layout->addWidget(progress_);
  layout->addWidget(status_);
  layout->addStretch(1);
  layout->addWidget(buttons);
  setMinimumWidth(520);

  connect(export_button_, &QPushButton::clicked, this, &ExportDialog::startExport);
  connect(close_button_, &QPushButton::clicked, this, &ExportDialog::reject);
  connect(format_, &QComboBox::currentIndexChanged, this, &ExportDialog::updateDefaultOutput);
  connect(model_, &QComboBox::currentIndexChanged, this, &ExportDialog::updateDefaultOutput);
  connect(output_, &QLineEdit::textEdited, this, [this]() { output_edited_ = true; });
  connect(browse_, &QPushButton::clicked, this, [this]() {
    const QString dir = folder_chooser_ ? folder_chooser_()
                                        : QFileDialog::getExistingDirectory(this, tr("Export into"), output_->text());
    if (dir.isEmpty()) return;
    output_->setText(QDir::toNativeSeparators(dir));
    output_edited_ = true;
  });
  updateDefaultOutput();
}

ExportDialog::~ExportDialog() {
  if (task_) task_->cancel.store(true);
}

void ExportDialog::updateDefaultOutput() {
  if (output_edited_) return;
  const QString model = model_->currentData().toString();
  output_->setText(QDir::toNativeSeparators(run_dir_ + QStringLiteral("/export-") + format_->currentData().toString() +
                                            (model == QLatin1String("encoder") ? QString() : QStringLiteral("-") + model)));
}

QString ExportDialog::statusText() const { return status_->text(); }

void ExportDialog::showStatus(const QString& text, bool error) {
  error_ = error;
  status_->setText(text);
  status_->setStyleSheet(error ? QStringLiteral("color: #c62828;") : QString());
}

void ExportDialog::setBusy(bool busy) {
  for (QWidget* w : std::initializer_list<QWidget*>{format_, model_, licence_, output_, browse_, export_button_})
    w->setEnabled(!busy);
  close_button_->setText(busy ? tr("Cancel") : tr("Close"));
  progress_->setVisible(busy || progress_->value() > 0);
  if (busy) progress_->setValue(0);
}

void ExportDialog::startExport() {
  if (task_) return;
  if (output_->text().trimmed().isEmpty()) {
    showStatus(tr("Choose an output folder."), true);
    return;
  }
  ExportOptions options;
  options.format = format_->currentData().toString().toStdString();
  options.model = model_->currentData().toString().toStdString();
  options.licence = licence_->text().trimmed().toStdString();
  options.out_dir = QDir::fromNativeSeparators(output_->text().trimmed()).toStdString();
  const std::string run_dir = run_dir_.toStdString();
  exported_path_.clear();
  showStatus(tr("Exporting…"), false);
  setBusy(true);
  QPointer<ExportDialog> self(this);
  task_ = runInBackground<ExportResult>(
      this,
      [options, run_dir, self](TaskControl& control) {
        const RunFolder run = RunFolder::open(std::string(), run_dir);
        return exportModel(run, options, [&control, self](double done, const std::string& stage) {
          if (self) {
            postTo(self.data(), [self, done, stage]() {
              self->progress_->setValue(static_cast<int>(100 * done));
              if (self->busy()) self->status_->setText(tr("Exporting: %1…").arg(QString::fromStdString(stage)));
            });
          }
          return !control.cancelled();
        });
      },
      [this](ExportResult result) {
        task_.reset();
        setBusy(false);
        progress_->setValue(100);
        exported_path_ = QString::fromStdString(result.model_path);
        QStringList files;
        for (const auto& f : result.files) files << QDir::toNativeSeparators(QString::fromStdString(f));
        showStatus(tr("Exported:\n%1").arg(files.join(QLatin1Char('\n'))), false);
        Q_EMIT exported(exported_path_);
      },
      [this](const QString& message, bool cancelled) {
        task_.reset();
        progress_->setValue(0);
        setBusy(false);
        showStatus(cancelled ? tr("Export cancelled; nothing was written.") : tr("Export failed: %1").arg(message), !cancelled);
        if (!cancelled) Q_EMIT failed(message);
      });
}

void ExportDialog::cancelExport() {
  if (task_) task_->cancel.store(true);
}

void ExportDialog::reject() {
  if (task_) {
    cancelExport();  // the failure callback reports the cancellation; the window stays
    return;
  }
  QDialog::reject();
}

}  // namespace studio
