#pragma once
// The studio's user preferences, kept in QSettings: typed getters with sane defaults for
// missing or hand-mangled values, and setters that write at once and announce changes.
#include <QByteArray>
#include <QObject>
#include <QString>
#include <QStringList>
#include <QVariant>

class QSettings;

namespace studio {

// Typed access to the studio's QSettings. The app constructs one and hands it to the
// windows that need it; tests pass a QSettings on a scratch INI file. Every setter writes
// through and emits its *Changed signal only when the stored value actually changed.
class Preferences : public QObject {
  Q_OBJECT
 public:
  enum class Theme { System, Light, Dark };
  Q_ENUM(Theme)

  static constexpr int kMaxRecentExperiments = 8;

  // Uses QSettings with the application's organization and name (set them first).
  explicit Preferences(QObject* parent = nullptr);
  // Uses settings, which is not owned and must outlive this object.
  Preferences(QSettings* settings, QObject* parent);

  Theme theme() const;
  void setTheme(Theme theme);

  // Where run folders and the run index live; studio::defaultRunsDir() until set.
  QString runsDir() const;
  void setRunsDir(const QString& dir);  // an empty dir goes back to the default

  // auto | cpu | cuda | cuda:N; "auto" until set, and when the stored value is invalid.
  QString defaultDevice() const;
  // Returns false (and changes nothing) for anything but the forms above.
  bool setDefaultDevice(const QString& device);
  static bool isValidDevice(const QString& device);

  // Most recent first, without duplicates, at most kMaxRecentExperiments; files that no
  // longer exist are left out.
  QStringList recentExperiments() const;
  void addRecentExperiment(const QString& path);
  void clearRecentExperiments();

  QByteArray windowGeometry() const;
  void setWindowGeometry(const QByteArray& geometry);
  QByteArray windowState() const;
  void setWindowState(const QByteArray& state);
  int lastPage() const;  // 0 until set
  void setLastPage(int page);

  QSettings* settings() const { return settings_; }

  // "system", "light", "dark" as stored; unknown names read as System.
  static QString themeName(Theme theme);
  static Theme themeFromName(const QString& name);

 Q_SIGNALS:
  void themeChanged(studio::Preferences::Theme theme);
  void runsDirChanged(const QString& dir);
  void defaultDeviceChanged(const QString& device);
  void recentExperimentsChanged();
  void windowGeometryChanged();
  void windowStateChanged();
  void lastPageChanged(int page);

 private:
  // Writes value under key and flushes; true when the stored value changed.
  bool store(const QString& key, const QVariant& value);
  QStringList storedRecent() const;

  QSettings* settings_;
};

}  // namespace studio
