// The GPU checks (gpu/gpu_checks.h) under Qt Test: CUDA kernels against core's torch-ops
// reference on fresh random inputs, and short training runs on the GPU. Skipped, with a
// message saying so, where no CUDA device is present (CI, developer machines); on a GPU
// machine without Qt, studio-gpu-check runs the same checks.
#include <QtTest/QtTest>

#include <torch/torch.h>

#include "core/device/device.h"
#include "gpu/gpu_checks.h"
#include "gpu/register_kernels.h"
#include "tests/test_support.h"

class TestGpuKernels : public QObject {
  Q_OBJECT
 private:
  static void verify(const std::vector<studio::gpu::CheckResult>& results) {
    QVERIFY(!results.empty());
    for (const auto& r : results) {
      qInfo("%s: %s", r.name.c_str(), r.detail.c_str());
      QVERIFY2(r.passed, (r.name + ": " + r.detail).c_str());
    }
  }

 private Q_SLOTS:
  void initTestCase() { studio::gpu::registerDeviceKernels(); }
  void kernelsMatchTheReference() {
    if (!studio::cudaAvailable()) QSKIP("no CUDA device here: the GPU kernel checks need an NVIDIA GPU (./studio gpu-check)");
    verify(studio::gpu::runKernelChecks());
  }
  void trainingOnTheGpu() {
    if (!studio::cudaAvailable()) QSKIP("no CUDA device here: the GPU training checks need an NVIDIA GPU (./studio gpu-check)");
    verify(studio::gpu::runTrainingChecks(studio::test::scratchDir("gpu_training")));
  }
};

QTEST_MAIN(TestGpuKernels)
#include "test_gpu_kernels.moc"
