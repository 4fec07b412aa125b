// The methods: each one's loss and update equal lightly's on the same tensors; every method
// builds, trains a step, keeps its target out of the optimizer, declares keys that the config
// check enforces, resumes a killed run on the same trajectory, and learns on Fashion-MNIST
// without collapsing.
#include <QtTest/QtTest>

#include <torch/torch.h>

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/base/metrics_record.h"
#include "core/base/npy.h"
#include "core/methods/losses.h"
#include "core/methods/methods.h"
#include "core/runs/run_folder.h"
#include "core/runs/run_index.h"
#include "core/train/trainer.h"
#include "tests/test_support.h"
#include "tests/tiny_dataset.h"

using namespace studio;
using Json = nlohmann::json;
using studio::test::contains;
using studio::test::expectError;
using studio::test::stepLosses;

namespace {

// One data row per registered method, named after it: a new method is covered by adding it.
void addMethodRows() {
  QTest::addColumn<QString>("method");
  for (const MethodSpec& spec : methodSpecs()) QTest::newRow(spec.name.c_str()) << QString::fromStdString(spec.name);
}

void saveNpy(const std::string& path, const torch::Tensor& t) {
  const auto c = t.detach().to(torch::kFloat32).contiguous();
  writeNpy(path, "<f4", c.sizes().vec(), c.data_ptr<float>());
}

torch::Tensor fromJson(const Json& j) {
  std::vector<float> flat;
  std::vector<int64_t> shape;
  if (j.is_array() && !j.empty() && j[0].is_array()) {
    shape = {int64_t(j.size()), int64_t(j[0].size())};
    for (const auto& row : j)
      for (const auto& v : row) flat.push_back(v.get<float>());
  } else {
    shape = {int64_t(j.size())};
    for (const auto& v : j) flat.push_back(v.get<float>());
  }
  return torch::tensor(flat).reshape(shape);
}

// The float32 losses here sum at most a few hundred products of unit-scale numbers: each
// rounding is 2^-24 relative, so two implementations that order their sums differently agree
// to about 1e-6 relative; 1e-5 leaves room and still catches any formula difference (those
// change the value in the second or third digit).
bool near(double got, double want) { return std::abs(got - want) <= 1e-5 * std::max(1.0, std::abs(want)); }

ModelConfig tinyModel() {
  ModelConfig m;
  m.width = 4;
  m.head_dims = {16, 8};
  return m;
}

MethodConfig methodNamed(const std::string& name) {
  MethodConfig m;
  m.name = name;
  return m;
}

}  // namespace

class TestMethods : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() { torch::set_num_threads(2); }

  void lossesMatchLightly() {
    if (test::pythonPath().empty()) QSKIP("no Python environment (STUDIO_PYTHON): ./studio setup makes one");
    const std::string dir = test::scratchDir("methods_lightly");
    torch::manual_seed(7);
    const int64_t n = 8, d = 16, k = 32;
    const auto z0 = torch::randn({n, d}), z1 = torch::randn({n, d});
    const auto queue = torch::nn::functional::normalize(torch::randn({k, d}), torch::nn::functional::NormalizeFuncOptions().dim(1));
    const auto t0 = torch::randn({n, d}), t1 = torch::randn({n, d}), center = 0.1 * torch::randn({d});
    const auto l0 = torch::randn({n, d}), l1 = torch::randn({n, d});  // multi-crop's local views
    const auto w_online = torch::randn({4, 6}), b_online = torch::randn({4}), w_target = torch::randn({4, 6}),
               b_target = torch::randn({4});
    for (const auto& [name, t] : std::vector<std::pair<std::string, torch::Tensor>>{
             {"z0", z0}, {"z1", z1}, {"queue", queue}, {"t0", t0}, {"t1", t1}, {"center", center}, {"l0", l0}, {"l1", l1},
             {"w_online", w_online}, {"b_online", b_online}, {"w_target", w_target}, {"b_target", b_target}})
      saveNpy(dir + "/" + name + ".npy", t);
    auto in = [&](std::initializer_list<const char*> names) {
      Json files = Json::array();
      for (const char* nm : names) files.push_back(dir + "/" + nm + ".npy");
      return files;
    };
    const std::vector<int64_t> schedule_steps = {0, 1, 5, 9, 10, 12};
    const Json jobs = Json::array({
        {{"name", "ntxent"}, {"kind", "ntxent"}, {"inputs", in({"z0", "z1"})}, {"params", {{"temperature", 0.3}}}},
        {{"name", "dcl"}, {"kind", "dcl"}, {"inputs", in({"z0", "z1"})}, {"params", {{"temperature", 0.1}}}},
        {{"name", "dclw"}, {"kind", "dclw"}, {"inputs", in({"z0", "z1"})}, {"params", {{"temperature", 0.2}, {"sigma", 0.5}}}},
        {{"name", "moco"}, {"kind", "moco"}, {"inputs", in({"z0", "z1", "queue"})}, {"params", {{"temperature", 0.2}, {"pointer", 8}}}},
        {{"name", "negative_cosine"}, {"kind", "negative_cosine"}, {"inputs", in({"z0", "z1"})}},
        {{"name", "barlow_twins"}, {"kind", "barlow_twins"}, {"inputs", in({"z0", "z1"})}, {"params", {{"lambda", 5e-3}}}},
        {{"name", "vicreg"}, {"kind", "vicreg"}, {"inputs", in({"z0", "z1"})},
         {"params", {{"invariance", 25.0}, {"variance", 25.0}, {"covariance", 1.0}, {"eps", 1e-4}}}},
        {{"name", "dino"}, {"kind", "dino"}, {"inputs", in({"t0", "t1", "z0", "z1", "center"})},
         {"params", {{"teacher_temperature", 0.04}, {"student_temperature", 0.1}, {"center_momentum", 0.9}}}},
        {{"name", "ntxent_multi"}, {"kind", "ntxent_multi"}, {"inputs", in({"z0", "z1", "l0", "l1"})},
         {"params", {{"temperature", 0.3}}}},
        {{"name", "dcl_multi"}, {"kind", "dcl_multi"}, {"inputs", in({"z0", "z1", "l0", "l1"})},
         {"params", {{"temperature", 0.1}}}},
        {{"name", "negative_cosine_multi"}, {"kind", "negative_cosine_multi"},
         {"inputs", in({"t0", "t1", "z0", "z1", "l0", "l1"})}, {"params", {{"targets", 2}}}},
        {{"name", "dino_multi"}, {"kind", "dino_multi"}, {"inputs", in({"t0", "t1", "z0", "z1", "l0", "l1"})},
         {"params", {{"targets", 2}, {"teacher_temperature", 0.04}, {"student_temperature", 0.1}}}},
        {{"name", "cosine_schedule"}, {"kind", "cosine_schedule"},
         {"params", {{"max_steps", 11}, {"start", 0.99}, {"end", 1.0}, {"steps", schedule_steps}}}},
        {{"name", "ema"}, {"kind", "ema"}, {"inputs", in({"w_online", "b_online", "w_target", "b_target"})},
         {"params", {{"momentum", 0.9}}}},
    });
    {
      std::ofstream out(dir + "/jobs.json");
      out << jobs.dump();
    }
    const auto run = test::runPython("check_method_losses.py", {QString::fromStdString(dir + "/jobs.json")});
    QVERIFY2(run.finished && run.exit_code == 0, run.describe().c_str());
    const Json want = Json::parse(run.out);

    auto check = [&](const char* name, double got, double expected) {
      QVERIFY2(near(got, expected), qPrintable(QString("%1: %2 here, %3 in lightly").arg(name).arg(got, 0, 'g', 9).arg(expected, 0, 'g', 9)));
    };
    check("ntxent", ntXentLoss(torch::cat({z0, z1}), 0.3).loss.item<double>(), want["ntxent"]);
    check("dcl", dclLoss(z0, z1, 0.1, 0.0).item<double>(), want["dcl"]);
    check("dclw", dclLoss(z0, z1, 0.2, 0.5).item<double>(), want["dclw"]);
    check("moco", queueContrastLoss(z0, z1, queue, 0.2).item<double>(), want["moco"]["loss"]);
    // The queue takes the normalised keys at the pointer, as lightly's memory bank does.
    auto ours = queue.clone();
    const int64_t pointer = pushToQueue(ours, 8, torch::nn::functional::normalize(z1, torch::nn::functional::NormalizeFuncOptions().dim(1)));
    QCOMPARE(pointer, want["moco"]["pointer"].get<int64_t>());
    QVERIFY((ours - fromJson(want["moco"]["queue"])).abs().max().item<float>() < 1e-6);
    check("negative_cosine", negativeCosineSimilarity(z0, z1).item<double>(), want["negative_cosine"]);
    check("barlow_twins", barlowTwinsLoss(z0, z1, 5e-3).item<double>(), want["barlow_twins"]);
    check("vicreg", vicregLoss(z0, z1, 25.0, 25.0, 1.0, 1e-4).item<double>(), want["vicreg"]);
    check("dino", dinoLoss({t0, t1}, {z0, z1}, center.unsqueeze(0), 0.04, 0.1).item<double>(), want["dino"]["loss"]);
    // DINO's centre update: the running mean of the teacher's outputs.
    const auto next_center = center * 0.9 + torch::cat({t0, t1}).mean(0) * 0.1;
    QVERIFY((next_center - fromJson(want["dino"]["center"])).abs().max().item<float>() < 1e-6);
    // Multi-crop: the two global views and two local ones.
    const std::vector<torch::Tensor> views = {z0, z1, l0, l1};
    check("ntxent_multi",
          meanOverViewPairs(views, [](const torch::Tensor& a, const torch::Tensor& b) {
            return ntXentLoss(torch::cat({a, b}), 0.3).loss;
          }).item<double>(),
          want["ntxent_multi"]);
    check("dcl_multi",
          meanOverViewPairs(views, [](const torch::Tensor& a, const torch::Tensor& b) { return dclLoss(a, b, 0.1, 0.0); })
              .item<double>(),
          want["dcl_multi"]);
    check("negative_cosine_multi", meanOverTargetPairs(views, {t0, t1}, negativeCosineSimilarity).item<double>(),
          want["negative_cosine_multi"]);
    check("dino_multi", dinoLoss({t0, t1}, views, torch::zeros({1, d}), 0.04, 0.1).item<double>(), want["dino_multi"]);
    // With two views the combinations are the two-view losses themselves.
    QCOMPARE(meanOverViewPairs({z0, z1}, [](const torch::Tensor& a, const torch::Tensor& b) { return dclLoss(a, b, 0.1, 0.0); })
                 .item<double>(),
             dclLoss(z0, z1, 0.1, 0.0).item<double>());
    QCOMPARE(meanOverTargetPairs({z0, z1}, {t0, t1}, negativeCosineSimilarity).item<double>(),
             (0.5 * (negativeCosineSimilarity(z0, t1) + negativeCosineSimilarity(z1, t0))).item<double>());
    for (size_t i = 0; i < schedule_steps.size(); ++i)
      check("cosine_schedule", cosineSchedule(schedule_steps[i], 11, 0.99, 1.0), want["cosine_schedule"][i]);
    auto w = w_target.clone(), b = b_target.clone();
    emaUpdate({w, b}, {w_online, b_online}, 0.9);
    QVERIFY((w - fromJson(want["ema"]["weight"])).abs().max().item<float>() < 1e-6);
    QVERIFY((b - fromJson(want["ema"]["bias"])).abs().max().item<float>() < 1e-6);
  }

  void queueWrapsRoundItsEnd() {
    auto queue = torch::zeros({5, 2});
    const auto rows = torch::arange(8, torch::kFloat32).reshape({4, 2}) + 1;  // rows 1..4
    int64_t pointer = pushToQueue(queue, 3, rows);
    QCOMPARE(pointer, int64_t(2));
    // Rows 1 and 2 at 3 and 4, rows 3 and 4 wrapped round to 0 and 1; slot 2 untouched.
    QVERIFY(torch::equal(queue, torch::tensor({5.f, 6.f, 7.f, 8.f, 0.f, 0.f, 1.f, 2.f, 3.f, 4.f}).reshape({5, 2})));
    // More rows than the queue holds: the last ones stay.
    pointer = pushToQueue(queue, 0, torch::arange(14, torch::kFloat32).reshape({7, 2}));
    QCOMPARE(pointer, int64_t(0));
    QCOMPARE(queue[0][0].item<float>(), 4.f);
  }

  void everyMethodBuildsTrainsAndDeclaresItsKeys() {
    QVERIFY(methodSpecs().size() >= 9);
    for (const MethodSpec& spec : methodSpecs()) {
      const QString name = QString::fromStdString(spec.name);
      QVERIFY2(findMethodSpec(spec.name) == &spec, qPrintable(name));
      QVERIFY2(!spec.title.empty() && !spec.summary.empty(), qPrintable(name));
      std::set<std::string> keys;
      for (const auto& s : spec.settings) {
        QVERIFY2(keys.insert(s.key).second, qPrintable(name + ": a key twice"));
        QVERIFY2(s.min <= s.value && s.value <= s.max && !s.help.empty(), qPrintable(name + "." + QString::fromStdString(s.key)));
        QVERIFY(!s.integer || s.value == std::floor(s.value));
      }
      torch::manual_seed(3);
      auto model = makeContrastiveModel(tinyModel(), methodNamed(spec.name), 1, 12);
      QCOMPARE(QString::fromStdString(model->method().name()), name);
      model->train();
      const auto views = torch::randn({16, 1, 12, 12});
      MethodStep step;
      step.steps_per_epoch = 4;
      step.total_steps = 8;
      bool marked = false;
      step.forward_done = [&] { marked = true; };
      const MethodOutput out = model->loss(views, step);
      QVERIFY2(marked, qPrintable(name + ": the profiler's forward mark"));
      QVERIFY2(out.loss.dim() == 0 && std::isfinite(out.loss.item<double>()), qPrintable(name));
      QCOMPARE(out.metrics.size(), model->method().metricNames().size());
      out.loss.backward();
      // The encoder learns; an EMA target takes no gradient and is not optimised.
      const auto params = model->named_parameters();
      QVERIFY2(params["backbone.net.0.weight"].grad().defined() &&
                   params["backbone.net.0.weight"].grad().abs().sum().item<double>() > 0,
               qPrintable(name + ": no gradient reaches the encoder"));
      for (const auto& p : params)
        if (p.key().rfind("target_", 0) == 0)
          QVERIFY2(!p.value().requires_grad() && !p.value().grad().defined(), qPrintable(name + ": " + QString::fromStdString(p.key())));
      // The projection is what the loss compares: one row per image.
      QCOMPARE(model->forward(views.slice(0, 0, 4)).size(0), int64_t(4));

      // Multi-crop: three local 8-pixel views per image beside the two global ones change the
      // loss and train the encoder too; the methods that compare two views refuse them.
      const ViewBatch multi(views, torch::randn({24, 1, 8, 8}));
      QCOMPARE(multi.localCount(), int64_t(3));
      if (spec.multi_crop == MultiCrop::No) {
        bool refused = false;  // a programming error: the config check keeps local views away
        try {
          model->loss(multi, step);
        } catch (const std::logic_error& e) {
          refused = contains(e.what(), "compares two views only");
        }
        QVERIFY2(refused, qPrintable(name));
        continue;
      }
      model->zero_grad();
      const MethodOutput with_locals = model->loss(multi, step);
      QVERIFY2(std::isfinite(with_locals.loss.item<double>()), qPrintable(name));
      QVERIFY2(std::abs(with_locals.loss.item<double>() - model->loss(views, step).loss.item<double>()) > 1e-6,
               qPrintable(name + ": the local views change nothing"));
      with_locals.loss.backward();
      QVERIFY2(model->named_parameters()["backbone.net.0.weight"].grad().abs().sum().item<double>() > 0,
               qPrintable(name + ": no gradient through the local views"));
    }
  }

  void targetsStartAsTheOnlineNetworkAndFollowIt() {
    for (const char* name : {"moco", "byol", "dino"}) {
      torch::manual_seed(5);
      auto model = makeContrastiveModel(tinyModel(), methodNamed(name), 1, 12);
      auto params = model->named_parameters();
      const std::string key = "backbone.net.0.weight", target_key = "target_backbone.net.0.weight";
      QVERIFY2(torch::equal(params[key], params[target_key]), name);
      // A step moves the online network; after it the target moves a (1 - m) share of the way,
      // with m the cosine schedule's value at the step just taken (its base at step 0).
      const auto before = params[target_key].clone();
      {
        torch::NoGradGuard no_grad;
        params[key].add_(1.0);
      }
      model->method().afterStep(model->backbone(), 1, 100);
      const double m = methodValues(methodNamed(name))("momentum");
      const auto want = m * before + (1 - m) * params[key];
      QVERIFY2((params[target_key] - want).abs().max().item<float>() < 1e-6, name);
    }
    // MoCo's queue takes the step's keys (both views, normalised) at its pointer.
    torch::manual_seed(6);
    auto moco = makeContrastiveModel(tinyModel(), methodNamed("moco"), 1, 12);
    moco->train();
    MethodStep step;
    moco->loss(torch::randn({16, 1, 12, 12}), step);
    moco->method().afterStep(moco->backbone(), 1, 10);
    const auto buffers = moco->named_buffers();
    QCOMPARE(buffers["queue.pointer"].item<int64_t>(), int64_t(16));
    QVERIFY((buffers["queue.keys"].slice(0, 0, 16).norm(2, 1) - 1).abs().max().item<float>() < 1e-5);
    // DINO's centre moves from zero to a tenth of the teacher's mean output.
    auto dino = makeContrastiveModel(tinyModel(), methodNamed("dino"), 1, 12);
    QVERIFY(torch::equal(dino->named_buffers()["center.value"], torch::zeros({1, 2048})));
    dino->train();
    dino->loss(torch::randn({16, 1, 12, 12}), step);
    dino->method().afterStep(dino->backbone(), 1, 10);
    QVERIFY(dino->named_buffers()["center.value"].abs().sum().item<double>() > 0);
  }

  void configChecksEachMethodsKeys() {
    MethodConfig m;
    m.name = "swav";
    QVERIFY(contains(expectError([&] { checkMethodConfig(m); }), "method.name = \"swav\" is not a method (expected one of: simclr, dcl"));
    m.name = "byol";
    m.settings["byol"]["temperature"] = 0.1;
    QVERIFY(contains(expectError([&] { checkMethodConfig(m); }),
                     "method.byol.temperature is not a setting of BYOL (its settings: momentum, predictor_hidden)"));
    m.settings["byol"] = {{"momentum", 1.5}};
    QVERIFY(contains(expectError([&] { checkMethodConfig(m); }), "method.byol.momentum = 1.5: expected a number from 0 to 1"));
    m.settings["byol"] = {{"predictor_hidden", 10.5}};
    QVERIFY(contains(expectError([&] { checkMethodConfig(m); }), "method.byol.predictor_hidden = 10.5: expected a whole number"));
    // The blocks of other methods are checked too: a typo there is not kept silently.
    m.settings["byol"] = {};
    m.settings["mocco"]["temperature"] = 0.2;
    QVERIFY(contains(expectError([&] { checkMethodConfig(m); }), "method.mocco is not a method"));

    // The file's form: a block per method, kept through a round trip; the form before blocks
    // ("temperature" beside the name) is the named method's temperature.
    const auto c = ExperimentConfig::fromJson(Json::parse(
        R"({"method": {"name": "byol", "byol": {"momentum": 0.995}, "simclr": {"temperature": 0.3}}})"));
    QCOMPARE(c.method.name, std::string("byol"));
    QCOMPARE(c.method.settings.at("byol").at("momentum"), 0.995);
    QCOMPARE(c.method.settings.at("simclr").at("temperature"), 0.3);
    QCOMPARE(ExperimentConfig::fromJson(c.toJson()).toJson(), c.toJson());
    const auto legacy = ExperimentConfig::fromJson(Json::parse(R"({"method": {"name": "simclr", "temperature": 0.2}})"));
    QCOMPARE(legacy.method.settings.at("simclr").at("temperature"), 0.2);
    QVERIFY(contains(expectError([] { ExperimentConfig::fromJson(Json::parse(R"({"method": {"byol": {"momentum": "high"}}})")); }),
                     "method.byol.momentum must be a number"));
    QVERIFY(contains(expectError([] { ExperimentConfig::fromJson(Json::parse(R"({"method": {"tau": 1}})")); }),
                     "unknown key 'method.tau'"));
    // Local views only for the methods that use them; the message names the key and those methods.
    AugmentConfig multi_crop;
    multi_crop.local_crops = 4;
    QVERIFY(contains(expectError([] {
                       AugmentConfig a;
                       a.local_crops = 4;
                       checkMethodConfig(methodNamed("moco"), a);
                     }),
                     "augment.local_crops = 4: MoCo v2 compares two views only; set it to 0, or choose a method that "
                     "uses local views (SimCLR, DCL, DCLW, BYOL, SimSiam, DINO)"));
    checkMethodConfig(methodNamed("dino"), multi_crop);
    multi_crop.local_crops = 0;
    checkMethodConfig(methodNamed("vicreg"), multi_crop);
    // --set reaches a method's key.
    Json j = Json::object();
    applyConfigOverride(j, "method.name=vicreg");
    applyConfigOverride(j, "method.vicreg.variance_weight=20");
    const auto set = ExperimentConfig::fromJson(j);
    QCOMPARE(methodValues(set.method)("variance_weight"), 20.0);
    QCOMPARE(methodValues(set.method)("invariance_weight"), 25.0);  // the default
    // A run saves every setting of its method.
    const auto resolved = resolvedMethodConfig(set.method);
    QCOMPARE(resolved.settings.at("vicreg").size(), size_t(4));
  }

  void everyMethodResumesOnTheSameTrajectory_data() {
    addMethodRows();
  }
  void everyMethodResumesOnTheSameTrajectory() {
    QFETCH(QString, method);
    checkResumeIsExact(method.toStdString(), 0);
  }
  void multiCropRunsResumeOnTheSameTrajectory_data() {
    QTest::addColumn<QString>("method");
    for (const MethodSpec& spec : methodSpecs())
      if (spec.multi_crop != MultiCrop::No) QTest::newRow(spec.name.c_str()) << QString::fromStdString(spec.name);
  }
  void multiCropRunsResumeOnTheSameTrajectory() {
    QFETCH(QString, method);
    checkResumeIsExact(method.toStdString(), 2);
  }

  void everyMethodLearnsWithoutCollapsing_data() {
    addMethodRows();
  }
  void everyMethodLearnsWithoutCollapsing() {
    // 2048 Fashion-MNIST images, a width-8 ConvNet, 3 epochs of batches of 32 (192 steps,
    // 5 to 7 s a method here), each method with its defaults. It learns: its kNN top-1 on 2000
    // held-out images beats the untrained encoder's (65.45% on this CPU). Measured gains here,
    // in points: SimCLR 4.3, DCL 7.0, DCLW 4.1, MoCo 4.1, BYOL 1.25, SimSiam 1.65, Barlow Twins
    // 1.85, VICReg 1.85, DINO 4.4 (25 to 140 of the 2000 queries; at 256 steps every gain grows,
    // BYOL's to 1.6). The methods without negatives need the most steps, and 192 is what the
    // suite's five minutes afford (docs/benchmarks.md). It does not collapse: spread and
    // effective rank stay well above the collapse limits (measured 0.26 to 0.47 and 10 to 12
    // of 32; the untrained encoder's are 0.13 and 4.7). The run's record and the index agree.
    QFETCH(QString, method);
    const std::string dir = test::scratchDir("methods_learn_" + method.toStdString());
    ExperimentConfig c;
    c.name = "learn-" + method.toStdString();
    c.dataset.kind = DatasetKind::FashionMnist;
    c.dataset.train_limit = 2048;
    c.augment.crop_scale_min = 0.3;
    c.augment.saturation = 0;
    c.augment.hue = 0;
    c.augment.grayscale_p = 0;
    c.model.backbone = Backbone::ConvNet;
    c.model.width = 8;
    c.model.head_dims = {64, 32};
    c.method.name = method.toStdString();
    c.optim.lr = 2e-3;
    c.optim.warmup_epochs = 0.2;
    c.train.epochs = 3;
    c.train.batch_size = 32;
    c.train.threads = 2;
    c.train.device = "cpu";
    c.monitor.every_epochs = 3;  // the untrained encoder at step 0, and the end
    c.monitor.k = 20;
    c.monitor.bank_size = 2048;
    c.monitor.query_size = 2000;
    Trainer trainer(c, dir + "/runs");
    std::vector<MetricsRecord> evals;
    int warnings = 0;
    const auto outcome = trainer.run([&](const MetricsRecord& r) {
      if (r.kind == RecordKind::Eval) evals.push_back(r);
      if (r.has("collapse_warning")) ++warnings;
      return true;
    });
    QCOMPARE(QString::fromStdString(outcome.status), QString("finished"));
    QCOMPARE(evals.size(), size_t(2));
    const MetricsRecord &untrained = evals[0], &trained = evals[1];
    qInfo("%s: kNN %.4f -> %.4f (raw pixels %.4f); spread %.3f -> %.3f; rank %.1f -> %.1f", qPrintable(method),
          untrained.value("knn_top1"), trained.value("knn_top1"), trained.value("raw_pixel_knn_top1"),
          untrained.value("embedding_spread"), trained.value("embedding_spread"), untrained.value("effective_rank"),
          trained.value("effective_rank"));
    QVERIFY2(trained.value("knn_top1") > untrained.value("knn_top1"), "the method must beat the untrained encoder");
    QCOMPARE(trained.value("collapsing"), 0.0);
    QCOMPARE(warnings, 0);
    QVERIFY(trained.value("embedding_spread") > 0.15);
    QVERIFY(trained.value("effective_rank") > 6);
    QCOMPARE(outcome.final_knn, trained.value("knn_top1"));
    const auto record = readRunRecord(outcome.run_dir);
    QCOMPARE(QString::fromStdString(record.status), QString("finished"));
    QCOMPARE(QString::fromStdString(record.method), method);
    QVERIFY(std::abs(record.best_knn - trained.value("knn_top1")) < 1e-9);
    QCOMPARE(RunIndex(dir + "/runs").list().size(), size_t(1));
  }

 private:
  // A run stopped after 5 of 12 steps and resumed takes the same steps as one that never
  // stopped: the method's state (target, queue, centre) is in the checkpoint, and a step's
  // views (local ones too) depend on the seed and the step alone. The CPU's kernels are
  // deterministic, so the losses agree to float32 rounding.
  void checkResumeIsExact(const std::string& method_name, int64_t local_crops) {
    const QString method = QString::fromStdString(method_name);
    const std::string dir = test::scratchDir("methods_resume_" + method_name + (local_crops > 0 ? "_multi_crop" : ""));
    ExperimentConfig config = test::tinyExperiment(test::writeTinyDataset(dir));
    config.augment.saturation = 0;
    config.augment.hue = 0;
    config.augment.local_crops = local_crops;
    config.model.width = 4;
    config.method.name = method_name;
    if (config.method.name == "moco") config.method.settings["moco"]["queue_size"] = 64;  // wraps within the run
    if (config.method.name == "dino") config.method.settings["dino"]["prototypes"] = 64;

    Trainer straight(config, dir + "/runs");
    const auto reference = stepLosses(straight);
    QCOMPARE(reference.size(), size_t(12));
    Trainer first(config, dir + "/runs");
    QCOMPARE(stepLosses(first, 5).size(), size_t(5));
    Trainer resumed(RunFolder::open(dir + "/runs", first.folder().path()));
    const auto rest = stepLosses(resumed);
    QCOMPARE(rest.size(), size_t(7));
    for (size_t i = 0; i < rest.size(); ++i) {
      const double want = reference[5 + i].second, got = rest[i].second;
      QVERIFY2(std::abs(want - got) <= 1e-5 * std::max(1.0, std::abs(want)),
               qPrintable(QString("%1 step %2: %3 vs %4").arg(method).arg(rest[i].first).arg(got).arg(want)));
    }
    // The run's config says every setting the method trained with.
    const auto saved = loadExperimentConfig(first.folder().configPath());
    QCOMPARE(saved.method.settings.at(config.method.name).size(), findMethodSpec(config.method.name)->settings.size());
  }
};

STUDIO_TEST_MAIN(TestMethods)
#include "test_methods.moc"
