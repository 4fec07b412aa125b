#include "app/studio/preferences.h"

#include <QDir>
#include <QFileInfo>
#include <QRegularExpression>
#include <QSettings>

#include "core/runs/run_folder.h"

namespace studio {

namespace {

const QString kThemeKey = QStringLiteral("appearance/theme");
const QString kRunsDirKey = QStringLiteral("paths/runsDir");
const QString kDeviceKey = QStringLiteral("training/defaultDevice");
const QString kRecentKey = QStringLiteral("recent/experiments");
const QString kGeometryKey = QStringLiteral("window/geometry");
const QString kStateKey = QStringLiteral("window/state");
const QString kLastPageKey = QStringLiteral("window/lastPage");
const QString kDefaultDevice = QStringLiteral("auto");

// One spelling per file, so that the same experiment opened as ./a.json and /x/a.json is
// one entry in the list.
QString canonicalPath(const QString& path) { return QDir::cleanPath(QFileInfo(path).absoluteFilePath()); }

QString normalizedDevice(const QString& device) { return device.trimmed().toLower(); }

}  // namespace

Preferences::Preferences(QObject* parent) : QObject(parent), settings_(new QSettings(this)) {}

Preferences::Preferences(QSettings* settings, QObject* parent)
    : QObject(parent), settings_(settings ? settings : new QSettings(this)) {}

bool Preferences::store(const QString& key, const QVariant& value) {
  if (settings_->contains(key) && settings_->value(key) == value) return false;
  settings_->setValue(key, value);
  // Written through at once: a crash later must not lose what the user just chose.
  settings_->sync();
  return true;
}

QString Preferences::themeName(Theme theme) {
  switch (theme) {
    case Theme::Light:
      return QStringLiteral("light");
    case Theme::Dark:
      return QStringLiteral("dark");
    case Theme::System:
      break;
  }
  return QStringLiteral("system");
}

Preferences::Theme Preferences::themeFromName(const QString& name) {
  const QString n = name.trimmed().toLower();
  if (n == QLatin1String("light")) return Theme::Light;
  if (n == QLatin1String("dark")) return Theme::Dark;
  return Theme::System;
}

Preferences::Theme Preferences::theme() const {
  return themeFromName(settings_->value(kThemeKey, themeName(Theme::System)).toString());
}

void Preferences::setTheme(Theme theme) {
  const Theme before = this->theme();
  store(kThemeKey, themeName(theme));
  if (before != theme) Q_EMIT themeChanged(theme);
}

QString Preferences::runsDir() const {
  const QString stored = settings_->value(kRunsDirKey).toString().trimmed();
  if (!stored.isEmpty()) return stored;
  return QDir::cleanPath(QString::fromStdString(defaultRunsDir()));
}

void Preferences::setRunsDir(const QString& dir) {
  const QString before = runsDir();
  const QString trimmed = dir.trimmed();
  if (trimmed.isEmpty()) {
    settings_->remove(kRunsDirKey);
    settings_->sync();
  } else {
    store(kRunsDirKey, QDir::cleanPath(trimmed));
  }
  const QString after = runsDir();
  if (after != before) Q_EMIT runsDirChanged(after);
}

bool Preferences::isValidDevice(const QString& device) {
  static const QRegularExpression pattern(QStringLiteral("^(auto|cpu|cuda(:[0-9]+)?)$"));
  return pattern.match(normalizedDevice(device)).hasMatch();
}

QString Preferences::defaultDevice() const {
  const QString stored = normalizedDevice(settings_->value(kDeviceKey, kDefaultDevice).toString());
  return isValidDevice(stored) ? stored : kDefaultDevice;
}

bool Preferences::setDefaultDevice(const QString& device) {
  if (!isValidDevice(device)) return false;
  const QString before = defaultDevice();
  const QString value = normalizedDevice(device);
  store(kDeviceKey, value);
  if (value != before) Q_EMIT defaultDeviceChanged(value);
  return true;
}

QStringList Preferences::storedRecent() const {
  QStringList out;
  for (const QString& entry : settings_->value(kRecentKey).toStringList()) {
    if (entry.trimmed().isEmpty()) continue;
    const QString path = canonicalPath(entry);
    if (!out.contains(path)) out.append(path);
  }
  return out;
}

QStringList Preferences::recentExperiments() const {
  QStringList out;
  for (const QString& path : storedRecent()) {
    if (!QFileInfo(path).isFile()) continue;
    out.append(path);
    if (out.size() == kMaxRecentExperiments) break;
  }
  return out;
}

void Preferences::addRecentExperiment(const QString& path) {
  if (path.trimmed().isEmpty()) return;
  const QStringList before = recentExperiments();
  QStringList list = before;
  const QString entry = canonicalPath(path);
  list.removeAll(entry);
  list.prepend(entry);
  while (list.size() > kMaxRecentExperiments) list.removeLast();
  store(kRecentKey, list);
  if (list != before) Q_EMIT recentExperimentsChanged();
}

void Preferences::clearRecentExperiments() {
  const bool had = !recentExperiments().isEmpty();
  settings_->remove(kRecentKey);
  settings_->sync();
  if (had) Q_EMIT recentExperimentsChanged();
}

QByteArray Preferences::windowGeometry() const { return settings_->value(kGeometryKey).toByteArray(); }

void Preferences::setWindowGeometry(const QByteArray& geometry) {
  if (store(kGeometryKey, geometry)) Q_EMIT windowGeometryChanged();
}

QByteArray Preferences::windowState() const { return settings_->value(kStateKey).toByteArray(); }

void Preferences::setWindowState(const QByteArray& state) {
  if (store(kStateKey, state)) Q_EMIT windowStateChanged();
}

int Preferences::lastPage() const {
  bool ok = false;
  const int page = settings_->value(kLastPageKey, 0).toInt(&ok);
  return ok && page >= 0 ? page : 0;
}

void Preferences::setLastPage(int page) {
  const int before = lastPage();
  store(kLastPageKey, page);
  if (lastPage() != before) Q_EMIT lastPageChanged(lastPage());
}

}  // namespace studio
