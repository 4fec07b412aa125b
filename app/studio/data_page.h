#pragma once
// Choosing the data: the built-in Fashion-MNIST, an IDX or CIFAR folder, a packed dataset,
// or a folder of the user's own images imported (with a progress bar and cancel; folders
// can be dropped on the page). Loading and importing run in the background; the browser
// then shows the training split.
#include <memory>

#include <QWidget>

#include "app/studio/background_task.h"
#include "core/experiment/config.h"
#include "core/data/dataset_images.h"

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;

namespace studio {

class DatasetBrowser;
using DatasetImagesPtr = std::shared_ptr<const DatasetImages>;

class DataPage : public QWidget {
  Q_OBJECT
 public:
  explicit DataPage(QWidget* parent = nullptr);

  void setDatasetConfig(const DatasetConfig& config, int64_t seed);  // fills the form, loads nothing
  DatasetConfig datasetConfig() const;
  void setSeed(int64_t seed) { seed_ = seed; }

  void load();                                // the form's dataset, in the background
  void importFolder(const QString& folder);   // then loads the packed result
  void cancel();
  bool busy() const { return static_cast<bool>(task_); }

  DatasetImagesPtr images() const { return images_; }
  DatasetBrowser* browser() const { return browser_; }
  QString errorText() const;
  // Where imported folders are written as packed datasets.
  static QString importedDatasetsDir();

 Q_SIGNALS:
  void datasetLoaded(const studio::DatasetImagesPtr& images);
  void datasetConfigChanged();
  void errorOccurred(const QString& message);
  void busyChanged(bool busy);

 protected:
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dropEvent(QDropEvent* event) override;

 private:
  void chooseFolder();
  void choosePackedFile();
  void chooseImportFolder();
  void setBusy(const QString& what, TaskHandle task);
  void setIdle();
  void showError(const QString& message);
  void updateKindWidgets();

  QComboBox* kind_;
  QLineEdit* path_;
  QPushButton* browse_;
  QDoubleSpinBox* train_limit_;
  QDoubleSpinBox* holdout_;
  QPushButton* load_button_;
  QPushButton* import_button_;
  QSpinBox* import_size_;
  QComboBox* import_channels_;
  QComboBox* import_fit_;
  QProgressBar* progress_;
  QPushButton* cancel_button_;
  QLabel* status_;
  QLabel* error_;
  DatasetBrowser* browser_;
  DatasetImagesPtr images_;
  TaskHandle task_;
  int64_t seed_ = 0;
};

}  // namespace studio

Q_DECLARE_METATYPE(studio::DatasetImagesPtr)
