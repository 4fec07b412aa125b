// Starting from weights and fine-tuning: a contrastive run from imported weights beats the
// same run from random weights after one epoch; a mismatch fails the run with a message;
// frozen stages stay as imported (resume included); the encoder's learning-rate multiplier;
// supervised fine-tuning with early stopping, class-balanced validation, reproducibility,
// cancellation and a classifier that loads elsewhere.
#include <QtTest/QtTest>

#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/augment/augment.h"
#include "core/model/checkpoint.h"
#include "core/data/dataset.h"
#include "core/eval/evaluation.h"
#include "core/methods/methods.h"
#include "core/model/models.h"
#include "core/data/packed_dataset.h"
#include "core/runs/run_index.h"
#include "core/exchange/safetensors_torch.h"
#include "core/eval/supervised.h"
#include "core/train/trainer.h"
#include "core/exchange/weight_import.h"
#include "tests/test_support.h"
#include "tests/tiny_dataset.h"

namespace fs = std::filesystem;
using namespace studio;
using Json = nlohmann::json;
using studio::test::contains;
using studio::test::expectError;

namespace {

// Images [begin, end) of Fashion-MNIST's training split as a packed dataset.
std::string writeFashionSlice(const std::string& dir, int64_t begin, int64_t end) {
  DatasetConfig dc;
  dc.train_limit = end;
  const Dataset train = loadDataset(dc, 0).train;
  PackedDataset p;
  p.count = end - begin;
  p.channels = 1;
  p.height = 28;
  p.width = 28;
  p.class_names = train.class_names;
  const auto images = train.images.slice(0, begin, end).contiguous();
  const auto labels = train.labels.slice(0, begin, end).contiguous();
  p.pixels.assign(images.data_ptr<uint8_t>(), images.data_ptr<uint8_t>() + images.numel());
  for (int64_t i = 0; i < p.count; ++i) p.labels.push_back(static_cast<int32_t>(labels.data_ptr<int64_t>()[i]));
  const std::string path = dir + "/fashion-" + std::to_string(begin) + "-" + std::to_string(end) + ".csds";
  writePackedDataset(path, p);
  return path;
}


ExperimentConfig barsConfig(const std::string& data) {
  ExperimentConfig c = test::tinyExperiment(data, "bars");
  c.augment.saturation = 0;
  c.augment.hue = 0;
  c.train.device = "cpu";
  c.monitor.map_size = 0;
  return c;
}

std::map<std::string, torch::Tensor> tensorsOf(const std::string& path) {
  std::map<std::string, torch::Tensor> out;
  for (auto& [name, t] : readSafetensorsTensors(path)) out[name] = t;
  return out;
}

// The encoder of a run's checkpoint under exchange names.
std::map<std::string, torch::Tensor> encoderOf(const RunFolder& run, int64_t channels, int64_t side) {
  auto model = makeContrastiveModel(loadExperimentConfig(run.configPath()).model, channels, side);
  loadCheckpoint(run.checkpointPath(), model, nullptr);
  std::map<std::string, torch::Tensor> out;
  for (auto& [name, t] : exchangeTensors(model->backbone())) out[name] = t.clone();
  return out;
}

struct Knn {
  double first = -1, final = -1;
};
Knn knnCurve(Trainer& trainer) {
  Knn k;
  const auto outcome = trainer.run([&](const MetricsRecord& r) {
    if (r.kind == RecordKind::Eval && k.first < 0) k.first = r.value("knn_top1");
    return true;
  });
  k.final = outcome.final_knn;
  return k;
}

}  // namespace

class TestFinetune : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    torch::set_num_threads(2);
    dir_ = test::scratchDir("finetune");
    bars_ = test::writeTinyDataset(dir_);
  }

  // An encoder that already knows Fashion-MNIST (trained supervised on images 1000-3047),
  // re-saved by Python's safetensors library under "module.", starts a SimCLR run on images
  // it never saw (0-511): after one epoch its kNN is well above the same run's from random
  // weights, and it was from the first evaluation on.
  void importedWeightsBeatRandomInitAfterOneEpoch() {
    const std::string source_data = writeFashionSlice(dir_, 1000, 3048);
    ExperimentConfig a;
    a.name = "source";
    a.dataset.kind = DatasetKind::Packed;
    a.dataset.path = source_data;
    a.dataset.holdout_fraction = 0.25;
    a.model.width = 16;
    a.model.head_dims = {64, 32};
    a.train.batch_size = 64;
    a.train.max_steps = 1;  // a run to hang the supervised weights on; they come from below
    a.train.threads = 2;
    a.train.device = "cpu";
    a.monitor.every_epochs = 0;
    a.monitor.map_size = 0;
    Trainer source(a, dir_ + "/runs");
    QCOMPARE(source.run({}).status, std::string("finished"));
    FinetuneOptions fo;
    fo.from_pretrained = false;
    fo.label_fraction = 1.0;
    fo.max_epochs = 2;
    fo.patience = 2;
    fo.lr = 3e-3;
    fo.augment = false;  // two quick epochs: the point is an encoder that knows the images a little
    const FinetuneResult supervised = finetuneRun(source.folder(), fo, "cpu", 0);
    QVERIFY2(supervised.test_top1 > 0.5, supervised.toJson().dump().c_str());

    std::string weights = source.folder().classifierPath();
    std::string prefix;
    if (!test::pythonPath().empty()) {
      const std::string imported = dir_ + "/imported.safetensors";
      const auto r = test::runPython("reprefix.py", {QString::fromStdString(weights), QString::fromStdString(imported), "module."});
      QVERIFY2(r.exit_code == 0, r.describe().c_str());
      weights = imported;
      prefix = "module.";
    } else {
      QWARN("no Python environment (STUDIO_PYTHON): the weights are imported as the studio wrote them");
    }

    ExperimentConfig b;
    b.name = "target";
    b.dataset.train_limit = 512;  // Fashion-MNIST images 0-511, held-out queries from its test split
    b.model.width = 16;
    b.model.head_dims = {64, 32};
    b.method.settings["simclr"]["temperature"] = 0.2;
    b.augment.crop_scale_min = 0.3;
    b.augment.saturation = 0;
    b.augment.hue = 0;
    b.optim.lr = 2e-3;
    b.optim.warmup_epochs = 0.2;
    b.train.epochs = 1;
    b.train.batch_size = 64;
    b.train.threads = 2;
    b.train.device = "cpu";
    b.monitor.every_epochs = 1;
    b.monitor.bank_size = 512;
    b.monitor.query_size = 1000;
    b.monitor.map_size = 0;
    b.monitor.k = 20;
    Trainer random_run(b, dir_ + "/runs");
    const Knn random_knn = knnCurve(random_run);
    b.model.init_from = weights;
    Trainer imported_run(b, dir_ + "/runs");
    std::vector<std::string> infos;
    const auto outcome = imported_run.run([&](const MetricsRecord& r) {
      if (r.kind == RecordKind::Info) infos.push_back(r.text);
      return true;
    });
    QCOMPARE(outcome.status, std::string("finished"));
    const Knn imported_knn{-1, outcome.final_knn};
    const std::string numbers = "random " + std::to_string(random_knn.final) + ", imported " + std::to_string(imported_knn.final);
    qInfo("kNN top-1 after one epoch: %s", numbers.c_str());
    QVERIFY2(imported_knn.final > random_knn.final + 0.02, numbers.c_str());

    // The match report: printed (the info record) and kept in the run folder.
    QVERIFY2(!infos.empty() && contains(infos.front(), "encoder initialised from " + weights) &&
                 contains(infos.front(), "18 of 18 encoder tensors matched"),
             infos.empty() ? "no info" : infos.front().c_str());
    const Json report = Json::parse(readTextFile(imported_run.folder().initReportPath()));
    QCOMPARE(report["matched"].size(), size_t(18));
    QCOMPARE(report["prefix"].get<std::string>(), prefix);
    QCOMPARE(report["ignored"].size(), size_t(2));  // the classifier, fc.weight and fc.bias
    QVERIFY(report["missing"].empty() && report["unexpected"].empty() && report["shape_mismatches"].empty());
    // config.json says where the run started from.
    QCOMPARE(loadExperimentConfig(imported_run.folder().configPath()).model.init_from, weights);
  }

  void mismatchedWeightsFailTheRun() {
    auto resnet = makeBackbone([] {
      ModelConfig m;
      m.backbone = Backbone::ResNet18;
      return m;
    }(), 1, 12);
    const std::string path = dir_ + "/resnet.safetensors";
    writeSafetensorsTensors(path, exchangeTensors(*resnet));
    ExperimentConfig c = barsConfig(bars_);
    c.model.init_from = path;  // a ResNet's weights for a ConvNet
    Trainer trainer(c, dir_ + "/runs-bad");
    const std::string message = expectError([&] { trainer.run({}); });
    QVERIFY2(contains(message, path) && contains(message, "do not fit the convnet encoder"), message.c_str());
    QVERIFY2(contains(message, "shape mismatches:"), message.c_str());
    QCOMPARE(readRunRecord(trainer.folder().path()).status, std::string("failed"));
    // A file that is not there fails the run, strict or not.
    c.model.init_strict = false;
    c.model.init_from = dir_ + "/missing.safetensors";
    Trainer missing(c, dir_ + "/runs-bad");
    QVERIFY(contains(expectError([&] { missing.run({}); }), "no such file"));
  }

  void frozenStagesStayAsImportedThroughResume() {
    // Weights to start from: a short run's encoder, exported.
    Trainer first(barsConfig(bars_), dir_ + "/runs-freeze");
    QCOMPARE(first.run({}).status, std::string("finished"));
    const auto start = encoderOf(first.folder(), 1, 12);
    NamedTensors tensors(start.begin(), start.end());
    const std::string weights = dir_ + "/start.safetensors";
    writeSafetensorsTensors(weights, tensors);

    ExperimentConfig c = barsConfig(bars_);
    c.model.init_from = weights;
    c.optim.freeze_stages = 2;
    c.optim.lr = 5e-3;
    c.train.epochs = 4;
    c.train.checkpoint_every_steps = 1;
    Trainer trainer(c, dir_ + "/runs-freeze");
    int64_t steps = 0;
    const auto stopped = trainer.run([&](const MetricsRecord& r) { return !(r.kind == RecordKind::Step && ++steps == 5); });
    QCOMPARE(stopped.status, std::string("cancelled"));
    Trainer resumed(trainer.folder());
    QCOMPARE(resumed.run({}).status, std::string("finished"));

    const auto after = encoderOf(trainer.folder(), 1, 12);
    for (const auto& [name, t] : after) {
      const bool frozen = name.rfind("conv1.", 0) == 0 || name.rfind("bn1.", 0) == 0 || name.rfind("conv2.", 0) == 0 ||
                          name.rfind("bn2.", 0) == 0;
      if (name.find("num_batches_tracked") != std::string::npos) continue;
      // Frozen: parameters and batch-norm statistics exactly as imported. The rest trained.
      if (frozen) QVERIFY2(torch::equal(t, start.at(name)), name.c_str());
      else QVERIFY2(!torch::equal(t, start.at(name)), name.c_str());
    }
    ExperimentConfig too_many = barsConfig(bars_);
    too_many.optim.freeze_stages = 4;
    Trainer refused(too_many, dir_ + "/runs-freeze");
    QVERIFY(contains(expectError([&] { refused.run({}); }), "optim.freeze_stages = 4 but the convnet has 3 stages"));
  }

  void backboneLearningRateMultiplier() {
    Trainer first(barsConfig(bars_), dir_ + "/runs-lr");
    QCOMPARE(first.run({}).status, std::string("finished"));
    ExperimentConfig c = barsConfig(bars_);
    c.model.init_from = first.folder().path();  // a run folder: its last checkpoint
    c.optim.backbone_lr_mult = 0.0;
    Trainer trainer(c, dir_ + "/runs-lr");
    QCOMPARE(trainer.run({}).status, std::string("finished"));
    const auto start = encoderOf(first.folder(), 1, 12);
    const auto after = encoderOf(trainer.folder(), 1, 12);
    // Encoder learning rate 0: its parameters stay (its batch-norm statistics still follow the data).
    for (const auto& name : {"conv1.weight", "bn1.weight", "bn2.bias", "conv3.weight"})
      QVERIFY2(torch::equal(after.at(name), start.at(name)), name);
    QVERIFY(!torch::equal(after.at("bn1.running_mean"), start.at("bn1.running_mean")));
    // The projection head learned at the full rate.
    auto m0 = makeContrastiveModel(c.model, 1, 12), m1 = makeContrastiveModel(c.model, 1, 12);
    loadCheckpoint(first.folder().checkpointPath(), m0, nullptr);
    loadCheckpoint(trainer.folder().checkpointPath(), m1, nullptr);
    QVERIFY(!torch::equal(m0->named_parameters()["head.layers.0.weight"], m1->named_parameters()["head.layers.0.weight"]));
  }

  void supervisedFinetuneStopsEarlyAndSplitsByClass() {
    Trainer run(barsConfig(bars_), dir_ + "/runs-sup");
    QCOMPARE(run.run({}).status, std::string("finished"));
    SupervisedFinetuner tuner(run.folder(), "cpu");
    const DatasetSplits splits = loadDataset(run.config().dataset, run.config().train.seed);
    FinetuneOptions o;
    o.label_fraction = 0.5;
    o.freeze_stages = 3;  // the whole encoder, batch-norm statistics included
    o.lr = 1e-9;          // and a head that barely moves: validation never improves after epoch 1
    o.max_epochs = 20;
    o.patience = 3;
    std::vector<FinetuneProgress> epochs;
    const auto r = tuner.run(splits.train.images, splits.train.labels, splits.eval.images, splits.eval.labels, 4, o,
                             [&](const FinetuneProgress& p) {
                               epochs.push_back(p);
                               return true;
                             });
    // The starting point (epoch 0: the head as the linear probe of the frozen features) stays best.
    QVERIFY(r.stopped_early);
    QCOMPARE(r.epochs_run, int64_t(o.patience));
    QCOMPARE(r.best_epoch, int64_t(0));
    QVERIFY2(r.test_top1 > 0.9, r.toJson().dump().c_str());  // the probe alone knows the bars
    // Without the probe's head, the same (frozen, unmoving) model guesses.
    o.probe_init_head = false;
    const auto guess = tuner.run(splits.train.images, splits.train.labels, splits.eval.images, splits.eval.labels, 4, o);
    QVERIFY2(guess.test_top1 < 0.6, guess.toJson().dump().c_str());
    o.probe_init_head = true;
    QCOMPARE(static_cast<int64_t>(epochs.size()), r.epochs_run);
    // Half of each class's training images labelled, a fifth of those (rounded) validate.
    const auto counts = torch::bincount(splits.train.labels, {}, 4);
    int64_t labeled = 0, validation = 0;
    for (int c = 0; c < 4; ++c) {
      const int64_t l = std::llround(0.5 * counts[c].item<int64_t>());
      labeled += l;
      validation += std::max<int64_t>(1, std::llround(0.2 * l));
    }
    QCOMPARE(r.labeled_images, labeled);
    QCOMPARE(r.validation_images, validation);
    QCOMPARE(r.train_images + r.validation_images, r.labeled_images);
    QCOMPARE(r.test_images, splits.eval.size());
    QCOMPARE(r.per_class_accuracy.size(), size_t(4));

    // A real fine-tune learns the bars, and the same seed gives the same result.
    o.freeze_stages = 0;
    o.lr = 3e-3;
    o.max_epochs = 4;
    o.patience = 4;
    const auto a = tuner.run(splits.train.images, splits.train.labels, splits.eval.images, splits.eval.labels, 4, o);
    const auto b = tuner.run(splits.train.images, splits.train.labels, splits.eval.images, splits.eval.labels, 4, o);
    QVERIFY2(a.test_top1 > 0.9, a.toJson().dump().c_str());
    QCOMPARE(a.test_top1, b.test_top1);
    QCOMPARE(a.per_class_accuracy, b.per_class_accuracy);
    // Scratch: the same architecture from random weights, same labels.
    o.from_pretrained = false;
    const auto s = tuner.run(splits.train.images, splits.train.labels, splits.eval.images, splits.eval.labels, 4, o);
    QCOMPARE(s.init, std::string("scratch"));

    // The classifier: torchvision-style names, the head as fc.*, loads back as an encoder.
    tuner.saveClassifier(dir_ + "/classifier.safetensors", {"a", "b", "c", "d"});
    const auto saved = tensorsOf(dir_ + "/classifier.safetensors");
    QCOMPARE(saved.at("fc.weight").sizes().vec(), (std::vector<int64_t>{4, 32}));
    QVERIFY(saved.count("conv1.weight") && saved.count("bn3.running_var"));
    auto encoder = makeBackbone(run.config().model, 1, 12);
    QVERIFY(loadEncoderWeights(*encoder, dir_ + "/classifier.safetensors", true).clean());

    // A callback that says stop cancels.
    const std::string stopped = expectError(
        [&] {
          tuner.run(splits.train.images, splits.train.labels, splits.eval.images, splits.eval.labels, 4, o,
                    [](const FinetuneProgress&) { return false; });
        },
        ErrorKind::Cancelled);
    QVERIFY(contains(stopped, "stopped"));
    // Bad input is refused with a message.
    o.label_fraction = 0;
    QVERIFY(contains(expectError([&] {
                       tuner.run(splits.train.images, splits.train.labels, splits.eval.images, splits.eval.labels, 4, o);
                     }),
                     "--labels"));
  }

  void linearClassifierIsTheProbesFit() {
    // The head initialiser's fit, folded into the raw feature space, predicts what the
    // linear probe (same weight decay, standardised features) predicts.
    torch::manual_seed(4);
    const auto centres = torch::randn({3, 6}) * 3;
    const auto y = torch::randint(0, 3, {300}, torch::kLong);
    const auto x = centres.index_select(0, y) + torch::randn({300, 6}) * 2 + 5;  // off-centre, unscaled
    const auto test_y = torch::randint(0, 3, {200}, torch::kLong);
    const auto test_x = centres.index_select(0, test_y) + torch::randn({200, 6}) * 2 + 5;
    const LinearClassifier c = fitLinearClassifier(x, y, 3, 1e-3);
    QCOMPARE(c.weight.sizes().vec(), (std::vector<int64_t>{6, 3}));
    LinearProbeOptions po;
    po.weight_decays = {1e-3};
    const auto probe = linearProbe(x, y, test_x, test_y, 3, po);
    const auto ours = torch::softmax(torch::addmm(c.bias, test_x, c.weight), 1);
    QVERIFY(torch::allclose(ours, probe.test_probabilities, 1e-4, 1e-5));
    QVERIFY(contains(expectError([&] { fitLinearClassifier(x, y, 3, -1); }), "weight_decay"));
  }

  void supervisedStudyRows() {
    Trainer run(barsConfig(bars_), dir_ + "/runs-study");
    QCOMPARE(run.run({}).status, std::string("finished"));
    const DatasetSplits splits = loadDataset(run.config().dataset, run.config().train.seed);
    SupervisedFinetuner tuner(run.folder(), "cpu");
    FinetuneOptions o;
    o.max_epochs = 2;
    o.min_epoch_samples = 256;
    int polls = 0;
    const auto rows = supervisedStudy(tuner, splits.train.images, splits.train.labels, splits.eval.images, splits.eval.labels,
                                      4, {"scratch", "finetuned"}, {0.25, 1.0}, 2, o, [&] {
                                        ++polls;
                                        return true;
                                      });
    QCOMPARE(rows.size(), size_t(4));
    QCOMPARE(rows[0].arm, std::string("scratch"));
    QCOMPARE(rows[3].arm, std::string("finetuned"));
    QCOMPARE(rows[0].test_top1.size(), size_t(2));  // two seeds at 25%
    QCOMPARE(rows[1].test_top1.size(), size_t(1));  // one at 100%: every seed draws the same subset
    QCOMPARE(rows[1].labeled_images, splits.train.size());
    QCOMPARE(rows[0].labeled_images, balancedSubset(splits.train.labels, 4, 0.25, 0).size(0));
    QVERIFY(polls >= 6 * 1);
    const double m = rows[0].mean();
    QCOMPARE(m, (rows[0].test_top1[0] + rows[0].test_top1[1]) / 2);
    QCOMPARE(rows[1].stddev(), 0.0);
    // The pretrained encoder with the probe's head knows the bars from the start.
    QVERIFY2(rows[3].mean() > 0.9, std::to_string(rows[3].mean()).c_str());
    QVERIFY(contains(expectError([&] {
                       supervisedStudy(tuner, splits.train.images, splits.train.labels, splits.eval.images,
                                       splits.eval.labels, 4, {"magic"}, {0.5}, 1, o);
                     }),
                     "expected scratch or finetuned"));
  }

  void classBalancedSampling() {
    // 900 images of class 0, 90 of class 1, 10 of class 2, none of class 3.
    auto labels = torch::cat({torch::zeros({900}, torch::kLong), torch::ones({90}, torch::kLong),
                              torch::full({10}, 2, torch::kLong)});
    auto gen = makeStepGenerator(3, 0, 11);
    const auto drawn = classBalancedDraw(labels, 4, 30000, gen);
    const auto per_class = torch::bincount(labels.index_select(0, drawn), {}, 4).to(torch::kDouble) / 30000.0;
    for (int c = 0; c < 3; ++c)
      QVERIFY2(std::abs(per_class[c].item<double>() - 1.0 / 3.0) < 0.02, std::to_string(per_class[c].item<double>()).c_str());
    QCOMPARE(per_class[3].item<double>(), 0.0);
    // Within a class, every image is drawn: the 10 of class 2 all appear.
    const auto class2 = drawn.masked_select(labels.index_select(0, drawn) == 2);
    QCOMPARE(std::get<0>(torch::_unique(class2)).numel(), int64_t(10));
    // The same generator state draws the same indices.
    auto again = makeStepGenerator(3, 0, 11);
    QVERIFY(torch::equal(classBalancedDraw(labels, 4, 30000, again), drawn));
  }

  void finetuneRunWritesItsReport() {
    Trainer run(barsConfig(bars_), dir_ + "/runs-report");
    QCOMPARE(run.run({}).status, std::string("finished"));
    FinetuneOptions o;
    o.label_fraction = 0.25;
    o.max_epochs = 2;
    const auto r = finetuneRun(run.folder(), o, "cpu", 32);
    QCOMPARE(r.test_images, int64_t(32));
    const Json report = Json::parse(readTextFile(run.folder().finetuneReportPath()));
    QCOMPARE(report["test_top1"].get<double>(), r.test_top1);
    QCOMPARE(report["class_names"].size(), size_t(4));
    QCOMPARE(report["options"]["max_epochs"].get<int64_t>(), int64_t(2));
    QVERIFY(fs::exists(run.folder().classifierPath()));
    // A run without a checkpoint cannot fine-tune its (absent) encoder.
    fs::remove(run.folder().checkpointPath());
    QVERIFY(contains(expectError([&] { finetuneRun(run.folder(), o, "cpu", 32); }), "no checkpoint"));
  }

 private:
  std::string dir_, bars_;
};

STUDIO_TEST_MAIN(TestFinetune)
#include "test_finetune.moc"
