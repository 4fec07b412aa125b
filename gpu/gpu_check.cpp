// studio-gpu-check: the checks that need an NVIDIA GPU, in one program without Qt: each
// CUDA kernel against core's torch-ops reference on fresh random inputs of several shapes,
// then short training runs (bf16 against fp32, the ways of making views against each
// other, out-of-memory handling). Prints a table; exits 1 on any failed check, and 0 with
// a message when no GPU is present. The GPU benchmark is studio-bench (bench/).
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "core/base/crash_report.h"
#include "core/device/device.h"
#include "gpu/device_info.h"
#include "gpu/gpu_checks.h"
#include "gpu/register_kernels.h"

namespace {

int report(const std::vector<studio::gpu::CheckResult>& results) {
  int failures = 0;
  for (const auto& r : results) {
    std::printf("%-4s %-72s %s\n", r.passed ? "ok" : "FAIL", r.name.c_str(), r.detail.c_str());
    if (!r.passed) ++failures;
  }
  std::fflush(stdout);
  return failures;
}

}  // namespace

int main(int argc, char** argv) {
  studio::installCrashReport("studio-gpu-check");
  studio::loadCudaSupport();  // before anything asks torch about CUDA
  studio::gpu::registerDeviceKernels();  // this build's CUDA kernels, if it has any
  if (!studio::cudaAvailable()) {
    std::printf("studio-gpu-check: no CUDA device is available here; nothing was checked (SKIPPED)\n");
    return 0;
  }
  const std::string scratch = argc > 1 ? argv[1] : (std::filesystem::temp_directory_path() / "studio-gpu-check").string();
  const auto info = studio::gpu::deviceInfo(0);
  std::printf("device: %s, compute capability %d.%d, %d SMs, %.1f GB (%.1f GB free); torch %s\n", info.name.c_str(),
              info.major, info.minor, info.multiprocessors, info.total_bytes / 1e9, info.free_bytes / 1e9,
              TORCH_VERSION);
  std::printf("== kernels against the torch-ops reference\n");
  int failures = report(studio::gpu::runKernelChecks());
  std::printf("== training on the GPU (run folders under %s)\n", scratch.c_str());
  failures += report(studio::gpu::runTrainingChecks(scratch + "/training"));
  std::printf("%d check(s) failed\n", failures);
  return failures == 0 ? 0 : 1;
}
