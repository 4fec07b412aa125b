// studio-gpu-check: the GPU checks in one program (no Qt): each CUDA kernel against the
// torch-ops reference on fresh random inputs of several shapes, then a short SimCLR run
// on the GPU whose loss must fall, with step timings. Prints a table; exits non-zero on
// any failed check, and 0 with a message when no GPU is present.
#include <torch/torch.h>

#include <chrono>
#include <cstdio>

#include "core/augment.h"
#include "core/device.h"
#include "core/losses.h"
#include "core/models.h"
#include "gpu/normalize_kernel.h"

namespace {

int g_failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("%-60s %s\n", what.c_str(), ok ? "ok" : "FAILED");
  if (!ok) ++g_failures;
}

void checkNormalize() {
  const std::vector<std::vector<int64_t>> shapes = {{7, 1, 28, 28}, {5, 3, 32, 32}, {3, 3, 17, 13}, {1, 1, 1, 3}};
  for (const auto& s : shapes) {
    const auto images = torch::randint(0, 256, s, torch::kUInt8);
    std::vector<float> mean, std;
    for (int64_t c = 0; c < s[1]; ++c) {
      mean.push_back(0.3f + 0.1f * c);
      std.push_back(0.2f + 0.05f * c);
    }
    auto poisoned = studio::gpu::normalizeUint8(images.cuda(), mean, std).cpu();
    studio::AugmentConfig cfg;
    cfg.mean.assign(mean.begin(), mean.end());
    cfg.std.assign(std.begin(), std.end());
    studio::Augmenter aug(cfg, s[1], s[2], s[3]);
    const auto ref = aug.normalize(images.to(torch::kFloat64).div(255.0)).to(torch::kFloat32);
    const double rel = (poisoned - ref).norm().item<double>() / ref.norm().item<double>();
    char what[96];
    std::snprintf(what, sizeof what, "normalizeUint8 %lldx%lldx%lldx%lld rel.err %.2e", (long long)s[0], (long long)s[1],
                  (long long)s[2], (long long)s[3], rel);
    check(rel < 1e-6 && poisoned.isfinite().all().item<bool>(), what);
  }
}

void checkTraining() {
  const torch::Device device(torch::kCUDA, 0);
  torch::manual_seed(0);
  studio::ModelConfig mc;
  auto model = studio::makeContrastiveModel(mc, 1, 28);
  model->to(device);
  torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(1e-3));
  studio::AugmentConfig ac;
  studio::Augmenter aug(ac, 1, 28, 28);
  // Structured synthetic images (bars at class-dependent positions) so there is
  // something to learn.
  const int64_t n = 512;
  auto images = torch::zeros({n, 1, 28, 28}, torch::kUInt8);
  for (int64_t i = 0; i < n; ++i) images[i][0].narrow(0, (i % 10) * 2, 6).fill_(255);
  images = images.to(device);
  std::vector<double> losses, times;
  for (int step = 0; step < 60; ++step) {
    torch::cuda::synchronize();
    const auto t0 = std::chrono::steady_clock::now();
    auto gen = studio::makeStepGenerator(0, step);
    const auto p1 = aug.sample(n, gen), p2 = aug.sample(n, gen);
    const auto views = torch::cat({aug.apply(images, p1), aug.apply(images, p2)});
    opt.zero_grad();
    auto r = studio::ntXentLoss(model->forward(views), 0.2);
    r.loss.backward();
    opt.step();
    losses.push_back(r.loss.item<double>());
    torch::cuda::synchronize();
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin() + 10, times.end());
  const double median_ms = times[10 + (times.size() - 10) / 2];
  const double first = (losses[0] + losses[1] + losses[2]) / 3, last = (losses[57] + losses[58] + losses[59]) / 3;
  char what[128];
  std::snprintf(what, sizeof what, "SimCLR convnet batch %lld on GPU: loss %.3f -> %.3f", (long long)n, first, last);
  check(last < first - 0.1, what);
  std::printf("%-60s %.2f ms (%.0f img/s)\n", "median step time (torch-ops augmentation)", median_ms, n / median_ms * 1000);
}

}  // namespace

int main() {
  if (!studio::cudaAvailable()) {
    std::printf("studio-gpu-check: no CUDA device is available here; nothing was checked (SKIPPED)\n");
    return 0;
  }
  std::printf("device: %s (%s)\n", studio::describeDevice(c10::Device(c10::kCUDA, 0)).c_str(),
              torch::cuda::device_count() > 0 ? "CUDA" : "?");
  checkNormalize();
  checkTraining();
  std::printf("%d check(s) failed\n", g_failures);
  return g_failures == 0 ? 0 : 1;
}
