// The fused augmentation math (core/augment/augment_math.h, shared with the CUDA kernels) against
// the torch-ops reference on the same parameter tables: random images of several sizes,
// odd and non-square shapes, 1 to 4 channels, every operation on. This is how a machine
// without a GPU checks the kernels' arithmetic; tests/test_gpu_kernels.cpp checks the
// kernels themselves where a GPU is present.
//
// Tolerance: values in [0, 1] (before normalisation) agree within 2e-5 (each case prints
// its worst difference), except where solarize's threshold splits the two results (a value
// within 1e-4 of the threshold): those pixels are counted and must be rare. Most of the
// difference comes from resampling: the reference computes the sampling grid through
// linspace and a batched matrix product, the fused math in closed form, and the source
// coordinates differ by about one float ulp of the image width (1e-5 at 96 pixels).
#include <QtTest/QtTest>

#include <torch/torch.h>

#include "core/augment/augment.h"
#include "core/augment/augment_fused.h"
#include "core/augment/augment_math.h"

using namespace studio;

namespace {

constexpr double kTolerance = 2e-5;

AugmentConfig everythingOn() {
  AugmentConfig c;
  c.crop_scale_min = 0.1;
  c.flip_p = 0.5;
  c.jitter_p = 0.9;
  c.grayscale_p = 0.3;
  c.blur_p = 0.5;
  c.solarize_p = 0.4;
  c.solarize_threshold = 0.5;
  return c;
}

struct Comparison {
  double max_abs = 0;
  int64_t threshold_pixels = 0;  // pixels where solarize's threshold separates the two
};

// Fused vs reference, unnormalised; pixels where the reference's pre-solarize value sits
// within 1e-4 of the threshold are excluded from max_abs and counted instead.
Comparison compare(const Augmenter& aug, const torch::Tensor& images, const AugmentParams& params) {
  const auto ref = aug.applyUnnormalized(images, params);
  const auto got = applyFusedCpu(aug, images, torch::Tensor(), params.table, /*normalize=*/false);
  auto near_threshold = torch::zeros_like(ref, torch::kBool);
  if (aug.config().solarize_p > 0) {
    const float t = static_cast<float>(aug.config().solarize_threshold);
    // Either side of the threshold: the value itself or its inversion.
    near_threshold = ((ref - t).abs() < 1e-4) | ((1 - ref - t).abs() < 1e-4);
  }
  Comparison c;
  const auto diff = (got - ref).abs().masked_fill(near_threshold, 0);
  c.max_abs = diff.max().item<double>();
  c.threshold_pixels = ((got - ref).abs() > kTolerance).logical_and(near_threshold).sum().item<int64_t>();
  return c;
}

}  // namespace

class TestAugmentFused : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() { torch::set_num_threads(2); }

  void matchesReference_data() {
    QTest::addColumn<int>("n");
    QTest::addColumn<int>("channels");
    QTest::addColumn<int>("height");
    QTest::addColumn<int>("width");
    QTest::addColumn<int>("out");
    QTest::addColumn<double>("threshold");
    QTest::newRow("fashion 1x28x28") << 64 << 1 << 28 << 28 << 28 << 0.5;
    QTest::newRow("cifar 3x32x32") << 64 << 3 << 32 << 32 << 32 << 0.5;
    QTest::newRow("stl 3x96x96 -> 64") << 12 << 3 << 96 << 96 << 64 << 0.5;
    QTest::newRow("odd 3x17x13 -> 11") << 40 << 3 << 17 << 13 << 11 << 0.5;
    QTest::newRow("odd 1x9x7 upsampled -> 16") << 40 << 1 << 9 << 7 << 16 << 0.5;
    QTest::newRow("tiny 3x5x5 -> 3 (blur wider than image)") << 40 << 3 << 5 << 5 << 3 << 0.5;
    QTest::newRow("2 channels 2x12x20") << 30 << 2 << 12 << 20 << 12 << 0.5;
    QTest::newRow("4 channels 4x16x16") << 30 << 4 << 16 << 16 << 16 << 0.5;
    QTest::newRow("solarize threshold 0.3") << 64 << 3 << 32 << 32 << 32 << 0.3;
  }
  void matchesReference() {
    QFETCH(int, n);
    QFETCH(int, channels);
    QFETCH(int, height);
    QFETCH(int, width);
    QFETCH(int, out);
    QFETCH(double, threshold);
    torch::manual_seed(n * 131 + channels * 7 + height);
    AugmentConfig c = everythingOn();
    c.out_size = out;
    c.solarize_threshold = threshold;
    const Augmenter aug(c, channels, height, width);
    const auto images = torch::randint(0, 256, {n, channels, height, width}, torch::kUInt8);
    auto gen = makeStepGenerator(5, n + out);
    const auto params = aug.sample(n, gen);
    const auto p = aug.pipeline(params.table);
    // The table must exercise what it claims to: hue (colour), blur and solarize are on.
    QVERIFY(p.blur && p.solarize);
    QCOMPARE(p.hue, channels == 3);
    const Comparison cmp = compare(aug, images, params);
    qInfo("max |fused - reference| = %.3g; %lld pixel(s) on solarize's threshold", cmp.max_abs,
          static_cast<long long>(cmp.threshold_pixels));
    QVERIFY2(cmp.max_abs <= kTolerance, qPrintable(QString("max abs error %1").arg(cmp.max_abs)));
    QVERIFY(cmp.threshold_pixels <= 3);
  }

  void eachOperationAlone_data() {
    QTest::addColumn<QString>("op");
    QTest::addColumn<double>("tolerance");
    // 30 pixels wide resampled to 24: the source coordinates differ by about one float
    // ulp of 30 (2e-6), which is also the largest value difference it can make; the colour
    // operations and the blur add a few ulps of their own.
    QTest::newRow("crop") << "crop" << 4e-6;
    QTest::newRow("flip") << "flip" << 4e-6;
    QTest::newRow("jitter") << "jitter" << 1.5e-5;
    QTest::newRow("grayscale") << "grayscale" << 4e-6;
    QTest::newRow("blur") << "blur" << 6e-6;
    QTest::newRow("solarize") << "solarize" << 4e-6;
  }
  void eachOperationAlone() {
    QFETCH(QString, op);
    QFETCH(double, tolerance);
    AugmentConfig c;
    c.crop = op == "crop";
    c.flip_p = op == "flip" ? 1.0 : 0.0;
    c.jitter_p = op == "jitter" ? 1.0 : 0.0;
    c.grayscale_p = op == "grayscale" ? 1.0 : 0.0;
    c.blur_p = op == "blur" ? 1.0 : 0.0;
    c.solarize_p = op == "solarize" ? 1.0 : 0.0;
    c.out_size = 24;
    const Augmenter aug(c, 3, 24, 30);
    torch::manual_seed(3);
    const auto images = torch::randint(0, 256, {32, 3, 24, 30}, torch::kUInt8);
    auto gen = makeStepGenerator(1, 1);
    const auto params = aug.sample(32, gen);
    const Comparison cmp = compare(aug, images, params);
    qInfo("%s: max |fused - reference| = %.3g", qPrintable(op), cmp.max_abs);
    QVERIFY2(cmp.max_abs <= tolerance, qPrintable(QString("max abs error %1").arg(cmp.max_abs)));
    QVERIFY(cmp.threshold_pixels <= 3);
  }

  void normalisedAndChannelsLast() {
    AugmentConfig c = everythingOn();
    c.mean = {0.2, 0.4, 0.6};
    c.std = {0.3, 0.2, 0.1};
    const Augmenter aug(c, 3, 20, 20);
    torch::manual_seed(4);
    const auto images = torch::randint(0, 256, {16, 3, 20, 20}, torch::kUInt8);
    auto gen = makeStepGenerator(2, 2);
    const auto params = aug.sample(16, gen);
    const auto ref = aug.apply(images, params);
    const auto plain = applyFusedCpu(aug, images, torch::Tensor(), params.table);
    const auto last = applyFusedCpu(aug, images, torch::Tensor(), params.table, true, /*channels_last=*/true);
    QVERIFY(last.is_contiguous(torch::MemoryFormat::ChannelsLast));
    QVERIFY(!last.is_contiguous());
    QVERIFY(torch::equal(plain, last.contiguous()));  // same values, other layout
    // Normalised by (x - mean) / std: a std of 0.1 scales the tolerance by 10.
    QVERIFY((plain - ref).abs().max().item<double>() <= 10 * kTolerance + 1e-6);
  }

  void indicesGatherViews() {
    const Augmenter aug(everythingOn(), 1, 12, 12);
    torch::manual_seed(5);
    const auto images = torch::randint(0, 256, {10, 1, 12, 12}, torch::kUInt8);
    const auto idx = torch::tensor({7, 2, 2, 9, 0, 7}, torch::kLong);
    auto gen = makeStepGenerator(3, 3);
    const auto params = aug.sample(6, gen);
    const auto gathered = applyFusedCpu(aug, images, idx, params.table);
    const auto explicit_batch = applyFusedCpu(aug, images.index_select(0, idx), torch::Tensor(), params.table);
    QVERIFY(torch::equal(gathered, explicit_batch));
    // A bad index is refused, not read out of bounds.
    bool threw = false;
    try {
      applyFusedCpu(aug, images, torch::tensor({0, 1, 2, 3, 4, 10}, torch::kLong), params.table);
    } catch (const c10::Error& e) {
      threw = std::string(e.what()).find("outside [0, 10)") != std::string::npos;
    }
    QVERIFY(threw);
  }

  void sameResultOnAnyNumberOfThreads() {
    const Augmenter aug(everythingOn(), 3, 32, 32);
    torch::manual_seed(6);
    const auto images = torch::randint(0, 256, {48, 3, 32, 32}, torch::kUInt8);
    auto gen = makeStepGenerator(4, 4);
    const auto params = aug.sample(48, gen);
    torch::set_num_threads(1);
    const auto one = applyFusedCpu(aug, images, torch::Tensor(), params.table);
    torch::set_num_threads(2);
    const auto two = applyFusedCpu(aug, images, torch::Tensor(), params.table);
    QVERIFY(torch::equal(one, two));
  }

  void identityIsExact() {
    AugmentConfig c;
    c.crop = false;
    c.flip_p = 1.0;  // a mirrored identity crop reads pixel centres exactly
    c.jitter_p = 0;
    c.grayscale_p = 0;
    const Augmenter aug(c, 3, 9, 9);
    torch::manual_seed(7);
    const auto images = torch::randint(0, 256, {4, 3, 9, 9}, torch::kUInt8);
    auto gen = makeStepGenerator(0, 0);
    const auto out = applyFusedCpu(aug, images, torch::Tensor(), aug.sample(4, gen).table, false);
    // Brightness 1 and contrast 1 around the mean are not exact in float ((x - m) + m), nor
    // is the mirrored coordinate: within a few ulps of the flipped pixels.
    const double err = (out - images.flip({3}).to(torch::kFloat32) / 255).abs().max().item<double>();
    QVERIFY2(err < 1e-6, qPrintable(QString::number(err)));
  }

  void hueRoundTripMath() {
    // Hand-checked: pure red shifted by a third of a turn is pure green; by two thirds, blue.
    augmath::Pipeline p;
    p.channels = 3;
    p.hue = true;
    float row[kAugmentColumns] = {};
    row[kBrightness] = row[kContrast] = row[kSaturation] = 1.0f;
    row[kHue] = 1.0f / 3.0f;
    float v[4] = {1.0f, 0.0f, 0.0f, 0.0f};
    // Contrast 1 around mean 0.299 keeps red within an ulp.
    augmath::colorPixel(v, row, 0.299f, p);
    QVERIFY(std::abs(v[0]) < 1e-6f && std::abs(v[1] - 1.0f) < 1e-6f && std::abs(v[2]) < 1e-6f);
    QCOMPARE(augmath::torchRemainder(-0.25f, 1.0f), 0.75f);
    QCOMPARE(augmath::torchRemainder(7.5f, 6.0f), 1.5f);
    QCOMPARE(augmath::torchRemainder(13.0f, 6.0f), 1.0f);  // the fmodf path
    QCOMPARE(augmath::blurTapIndex(0, 0, 2, 10), 2);        // reflected: -2 -> 2
    QCOMPARE(augmath::blurTapIndex(9, 4, 2, 10), 7);        // 11 -> 7
    QCOMPARE(augmath::blurTapIndex(0, 0, 3, 3), 0);         // radius >= size: replicated
  }
};

QTEST_MAIN(TestAugmentFused)
#include "test_augment_fused.moc"
