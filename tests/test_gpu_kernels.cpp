// CUDA kernels against core's torch-ops reference on fresh random inputs. Skipped, with
// a message saying so, where no CUDA device is present (CI, developer machines).
#include <QtTest/QtTest>

#include <torch/torch.h>

#include "core/augment.h"
#include "core/device.h"
#include "gpu/normalize_kernel.h"

class TestGpuKernels : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void normalizeMatchesReference_data() {
    QTest::addColumn<int>("n");
    QTest::addColumn<int>("c");
    QTest::addColumn<int>("h");
    QTest::addColumn<int>("w");
    QTest::newRow("fashion") << 9 << 1 << 28 << 28;
    QTest::newRow("cifar") << 5 << 3 << 32 << 32;
    QTest::newRow("odd") << 3 << 3 << 17 << 13;
    QTest::newRow("tiny") << 1 << 1 << 1 << 3;
  }
  void normalizeMatchesReference() {
    if (!studio::cudaAvailable()) QSKIP("no CUDA device here: the GPU kernel checks need an NVIDIA GPU (./studio gpu-check)");
    QFETCH(int, n);
    QFETCH(int, c);
    QFETCH(int, h);
    QFETCH(int, w);
    const auto images = torch::randint(0, 256, {n, c, h, w}, torch::kUInt8);
    std::vector<float> mean, std;
    for (int k = 0; k < c; ++k) {
      mean.push_back(0.2f + 0.1f * k);
      std.push_back(0.3f + 0.05f * k);
    }
    const auto got = studio::gpu::normalizeUint8(images.cuda(), mean, std).cpu();
    studio::AugmentConfig cfg;
    cfg.mean.assign(mean.begin(), mean.end());
    cfg.std.assign(std.begin(), std.end());
    const studio::Augmenter aug(cfg, c, h, w);
    const auto ref = aug.normalize(images.to(torch::kFloat64) / 255.0).to(torch::kFloat32);
    QVERIFY((got - ref).norm().item<double>() / ref.norm().item<double>() < 1e-6);
  }
};

QTEST_MAIN(TestGpuKernels)
#include "test_gpu_kernels.moc"
