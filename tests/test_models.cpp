// Encoders, heads and checkpoints: shapes, torchvision-compatible names and parameter
// counts, and every way a checkpoint can be refused.
#include <QtTest/QtTest>

#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "core/model/checkpoint.h"
#include "core/methods/methods.h"
#include "core/model/models.h"
#include "tests/test_support.h"

using namespace studio;
using studio::test::contains;
using studio::test::expectError;

namespace {

int64_t parameterCount(torch::nn::Module& m, const std::string& prefix) {
  int64_t n = 0;
  for (const auto& p : m.named_parameters())
    if (p.key().rfind(prefix, 0) == 0) n += p.value().numel();
  return n;
}

ModelConfig modelConfig(const std::string& backbone, const std::string& stem = "auto") {
  ModelConfig c;
  // The tests name architectures as users write them.
  if (!enumFromWord(backbone, c.backbone) || !enumFromWord(stem, c.stem))
    qFatal("modelConfig: no backbone '%s' or stem '%s'", backbone.c_str(), stem.c_str());
  return c;
}

}  // namespace

class TestModels : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void convNetShapes() {
    ModelConfig c;
    c.width = 16;
    c.head_dims = {64, 32};
    auto m = makeContrastiveModel(c, 1, 28);
    const auto x = torch::randn({4, 1, 28, 28});
    QCOMPARE(m->features(x).sizes().vec(), (std::vector<int64_t>{4, 64}));
    QCOMPARE(m->forward(x).sizes().vec(), (std::vector<int64_t>{4, 32}));
    QCOMPARE(m->backbone().featureDim(), int64_t(64));
  }

  void resnetTorchvisionNamesAndCounts() {
    // torchvision's resnet18 has 11,689,512 parameters, of which its fc layer holds 513,000.
    auto r18 = makeContrastiveModel(modelConfig("resnet18", "imagenet"), 3, 224);
    QCOMPARE(parameterCount(*r18, "backbone."), int64_t(11689512 - 513000));
    // resnet50: 25,557,032 with a 2,049,000-parameter fc.
    auto r50 = makeContrastiveModel(modelConfig("resnet50", "imagenet"), 3, 224);
    QCOMPARE(parameterCount(*r50, "backbone."), int64_t(25557032 - 2049000));
    // resnet34: 21,797,672 with a 513,000-parameter fc.
    auto r34 = makeContrastiveModel(modelConfig("resnet34", "imagenet"), 3, 224);
    QCOMPARE(parameterCount(*r34, "backbone."), int64_t(21797672 - 513000));
    std::set<std::string> names;
    for (const auto& p : r18->named_parameters()) names.insert(p.key());
    for (const auto& b : r18->named_buffers()) names.insert(b.key());
    for (const char* n : {"backbone.conv1.weight", "backbone.bn1.running_mean", "backbone.layer1.0.conv2.weight",
                          "backbone.layer2.0.downsample.0.weight", "backbone.layer2.0.downsample.1.bias",
                          "backbone.layer4.1.bn2.weight"})
      QVERIFY2(names.count(n), n);
  }

  void frozenStagesStopGradientsAndKeepNormStatistics() {
    auto m = makeContrastiveModel(modelConfig("resnet18", "cifar"), 3, 32);
    auto& b = m->backbone();
    QCOMPARE(b.stageCount(), int64_t(5));  // stem, layer1..layer4
    b.freezeStages(2);
    QCOMPARE(b.frozenStages(), int64_t(2));
    const auto params = m->named_parameters();
    QVERIFY(!params["backbone.conv1.weight"].requires_grad());
    QVERIFY(!params["backbone.layer1.1.bn2.bias"].requires_grad());
    QVERIFY(params["backbone.layer2.0.conv1.weight"].requires_grad());
    QVERIFY(params["head.layers.0.weight"].requires_grad());
    // Training mode everywhere but in the frozen stages, whose batch norms keep their statistics.
    m->train();
    const auto modules = m->named_modules();
    QVERIFY(!modules["backbone.bn1"]->is_training());
    QVERIFY(!modules["backbone.layer1.0.bn1"]->is_training());
    QVERIFY(modules["backbone.layer2.0.bn1"]->is_training());
    QVERIFY(modules["head"]->is_training());
    const auto before = m->named_buffers()["backbone.bn1.running_mean"].clone();
    m->forward(torch::randn({4, 3, 32, 32}));
    QVERIFY(torch::equal(m->named_buffers()["backbone.bn1.running_mean"], before));
    QVERIFY(!torch::equal(m->named_buffers()["backbone.layer2.0.bn1.running_mean"], torch::zeros({128})));
    // Unfreezing restores gradients and training mode.
    b.freezeStages(0);
    m->train();
    QVERIFY(params["backbone.conv1.weight"].requires_grad());
    QVERIFY(modules["backbone.bn1"]->is_training());
    QVERIFY(contains(expectError([&] { b.freezeStages(6); }), "has 5 stages"));
    auto convnet = makeBackbone(modelConfig("convnet"), 1, 28);
    QCOMPARE(convnet->stageCount(), int64_t(3));
    QCOMPARE(convnet->exchangeName("net.4.weight"), std::string("conv2.weight"));
    QCOMPARE(convnet->exchangeName("net.9.running_var"), std::string("bn3.running_var"));
    QCOMPARE(convnet->architecture()["feature_dim"].get<int64_t>(), int64_t(128));
  }

  void resnetStemsAndGrayscale() {
    auto cifar = makeContrastiveModel(modelConfig("resnet18"), 1, 32);  // auto -> CIFAR stem below 64 px
    cifar->eval();
    const auto f = cifar->features(torch::randn({2, 1, 32, 32}));
    QCOMPARE(f.sizes().vec(), (std::vector<int64_t>{2, 512}));
    QCOMPARE(cifar->named_parameters()["backbone.conv1.weight"].sizes().vec(), (std::vector<int64_t>{64, 1, 3, 3}));
    auto imagenet = makeContrastiveModel(modelConfig("resnet50"), 3, 96);
    imagenet->eval();
    QCOMPARE(imagenet->named_parameters()["backbone.conv1.weight"].sizes().vec(), (std::vector<int64_t>{64, 3, 7, 7}));
    QCOMPARE(imagenet->features(torch::randn({2, 3, 96, 96})).size(1), int64_t(2048));
  }

  void checkpointRoundTrip() {
    const std::string dir = test::scratchDir("ckpt");
    ModelConfig c;
    c.width = 8;
    c.head_dims = {16, 8};
    torch::manual_seed(1);
    auto a = makeContrastiveModel(c, 1, 16);
    torch::manual_seed(2);
    auto b = makeContrastiveModel(c, 1, 16);
    a->eval();
    b->eval();
    const auto x = torch::randn({3, 1, 16, 16});
    QVERIFY(!torch::allclose(a->forward(x), b->forward(x)));
    CheckpointInfo info;
    info.step = 42;
    info.best_knn = 0.75;
    info.config_json = R"({"name":"x"})";
    saveCheckpoint(dir + "/a.pt", a, nullptr, info);
    const auto loaded = loadCheckpoint(dir + "/a.pt", b, nullptr);
    QCOMPARE(loaded.step, int64_t(42));
    QCOMPARE(loaded.best_knn, 0.75);
    QCOMPARE(QString::fromStdString(loaded.config_json), QString(R"({"name":"x"})"));
    QVERIFY(torch::equal(a->forward(x), b->forward(x)));
    QCOMPARE(readCheckpointInfo(dir + "/a.pt").step, int64_t(42));
    QVERIFY(!std::filesystem::exists(dir + "/a.pt.tmp-" + std::to_string(::getpid())));
  }

  void checkpointRefusals() {
    const std::string dir = test::scratchDir("ckpt_bad");
    ModelConfig c;
    c.width = 8;
    c.head_dims = {16, 8};
    auto model = makeContrastiveModel(c, 1, 16);
    saveCheckpoint(dir + "/good.pt", model, nullptr, CheckpointInfo{});

    auto m = expectError([&] { loadCheckpoint(dir + "/missing.pt", model, nullptr); });
    QVERIFY2(contains(m, "missing.pt: checkpoint not found"), m.c_str());

    const auto size = std::filesystem::file_size(dir + "/good.pt");
    std::filesystem::copy_file(dir + "/good.pt", dir + "/cut.pt");
    std::filesystem::resize_file(dir + "/cut.pt", size / 2);
    m = expectError([&] { loadCheckpoint(dir + "/cut.pt", model, nullptr); });
    QVERIFY2(contains(m, "cut.pt") && contains(m, "truncated or corrupt"), m.c_str());

    std::ofstream(dir + "/text.pt") << "not a checkpoint at all";
    m = expectError([&] { loadCheckpoint(dir + "/text.pt", model, nullptr); });
    QVERIFY2(contains(m, "text.pt"), m.c_str());

    ModelConfig wider = c;
    wider.width = 16;
    auto other = makeContrastiveModel(wider, 1, 16);
    m = expectError([&] { loadCheckpoint(dir + "/good.pt", other, nullptr); });
    QVERIFY2(contains(m, "different model") && contains(m, "backbone.net.0.weight"), m.c_str());
    auto resnet = makeContrastiveModel(modelConfig("resnet18"), 1, 16);
    m = expectError([&] { loadCheckpoint(dir + "/good.pt", resnet, nullptr); });
    QVERIFY2(contains(m, "different model"), m.c_str());
  }
};

QTEST_MAIN(TestModels)
#include "test_models.moc"
