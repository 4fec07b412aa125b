#include "gpu/gpu_checks.h"

#include <c10/cuda/CUDACachingAllocator.h>
#include <cuda_runtime_api.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "core/augment/augment.h"
#include "core/augment/augment_fused.h"
#include "core/model/checkpoint.h"
#include "core/base/error.h"
#include "core/runs/run_folder.h"
#include "core/data/synthetic_dataset.h"
#include "core/train/trainer.h"
#include "gpu/augment_kernels.h"
#include "gpu/normalize_kernel.h"

namespace studio::gpu {
namespace {

// Unnormalised values in [0, 1] agree this closely (core/augment/augment_math.h says why they
// differ at all; tests/test_augment_fused.cpp holds the CPU applier to the same bound).
constexpr double kTolerance = 2e-5;

std::string format(const char* fmt, double a, double b = 0) {
  char text[160];
  std::snprintf(text, sizeof text, fmt, a, b);
  return text;
}

CheckResult result(const std::string& name, bool passed, const std::string& detail) { return {name, passed, detail}; }

struct Shape {
  int64_t n, c, h, w, out;
};

const std::vector<Shape>& shapes() {
  static const std::vector<Shape> s = {{64, 1, 28, 28, 28}, {64, 3, 32, 32, 32}, {16, 3, 96, 96, 96},
                                       {40, 3, 17, 13, 11}, {40, 1, 9, 7, 16},   {40, 3, 5, 5, 3},
                                       {30, 2, 12, 20, 12}, {30, 4, 16, 16, 16}};
  return s;
}

std::string shapeName(const Shape& s) {
  return std::to_string(s.n) + "x" + std::to_string(s.c) + "x" + std::to_string(s.h) + "x" + std::to_string(s.w) + "->" +
         std::to_string(s.out);
}

AugmentConfig everythingOn(int64_t out) {
  AugmentConfig c;
  c.out_size = out;
  c.crop_scale_min = 0.1;
  c.jitter_p = 0.9;
  c.grayscale_p = 0.3;
  c.blur_p = 0.5;
  c.solarize_p = 0.4;
  return c;
}

double maxAbs(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.cpu().to(torch::kDouble) - b.cpu().to(torch::kDouble)).abs().max().item<double>();
}

// Differences away from solarize's threshold, where either side may legitimately win.
double maxAbsOffThreshold(const torch::Tensor& got, const torch::Tensor& ref, double threshold) {
  const auto r = ref.cpu(), g = got.cpu();
  const auto near = ((r - threshold).abs() < 1e-4) | ((1 - r - threshold).abs() < 1e-4);
  return (g - r).abs().masked_fill(near, 0).max().item<double>();
}

void checkNormalize(std::vector<CheckResult>& out) {
  for (const auto& s : shapes()) {
    const auto images = torch::randint(0, 256, {s.n, s.c, s.h, s.w}, torch::kUInt8);
    std::vector<float> mean, std;
    for (int64_t k = 0; k < s.c; ++k) {
      mean.push_back(0.3f + 0.1f * k);
      std.push_back(0.2f + 0.05f * k);
    }
    const auto got = normalizeUint8(images.cuda(), mean, std).cpu();
    AugmentConfig cfg;
    cfg.mean.assign(mean.begin(), mean.end());
    cfg.std.assign(std.begin(), std.end());
    const Augmenter aug(cfg, s.c, s.h, s.w);
    const auto ref = aug.normalize(images.to(torch::kFloat64).div(255.0)).to(torch::kFloat32);
    const double rel = (got - ref).norm().item<double>() / ref.norm().item<double>();
    out.push_back(result("normalizeUint8 " + shapeName(s), rel < 1e-6, format("relative error %.2e (bound 1e-6)", rel)));
  }
}

void checkAugmentation(std::vector<CheckResult>& out) {
  for (const auto& s : shapes()) {
    const AugmentConfig config = everythingOn(s.out);
    const Augmenter aug(config, s.c, s.h, s.w);
    const auto images = torch::randint(0, 256, {s.n, s.c, s.h, s.w}, torch::kUInt8);
    auto gen = makeStepGenerator(11, s.n * 7 + s.out);
    const AugmentParams params = aug.sample(s.n, gen);
    const auto& table = params.table;
    const auto unit = images.to(torch::kFloat32) / 255;
    const auto images_gpu = images.cuda();
    const std::string name = shapeName(s);

    // Crop + flip alone.
    const auto pipeline = aug.pipeline(table, /*normalize=*/false);
    const double crop = maxAbs(resampleViews(images_gpu, table, pipeline), cropFlipResample(unit, table, s.out));
    out.push_back(result("crop+flip resample " + name, crop <= kTolerance, format("max |kernel - reference| %.2e (bound %.0e)", crop, kTolerance)));

    // Colour jitter + grayscale alone, on random float views.
    const auto views = torch::rand({s.n, s.c, s.out, s.out});
    auto ref = colorJitter(views, table);
    if (s.c == 3) {
      const auto g = table.select(1, kGray).view({-1, 1, 1, 1});
      ref = ref * (1 - g) + rgbToGray(ref) * g;
    }
    const double color = maxAbs(colorViews(views.cuda(), table, pipeline), ref);
    out.push_back(result("colour jitter+grayscale " + name, color <= kTolerance, format("max |kernel - reference| %.2e (bound %.0e)", color, kTolerance)));

    // Blur alone.
    const auto weights = aug.blurWeights(table);
    const double blur = maxAbs(blurViews(views.cuda(), weights, static_cast<int>(aug.blurKernel())),
                               gaussianBlur(views, table.select(1, kBlurSigma), aug.blurKernel()).clamp(0, 1));
    out.push_back(result("gaussian blur " + name, blur <= kTolerance, format("max |kernel - reference| %.2e (bound %.0e)", blur, kTolerance)));

    // The whole pipeline, unnormalised, against the reference and against the CPU applier.
    const auto full = augmentViews(images_gpu, torch::Tensor(), table, weights, pipeline);
    const double all = maxAbsOffThreshold(full, aug.applyUnnormalized(images, params), config.solarize_threshold);
    out.push_back(result("fused pipeline " + name, all <= kTolerance, format("max |kernel - reference| %.2e (bound %.0e)", all, kTolerance)));
    const double cpu = maxAbs(full, applyFusedCpu(aug, images, torch::Tensor(), table, /*normalize=*/false));
    out.push_back(result("kernel vs CPU applier " + name, cpu <= 1e-6, format("max |kernel - CPU applier| %.2e (bound 1e-6)", cpu)));

    // Normalised, channels-last, views gathered by index from a larger set.
    const auto idx = torch::randint(0, s.n, {s.n}, torch::kLong);
    const auto last = aug.pipeline(table, /*normalize=*/true, /*channels_last=*/true);
    const auto gathered = augmentViews(images_gpu, idx.cuda(), table, weights, last);
    const auto direct = augmentViews(images_gpu.index_select(0, idx.cuda()), torch::Tensor(), table, weights, last);
    const bool layout = gathered.is_contiguous(torch::MemoryFormat::ChannelsLast);
    const bool same = torch::equal(gathered, direct);
    const double norm = maxAbsOffThreshold(gathered.contiguous(), aug.apply(images.index_select(0, idx), params), 1e9);
    // Normalisation divides by std (here measured-free defaults of 0.25): 4x the bound.
    out.push_back(result("gathered, normalised, channels-last " + name, layout && same && norm <= 4 * kTolerance + 1e-6,
                         format("max error %.2e; gather exact and NHWC: ", norm) + (layout && same ? "yes" : "NO")));
  }
  // A device index out of range yields NaN views, never a stray read.
  const Augmenter aug(everythingOn(8), 1, 8, 8);
  auto gen = makeStepGenerator(1, 1);
  const auto params = aug.sample(3, gen);
  const auto images = torch::randint(0, 256, {4, 1, 8, 8}, torch::kUInt8).cuda();
  const auto got = augmentViews(images, torch::tensor({0, 7, 3}, torch::kLong).cuda(), params.table,
                                aug.blurWeights(params.table), aug.pipeline(params.table)).cpu();
  const bool ok = got[1].isnan().all().item<bool>() && got[0].isfinite().all().item<bool>() && got[2].isfinite().all().item<bool>();
  out.push_back(result("out-of-range device index gives a NaN view", ok, ok ? "view 1 NaN, views 0 and 2 finite" : "wrong"));
}

// --- training -----------------------------------------------------------------

ExperimentConfig gpuConfig(const std::string& data) {
  ExperimentConfig c;
  c.name = "gpu-check";
  c.dataset.kind = DatasetKind::Packed;
  c.dataset.path = data;
  c.dataset.holdout_fraction = 0.1;
  c.model.width = 32;
  c.model.head_dims = {256, 128};
  c.method.settings["simclr"]["temperature"] = 0.2;
  c.optim.lr = 2e-3;
  c.optim.warmup_epochs = 0.2;
  c.train.epochs = 8;
  c.train.batch_size = 512;
  c.train.device = "cuda";
  c.train.checkpoint_every_steps = 1000;
  c.monitor.every_epochs = 0;
  c.monitor.k = 20;
  c.monitor.bank_size = 2000;
  c.monitor.query_size = 500;
  c.monitor.map_size = 0;
  return c;
}

struct RunLosses {
  std::vector<double> losses;
  std::string info, error, checkpoint;
};

RunLosses train(const ExperimentConfig& c, const std::string& runs, int64_t stop_after = -1) {
  RunLosses r;
  try {
    Trainer t(c, runs);
    r.checkpoint = t.folder().checkpointPath();
    t.run([&](const MetricsRecord& m) {
      if (m.kind == RecordKind::Step) r.losses.push_back(m.value("loss"));
      if (m.kind == RecordKind::Info && r.info.empty()) r.info = m.text;
      return !(stop_after > 0 && m.kind == RecordKind::Step && m.step == stop_after);
    });
  } catch (const std::exception& e) {
    r.error = e.what();
  }
  return r;
}

double meanOf(const std::vector<double>& v, size_t from, size_t to) {
  double s = 0;
  for (size_t i = from; i < to && i < v.size(); ++i) s += v[i];
  return to > from ? s / double(std::min(to, v.size()) - from) : 0;
}

}  // namespace

std::vector<CheckResult> runKernelChecks() {
  std::vector<CheckResult> out;
  torch::manual_seed(0);
  checkNormalize(out);
  checkAugmentation(out);
  return out;
}

std::vector<CheckResult> runTrainingChecks(const std::string& scratch_dir) {
  std::vector<CheckResult> out;
  namespace fs = std::filesystem;
  fs::create_directories(scratch_dir);
  const std::string data = scratch_dir + "/bars-rgb-32.csds";
  writePackedDataset(data, makeBarsDataset(10240, 3, 32, 32, 10));
  const std::string runs = scratch_dir + "/runs";

  // fp32 and bf16: both learn, the curves overlap.
  ExperimentConfig c = gpuConfig(data);
  c.engine.precision = Precision::Fp32;
  const RunLosses fp32 = train(c, runs);
  c.engine.precision = Precision::Bf16;
  const RunLosses bf16 = train(c, runs);
  const size_t n = fp32.losses.size();
  const bool ran = fp32.error.empty() && bf16.error.empty() && n >= 40 && bf16.losses.size() == n;
  if (!ran) {
    out.push_back(result("fp32 and bf16 runs", false, fp32.error + bf16.error));
  } else {
    const double f0 = meanOf(fp32.losses, 0, 5), f1 = meanOf(fp32.losses, n - 10, n);
    const double b0 = meanOf(bf16.losses, 0, 5), b1 = meanOf(bf16.losses, n - 10, n);
    out.push_back(result("bf16 run: loss falls", b1 < b0 - 0.3, format("first 5 steps %.3f, last 10 %.3f", b0, b1)));
    out.push_back(result("bf16 curve overlaps fp32 (last 10 steps within 10% of the fall)",
                         std::abs(b1 - f1) < 0.1 * (f0 - f1), format("fp32 %.3f, bf16 %.3f", f1, b1)));
    out.push_back(result("plan of the bf16 run", bf16.info.find("bf16 autocast") != std::string::npos &&
                                                     bf16.info.find("CUDA augmentation kernels") != std::string::npos,
                         bf16.info));
  }

  // The same first loss whichever way the views are made (the first step's arithmetic is
  // the same; later steps may differ through non-deterministic cuDNN kernels).
  ExperimentConfig base = gpuConfig(data);
  base.train.max_steps = 3;
  base.engine.precision = Precision::Fp32;
  base.engine.tf32 = false;
  base.engine.cudnn_benchmark = false;
  const RunLosses reference = train(base, runs);
  struct Variant {
    const char* name;
    std::function<void(ExperimentConfig&)> set;
    double bound;
  };
  const std::vector<Variant> variants = {
      {"images uploaded per step (engine.resident_data=off)", [](ExperimentConfig& e) { e.engine.resident_data = AutoSwitch::Off; }, 1e-6},
      {"no prefetch (engine.prefetch=0)", [](ExperimentConfig& e) { e.engine.prefetch = 0; }, 1e-6},
      {"torch-ops augmentation (engine.augment=torch)", [](ExperimentConfig& e) { e.engine.augment = AugmentEngine::Torch; }, 1e-3},
      {"NCHW memory (engine.channels_last=off)", [](ExperimentConfig& e) { e.engine.channels_last = AutoSwitch::Off; }, 1e-3},
  };
  for (const auto& v : variants) {
    ExperimentConfig e = base;
    v.set(e);
    const RunLosses r = train(e, runs);
    const bool ok = reference.error.empty() && r.error.empty() && !r.losses.empty() && !reference.losses.empty();
    const double d = ok ? std::abs(r.losses[0] - reference.losses[0]) : 1e9;
    out.push_back(result(std::string("first loss with ") + v.name, ok && d <= v.bound,
                         ok ? format("|difference| %.2e (bound %.0e)", d, v.bound) : reference.error + r.error));
  }

  // CUDA graphs: with deterministic cuDNN, the replayed steps follow the eager ones (a
  // stale input or gradients the optimizer never sees would leave them at once); and a
  // bf16 run with the graph learns like the fp32 one.
  {
    ExperimentConfig e = base;
    e.train.max_steps = 12;
    at::globalContext().setDeterministicCuDNN(true);
    const RunLosses eager = train(e, runs);
    e.engine.cuda_graph = true;
    const RunLosses graphed = train(e, runs);
    at::globalContext().setDeterministicCuDNN(false);
    double worst = eager.losses.size() == 12 && graphed.losses.size() == 12 ? 0 : 1e9;
    for (size_t i = 0; i < eager.losses.size() && i < graphed.losses.size(); ++i)
      worst = std::max(worst, std::abs(eager.losses[i] - graphed.losses[i]));
    out.push_back(result("CUDA graph: 12 steps (3 eager, capture, 8 replays) follow the eager run", worst <= 1e-3,
                         eager.error + graphed.error + format("max |loss difference| %.2e (bound 1e-3)", worst)));
    ExperimentConfig b = gpuConfig(data);
    b.engine.cuda_graph = true;
    const RunLosses g = train(b, runs);
    const size_t m = g.losses.size();
    const bool learned = g.error.empty() && m == n && ran && meanOf(g.losses, m - 10, m) < meanOf(g.losses, 0, 5) - 0.3 &&
                         std::abs(meanOf(g.losses, m - 10, m) - meanOf(fp32.losses, n - 10, n)) <
                             0.1 * (meanOf(fp32.losses, 0, 5) - meanOf(fp32.losses, n - 10, n));
    out.push_back(result("CUDA graph + bf16: loss falls and overlaps fp32", learned,
                         g.error + format("last 10 steps: graph %.3f, fp32 %.3f", meanOf(g.losses, m - 10, m),
                                          meanOf(fp32.losses, n - 10, n))));
  }

  // Out of memory: cap the allocator well below what batch 8192 of ResNet-18 needs.
  {
    ExperimentConfig e = gpuConfig(data);
    e.model.backbone = Backbone::ResNet18;
    e.train.batch_size = 8192;
    e.train.epochs = 1;
    const auto device = static_cast<c10::DeviceIndex>(0);
    c10::cuda::CUDACachingAllocator::emptyCache();
    size_t free = 0, total = 0;
    cudaMemGetInfo(&free, &total);
    const double fraction = std::min(1.0, 6e9 / double(total));  // about 6 GB
    c10::cuda::CUDACachingAllocator::setMemoryFraction(fraction, device);
    const RunLosses r = train(e, runs);
    c10::cuda::CUDACachingAllocator::setMemoryFraction(1.0, device);
    c10::cuda::CUDACachingAllocator::emptyCache();
    const bool named = r.error.find("out of memory on cuda") != std::string::npos &&
                       r.error.find("fits (probed by halving") != std::string::npos &&
                       r.error.find("checkpointed at step 0") != std::string::npos;
    const bool checkpoint = !r.checkpoint.empty() && fs::exists(r.checkpoint);
    out.push_back(result("out of memory (allocator capped at 6 GB, batch 8192 ResNet-18) names a fitting batch",
                         named && checkpoint, r.error.empty() ? "no error was raised" : r.error));
  }
  return out;
}

}  // namespace studio::gpu
