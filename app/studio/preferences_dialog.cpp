#include "app/studio/preferences_dialog.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QTemporaryFile>
#include <QVBoxLayout>

#include "app/studio/preferences.h"

namespace studio {

namespace {

// "~/runs" is what people type; the filesystem does not expand it.
QString expandedPath(const QString& text) {
  QString path = QDir::fromNativeSeparators(text.trimmed());
  if (path == QLatin1String("~")) return QDir::homePath();
  if (path.startsWith(QLatin1String("~/"))) path = QDir::homePath() + path.mid(1);
  return QDir::cleanPath(QFileInfo(path).absoluteFilePath());
}

}  // namespace

PreferencesDialog::PreferencesDialog(Preferences* preferences, QWidget* parent)
    : QDialog(parent), preferences_(preferences) {
  setWindowTitle(tr("Preferences"));

  theme_ = new QComboBox(this);
  theme_->addItem(tr("System"), static_cast<int>(Preferences::Theme::System));
  theme_->addItem(tr("Light"), static_cast<int>(Preferences::Theme::Light));
  theme_->addItem(tr("Dark"), static_cast<int>(Preferences::Theme::Dark));
  theme_->setToolTip(tr("System follows the desktop's colours; Light and Dark are the studio's own."));

  runs_dir_ = new QLineEdit(this);
  runs_dir_->setClearButtonEnabled(true);
  runs_dir_->setMinimumWidth(360);
  runs_dir_->setToolTip(tr("Every run gets a folder here, and runs.sqlite indexes them (shared with contrastive-cli)."));
  browse_ = new QPushButton(tr("&Browse…"), this);
  browse_->setAutoDefault(false);
  connect(browse_, &QPushButton::clicked, this, &PreferencesDialog::browseRunsDir);

  device_ = new QComboBox(this);
  device_->setEditable(true);
  device_->addItems({QStringLiteral("auto"), QStringLiteral("cpu"), QStringLiteral("cuda")});
  device_->setInsertPolicy(QComboBox::NoInsert);
  device_->setToolTip(tr("auto uses the GPU when there is one; cuda:N picks GPU N."));

  if (preferences_) {
    theme_->setCurrentIndex(std::max(0, theme_->findData(static_cast<int>(preferences_->theme()))));
    runs_dir_->setText(QDir::toNativeSeparators(preferences_->runsDir()));
    const QString device = preferences_->defaultDevice();
    if (device_->findText(device) < 0) device_->addItem(device);
    device_->setCurrentText(device);
  }

  auto* theme_label = new QLabel(tr("&Theme:"), this);
  theme_label->setBuddy(theme_);
  auto* runs_label = new QLabel(tr("&Runs folder:"), this);
  runs_label->setBuddy(runs_dir_);
  auto* device_label = new QLabel(tr("Default &device:"), this);
  device_label->setBuddy(device_);

  auto* runs_row = new QHBoxLayout;
  runs_row->addWidget(runs_dir_, 1);
  runs_row->addWidget(browse_);

  auto* form = new QFormLayout;
  form->addRow(theme_label, theme_);
  form->addRow(runs_label, runs_row);
  form->addRow(device_label, device_);

  buttons_ = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
  connect(buttons_, &QDialogButtonBox::accepted, this, &PreferencesDialog::accept);
  connect(buttons_, &QDialogButtonBox::rejected, this, &PreferencesDialog::reject);

  auto* layout = new QVBoxLayout(this);
  layout->addLayout(form);
  layout->addStretch(1);
  layout->addWidget(buttons_);

  // Top to bottom, as the form reads.
  setTabOrder(theme_, runs_dir_);
  setTabOrder(runs_dir_, browse_);
  setTabOrder(browse_, device_);
  setTabOrder(device_, buttons_);
  theme_->setFocus();
}

bool PreferencesDialog::prepareRunsFolder(const QString& dir, QString* error) {
  auto fail = [error](const QString& message) {
    if (error) *error = message;
    return false;
  };
  if (dir.trimmed().isEmpty()) return fail(tr("Choose a runs folder."));
  const QString path = expandedPath(dir);
  const QString shown = QDir::toNativeSeparators(path);
  const QFileInfo info(path);
  if (info.exists() && !info.isDir())
    return fail(tr("The runs folder %1 is a file, not a folder. Choose another location.").arg(shown));

  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path.toStdString()), ec);
  if (ec || !QFileInfo(path).isDir()) {
    const QString reason = ec ? QString::fromStdString(ec.message()) : tr("unknown error");
    return fail(tr("The runs folder %1 cannot be created: %2.").arg(shown, reason));
  }
  // Permission bits do not tell the whole story (ACLs, read-only mounts): try a file.
  QTemporaryFile probe(path + QStringLiteral("/.write-test-XXXXXX"));
  if (!probe.open())
    return fail(tr("The runs folder %1 is not writable: %2.").arg(shown, probe.errorString()));
  return true;
}

void PreferencesDialog::showProblem(const QString& message, QWidget* focus) {
  last_error_ = message;
  QMessageBox::warning(this, tr("Preferences"), message);
  if (focus) focus->setFocus();
}

void PreferencesDialog::accept() {
  const QString device = device_->currentText().trimmed().toLower();
  if (!Preferences::isValidDevice(device)) {
    showProblem(tr("The default device \"%1\" is not one of: auto, cpu, cuda, cuda:N (N a GPU number).")
                    .arg(device_->currentText()),
                device_);
    return;
  }
  QString error;
  if (!prepareRunsFolder(runs_dir_->text(), &error)) {
    showProblem(error, runs_dir_);
    return;
  }
  last_error_.clear();
  if (preferences_) {
    preferences_->setTheme(static_cast<Preferences::Theme>(theme_->currentData().toInt()));
    preferences_->setRunsDir(expandedPath(runs_dir_->text()));
    preferences_->setDefaultDevice(device);
  }
  QDialog::accept();
}

void PreferencesDialog::browseRunsDir() {
  const QString start = runs_dir_->text().trimmed().isEmpty() ? QDir::homePath() : expandedPath(runs_dir_->text());
  const QString dir = QFileDialog::getExistingDirectory(this, tr("Choose the runs folder"), start);
  if (!dir.isEmpty()) runs_dir_->setText(QDir::toNativeSeparators(dir));
}

}  // namespace studio
