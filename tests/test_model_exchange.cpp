// Models in and out of the studio: the safetensors reader and writer (every dtype, every
// malformed file refused with a message, the reference implementation agreeing), weights
// matched by name and shape (torchvision, timm and studio names, prefixes, strict and
// non-strict, the RGB->gray stem), and exports that real clients load: torchvision and the
// reference ConvNet give the studio's features, onnxruntime gives LibTorch's, and every
// export has its model card. The Python checks run in the environment ./studio setup makes
// (STUDIO_PYTHON) and are skipped, saying so, without it.
#include <QtTest/QtTest>

#include <torch/torch.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/model/checkpoint.h"
#include "core/exchange/model_export.h"
#include "core/methods/methods.h"
#include "core/model/models.h"
#include "core/base/npy.h"
#include "core/data/packed_dataset.h"
#include "core/base/safetensors.h"
#include "core/exchange/safetensors_torch.h"
#include "core/eval/supervised.h"
#include "core/train/trainer.h"
#include "core/version.h"
#include "core/exchange/weight_import.h"
#include "tests/test_support.h"

namespace fs = std::filesystem;
using namespace studio;
using Json = nlohmann::json;
using studio::test::contains;
using studio::test::expectError;

namespace {

std::string readBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void writeBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A safetensors file from a header text and data bytes, the length field computed (or forced).
std::string rawFile(const std::string& header, const std::string& data, int64_t forced_length = -1) {
  const uint64_t n = forced_length >= 0 ? static_cast<uint64_t>(forced_length) : header.size();
  std::string out(8, '\0');
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}

ModelConfig modelConfig(const std::string& backbone, const std::string& stem = "auto", int64_t width = 8) {
  ModelConfig c;
  // The tests name architectures as users write them.
  if (!enumFromWord(backbone, c.backbone) || !enumFromWord(stem, c.stem))
    qFatal("modelConfig: no backbone '%s' or stem '%s'", backbone.c_str(), stem.c_str());
  c.width = width;
  c.head_dims = {32, 16};
  return c;
}

// Batch-norm statistics away from 0/1 so that a lost or swapped buffer shows in the outputs.
void randomiseNorms(torch::nn::Module& m, int64_t seed) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(static_cast<uint64_t>(seed));
  for (auto& b : m.named_buffers()) {
    if (contains(b.key(), "running_mean")) b.value().uniform_(-0.3, 0.3);
    if (contains(b.key(), "running_var")) b.value().uniform_(0.5, 1.5);
  }
  for (auto& p : m.named_parameters())
    if (p.value().dim() == 1) p.value().uniform_(0.5, 1.5);
}

torch::Tensor featuresOf(BackboneImpl& b, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  b.eval();
  return b.forward(x);
}

void saveNpy(const std::string& path, const torch::Tensor& t) {
  const auto c = t.to(torch::kFloat32).contiguous();
  writeNpy(path, "<f4", c.sizes().vec(), c.data_ptr<float>());
}

torch::Tensor loadNpy(const std::string& path) {
  const NpyArray a = readNpy(path);
  if (a.dtype != "<f4") qFatal("%s: expected float32", path.c_str());
  return torch::from_blob(const_cast<uint8_t*>(a.bytes.data()), a.shape, torch::kFloat32).clone();
}

// 64 RGB 32x32 images in 4 classes (a coloured square whose corner depends on the class).
std::string writeRgbDataset(const std::string& dir) {
  PackedDataset p;
  p.count = 64;
  p.channels = 3;
  p.height = 32;
  p.width = 32;
  p.class_names = {"nw", "ne", "sw", "se"};
  uint32_t rng = 99;
  for (int i = 0; i < p.count; ++i) {
    const int cls = i % 4;
    for (int ch = 0; ch < 3; ++ch)
      for (int r = 0; r < 32; ++r)
        for (int c = 0; c < 32; ++c) {
          rng = rng * 1664525u + 1013904223u;
          const bool inside = (r < 16) == (cls < 2) && (c < 16) == (cls % 2 == 0);
          p.pixels.push_back(static_cast<uint8_t>((inside ? 60 + 60 * ch : 30) + (rng >> 27)));
        }
    p.labels.push_back(cls);
  }
  const std::string path = dir + "/squares.csds";
  writePackedDataset(path, p);
  return path;
}

ExperimentConfig tinyRun(const std::string& data, const ModelConfig& model) {
  ExperimentConfig c;
  c.name = "exchange-" + wordOf(model.backbone);
  c.dataset.kind = DatasetKind::Packed;
  c.dataset.path = data;
  c.dataset.holdout_fraction = 0.25;
  c.model = model;
  c.augment.saturation = 0;
  c.augment.hue = 0;
  c.train.epochs = 1;
  c.train.batch_size = 16;
  c.train.max_steps = 2;
  c.train.threads = 2;
  c.train.device = "cpu";
  c.monitor.every_epochs = 0;
  c.monitor.k = 5;
  c.monitor.map_size = 0;
  return c;
}

// The encoder of a run's last checkpoint, as the export sees it.
ContrastiveModel loadRunModel(const RunFolder& run, int64_t channels, int64_t side) {
  const ExperimentConfig c = loadExperimentConfig(run.configPath());
  auto model = makeContrastiveModel(c.model, channels, side);
  loadCheckpoint(run.checkpointPath(), model, nullptr);
  model->eval();
  return model;
}

Json lastJsonLine(const std::string& out) {
  const auto end = out.find_last_not_of("\n ");
  if (end == std::string::npos) return Json();
  const auto start = out.rfind('\n', end);
  return Json::parse(out.substr(start == std::string::npos ? 0 : start + 1, end + 1), nullptr, false);
}

}  // namespace

class TestModelExchange : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    torch::set_num_threads(2);
    dir_ = test::scratchDir("model_exchange");
  }

  // ---- the safetensors format --------------------------------------------------------

  void roundTripEveryDtype() {
    torch::manual_seed(1);
    const NamedTensors in = {{"f32", torch::randn({3, 4})},
                             {"f64", torch::randn({2, 2}, torch::kFloat64)},
                             {"f16", torch::randn({5}).to(torch::kFloat16)},
                             {"bf16", torch::randn({2, 3}).to(torch::kBFloat16)},
                             {"i64", torch::tensor(std::vector<int64_t>{-5, 0, int64_t(1) << 40})},
                             {"i32", torch::tensor({-7, 9}, torch::kInt32)},
                             {"u8", torch::tensor({0, 200, 255}, torch::kUInt8)},
                             {"flag", torch::tensor({true, false}, torch::kBool)},
                             {"scalar", torch::tensor(2.5f)},
                             {"empty", torch::zeros({0, 3})}};
    const std::string path = dir_ + "/all.safetensors";
    writeSafetensorsTensors(path, in, {{"note", "round trip"}});
    std::map<std::string, std::string> meta;
    const NamedTensors out = readSafetensorsTensors(path, &meta);
    QCOMPARE(meta.at("note"), std::string("round trip"));
    QCOMPARE(out.size(), in.size());
    for (size_t i = 0; i < in.size(); ++i) {
      QCOMPARE(out[i].first, in[i].first);  // data order = the order written
      QCOMPARE(out[i].second.scalar_type(), in[i].second.scalar_type());
      QCOMPARE(out[i].second.sizes().vec(), in[i].second.sizes().vec());
      QVERIFY2(torch::equal(out[i].second, in[i].second), in[i].first.c_str());
    }
    // The layout: an 8-byte length, a header padded to 8 bytes, tensors in order.
    const std::string bytes = readBytes(path);
    uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    QCOMPARE(n % 8, uint64_t(0));
    const SafetensorsFile f = SafetensorsFile::read(path);
    QCOMPARE(f.find("f16")->dtype, std::string("F16"));
    QCOMPARE(f.find("bf16")->shape, (std::vector<int64_t>{2, 3}));
    // float32 views of the reduced-precision tensors agree with torch's conversions.
    const auto f16 = f.toFloat32(*f.find("f16"));
    const auto expected = in[2].second.to(torch::kFloat32);
    for (int64_t i = 0; i < 5; ++i) QCOMPARE(f16[size_t(i)], expected[i].item<float>());
  }

  void halfAndBfloat16Conversions() {
    // Every half bit pattern converts as torch converts it, and back.
    const auto all = torch::arange(0, 65536, torch::kInt32).to(torch::kInt16);
    const auto as_float = all.view(torch::kFloat16).to(torch::kFloat32).contiguous();
    const int16_t* bits = all.data_ptr<int16_t>();
    const float* ref = as_float.data_ptr<float>();
    for (int64_t i = 0; i < 65536; ++i) {
      const float mine = halfToFloat(static_cast<uint16_t>(bits[i]));
      if (std::isnan(ref[i])) {
        QVERIFY(std::isnan(mine));
        continue;
      }
      if (mine != ref[i] || floatToHalf(mine) != static_cast<uint16_t>(bits[i]))
        QFAIL(qPrintable(QStringLiteral("half 0x%1: %2 vs torch %3").arg(uint16_t(bits[i]), 4, 16).arg(mine).arg(ref[i])));
    }
    // Rounding to nearest even, as torch rounds, on random floats of every magnitude.
    torch::manual_seed(5);
    const auto x = (torch::randn({20000}) * torch::pow(10.0, torch::randint(-9, 6, {20000}).to(torch::kFloat32))).contiguous();
    const auto h = x.to(torch::kFloat16).view(torch::kInt16).contiguous();
    const auto b = x.to(torch::kBFloat16).view(torch::kInt16).contiguous();
    for (int64_t i = 0; i < x.numel(); ++i) {
      const float v = x.data_ptr<float>()[i];
      QCOMPARE(floatToHalf(v), static_cast<uint16_t>(h.data_ptr<int16_t>()[i]));
      QCOMPARE(floatToBfloat16(v), static_cast<uint16_t>(b.data_ptr<int16_t>()[i]));
      QCOMPARE(bfloat16ToFloat(floatToBfloat16(v)), x.to(torch::kBFloat16).to(torch::kFloat32)[i].item<float>());
    }
  }

  void malformedFilesAreRefused_data() {
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<QString>("problem");
    const std::string ok = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
    const std::string data8(8, '\1');
    auto row = [](const char* name, const std::string& bytes, const char* problem) {
      QTest::newRow(name) << QByteArray(bytes.data(), static_cast<int>(bytes.size())) << QString(problem);
    };
    row("shorter than the length", std::string(5, '\0'), "too short");
    row("header length past the end", rawFile(ok, data8, 4096), "runs past the end of the file");
    row("header length absurd", rawFile(ok, data8, int64_t(1) << 62), "runs past the end of the file");
    row("header not JSON", rawFile("{\"a\": oops}", data8), "not JSON");
    row("header not an object", rawFile("[1, 2, 3]", data8), "not JSON");
    row("unknown dtype", rawFile(R"({"a":{"dtype":"F13","shape":[2],"data_offsets":[0,8]}})", data8),
        "unknown dtype \"F13\"");
    row("offsets past the end", rawFile(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", data8),
        "past the end of the data");
    row("size not shape x dtype", rawFile(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data8),
        "needs 12 bytes");
    row("overlapping tensors",
        rawFile(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                std::string(12, '\1')),
        "overlap");
    row("gap between tensors",
        rawFile(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                std::string(12, '\1')),
        "belong to no tensor");
    row("bytes after the last tensor", rawFile(ok, std::string(12, '\1')), "after the last tensor");
    row("no data_offsets", rawFile(R"({"a":{"dtype":"F32","shape":[2]}})", data8), "no data_offsets");
    row("negative dimension", rawFile(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data8),
        "not a non-negative integer");
    row("metadata not strings", rawFile(R"({"__metadata__":{"n":3},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", data8),
        "must be a string");
    // A real file cut short, as an interrupted download leaves it.
    SafetensorsWriter w;
    const std::vector<float> values(64, 1.5f);
    w.add("weight", "F32", {8, 8}, values.data(), values.size() * 4);
    const std::string full = w.serialize();
    row("truncated file", full.substr(0, full.size() - 10), "past the end of the data");
  }

  void malformedFilesAreRefused() {
    QFETCH(QByteArray, bytes);
    QFETCH(QString, problem);
    static int counter = 0;
    const std::string path = dir_ + "/malformed-" + std::to_string(++counter) + ".safetensors";
    writeBytes(path, bytes.toStdString());
    const std::string message = expectError([&] { SafetensorsFile::read(path); });
    QVERIFY2(contains(message, path), message.c_str());                      // names the file
    QVERIFY2(contains(message, "not a valid safetensors file"), message.c_str());
    QVERIFY2(contains(message, problem.toStdString()), message.c_str());      // and the problem
  }

  void absurdHeaderLengthInABigFile() {
    // A header length above 100 MiB is refused before any JSON is parsed, even when the file is long enough.
    std::string bytes(8 + SafetensorsFile::kMaxHeaderBytes + 16, ' ');
    const uint64_t n = SafetensorsFile::kMaxHeaderBytes + 8;
    std::memcpy(bytes.data(), &n, 8);
    const std::string message = expectError([&] { SafetensorsFile::parse(std::move(bytes), "big.safetensors"); });
    QVERIFY2(contains(message, "big.safetensors") && contains(message, "absurd"), message.c_str());
  }

  void writerRefusesBadTensors() {
    SafetensorsWriter w;
    const float x[2] = {1, 2};
    QVERIFY(contains(expectError([&] { w.add("a", "F99", {2}, x, 8); }), "unknown dtype"));
    QVERIFY(contains(expectError([&] { w.add("a", "F32", {3}, x, 8); }), "given 8 bytes"));
    w.add("a", "F32", {2}, x, 8);
    QVERIFY(contains(expectError([&] { w.add("a", "F32", {2}, x, 8); }), "added twice"));
  }

  // The reference implementation (Python's safetensors) reads what the studio writes and
  // refuses the malformed files the studio refuses.
  void referenceReaderAgrees() {
    if (test::pythonPath().empty()) QSKIP("no Python environment (STUDIO_PYTHON): ./studio setup makes one");
    const std::string good = dir_ + "/reference-good.safetensors";
    // numpy, the reader asked, has no bfloat16: float32, float16 and int64 here.
    writeSafetensorsTensors(good,
                            {{"w", torch::randn({3, 3})},
                             {"h", torch::randn({4}).to(torch::kFloat16)},
                             {"n", torch::tensor(std::vector<int64_t>{7})}},
                            {{"format", "pt"}});
    const std::string ok = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
    const std::vector<std::pair<std::string, std::string>> bad = {
        {"length", rawFile(ok, std::string(8, '\1'), 4096)},
        {"json", rawFile("{\"a\": oops}", std::string(8, '\1'))},
        {"dtype", rawFile(R"({"a":{"dtype":"F13","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\1'))},
        {"offsets", rawFile(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", std::string(8, '\1'))}};
    QStringList args = {QString::fromStdString(good)};
    for (const auto& [name, bytes] : bad) {
      const std::string path = dir_ + "/reference-" + name + ".safetensors";
      writeBytes(path, bytes);
      args << QString::fromStdString(path);
      expectError([&] { SafetensorsFile::read(path); });
    }
    const auto r = test::runPython("check_reference_reader.py", args);
    QVERIFY2(r.exit_code == 0, r.describe().c_str());
    const Json answers = lastJsonLine(r.out);
    QVERIFY2(answers.value(good, std::string()) == "ok", answers.dump().c_str());
    for (const auto& [name, bytes] : bad) {
      const std::string answer = answers.value(dir_ + "/reference-" + name + ".safetensors", std::string());
      QVERIFY2(answer.rfind("refused", 0) == 0, (name + ": " + answer).c_str());
    }
  }

  // ---- weights into an encoder ----------------------------------------------------------

  void checkpointOfAStudioRun() {
    auto source = makeContrastiveModel(modelConfig("convnet"), 1, 28);
    randomiseNorms(*source, 3);
    CheckpointInfo info;
    info.config_json = "{}";
    const std::string path = dir_ + "/studio.pt";
    saveCheckpoint(path, source, nullptr, info);

    auto target = makeBackbone(modelConfig("convnet"), 1, 28);
    const auto report = loadEncoderWeights(*target, path, /*strict=*/true);
    QCOMPARE(report.format, std::string("studio checkpoint"));
    QCOMPARE(report.prefix, std::string("backbone."));
    QCOMPARE(report.encoder_tensors, int64_t(18));  // 3 convolutions, 3 batch norms x 5 tensors
    QCOMPARE(report.matched.size(), size_t(18));
    QVERIFY(report.clean());
    for (const auto& name : report.ignored) QVERIFY2(name.rfind("head.", 0) == 0, name.c_str());  // the projection head
    QCOMPARE(report.ignored.size(), size_t(8));  // the head: Linear (no bias), BatchNorm1d (5 tensors), Linear (2)
    const auto x = torch::randn({3, 1, 28, 28});
    QVERIFY(torch::allclose(featuresOf(*target, x), featuresOf(source->backbone(), x), 0, 0));
    // The exchange names are the documented ones.
    std::vector<std::string> names;
    for (const auto& [name, t] : exchangeTensors(*target)) names.push_back(name);
    QCOMPARE(names.front(), std::string("conv1.weight"));
    QCOMPARE(names[1], std::string("bn1.weight"));
    QVERIFY(std::find(names.begin(), names.end(), "bn3.running_var") != names.end());
    // A run folder stands for its last checkpoint.
    fs::create_directories(dir_ + "/run-like/checkpoints");
    fs::copy_file(path, dir_ + "/run-like/checkpoints/last.pt", fs::copy_options::overwrite_existing);
    QCOMPARE(loadEncoderWeights(*target, dir_ + "/run-like", true).source, dir_ + "/run-like/checkpoints/last.pt");
  }

  void exchangeNamesUnderAnyPrefix() {
    auto source = makeBackbone(modelConfig("resnet18", "cifar"), 3, 32);
    randomiseNorms(*source, 4);
    NamedTensors tensors;
    for (const auto& [name, t] : exchangeTensors(*source)) tensors.emplace_back("model.encoder." + name, t);
    tensors.emplace_back("model.encoder.fc.weight", torch::randn({10, 512}));
    tensors.emplace_back("model.encoder.fc.bias", torch::randn({10}));
    tensors.emplace_back("queue", torch::randn({16, 8}));  // outside the encoder (MoCo's queue, say)
    const std::string path = dir_ + "/prefixed.safetensors";
    writeSafetensorsTensors(path, tensors);
    auto target = makeBackbone(modelConfig("resnet18", "cifar"), 3, 32);
    const auto report = loadEncoderWeights(*target, path, true);
    QCOMPARE(report.prefix, std::string("model.encoder."));
    QCOMPARE(report.format, std::string("safetensors"));
    QCOMPARE(static_cast<int64_t>(report.matched.size()), report.encoder_tensors);
    QCOMPARE(report.ignored, (std::vector<std::string>{"model.encoder.fc.weight", "model.encoder.fc.bias", "queue"}));
    const auto x = torch::randn({2, 3, 32, 32});
    QVERIFY(torch::allclose(featuresOf(*target, x), featuresOf(*source, x), 0, 0));
    // The report as JSON and text carries the counts.
    const Json j = report.toJson();
    QCOMPARE(j["matched"].size(), report.matched.size());
    QVERIFY2(contains(report.summary(), "120 of 120 encoder tensors matched"), report.summary().c_str());
  }

  void mismatchesRefusedUnlessNonStrict() {
    // ResNet-18 weights for a ResNet-34: 3+4+6+3 blocks wanted, 2+2+2+2 given.
    auto r18 = makeBackbone(modelConfig("resnet18", "imagenet"), 3, 64);
    const std::string path = dir_ + "/r18.safetensors";
    writeSafetensorsTensors(path, exchangeTensors(*r18));
    auto r34 = makeBackbone(modelConfig("resnet34", "imagenet"), 3, 64);
    const std::string message = expectError([&] { loadEncoderWeights(*r34, path, true); });
    QVERIFY2(contains(message, path) && contains(message, "do not fit the resnet34 encoder"), message.c_str());
    QVERIFY2(contains(message, "missing: layer1.2.conv1.weight"), message.c_str());
    QVERIFY2(contains(message, "init_strict"), message.c_str());  // says how to load what fits
    const auto before = r34->named_parameters()["layer1.2.conv1.weight"].clone();
    const auto report = loadEncoderWeights(*r34, path, false);
    QVERIFY(!report.clean());
    QCOMPARE(report.matched.size(), size_t(120));
    QVERIFY(report.unexpected.empty() && report.shape_mismatches.empty());
    // 8 more basic blocks, each 2 convolutions + 2 batch norms x 4 tensors (step counters are not "missing").
    QCOMPARE(report.missing.size(), size_t(8 * 10));
    QVERIFY(torch::equal(r34->named_parameters()["layer1.0.conv1.weight"], r18->named_parameters()["layer1.0.conv1.weight"]));
    QVERIFY(torch::equal(r34->named_parameters()["layer1.2.conv1.weight"], before));  // untouched

    // A CIFAR stem's 3x3 conv1 does not fit an ImageNet stem's 7x7: a shape mismatch.
    auto cifar = makeBackbone(modelConfig("resnet18", "cifar"), 3, 32);
    const std::string cifar_path = dir_ + "/cifar.safetensors";
    writeSafetensorsTensors(cifar_path, exchangeTensors(*cifar));
    auto imagenet = makeBackbone(modelConfig("resnet18", "imagenet"), 3, 64);
    const std::string stem = expectError([&] { loadEncoderWeights(*imagenet, cifar_path, true); });
    QVERIFY2(contains(stem, "conv1.weight (file [64, 3, 3, 3], encoder [64, 3, 7, 7])"), stem.c_str());
    const auto loose = loadEncoderWeights(*imagenet, cifar_path, false);
    QCOMPARE(loose.shape_mismatches.size(), size_t(1));
    QCOMPARE(loose.matched.size(), size_t(119));

    // Nothing in common: refused even when not strict.
    writeSafetensorsTensors(dir_ + "/foreign.safetensors", {{"embeddings.word.weight", torch::randn({4, 4})}});
    const std::string foreign = expectError([&] { loadEncoderWeights(*imagenet, dir_ + "/foreign.safetensors", false); });
    QVERIFY2(contains(foreign, "no tensor in the file fits the resnet18 encoder"), foreign.c_str());
    // Paths that are not weights.
    QVERIFY(contains(expectError([&] { loadEncoderWeights(*imagenet, dir_ + "/nope.safetensors", true); }), "no such file"));
    fs::create_directories(dir_ + "/empty-run");
    writeBytes(dir_ + "/empty-run/config.json", "{}");
    QVERIFY(contains(expectError([&] { loadEncoderWeights(*imagenet, dir_ + "/empty-run", true); }), "no checkpoint"));
  }

  void rgbStemAdaptedToGrayscale() {
    auto rgb = makeBackbone(modelConfig("resnet18", "imagenet"), 3, 64);
    randomiseNorms(*rgb, 8);
    const std::string path = dir_ + "/rgb.safetensors";
    writeSafetensorsTensors(path, exchangeTensors(*rgb));
    auto gray = makeBackbone(modelConfig("resnet18", "imagenet"), 1, 64);
    const auto report = loadEncoderWeights(*gray, path, true);
    QVERIFY(report.clean());
    QCOMPARE(report.adapted.size(), size_t(1));
    QVERIFY2(contains(report.adapted[0], "conv1.weight: summed over 3 colour channels"), report.adapted[0].c_str());
    // A gray image through the adapted encoder = the same image as RGB (x, x, x) through the original.
    const auto x = torch::rand({2, 1, 64, 64});
    // Equal up to float32 rounding, compared as vectors: the gray stem sums its 49-term dot
    // products where the RGB stem sums 147 terms, so each stem output differs by about
    // sqrt(147) * eps = 1.4e-6 of its magnitude (eps = 1.19e-7), in an order that depends on
    // the CPU's kernels; 20 layers add such errors as a random walk, sqrt(20) * 1.4e-6 = 6e-6.
    // (Element-wise tolerances fail on features near zero after ReLU, by a few ulps.)
    // Measured: 3e-7 (AVX-512), 7e-7 (ATEN_CPU_CAPABILITY=avx2), 6e-7 (default).
    const auto a = featuresOf(*gray, x), b = featuresOf(*rgb, x.repeat({1, 3, 1, 1}));
    const double relative = ((a - b).norm() / b.norm()).item<double>();
    qInfo("gray stem vs RGB stem: relative L2 difference %.3g", relative);
    QVERIFY2(relative < 1e-5, qPrintable(QString("relative L2 difference %1").arg(relative)));
  }

  // Files written by Python's safetensors library from torchvision's resnet18: with a
  // DataParallel prefix, under a training wrapper's prefix (timm's names are torchvision's),
  // and in half and bfloat16 precision; the studio's features equal torchvision's.
  void pythonWrittenWeightsLoad() {
    if (test::pythonPath().empty()) QSKIP("no Python environment (STUDIO_PYTHON): ./studio setup makes one");
    const std::string out = dir_ + "/python-made";
    const auto r = test::runPython("make_safetensors.py", {QString::fromStdString(out)});
    QVERIFY2(r.exit_code == 0, r.describe().c_str());
    const auto x = loadNpy(out + "/input.npy");
    const struct {
      const char* file;
      const char* features;
      const char* prefix;
      size_t ignored;
    } cases[] = {{"resnet18_module.safetensors", "features.npy", "module.", 2},
                 {"resnet18_timm.safetensors", "features.npy", "model.", 2},
                 {"resnet18_f16.safetensors", "features_f16.npy", "", 0},
                 {"resnet18_bf16.safetensors", "features_bf16.npy", "", 0}};
    for (const auto& c : cases) {
      auto encoder = makeBackbone(modelConfig("resnet18", "imagenet"), 3, 64);
      const auto report = loadEncoderWeights(*encoder, out + "/" + c.file, true);
      QCOMPARE(report.prefix, std::string(c.prefix));
      QCOMPARE(report.matched.size(), size_t(120));
      QCOMPARE(report.ignored.size(), c.ignored);
      const double diff = (featuresOf(*encoder, x) - loadNpy(out + "/" + c.features)).abs().max().item<double>();
      qInfo("%s in the studio vs torchvision: max abs difference %.3g", c.file, diff);
      QVERIFY2(diff < 1e-4, (std::string(c.file) + ": max abs difference " + std::to_string(diff)).c_str());
    }
  }

  // ---- exports -----------------------------------------------------------------------

  void exportsLoadInTorchvisionAndOnnxruntime() {
    const std::string data = writeRgbDataset(dir_);
    const std::string runs = dir_ + "/runs";
    Trainer resnet(tinyRun(data, modelConfig("resnet18", "imagenet")), runs);
    QCOMPARE(resnet.run({}).status, std::string("finished"));
    Trainer convnet(tinyRun(data, modelConfig("convnet", "auto", 8)), runs);
    QCOMPARE(convnet.run({}).status, std::string("finished"));
    // A fine-tuned classifier on the ResNet run, for the head's export.
    FinetuneOptions fo;
    fo.label_fraction = 1.0;
    fo.max_epochs = 1;
    fo.batch_size = 16;
    fo.min_epoch_samples = 0;  // one pass over the 48 images: the head only needs to exist
    finetuneRun(resnet.folder(), fo, "cpu", 0);

    torch::manual_seed(11);
    const auto x = torch::randn({4, 3, 32, 32});
    saveNpy(dir_ + "/x.npy", x);
    struct Case {
      const RunFolder* run;
      std::string model;
      std::string name;
    };
    const std::vector<Case> cases = {{&resnet.folder(), "encoder", "resnet"},
                                     {&convnet.folder(), "encoder", "convnet"},
                                     {&resnet.folder(), "classifier", "classifier"}};
    Json torchvision_jobs = Json::array(), onnx_jobs = Json::array();
    const bool have_exporter = !findOnnxExporter().empty();
    for (const auto& c : cases) {
      // What LibTorch computes: the checkpoint's encoder, or the classifier's weights.
      torch::Tensor features, logits;
      if (c.model == "encoder") {
        auto model = loadRunModel(*c.run, 3, 32);
        torch::NoGradGuard no_grad;
        features = model->features(x);
      } else {
        auto backbone = makeBackbone(modelConfig("resnet18", "imagenet"), 3, 32);
        loadEncoderWeights(*backbone, c.run->classifierPath(), false);
        features = featuresOf(*backbone, x);
        const auto head = readSafetensorsTensors(c.run->classifierPath());
        torch::Tensor w, b;
        for (const auto& [name, t] : head) {
          if (name == "fc.weight") w = t;
          if (name == "fc.bias") b = t;
        }
        QVERIFY(w.defined() && b.defined());
        logits = torch::addmm(b, features, w.t());
        saveNpy(dir_ + "/" + c.name + "-logits.npy", logits);
      }
      saveNpy(dir_ + "/" + c.name + "-features.npy", features);

      ExportOptions o;
      o.model = c.model;
      o.out_dir = dir_ + "/export-" + c.name + "-safetensors";
      o.licence = "CC BY 4.0 (test images)";
      const auto st = exportModel(*c.run, o);
      QCOMPARE(st.model_path, o.out_dir + "/" + c.model + ".safetensors");
      for (const auto& f : st.files) QVERIFY2(fs::exists(f), f.c_str());
      // The model card: dataset, size, hash, licence, method, settings, results, version.
      const Json card = Json::parse(readBytes(o.out_dir + "/model_card.json"));
      QCOMPARE(card["studio_version"].get<std::string>(), std::string(STUDIO_VERSION));
      QCOMPARE(card["dataset"]["training_images"].get<int64_t>(), int64_t(48));
      QCOMPARE(card["dataset"]["held_out_images"].get<int64_t>(), int64_t(16));
      QCOMPARE(card["dataset"]["content_hash"].get<std::string>().size(), size_t(16));
      QCOMPARE(card["dataset"]["licence"].get<std::string>(), o.licence);
      QCOMPARE(card["training"]["method"]["name"].get<std::string>(), std::string("simclr"));
      QCOMPARE(card["training"]["augmentations"]["crop_scale_min"].get<double>(), 0.2);
      QVERIFY2(card["evaluation"].contains("knn"), card["evaluation"].dump().c_str());
      if (c.model == "classifier") QVERIFY(card["evaluation"].contains("finetune"));
      const std::string md = readBytes(o.out_dir + "/model_card.md");
      QVERIFY2(contains(md, "CC BY 4.0 (test images)") && contains(md, card["dataset"]["content_hash"].get<std::string>()),
               md.c_str());
      torchvision_jobs.push_back({{"weights", st.model_path},
                                  {"architecture", o.out_dir + "/architecture.json"},
                                  {"input", dir_ + "/x.npy"},
                                  {"expected", dir_ + "/" + c.name + (c.model == "classifier" ? "-logits.npy" : "-features.npy")},
                                  {"classifier", c.model == "classifier"}});
      if (have_exporter) {
        ExportOptions oo = o;
        oo.format = "onnx";
        oo.out_dir = dir_ + "/export-" + c.name + "-onnx";
        const auto onnx = exportModel(*c.run, oo);
        QCOMPARE(onnx.model_path, oo.out_dir + "/" + c.model + ".onnx");
        QVERIFY(fs::exists(oo.out_dir + "/model_card.md"));
        Json job = {{"model", onnx.model_path}, {"input", dir_ + "/x.npy"}, {"expected", dir_ + "/" + c.name + "-features.npy"}};
        if (c.model == "classifier") job["expected_logits"] = dir_ + "/" + c.name + "-logits.npy";
        onnx_jobs.push_back(job);
      }
    }
    if (!have_exporter) QWARN("contrastive-onnx-export is not built (no libonnx-dev): the ONNX checks are skipped");
    if (test::pythonPath().empty()) QSKIP("no Python environment (STUDIO_PYTHON): torchvision and onnxruntime checks skipped");

    writeBytes(dir_ + "/torchvision-jobs.json", torchvision_jobs.dump());
    const auto tv = test::runPython("check_torchvision.py", {QString::fromStdString(dir_ + "/torchvision-jobs.json")});
    QVERIFY2(tv.exit_code == 0, tv.describe().c_str());
    const Json tv_results = lastJsonLine(tv.out);
    QCOMPARE(tv_results.size(), cases.size());
    for (size_t i = 0; i < cases.size(); ++i) {
      const Json& r = tv_results[i];
      const std::string what = cases[i].name + ": " + r.dump();
      qInfo("torchvision vs LibTorch, %s: max abs difference %.3g", cases[i].name.c_str(), r["max_abs_diff"].get<double>());
      QVERIFY2(r["max_abs_diff"].get<double>() < 1e-4, what.c_str());
      QVERIFY2(r["unexpected"].empty(), what.c_str());
      // torchvision.models.resnet18() takes the encoder with strict=False for fc alone.
      const Json expected_missing = cases[i].name == "resnet" ? Json::array({"fc.weight", "fc.bias"}) : Json::array();
      QVERIFY2(r["missing"] == expected_missing, what.c_str());
    }

    if (!have_exporter) return;
    writeBytes(dir_ + "/onnx-jobs.json", onnx_jobs.dump());
    const auto ox = test::runPython("check_onnx.py", {QString::fromStdString(dir_ + "/onnx-jobs.json")});
    QVERIFY2(ox.exit_code == 0, ox.describe().c_str());
    const Json ox_results = lastJsonLine(ox.out);
    QCOMPARE(ox_results.size(), cases.size());
    const ExperimentConfig resnet_config = loadExperimentConfig(resnet.folder().configPath());
    for (size_t i = 0; i < cases.size(); ++i) {
      const Json& r = ox_results[i];
      const std::string what = cases[i].name + ": " + r.dump();
      qInfo("onnxruntime vs LibTorch, %s: max abs difference %.3g (opset %lld)", cases[i].name.c_str(),
            r["max_abs_diff"].get<double>(), static_cast<long long>(r["opset"].get<int64_t>()));
      QVERIFY2(r["max_abs_diff"].get<double>() < 1e-4, what.c_str());
      QVERIFY2(r["single_vs_batch_max_abs_diff"].get<double>() < 1e-4, what.c_str());
      if (cases[i].model == "classifier") QVERIFY2(r["logits_max_abs_diff"].get<double>() < 1e-4, what.c_str());
      QVERIFY2(r["opset"].get<int64_t>() >= 17, what.c_str());
      QCOMPARE(r["inputs"][0][0].get<std::string>(), std::string("images"));
      QCOMPARE(r["inputs"][0][1][0].get<std::string>(), std::string("batch"));  // dynamic batch
      QCOMPARE(r["inputs"][0][1][3].get<int64_t>(), int64_t(32));
      const Json& meta = r["metadata"];
      QVERIFY2(meta.contains("input_mean") && meta.contains("input_std") && meta.contains("input_scale"), what.c_str());
      if (cases[i].run == &resnet.folder())
        QCOMPARE(Json::parse(meta["input_mean"].get<std::string>()).get<std::vector<double>>(), resnet_config.augment.mean);
    }
  }

  void exportRefusesWhatItCannotDo() {
    const std::string runs = dir_ + "/runs-bad";
    const std::string data = writeRgbDataset(dir_);
    ExperimentConfig c = tinyRun(data, modelConfig("convnet"));
    Trainer trainer(c, runs);
    QCOMPARE(trainer.run({}).status, std::string("finished"));
    ExportOptions o;
    o.model = "classifier";  // no finetune yet
    QVERIFY(contains(expectError([&] { exportModel(trainer.folder(), o); }), "no fine-tuned classifier"));
    o.model = "encoder";
    o.format = "onnx";
    o.onnx_exporter = dir_ + "/no-such-exporter";
    const std::string missing = expectError([&] { exportModel(trainer.folder(), o); });
    QVERIFY2(contains(missing, "contrastive-onnx-export was not found") && contains(missing, "libonnx-dev"), missing.c_str());
    o.format = "pdf";
    QVERIFY(contains(expectError([&] { exportModel(trainer.folder(), o); }), "expected safetensors or onnx"));
    fs::remove(trainer.folder().checkpointPath());
    o.format = "safetensors";
    QVERIFY(contains(expectError([&] { exportModel(trainer.folder(), o); }), "no checkpoint"));
  }

 private:
  std::string dir_;
};

STUDIO_TEST_MAIN(TestModelExchange)
#include "test_model_exchange.moc"
