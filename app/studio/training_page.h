#pragma once
// Training settings (method, backbone, head, batch, epochs, optimizer, learning rate,
// temperature, device, seed, monitor) with presets, and the run controls with progress.
// The form edits the parts of an ExperimentConfig it shows and leaves the rest alone.
#include <QWidget>

#include "app/studio/engine_controller.h"
#include "core/config.h"

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QSpinBox;
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

  // The main window's actions, shown as the page's buttons.
  void setRunActions(QAction* start, QAction* pause, QAction* stop);
  void setEngineState(EngineController::State state);
  void showProgress(qint64 step, qint64 total, double eta_s, double images_per_s);

  QComboBox* presetCombo() const { return preset_; }

 Q_SIGNALS:
  void presetChosen(const QString& resource);
  void edited();

 private:
  void addField(QFormLayout* form, const QString& label, QWidget* field, const QString& tooltip);

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
  QDoubleSpinBox* temperature_;
  QComboBox* device_;
  QSpinBox* seed_;
  QSpinBox* threads_;
  QDoubleSpinBox* eval_every_;
  QSpinBox* map_size_;
  QToolButton* start_button_;
  QToolButton* pause_button_;
  QToolButton* stop_button_;
  QProgressBar* progress_;
  QLabel* state_label_;
  bool filling_ = false;
};

QString formatDuration(double seconds);

}  // namespace studio
