#pragma once
// File > Preferences: theme, runs folder and default device. Nothing is written until OK,
// and OK only closes the dialog once every value is usable.
#include <QDialog>
#include <QString>

class QComboBox;
class QDialogButtonBox;
class QLineEdit;
class QPushButton;

namespace studio {

class Preferences;

// Edits a Preferences object: fields start from its values; accept() validates (creating
// the runs folder and proving it writable), writes the values, then closes. On a problem a
// message box names the folder or value and the dialog stays open.
class PreferencesDialog : public QDialog {
  Q_OBJECT
 public:
  explicit PreferencesDialog(Preferences* preferences, QWidget* parent = nullptr);

  void accept() override;

  // Creates dir if needed and checks that a file can be written in it. On failure returns
  // false and sets *error to a sentence naming the folder and the reason.
  static bool prepareRunsFolder(const QString& dir, QString* error);

  QComboBox* themeCombo() const { return theme_; }
  QLineEdit* runsDirEdit() const { return runs_dir_; }
  QComboBox* deviceCombo() const { return device_; }
  QString lastError() const { return last_error_; }

 private:
  void browseRunsDir();
  void showProblem(const QString& message, QWidget* focus);

  Preferences* preferences_;
  QComboBox* theme_;
  QLineEdit* runs_dir_;
  QPushButton* browse_;
  QComboBox* device_;
  QDialogButtonBox* buttons_;
  QString last_error_;
};

}  // namespace studio
