#pragma once
// "Export..." on a run: the format (safetensors with torchvision's names, or ONNX), the
// model (the encoder, or the fine-tuned classifier when the run has one), a licence note
// for the model card and the output folder; the export runs in the background with a
// progress bar and a Cancel, and its result or error is shown in the window.
#include <functional>

#include <QDialog>
#include <QString>

#include "app/studio/background_task.h"

class QComboBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;

namespace studio {

class ExportDialog : public QDialog {
  Q_OBJECT
 public:
  explicit ExportDialog(const QString& run_dir, QWidget* parent = nullptr);
  ~ExportDialog() override;

  QString runDir() const { return run_dir_; }
  void startExport();  // what the Export button does
  void cancelExport();
  bool busy() const { return static_cast<bool>(task_); }
  QString statusText() const;
  bool statusIsError() const { return error_; }
  QString exportedPath() const { return exported_path_; }

  // Replaces the folder dialog of "Browse..." (tests answer instead of a person).
  void setFolderChooser(std::function<QString()> chooser) { folder_chooser_ = std::move(chooser); }

  QComboBox* formatCombo() const { return format_; }
  QComboBox* modelCombo() const { return model_; }
  QLineEdit* licenceEdit() const { return licence_; }
  QLineEdit* outputEdit() const { return output_; }
  QPushButton* exportButton() const { return export_button_; }
  QPushButton* browseButton() const { return browse_; }
  QProgressBar* progressBar() const { return progress_; }

 Q_SIGNALS:
  void exported(const QString& model_path);
  void failed(const QString& message);

 protected:
  void reject() override;  // Close/Escape cancels a running export first

 private:
  void updateDefaultOutput();
  void setBusy(bool busy);
  void showStatus(const QString& text, bool error);

  QString run_dir_;
  QComboBox* format_;
  QComboBox* model_;
  QLineEdit* licence_;
  QLineEdit* output_;
  QPushButton* browse_;
  QProgressBar* progress_;
  QLabel* status_;
  QPushButton* export_button_;
  QPushButton* close_button_;
  TaskHandle task_;
  bool error_ = false;
  bool output_edited_ = false;
  QString exported_path_;
  std::function<QString()> folder_chooser_;
};

}  // namespace studio
