#pragma once
// Training settings (method and its own settings, backbone, head, batch, epochs, optimizer,
// learning rate, device, seed, monitor) with presets, and the run controls with progress.
// The form edits the parts of an ExperimentConfig it shows and leaves the rest alone.
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <QWidget>

#include "app/studio/background_task.h"
#include "app/studio/engine_controller.h"
#include "core/experiment/config.h"

class QCheckBox;
class QComboBox;
class QTimer;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QSpinBox;
class QStackedWidget;
class QToolButton;
class QAction;
class QFormLayout;

namespace studio {

struct Preset {
  QString title;
  QString resource;  // :/presets/<file>.json
};

class TrainingPage : public QWidget {
  Q_OBJECT
 public:
  explicit TrainingPage(QWidget* parent = nullptr);

  static QVector<Preset> presets();

  void setConfig(const ExperimentConfig& config);       // fills the form; emits nothing
  ExperimentConfig applyTo(ExperimentConfig base) const;  // the form's values written into base
  // Errors in the form (e.g. an unreadable head width list) as a message, empty when valid.
  QString validate() const;
  // What the engine's method check says of a whole experiment (e.g. local views asked of a
  // method that compares two views only); empty when it passes.
  static QString methodProblem(const ExperimentConfig& experiment);

  // The main window's actions, shown as the page's buttons.
  void setRunActions(QAction* start, QAction* pause, QAction* stop);
  void setEngineState(EngineController::State state);
  void showProgress(qint64 step, qint64 total, double eta_s, double images_per_s);

  QComboBox* presetCombo() const { return preset_; }
  QComboBox* methodCombo() const { return method_; }
  // The field of one method's setting (method.<method>.<key>), nullptr when there is none.
  QDoubleSpinBox* methodField(const std::string& method, const std::string& key) const;

  // "Start from...": the encoder's initial weights (model.init_from). The match against the
  // encoder the form describes is checked in the background whenever the path, the
  // strictness or the architecture changes, and shown under the path (or the error).
  void setInitFrom(const QString& path);
  QString initFrom() const;
  // Asks for a run folder (folder) or a weights file, through the chooser when one is set
  // (tests answer instead of a person), else a file dialog.
  void chooseInitFrom(bool folder);
  void setPathChooser(std::function<QString(bool folder)> chooser) { path_chooser_ = std::move(chooser); }
  // The experiment the check builds the encoder for (the main window's current one), and
  // the loaded dataset's image shape (0 = unknown: the check loads the dataset to learn it).
  void setExperimentProvider(std::function<ExperimentConfig()> provider) { experiment_provider_ = std::move(provider); }
  void setImageShape(int64_t channels, int64_t side);
  QString initReportText() const;
  bool initReportIsError() const { return init_report_error_; }
  bool initCheckPending() const;
  QLineEdit* initPathEdit() const { return init_path_; }
  QCheckBox* initStrictBox() const { return init_strict_; }
  QToolButton* initChooseButton() const { return init_choose_; }

 Q_SIGNALS:
  void presetChosen(const QString& resource);
  void edited();
  // The match report (or the error) under "Start from" changed.
  void initReportUpdated();

 private:
  void addField(QFormLayout* form, const QString& label, QWidget* field, const QString& tooltip);
  void scheduleInitCheck();
  void runInitCheck();
  void showInitReport(const QString& text, bool error);

  QLineEdit* name_;
  QComboBox* preset_;
  QComboBox* method_;
  QComboBox* backbone_;
  QComboBox* stem_;
  QSpinBox* width_;
  QLineEdit* head_;
  QSpinBox* batch_;
  QSpinBox* epochs_;
  QComboBox* optimizer_;
  QDoubleSpinBox* lr_;
  QDoubleSpinBox* weight_decay_;
  QDoubleSpinBox* warmup_;
  // Each method's settings as fields, one page of the stack per method (core/methods declares them).
  QStackedWidget* method_settings_;
  QLabel* method_summary_;
  std::map<std::string, std::vector<std::pair<std::string, QDoubleSpinBox*>>> method_fields_;
  QComboBox* device_;
  QDoubleSpinBox* seed_;
  QSpinBox* threads_;
  QDoubleSpinBox* eval_every_;
  QDoubleSpinBox* map_size_;
  QToolButton* start_button_;
  QToolButton* pause_button_;
  QToolButton* stop_button_;
  QProgressBar* progress_;
  QLabel* state_label_;
  QLineEdit* init_path_;
  QToolButton* init_choose_;
  QToolButton* init_clear_;
  QCheckBox* init_strict_;
  QDoubleSpinBox* backbone_lr_mult_;
  QSpinBox* freeze_stages_;
  QLabel* init_report_;
  QTimer* init_check_timer_;
  bool init_report_error_ = false;
  bool init_check_running_ = false;
  uint64_t init_generation_ = 0;
  TaskHandle init_task_;
  int64_t image_channels_ = 0, image_side_ = 0;
  std::function<QString(bool)> path_chooser_;
  std::function<ExperimentConfig()> experiment_provider_;
  bool filling_ = false;
};

}  // namespace studio
