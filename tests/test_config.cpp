// Experiment config: JSON round trip, presets, validation messages, --set overrides.
#include <QtTest/QtTest>

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include <cmath>
#include <limits>

#include "core/experiment/config.h"
#include "core/experiment/config_schema.h"
#include "core/base/text_format.h"
#include "tests/test_support.h"

using namespace studio;
using studio::test::contains;
using studio::test::expectError;

class TestConfig : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  // The one spelling of numbers and durations (core/base/text_format.h): config messages, the
  // CLI's progress line and the studio's ETA and run durations.
  void textFormats() {
    QCOMPARE(studio::formatNumber(0.001), std::string("0.001"));
    QCOMPARE(studio::formatNumber(1e-7), std::string("1e-07"));
    QCOMPARE(studio::formatNumber(250000), std::string("250000"));
    QCOMPARE(studio::formatNumber(3.14159265), std::string("3.14159"));
    QCOMPARE(studio::formatNumber(-2), std::string("-2"));
    QCOMPARE(studio::formatDuration(45.4), std::string("45s"));
    QCOMPARE(studio::formatDuration(192), std::string("3m12s"));
    QCOMPARE(studio::formatDuration(3720), std::string("1h02m"));
    QCOMPARE(studio::formatDuration(-1), std::string("?"));
    QCOMPARE(studio::formatDuration(std::nan("")), std::string("?"));
    QCOMPARE(studio::formatClock(0), std::string("0:00"));
    QCOMPARE(studio::formatClock(192), std::string("3:12"));
    QCOMPARE(studio::formatClock(3723), std::string("1:02:03"));
    QCOMPARE(studio::formatClock(std::numeric_limits<double>::infinity()), std::string("\u2014"));
  }

  void defaultsRoundTrip() {
    const ExperimentConfig c;
    const Json j = c.toJson();
    const ExperimentConfig back = ExperimentConfig::fromJson(j);
    QCOMPARE(QString::fromStdString(back.toJson().dump()), QString::fromStdString(j.dump()));
    QCOMPARE(back.train.batch_size, int64_t(256));
    QCOMPARE(back.method.temperature, 0.5);
  }

  void missingKeysTakeDefaults() {
    const auto c = ExperimentConfig::fromJson(Json::parse(R"({"train": {"epochs": 3}})"));
    QCOMPARE(c.train.epochs, int64_t(3));
    QCOMPARE(c.train.batch_size, int64_t(256));
    QCOMPARE(QString::fromStdString(c.dataset.kind), QString("fashion-mnist"));
  }

  void presetsParse() {
    int count = 0;
    for (const auto& entry : std::filesystem::directory_iterator(studio::test::sourceDir() + "/resources/presets")) {
      if (entry.path().extension() != ".json") continue;
      const auto c = loadExperimentConfig(entry.path().string());
      QVERIFY(!c.name.empty());
      ++count;
    }
    QVERIFY(count >= 3);
  }

  void validationMessages_data() {
    QTest::addColumn<QString>("json");
    QTest::addColumn<QString>("expected");
    QTest::newRow("unknown top key") << R"({"trian": {}})" << "unknown key 'trian'";
    QTest::newRow("unknown nested key") << R"({"train": {"epochz": 3}})" << "unknown key 'train.epochz'";
    QTest::newRow("batch too small") << R"({"train": {"batch_size": 1}})" << "train.batch_size = 1 is out of range [2, 65536]";
    QTest::newRow("lr wrong type") << R"({"optim": {"lr": "fast"}})" << "optim.lr must be a number";
    QTest::newRow("negative lr") << R"({"optim": {"lr": -1}})" << "optim.lr = -1 is out of range";
    QTest::newRow("epochs fractional") << R"({"train": {"epochs": 2.5}})" << "train.epochs must be an integer";
    QTest::newRow("backbone choice") << R"({"model": {"backbone": "vgg"}})" << "model.backbone = \"vgg\" is not one of: convnet, resnet18";
    QTest::newRow("dataset kind") << R"({"dataset": {"kind": "imagenet"}})" << "dataset.kind = \"imagenet\"";
    QTest::newRow("crop order") << R"({"augment": {"crop_scale_min": 0.9, "crop_scale_max": 0.5}})" << "augment.crop_scale_min (0.9) must not exceed";
    QTest::newRow("even blur kernel") << R"({"augment": {"blur_kernel": 4}})" << "augment.blur_kernel = 4 must be odd";
    QTest::newRow("mean/std lengths") << R"({"augment": {"mean": [0.5], "std": []}})" << "same length";
    QTest::newRow("device") << R"({"train": {"device": "gpu"}})" << "train.device = \"gpu\"";
    QTest::newRow("section not object") << R"({"train": 3})" << "'train' must be an object";
    QTest::newRow("bool type") << R"({"augment": {"crop": 1}})" << "augment.crop must be true or false";
    QTest::newRow("temperature range") << R"({"method": {"temperature": 0}})" << "method.temperature = 0 is out of range [0.01, 10]";
    QTest::newRow("init_from type") << R"({"model": {"init_from": 3}})" << "model.init_from must be a string";
    QTest::newRow("init_strict type") << R"({"model": {"init_strict": "yes"}})" << "model.init_strict must be true or false";
    QTest::newRow("lr multiplier range") << R"({"optim": {"backbone_lr_mult": -0.5}})" << "optim.backbone_lr_mult = -0.5 is out of range [0, 100]";
    QTest::newRow("frozen stages range") << R"({"optim": {"freeze_stages": 6}})" << "optim.freeze_stages = 6 is out of range [0, 5]";
  }

  void startFromWeightsKeys() {
    const auto c = ExperimentConfig::fromJson(Json::parse(
        R"({"model": {"init_from": "/data/resnet18.safetensors", "init_strict": false},
            "optim": {"backbone_lr_mult": 0.1, "freeze_stages": 2}})"));
    QCOMPARE(c.model.init_from, std::string("/data/resnet18.safetensors"));
    QVERIFY(!c.model.init_strict);
    QCOMPARE(c.optim.backbone_lr_mult, 0.1);
    QCOMPARE(c.optim.freeze_stages, int64_t(2));
    const auto back = ExperimentConfig::fromJson(c.toJson());
    QCOMPARE(QString::fromStdString(back.toJson().dump()), QString::fromStdString(c.toJson().dump()));
    // Defaults: random weights, strict when given, the encoder at the full rate, nothing frozen.
    const ExperimentConfig d;
    QVERIFY(d.model.init_from.empty() && d.model.init_strict);
    QCOMPARE(d.optim.backbone_lr_mult, 1.0);
    QCOMPARE(d.optim.freeze_stages, int64_t(0));
  }
  void validationMessages() {
    QFETCH(QString, json);
    QFETCH(QString, expected);
    const std::string message = expectError([&] { ExperimentConfig::fromJson(Json::parse(json.toStdString())); });
    QVERIFY2(contains(message, expected.toStdString()), message.c_str());
  }

  // Every choice key is read through the schema: each declared value is accepted and saved
  // back as given, and a value outside the list is refused naming the key and the list.
  void choiceKeysComeFromTheSchema() {
    QVERIFY(choiceKeys().size() >= 9);
    for (const auto& key : choiceKeys()) {
      const auto dot = key.path.find('.');
      const std::string section = key.path.substr(0, dot), name = key.path.substr(dot + 1);
      for (const auto& value : key.values) {
        Json j;
        j[section][name] = value;
        QCOMPARE(QString::fromStdString(ExperimentConfig::fromJson(j).toJson()[section][name].get<std::string>()),
                 QString::fromStdString(value));
      }
      Json bad;
      bad[section][name] = "no-such-choice";
      try {
        ExperimentConfig::fromJson(bad);
        QFAIL((key.path + ": an undeclared value was accepted").c_str());
      } catch (const Error& e) {
        const std::string message = e.what();
        QVERIFY2(message.find(key.path + " = \"no-such-choice\" is not one of: " + key.values.front()) != std::string::npos,
                 message.c_str());
      }
    }
  }

  void overrides() {
    Json j = ExperimentConfig().toJson();
    applyConfigOverride(j, "train.epochs=3");
    applyConfigOverride(j, "dataset.kind=mnist");
    applyConfigOverride(j, "model.head_dims=[64,32]");
    applyConfigOverride(j, "augment.crop=false");
    applyConfigOverride(j, "name=hello world");
    const auto c = ExperimentConfig::fromJson(j);
    QCOMPARE(c.train.epochs, int64_t(3));
    QCOMPARE(QString::fromStdString(c.dataset.kind), QString("mnist"));
    QCOMPARE(c.model.head_dims, (std::vector<int64_t>{64, 32}));
    QCOMPARE(c.augment.crop, false);
    QCOMPARE(QString::fromStdString(c.name), QString("hello world"));
    QVERIFY(contains(expectError([&] { applyConfigOverride(j, "no-equals-sign"); }), "key=value"));
    QVERIFY(contains(expectError([&] { applyConfigOverride(j, "train..epochs=1"); }), "malformed key"));
    applyConfigOverride(j, "train.epochz=1");
    QVERIFY(contains(expectError([&] { ExperimentConfig::fromJson(j); }), "train.epochz"));
  }

  void fileErrorsNameTheFile() {
    const std::string dir = test::scratchDir("config_files");
    const std::string bad = dir + "/bad.json";
    std::ofstream(bad) << "{ not json";
    QVERIFY(contains(expectError([&] { loadExperimentConfig(bad); }), bad + ": not valid JSON"));
    QVERIFY(contains(expectError([&] { loadExperimentConfig(dir + "/missing.json"); }), dir + "/missing.json"));
    const std::string range = dir + "/range.json";
    std::ofstream(range) << R"({"train": {"batch_size": 0}})";
    const auto message = expectError([&] { loadExperimentConfig(range); });
    QVERIFY2(contains(message, range) && contains(message, "train.batch_size"), message.c_str());
  }

  void saveAndLoad() {
    const std::string path = test::scratchDir("config_save") + "/exp.json";
    ExperimentConfig c;
    c.name = "saved";
    c.augment.mean = {0.25};
    c.augment.std = {0.5};
    c.optim.name = "lars";
    saveExperimentConfig(c, path);
    const auto back = loadExperimentConfig(path);
    QCOMPARE(QString::fromStdString(back.name), QString("saved"));
    QCOMPARE(back.augment.mean, std::vector<double>{0.25});
    QCOMPARE(QString::fromStdString(back.optim.name), QString("lars"));
    QVERIFY(!std::filesystem::exists(path + ".tmp-" + std::to_string(::getpid())));
  }
};

QTEST_MAIN(TestConfig)
#include "test_config.moc"
