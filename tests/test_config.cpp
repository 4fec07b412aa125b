// Experiment config: JSON round trip, presets, validation messages, --set overrides.
#include <QtTest/QtTest>

#include <algorithm>
#include <filesystem>
#include <functional>
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

namespace {
std::string slashes(std::string path) {
  std::replace(path.begin(), path.end(), '.', '/');
  return path;
}
}  // namespace

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
    // The method's own settings are core/methods' (test_methods): none written by default.
    QCOMPARE(back.method.name, std::string("simclr"));
    QVERIFY(back.method.settings.empty());
  }

  void missingKeysTakeDefaults() {
    const auto c = ExperimentConfig::fromJson(Json::parse(R"({"train": {"epochs": 3}})"));
    QCOMPARE(c.train.epochs, int64_t(3));
    QCOMPARE(c.train.batch_size, int64_t(256));
    QVERIFY(c.dataset.kind == DatasetKind::FashionMnist);
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
    QTest::newRow("local crop order") << R"({"augment": {"local_scale_min": 0.5, "local_scale_max": 0.3}})" << "augment.local_scale_min (0.5) must not exceed augment.local_scale_max (0.3)";
    QTest::newRow("local side too small") << R"({"augment": {"local_size": 6}})" << "augment.local_size = 6: a local view needs at least 8 pixels a side";
    QTest::newRow("too many local views") << R"({"augment": {"local_crops": 17}})" << "augment.local_crops = 17 is out of range [0, 16]";
    QTest::newRow("even blur kernel") << R"({"augment": {"blur_kernel": 4}})" << "augment.blur_kernel = 4 must be odd";
    QTest::newRow("mean/std lengths") << R"({"augment": {"mean": [0.5], "std": []}})" << "same length";
    QTest::newRow("device") << R"({"train": {"device": "gpu"}})" << "train.device = \"gpu\"";
    QTest::newRow("section not object") << R"({"train": 3})" << "'train' must be an object";
    QTest::newRow("bool type") << R"({"augment": {"crop": 1}})" << "augment.crop must be true or false";
    QTest::newRow("method block not an object") << R"({"method": {"simclr": 0.5}})" << "unknown key 'method.simclr'";
    QTest::newRow("legacy temperature type") << R"({"method": {"temperature": "hot"}})" << "method.temperature must be a number";
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
    QVERIFY(choiceKeys().size() >= 8);  // method.name is the methods' open list (core/methods)
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

  // Each key is declared once and bound to its own member: setting any one key away from its
  // default changes that key alone in what toJson writes, and toJson writes exactly the
  // declared keys. (A key bound to another's member, or written under the wrong name, fails.)
  void everyKeyIsBoundToItsOwnMember() {
    const Json defaults = ExperimentConfig().toJson();
    std::vector<std::string> written;
    std::function<void(const Json&, const std::string&)> leaves = [&](const Json& j, const std::string& at) {
      for (const auto& [name, value] : j.items()) {
        const std::string path = at.empty() ? name : at + "." + name;
        if (value.is_object()) leaves(value, path);
        else written.push_back(path);
      }
    };
    leaves(defaults, "");
    std::vector<std::string> declared;
    for (const auto& key : configKeys()) declared.push_back(key.path);
    std::sort(written.begin(), written.end());
    std::sort(declared.begin(), declared.end());
    QCOMPARE(written, declared);

    for (const auto& key : configKeys()) {
      const Json before = key.defaultValue();
      QCOMPARE(QString::fromStdString(defaults[Json::json_pointer("/" + slashes(key.path))].dump()),
               QString::fromStdString(before.dump()));
      Json other;
      switch (key.type) {
        case KeyType::Integer:
        case KeyType::Number: other = before.get<double>() == key.max ? key.min : key.max; break;
        case KeyType::Boolean: other = !before.get<bool>(); break;
        case KeyType::Text: other = key.path == "train.device" ? "cpu" : "changed"; break;
        case KeyType::Choice: other = key.values.back() == before.get<std::string>() ? key.values.front() : key.values.back(); break;
        case KeyType::NumberList: other = Json::array({key.max}); break;
        case KeyType::IntegerList: other = Json::array({key.min, key.max}); break;
      }
      if (key.type == KeyType::Integer) other = static_cast<int64_t>(other.get<double>());
      if (key.values.size() == 1) continue;  // a choice with one word has nothing else to be
      Json j = defaults;
      j[Json::json_pointer("/" + slashes(key.path))] = other;
      // The keys paired with this one follow where a rule ties them (mean and std have one length each).
      if (key.path == "augment.mean") j["augment"]["std"] = Json::array({1.0});
      if (key.path == "augment.std") j["augment"]["mean"] = Json::array({0.5});
      for (const char* pair : {"crop_scale", "crop_ratio", "blur_sigma", "local_scale"}) {
        const std::string lo = std::string("augment.") + pair + "_min", hi = std::string("augment.") + pair + "_max";
        if (key.path == lo) j["augment"][std::string(pair) + "_max"] = std::max(other.get<double>(), j["augment"][std::string(pair) + "_max"].get<double>());
        if (key.path == hi) j["augment"][std::string(pair) + "_min"] = std::min(other.get<double>(), j["augment"][std::string(pair) + "_min"].get<double>());
      }
      if (key.path == "augment.blur_kernel" && other.get<int64_t>() % 2 == 0) continue;
      const Json back = ExperimentConfig::fromJson(j).toJson();
      QVERIFY2(back == j, (key.path + ": wrote " + back.dump() + "\n  expected " + j.dump()).c_str());
      QVERIFY2(back != defaults, (key.path + ": setting it changed nothing").c_str());
    }
  }

  // Closed choices are enums whose words are the schema's: the lists agree, and each word
  // reads back as its value.
  void choiceWordsAreTheEnums() {
    QCOMPARE(configKey("model.backbone").values, enumWords<Backbone>());
    QCOMPARE(configKey("dataset.kind").values, enumWords<DatasetKind>());
    QCOMPARE(configKey("optim.name").values, enumWords<OptimizerKind>());
    QCOMPARE(configKey("engine.precision").values, enumWords<Precision>());
    QCOMPARE(configKey("engine.resident_data").values, enumWords<AutoSwitch>());
    for (const auto& word : enumWords<Backbone>()) {
      Backbone b = Backbone::ConvNet;
      QVERIFY(enumFromWord(word, b));
      QCOMPARE(wordOf(b), word);
    }
    Precision p = Precision::Fp32;
    QVERIFY(!enumFromWord("fp16", p));
    QVERIFY(p == Precision::Fp32);  // untouched when the word is unknown
    QVERIFY(findConfigKey("optim.lr") && !findConfigKey("optim.lrr"));
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
    QVERIFY(c.dataset.kind == DatasetKind::Mnist);
    QCOMPARE(c.model.head_dims, (std::vector<int64_t>{64, 32}));
    QCOMPARE(c.augment.crop, false);
    QCOMPARE(QString::fromStdString(c.name), QString("hello world"));
    // Text and choice keys take the value as written, though it would parse as JSON.
    applyConfigOverride(j, "name=2024");
    QCOMPARE(QString::fromStdString(ExperimentConfig::fromJson(j).name), QString("2024"));
    applyConfigOverride(j, "name=\"quoted\"");
    QCOMPARE(QString::fromStdString(ExperimentConfig::fromJson(j).name), QString("quoted"));
    applyConfigOverride(j, "train.device=0");
    QVERIFY(contains(expectError([&] { ExperimentConfig::fromJson(j); }), "train.device = \"0\""));
    applyConfigOverride(j, "train.device=cpu");
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
    c.optim.name = OptimizerKind::Lars;
    saveExperimentConfig(c, path);
    const auto back = loadExperimentConfig(path);
    QCOMPARE(QString::fromStdString(back.name), QString("saved"));
    QCOMPARE(back.augment.mean, std::vector<double>{0.25});
    QVERIFY(back.optim.name == OptimizerKind::Lars);
    QVERIFY(!std::filesystem::exists(path + ".tmp-" + std::to_string(::getpid())));
  }
};

QTEST_MAIN(TestConfig)
#include "test_config.moc"
