#pragma once
// A form over AugmentConfig: one group per operation of the engine's pipeline, in the
// order the engine applies them, each switchable, with its probability and parameters,
// and a "Preview alone" toggle to see one operation's effect in isolation.
#include <vector>

#include <QString>
#include <QStringList>
#include <QWidget>

#include "core/experiment/config.h"

class QDoubleSpinBox;
class QFormLayout;
class QLayout;
class QGroupBox;
class QSpinBox;
class QToolButton;

namespace studio {

// Edits an AugmentConfig. Switching an operation off writes probability 0 (crop: false)
// but keeps the probability in the form, so switching it back on restores it. Fields the
// form does not show (mean, std) pass through from setConfig unchanged. Every control
// explains in its tooltip (and What's This) what it does and why contrastive learning
// needs it. Object names: groups are named by op id, their toggles "<id>Preview", spin
// boxes by their config key ("brightness", "blur_kernel", "flip_p", ...).
class AugmentationDesigner : public QWidget {
  Q_OBJECT

 public:
  explicit AugmentationDesigner(QWidget* parent = nullptr);

  void setConfig(const AugmentConfig& config);  // no configChanged emitted
  AugmentConfig config() const;

  QString previewOperation() const { return preview_op_; }  // "" = whole pipeline, else op id
  void setPreviewOperation(const QString& op);              // "" or an op id; emits nothing

  static QStringList operationIds();                   // {"crop","flip","jitter","grayscale","blur","solarize"}
  static QString operationTooltip(const QString& op);  // empty for an unknown id

  // The group box of an op id (for tests and for pointing the user at one); null if unknown.
  QGroupBox* operationGroup(const QString& op) const;

 Q_SIGNALS:
  void configChanged();  // on every user edit
  void previewOperationChanged(const QString& op);

 private:
  struct Operation {
    QString id;
    QGroupBox* group = nullptr;
    QDoubleSpinBox* probability = nullptr;  // null for crop, which is on or off
    double AugmentConfig::*probability_field = nullptr;
    QToolButton* preview = nullptr;
  };
  // A double field with its spin box; min/max pairs name their partner.
  struct Field {
    QDoubleSpinBox* spin;
    double AugmentConfig::*member;
    double AugmentConfig::*partner;  // null when not a pair
    bool is_min;
  };

  QFormLayout* addOperation(QLayout* column, const QString& id, const QString& title,
                            double AugmentConfig::*probability_field, const QString& probability_tip);
  // key: the config key, used as the spin's object name.
  QDoubleSpinBox* addDouble(QFormLayout* form, const QString& key, const QString& label, double AugmentConfig::*member,
                            double min, double max, double step, const QString& tip,
                            double AugmentConfig::*partner = nullptr, bool is_min = false);
  void addRow(QFormLayout* form, const QString& label, QWidget* field, const QString& tip);
  void onDoubleEdited(size_t field, double value);
  void onKernelEdited(int value);
  void onGroupToggled(size_t op, bool on);
  void onPreviewToggled(size_t op, bool on);
  void refreshWidgets();
  void refreshLocalEnabled();
  QDoubleSpinBox* spinOf(double AugmentConfig::*member) const;

  // The values the form shows. Probabilities here are the remembered ones: config()
  // writes 0 for operations that are switched off.
  AugmentConfig values_;
  QString preview_op_;
  std::vector<Operation> operations_;
  std::vector<Field> fields_;
  QSpinBox* kernel_ = nullptr;
  QSpinBox* out_size_ = nullptr;
  QSpinBox* local_crops_ = nullptr;
  QSpinBox* local_size_ = nullptr;
  std::vector<QWidget*> tab_chain_;  // focusable controls in form order
};

}  // namespace studio
