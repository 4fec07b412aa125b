// The engine's speed settings and their safety nets: the `engine` config section, the plan
// it resolves to on a device (with the fallbacks it takes), batches prepared ahead on a
// background thread (identical losses to a sequential run, exact resume), bf16 autocast
// and channels-last on the CPU (the curve matches fp32 within noise), and out-of-memory
// handling: the run stops with a message naming a batch size that fits, checkpointed, and
// resumes on the same trajectory. The GPU side of these runs in studio-gpu-check.
#include <QtTest/QtTest>

#include <c10/core/CPUAllocator.h>
#include <torch/torch.h>

#include <atomic>
#include <fstream>

#include "core/device/autocast_scope.h"
#include "core/device/batch_probe.h"
#include "core/model/checkpoint.h"
#include "core/experiment/config.h"
#include "core/device/device.h"
#include "core/device/device_kernels.h"
#include "core/device/engine_plan.h"
#include "core/device/host_memory_cache.h"
#include "core/methods/methods.h"
#include "core/model/models.h"
#include "core/model/optim.h"
#include "core/runs/run_folder.h"
#include "core/runs/run_index.h"
#include "core/train/batch_source.h"
#include "core/train/trainer.h"
#include "tests/test_support.h"
#include "tests/tiny_dataset.h"

using namespace studio;
using studio::test::contains;
using studio::test::expectError;

namespace {

ExperimentConfig tinyConfig(const std::string& data) {
  ExperimentConfig c = test::tinyExperiment(data);
  c.train.device = "cpu";
  return c;
}

std::vector<double> runLosses(Trainer& trainer, int64_t stop_after = -1, std::string* info = nullptr) {
  std::vector<double> losses;
  trainer.run([&](const MetricsRecord& r) {
    if (r.kind == RecordKind::Step) losses.push_back(r.value("loss"));
    if (r.kind == RecordKind::Info && info && info->empty()) *info = r.text;
    return !(stop_after > 0 && r.kind == RecordKind::Step && r.step == stop_after);
  });
  return losses;
}

// A CPU allocator that refuses single allocations above a cap once armed, as an exhausted
// device would: the trainer sees the c10::OutOfMemoryError torch throws. Unarmed, it records
// the largest allocation since the last reset.
class CappedAllocator : public c10::Allocator {
 public:
  explicit CappedAllocator(c10::Allocator* real) : real_(real) {}
  c10::DataPtr allocate(size_t n) override {
    const int64_t cap = cap_.load();
    TORCH_CHECK_WITH(OutOfMemoryError, cap <= 0 || static_cast<int64_t>(n) <= cap,
                     "test allocator: ", n, " bytes refused (cap ", cap, ")");
    int64_t seen = largest_.load();
    while (static_cast<int64_t>(n) > seen && !largest_.compare_exchange_weak(seen, static_cast<int64_t>(n))) {
    }
    return real_->allocate(n);
  }
  void copy_data(void* dest, const void* src, std::size_t count) const override { real_->copy_data(dest, src, count); }
  c10::DeleterFnPtr raw_deleter() const override { return real_->raw_deleter(); }
  bool is_simple_data_ptr(const c10::DataPtr& p) const override { return real_->is_simple_data_ptr(p); }
  std::atomic<int64_t> cap_{0};
  std::atomic<int64_t> largest_{0};

 private:
  c10::Allocator* real_;
};

}  // namespace

class TestEngine : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() { torch::set_num_threads(2); }

  void configSection() {
    const auto defaults = ExperimentConfig::fromJson(Json::object());
    QVERIFY(defaults.engine.precision == Precision::Auto);
    QCOMPARE(defaults.engine.prefetch, int64_t(1));
    QVERIFY(!defaults.engine.cuda_graph && defaults.engine.tf32 && defaults.engine.cudnn_benchmark);
    const auto c = ExperimentConfig::fromJson(Json::parse(
        R"({"engine": {"augment": "torch", "precision": "bf16", "channels_last": "on", "tf32": false,
                       "cudnn_benchmark": false, "cuda_graph": true, "resident_data": "off", "prefetch": 2}})"));
    QVERIFY(c.engine.augment == AugmentEngine::Torch);
    QVERIFY(c.engine.resident_data == AutoSwitch::Off);
    QCOMPARE(c.engine.prefetch, int64_t(2));
    QVERIFY(c.engine.cuda_graph && !c.engine.tf32 && c.engine.host_memory_cache);
    // Round trip through JSON.
    const auto back = ExperimentConfig::fromJson(c.toJson());
    QCOMPARE(QString::fromStdString(back.toJson().dump()), QString::fromStdString(c.toJson().dump()));
    // Refusals name the key and what is allowed.
    auto refused = [](const char* text) { return expectError([&] { ExperimentConfig::fromJson(Json::parse(text)); }); };
    QVERIFY(contains(refused(R"({"engine": {"precision": "fp16"}})"),
                     "engine.precision = \"fp16\" is not one of: auto, fp32, bf16"));
    QVERIFY(contains(refused(R"({"engine": {"prefetch": 3}})"), "engine.prefetch = 3 is out of range [0, 2]"));
    QVERIFY(contains(refused(R"({"engine": {"cuda_graphs": true}})"), "unknown key 'engine.cuda_graphs'"));
    QVERIFY(contains(refused(R"({"engine": {"tf32": "yes"}})"), "engine.tf32 must be true or false"));
  }

  void planOnTheCpu() {
    EngineConfig e;
    const auto plan = planEngine(e, c10::Device(c10::kCPU), 1 << 20, DeviceFacts{});
    QVERIFY(plan.fused_augment && !plan.bf16 && !plan.channels_last && !plan.resident && !plan.tf32);
    QCOMPARE(plan.prefetch, int64_t(1));
    QVERIFY(plan.notes.empty());
    QCOMPARE(QString::fromStdString(plan.summary()),
             QString("fused augmentation on CPU threads, fp32, cached host memory, 1 batch prepared ahead"));
    e.precision = Precision::Bf16;
    e.cuda_graph = true;
    e.augment = AugmentEngine::Torch;
    const auto bf16 = planEngine(e, c10::Device(c10::kCPU), 1 << 20, DeviceFacts{});
    QVERIFY(bf16.bf16 && !bf16.fused_augment && !bf16.cuda_graph);
    QCOMPARE(bf16.notes.size(), size_t(1));
    QVERIFY(contains(bf16.notes[0], "engine.cuda_graph applies to CUDA devices only"));
  }

  void planOnAGpu() {
    DeviceFacts h200;
    h200.name = "NVIDIA H200";
    h200.total_bytes = 140'000'000'000;
    h200.free_bytes = 139'000'000'000;
    h200.bf16 = true;
    h200.kernels = true;
    h200.cuda_graphs = true;
    const c10::Device cuda(c10::kCUDA, 0);
    const auto plan = planEngine(EngineConfig{}, cuda, 47'040'000, h200);
    QVERIFY(plan.fused_augment && plan.bf16 && plan.channels_last && plan.resident && plan.tf32 &&
            plan.cudnn_benchmark && !plan.cuda_graph);
    QCOMPARE(QString::fromStdString(plan.summary()),
             QString("CUDA augmentation kernels, images on the GPU (47.0 MB), bf16 autocast, channels-last, TF32, "
                     "cuDNN autotuning, cached host memory, 1 batch prepared ahead"));

    // Too big to keep on the device: a clear fallback, or a refusal when asked for.
    const int64_t huge = 120'000'000'000;
    const auto fallback = planEngine(EngineConfig{}, cuda, huge, h200);
    QVERIFY(!fallback.resident);
    QCOMPARE(fallback.notes.size(), size_t(1));
    QVERIFY2(contains(fallback.notes[0], "the images (120.00 GB) do not fit in the free memory of cuda:0 (NVIDIA H200) "
                                         "(139.00 GB free, 35.00 GB kept for training): each batch is gathered on the "
                                         "host and uploaded"),
             fallback.notes[0].c_str());
    EngineConfig must;
    must.resident_data = AutoSwitch::On;
    QVERIFY(contains(expectError([&] { planEngine(must, cuda, huge, h200); }), "engine.resident_data = \"on\", but the images"));
    QVERIFY(datasetFitsOnDevice(huge - 20'000'000'000, h200));

    // An older GPU without bf16, and a build without kernels.
    DeviceFacts t4 = h200;
    t4.name = "Tesla T4";
    t4.bf16 = false;
    t4.kernels = false;
    t4.cuda_graphs = false;
    const auto old = planEngine(EngineConfig{}, cuda, 1000, t4);
    QVERIFY(!old.bf16 && !old.fused_augment);
    QCOMPARE(old.notes.size(), size_t(2));
    EngineConfig bf16;
    bf16.precision = Precision::Bf16;
    QVERIFY(contains(expectError([&] { planEngine(bf16, cuda, 1000, t4); }), "Tesla T4) has no bf16 arithmetic"));
    EngineConfig fused;
    fused.augment = AugmentEngine::Fused;
    QVERIFY(contains(expectError([&] { planEngine(fused, cuda, 1000, t4); }), "this build has no CUDA kernels"));
    EngineConfig graph;
    graph.cuda_graph = true;
    QVERIFY(contains(expectError([&] { planEngine(graph, cuda, 1000, t4); }),
                     "engine.cuda_graph = true, but this build cannot capture CUDA graphs (nvcc was not found"));
    QVERIFY(planEngine(graph, cuda, 1000, h200).cuda_graph);
    // Unknown free memory: the images stay on the host.
    DeviceFacts unknown = h200;
    unknown.free_bytes = -1;
    QVERIFY(!planEngine(EngineConfig{}, cuda, 1000, unknown).resident);
  }

  void probeHalvesUntilABatchFits() {
    std::vector<int64_t> asked;
    const auto probe = probeFittingBatch(1024, 2, [&](int64_t b) {
      asked.push_back(b);
      return b <= 200;
    });
    QCOMPARE(probe.fitting, int64_t(128));
    QCOMPARE(asked, (std::vector<int64_t>{512, 256, 128}));
    QCOMPARE(QString::fromStdString(probe.describe()), QString("512 does not, 256 does not, 128 fits"));
    const auto none = probeFittingBatch(16, 2, [](int64_t) { return false; });
    QCOMPARE(none.fitting, int64_t(0));
    QCOMPARE(none.tried.size(), size_t(3));  // 8, 4, 2
  }

  void hostMemoryCacheReusesFreedBlocks() {
    auto* before = c10::GetCPUAllocator();
    const int64_t reuses = HostMemoryCache::reuses();
    {
      HostMemoryCache cache;
      QVERIFY(c10::GetCPUAllocator() != before);
      void* first = nullptr;
      {
        auto t = torch::full({1 << 18}, 3.0f);  // 1 MiB
        first = t.data_ptr();
      }
      QCOMPARE(HostMemoryCache::cachedBytes(), int64_t(1) << 20);
      auto again = torch::zeros({1 << 18});  // the same size: the same block, zeroed as asked
      QCOMPARE(again.data_ptr(), first);
      QCOMPARE(again.sum().item<float>(), 0.f);
      QCOMPARE(HostMemoryCache::reuses(), reuses + 1);
      auto small = torch::ones({16});  // small blocks are not kept
      (void)small;
      {
        HostMemoryCache nested;  // shares the first
      }
      QVERIFY(c10::GetCPUAllocator() != before);
    }
    QCOMPARE(c10::GetCPUAllocator(), before);
    QCOMPARE(HostMemoryCache::cachedBytes(), int64_t(0));
    // Raw allocations (oneDNN's) go through it as well.
    HostMemoryCache cache;
    void* raw = c10::GetCPUAllocator()->raw_allocate(1 << 20);
    c10::GetCPUAllocator()->raw_deallocate(raw);
    QCOMPARE(HostMemoryCache::cachedBytes(), int64_t(1) << 20);
  }

  void fusedAdamWMatchesLibTorchs() {
    ModelConfig mc;
    mc.width = 8;
    mc.head_dims = {32, 16};
    OptimConfig oc;
    oc.lr = 1e-2;
    oc.weight_decay = 0.05;
    torch::manual_seed(1);
    auto a = makeContrastiveModel(mc, 1, 12);
    torch::manual_seed(1);
    auto b = makeContrastiveModel(mc, 1, 12);
    TrainingOptimizer fused(oc, *a, 10, 100);
    TrainingOptimizer loop(oc, *b, 10, 100);
    loop.setFusedAdamW(false);
    auto pa = a->parameters(), pb = b->parameters();
    const auto initial = pa[0].detach().clone();
    for (int64_t step = 0; step < 6; ++step) {
      torch::manual_seed(100 + step);
      for (size_t i = 0; i < pa.size(); ++i) {
        const auto g = torch::randn_like(pa[i]);
        pa[i].mutable_grad() = g.clone();
        pb[i].mutable_grad() = g.clone();
      }
      fused.step(step);
      loop.step(step);
    }
    double worst = 0;
    for (size_t i = 0; i < pa.size(); ++i) worst = std::max(worst, (pa[i] - pb[i]).abs().max().item<double>());
    QVERIFY2(worst < 1e-6, qPrintable(QString::number(worst)));
    QVERIFY((pa[0] - initial).abs().max().item<double>() > 1e-3);  // it did move
    // The state is LibTorch's own: a checkpoint of the fused optimizer loads into either.
    torch::serialize::OutputArchive out;
    fused.save(out);
    std::ostringstream bytes;
    out.save_to(bytes);
    std::istringstream in_bytes(bytes.str());
    torch::serialize::InputArchive in;
    in.load_from(in_bytes);
    TrainingOptimizer reloaded(oc, *b, 10, 100);
    reloaded.setFusedAdamW(false);
    reloaded.load(in);
    for (size_t i = 0; i < pa.size(); ++i) {
      pb[i].detach().copy_(pa[i].detach());
      const auto g = torch::randn_like(pa[i]);
      pa[i].mutable_grad() = g.clone();
      pb[i].mutable_grad() = g.clone();
    }
    fused.step(6);
    reloaded.step(6);
    worst = 0;
    for (size_t i = 0; i < pa.size(); ++i) worst = std::max(worst, (pa[i] - pb[i]).abs().max().item<double>());
    QVERIFY2(worst < 1e-6, qPrintable(QString::number(worst)));
  }

  void autocastScopeOnTheCpu() {
    const auto a = torch::randn({8, 8}), b = torch::randn({8, 8});
    {
      AutocastScope scope(c10::kCPU, torch::kBFloat16, true);
      QCOMPARE(torch::mm(a, b).scalar_type(), torch::kBFloat16);
      {
        AutocastScope off(c10::kCPU, torch::kBFloat16, false);  // a disabled scope changes nothing
        QCOMPARE(torch::mm(a, b).scalar_type(), torch::kBFloat16);
      }
    }
    QCOMPARE(torch::mm(a, b).scalar_type(), torch::kFloat32);
  }

  void prefetchedRunsEqualSequentialOnes_data() {
    QTest::addColumn<QString>("augment");
    QTest::addColumn<int>("channels");
    QTest::addColumn<int>("local_crops");
    QTest::newRow("fused, grayscale") << "fused" << 1 << 0;
    QTest::newRow("fused, colour") << "fused" << 3 << 0;
    QTest::newRow("torch ops, colour") << "torch" << 3 << 0;
    QTest::newRow("fused, multi-crop") << "fused" << 3 << 2;
    QTest::newRow("torch ops, multi-crop") << "torch" << 1 << 2;
  }
  void prefetchedRunsEqualSequentialOnes() {
    QFETCH(QString, augment);
    QFETCH(int, channels);
    QFETCH(int, local_crops);
    const std::string dir = test::scratchDir("engine_prefetch");
    auto config = tinyConfig(test::writeTinyDataset(dir, channels));
    QVERIFY(enumFromWord(augment.toStdString(), config.engine.augment));
    config.augment.blur_p = 0.5;
    config.augment.solarize_p = 0.2;
    config.augment.local_crops = local_crops;
    std::vector<std::vector<double>> runs;
    for (int64_t prefetch : {0, 1, 2}) {
      config.engine.prefetch = prefetch;
      Trainer t(config, dir + "/runs");
      runs.push_back(runLosses(t));
    }
    QCOMPARE(runs[0].size(), size_t(12));
    QVERIFY(runs[0] == runs[1]);  // bit for bit
    QVERIFY(runs[0] == runs[2]);
  }

  void localViewsComeBesideTheGlobalOnes_data() {
    QTest::addColumn<bool>("fused");
    QTest::newRow("fused") << true;
    QTest::newRow("torch ops") << false;
  }
  void localViewsComeBesideTheGlobalOnes() {
    // Multi-crop adds L*B local views at the local side and leaves a step's global views as
    // they were: the local tables are drawn after the global ones.
    QFETCH(bool, fused);
    torch::manual_seed(11);
    const auto images = torch::randint(0, 256, {10, 3, 16, 16}, torch::kUInt8);
    AugmentConfig c;
    c.mean = {0.5, 0.5, 0.5};
    c.std = {0.25, 0.25, 0.25};
    c.local_crops = 3;
    const Augmenter global(c, 3, 16, 16), local(localViewConfig(c, global.outSize()), 3, 16, 16);
    QCOMPARE(local.outSize(), int64_t(8));  // 3/7 of 16 is 7: the smallest side accepted
    BatchSourceOptions o;
    o.batch_size = 4;
    o.seed = 3;
    o.steps_per_epoch = 2;
    o.end_step = 4;
    o.plan.fused_augment = fused;
    BatchSource two(images, global, o);
    o.local_crops = 3;
    o.local_augmenter = &local;
    BatchSource multi(images, global, o);
    for (int64_t step : {0, 3}) {
      const ViewBatch a = two.views(step), b = multi.views(step);
      QVERIFY(!a.local.defined());
      QVERIFY(torch::equal(a.global, b.global));
      QCOMPARE(b.local.sizes().vec(), (std::vector<int64_t>{12, 3, 8, 8}));
      QCOMPARE(b.localCount(), int64_t(3));
      QVERIFY(std::isfinite(b.local.abs().max().item<double>()));
      // The three local views of an image differ from each other.
      QVERIFY(!torch::equal(b.local.slice(0, 0, 4), b.local.slice(0, 4, 8)));
    }
    // The out-of-memory probe's smaller batches have local views too.
    const ViewBatch probe = multi.probeViews(1, 2);
    QCOMPARE(probe.global.size(0), int64_t(4));
    QCOMPARE(probe.local.size(0), int64_t(6));
  }

  void resumeWithPrefetchIsExact() {
    const std::string dir = test::scratchDir("engine_resume");
    auto config = tinyConfig(test::writeTinyDataset(dir, 3));
    config.engine.prefetch = 2;
    Trainer straight(config, dir + "/runs");
    const auto reference = runLosses(straight);
    Trainer first(config, dir + "/runs");
    QCOMPARE(runLosses(first, 5).size(), size_t(5));  // the queue held steps 6 and 7 when it stopped
    Trainer resumed(RunFolder::open(dir + "/runs", first.folder().path()));
    const auto rest = runLosses(resumed);
    QCOMPARE(rest.size(), size_t(7));
    for (size_t i = 0; i < rest.size(); ++i) QCOMPARE(rest[i], reference[5 + i]);
  }

  void fusedAndTorchAugmentationTrainAlike() {
    // The two appliers agree to float rounding, so the first losses agree closely; later
    // steps drift apart only through chaotic amplification of that rounding.
    const std::string dir = test::scratchDir("engine_appliers");
    auto config = tinyConfig(test::writeTinyDataset(dir, 3));
    config.engine.augment = AugmentEngine::Fused;
    Trainer fused(config, dir + "/runs");
    const auto a = runLosses(fused);
    config.engine.augment = AugmentEngine::Torch;
    Trainer ops(config, dir + "/runs");
    const auto b = runLosses(ops);
    QVERIFY2(std::abs(a[0] - b[0]) < 1e-4, qPrintable(QString("%1 vs %2").arg(a[0]).arg(b[0])));
  }

  void bf16AndChannelsLastOnTheCpuMatchFp32() {
    const std::string dir = test::scratchDir("engine_precision");
    auto config = tinyConfig(test::writeTinyDataset(dir));
    config.train.epochs = 6;  // 36 steps
    config.optim.lr = 3e-3;
    Trainer fp32(config, dir + "/runs");
    std::string info;
    const auto base = runLosses(fp32, -1, &info);
    QVERIFY2(contains(info, "fused augmentation on CPU threads, fp32"), info.c_str());
    config.engine.precision = Precision::Bf16;
    Trainer bf16(config, dir + "/runs");
    info.clear();
    const auto low = runLosses(bf16, -1, &info);
    QVERIFY2(contains(info, "bf16 autocast"), info.c_str());
    config.engine.precision = Precision::Fp32;
    config.engine.channels_last = AutoSwitch::On;
    Trainer nhwc(config, dir + "/runs");
    const auto cl = runLosses(nhwc);
    auto mean = [](const std::vector<double>& v, size_t from, size_t to) {
      double s = 0;
      for (size_t i = from; i < to; ++i) s += v[i];
      return s / double(to - from);
    };
    const size_t n = base.size();
    QCOMPARE(n, size_t(36));
    qInfo("loss, first 4 / last 6 steps: fp32 %.3f / %.3f, bf16 %.3f / %.3f, channels-last %.3f / %.3f",
          mean(base, 0, 4), mean(base, n - 6, n), mean(low, 0, 4), mean(low, n - 6, n), mean(cl, 0, 4), mean(cl, n - 6, n));
    // Each run learns, and the curves overlap: the late means differ by less than the fall.
    const double fall = mean(base, 0, 4) - mean(base, n - 6, n);
    QVERIFY2(fall > 0.15, "fp32 must learn");
    QVERIFY(mean(low, 0, 4) - mean(low, n - 6, n) > 0.15);
    QVERIFY(std::abs(mean(low, n - 6, n) - mean(base, n - 6, n)) < 0.25 * fall);
    QVERIFY(std::abs(mean(cl, n - 6, n) - mean(base, n - 6, n)) < 0.1 * fall);
    QVERIFY(std::abs(cl[0] - base[0]) < 1e-4);  // the same arithmetic, another memory layout
  }

  void outOfMemoryStopsWithAFittingBatchAndLosesNothing() {
    const std::string dir = test::scratchDir("engine_oom");
    auto config = tinyConfig(test::writeTinyDataset(dir));
    config.train.batch_size = 64;  // 3 steps per epoch, 6 in all
    config.train.checkpoint_every_steps = 100;
    // Every allocation on the training thread, in order (a batch prepared ahead would be
    // allocated before or after the cap is armed, by timing), and none served from a cache.
    config.engine.prefetch = 0;
    config.engine.host_memory_cache = false;
    auto* real = c10::GetCPUAllocator();
    CappedAllocator capped(real);
    c10::SetCPUAllocator(&capped);
    // The largest single allocation of one training step (step 2: no evaluation in it), at a
    // batch of `batch`. Where the kernels allocate, and how much, depends on the CPU (oneDNN's
    // blocked layouts, ATen's vector width), so the cap is measured here, on this CPU, not
    // written down from another one.
    const auto largestStepAllocation = [&](int64_t batch, std::vector<double>* losses) {
      ExperimentConfig c = config;
      c.train.batch_size = batch;
      Trainer trainer(c, dir + "/runs");
      int64_t largest = 0;
      std::vector<double> seen;
      trainer.run([&](const MetricsRecord& r) {
        if (r.kind != RecordKind::Step) return true;
        seen.push_back(r.value("loss"));
        if (r.step == 1) capped.largest_.store(0);
        if (r.step == 2) largest = capped.largest_.load();
        return true;
      });
      if (losses) *losses = seen;
      return largest;
    };
    std::vector<double> reference;
    const int64_t at64 = largestStepAllocation(64, &reference);
    const int64_t at32 = largestStepAllocation(32, nullptr);
    QCOMPARE(reference.size(), size_t(6));
    // Activations and views scale with the batch: the step at 64 makes an allocation that a
    // step at 32 does not, and a cap half-way refuses the first and admits every one of the
    // second (the probe's forward and backward pass at 32 allocates what a step at 32 does).
    QVERIFY2(at64 > at32 + at32 / 4, qPrintable(QString("largest allocation at B=64: %1, at B=32: %2").arg(at64).arg(at32)));
    const int64_t cap = (at32 + at64) / 2;

    Trainer trainer(config, dir + "/runs");
    std::vector<double> losses;
    std::vector<std::string> infos;
    const std::string message = expectError(
        [&] {
          trainer.run([&](const MetricsRecord& r) {
            if (r.kind == RecordKind::Step) {
              losses.push_back(r.value("loss"));
              if (r.step == 3) capped.cap_.store(cap);  // from step 4 on, memory "runs out"
            }
            if (r.kind == RecordKind::Info) infos.push_back(r.text);
            return true;
          });
        },
        ErrorKind::Failure);
    capped.cap_.store(0);
    c10::SetCPUAllocator(real);
    QVERIFY2(contains(message, "out of memory on cpu") && contains(message, "at step 3 with train.batch_size = 64") &&
                 contains(message, "a batch of 32 fits (probed by halving: 32 fits)") &&
                 contains(message, "--set train.batch_size=32") && contains(message, "checkpointed at step 3"),
             message.c_str());
    QVERIFY(!infos.empty());
    QCOMPARE(infos.back(), message);  // also in the run's metrics
    QCOMPARE(losses.size(), size_t(3));
    QCOMPARE(QString::fromStdString(readRunRecord(trainer.folder().path()).status), QString("failed"));
    QCOMPARE(readCheckpointInfo(trainer.folder().checkpointPath()).step, int64_t(3));

    // Nothing lost: with the memory back, the run resumes at step 3 on the same trajectory.
    Trainer resumed(RunFolder::open(dir + "/runs", trainer.folder().path()));
    const auto rest = runLosses(resumed);
    QCOMPARE(rest.size(), size_t(3));
    for (size_t i = 0; i < 3; ++i) QCOMPARE(rest[i], reference[3 + i]);
  }

  // The seam to the CUDA kernels (core/device/device_kernels.h): what the engine's plan can use is
  // what a client registered. Last in the suite: a registration lasts for the process.
  void deviceKernelsComeFromTheRegistration() {
    const auto cpu = torch::Device(torch::kCPU);
    if (!studio::deviceKernels()) {
      const auto none = studio::queryDeviceFacts(cpu);
      QVERIFY(!none.kernels);
      QVERIFY(!none.cuda_graphs);
    }
    studio::DeviceKernels fake;
    fake.cuda_graphs_available = [] { return true; };
    studio::registerDeviceKernels(fake);
    QVERIFY(studio::deviceKernels() != nullptr);
    const auto registered = studio::queryDeviceFacts(cpu);
    QVERIFY(registered.kernels);
    QVERIFY(registered.cuda_graphs);
  }
};

QTEST_MAIN(TestEngine)
#include "test_engine.moc"
