#pragma once
// Helpers shared by the test suites: scratch folders and expecting studio errors.
#include <QtTest/QtTest>

#include <QMetaMethod>
#include <QProcess>
#include <QSet>
#include <QStringList>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "core/base/error.h"
#include "core/base/file_io.h"  // readTextFile, for the files the suites check

namespace studio::test {

// Paths of this checkout reach the tests through CTest's environment (tests/CMakeLists.txt),
// not compile definitions: absolute paths baked into objects defeat ccache across clones.
inline std::string testPath(const char* variable) {
  const char* value = std::getenv(variable);
  if (!value || !*value) qFatal("%s is not set: run the tests through ctest (./studio test)", variable);
  return value;
}
inline std::string scratchRoot() { return testPath("STUDIO_TEST_SCRATCH"); }
inline std::string sourceDir() { return testPath("STUDIO_SOURCE_DIR"); }
inline std::string cliPath() { return testPath("STUDIO_CLI_PATH"); }
// The Python of the environment ./studio setup makes (torch, torchvision, onnxruntime, ...),
// or empty when the build was configured without one (tests that need it skip, saying so).
inline std::string pythonPath() {
  const char* value = std::getenv("STUDIO_PYTHON");
  return value && *value && std::filesystem::exists(value) ? value : std::string();
}

// A fresh, empty folder under the build tree's scratch area, named after the test.
inline std::string scratchDir(const std::string& name) {
  const std::string dir = scratchRoot() + "/" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// Runs f and returns the message of the studio::Error it throws, failing the test when it
// throws nothing, something else, or an error of another kind.
inline std::string expectError(const std::function<void()>& f, ErrorKind kind = ErrorKind::BadInput) {
  try {
    f();
  } catch (const Error& e) {
    if (e.kind() != kind) {
      QTest::qFail(("wrong error kind for: " + std::string(e.what())).c_str(), __FILE__, __LINE__);
    }
    return e.what();
  } catch (const std::exception& e) {
    QTest::qFail(("expected studio::Error, got: " + std::string(e.what())).c_str(), __FILE__, __LINE__);
    return {};
  }
  QTest::qFail("expected studio::Error, nothing was thrown", __FILE__, __LINE__);
  return {};
}

// The fields of text between separators (lines of a file, cells of a TSV row).
inline std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(text);
  while (std::getline(in, part, separator)) parts.push_back(part);
  return parts;
}

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A script of tests/python/ run by the environment's Python (pythonPath(), not empty).
struct PythonRun {
  bool finished = false;
  int exit_code = -1;
  std::string out, err;
  std::string describe() const {
    return "exit " + std::to_string(exit_code) + (finished ? "" : " (timed out)") + "\nstdout: " + out + "\nstderr: " + err;
  }
};
inline PythonRun runPython(const std::string& script, const QStringList& args, int timeout_ms = 300000) {
  QProcess p;
  p.setProgram(QString::fromStdString(pythonPath()));
  QStringList all = {QString::fromStdString(sourceDir() + "/tests/python/" + script)};
  all << args;
  p.setArguments(all);
  p.start();
  PythonRun r;
  r.finished = p.waitForStarted(30000) && p.waitForFinished(timeout_ms);
  if (!r.finished) {
    p.kill();
    p.waitForFinished(5000);
  }
  r.exit_code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
  r.out = p.readAllStandardOutput().toStdString();
  r.err = p.readAllStandardError().toStdString();
  return r;
}

// The arguments for QTest::qExec with "--exclude f1,f2" taken out and, when it was given,
// the suite's other test functions named instead. CTest runs the checks that need an
// optional part (the Python environment, a CUDA device) as entries of their own, so that a
// skip there shows as Skipped and never hides inside a Passed suite (tests/CMakeLists.txt).
inline QStringList suiteArguments(const QObject& suite, int argc, char** argv) {
  QStringList args;
  QSet<QString> excluded;
  for (int i = 0; i < argc; ++i) {
    const QString arg = QString::fromLocal8Bit(argv[i]);
    if (arg == QLatin1String("--exclude") && i + 1 < argc) {
      for (const QString& name : QString::fromLocal8Bit(argv[++i]).split(QLatin1Char(','), Qt::SkipEmptyParts))
        excluded.insert(name);
    } else {
      args << arg;
    }
  }
  if (excluded.isEmpty()) return args;
  // Qt Test's rule for a test function: a private slot without arguments, not a fixture.
  static const QSet<QString> fixtures = {"initTestCase", "cleanupTestCase", "init", "cleanup"};
  const QMetaObject* meta = suite.metaObject();
  QSet<QString> unknown = excluded;
  for (int m = meta->methodOffset(); m < meta->methodCount(); ++m) {
    const QMetaMethod method = meta->method(m);
    if (method.methodType() != QMetaMethod::Slot || method.access() != QMetaMethod::Private || method.parameterCount() != 0)
      continue;
    const QString name = QString::fromLatin1(method.name());
    if (fixtures.contains(name) || name.endsWith(QLatin1String("_data"))) continue;
    unknown.remove(name);
    if (!excluded.contains(name)) args << name;
  }
  // A renamed function must not silently drop out of both entries.
  if (!unknown.isEmpty()) qFatal("--exclude names no test function of this suite: %s", qPrintable(QStringList(unknown.values()).join(", ")));
  return args;
}

}  // namespace studio::test

// QTEST_MAIN, plus --exclude (see suiteArguments).
#if defined(QT_WIDGETS_LIB)
#define STUDIO_TEST_APPLICATION QApplication
#elif defined(QT_GUI_LIB)
#define STUDIO_TEST_APPLICATION QGuiApplication
#else
#define STUDIO_TEST_APPLICATION QCoreApplication
#endif
#define STUDIO_TEST_MAIN(TestObject)                                             \
  int main(int argc, char** argv) {                                              \
    STUDIO_TEST_APPLICATION app(argc, argv);                                     \
    app.setAttribute(Qt::AA_Use96Dpi, true);                                     \
    TestObject suite;                                                            \
    return QTest::qExec(&suite, studio::test::suiteArguments(suite, argc, argv)); \
  }
