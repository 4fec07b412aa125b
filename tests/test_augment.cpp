// Augmentation: parameter sampling (determinism, crop statistics) and the torch-ops
// appliers on hand-checkable images.
#include <QtTest/QtTest>

#include <torch/torch.h>

#include <cstring>

#include "core/augment/augment.h"
#include "core/augment/augment_preview.h"
#include "core/data/dataset.h"
#include "core/base/error.h"

using namespace studio;

namespace {

AugmentConfig plainConfig() {
  AugmentConfig c;
  c.crop = false;
  c.flip_p = 0;
  c.jitter_p = 0;
  c.grayscale_p = 0;
  c.blur_p = 0;
  c.solarize_p = 0;
  return c;
}

torch::Tensor neutralTable(int64_t n) {
  auto t = torch::zeros({n, kAugmentColumns});
  t.select(1, kCropW).fill_(1);
  t.select(1, kCropH).fill_(1);
  t.select(1, kBrightness).fill_(1);
  t.select(1, kContrast).fill_(1);
  t.select(1, kSaturation).fill_(1);
  return t;
}

double maxAbs(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

}  // namespace

class TestAugment : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void previewDrawsWhatTrainingDraws() {
    // 5 RGB 20x16 images; the preview of images {3, 1} at roll 4 must equal the training
    // pipeline's views for a step-4 generator applied to the same images.
    Dataset d;
    d.images = torch::randint(0, 256, {5, 3, 16, 20}, torch::kUInt8);
    d.labels = torch::arange(5, torch::kInt64);
    d.class_names = {"a", "b", "c", "d", "e"};
    const ImageTable table = toImageTable(d);
    QCOMPARE(table.count, int64_t(5));
    QCOMPARE(table.image(2)[7], d.images[2].flatten()[7].item<uint8_t>());  // shared, planar
    AugmentConfig c;
    c.blur_p = 0.5;
    c.out_size = 12;
    const AugmentPreview p = renderAugmentPreview(table, {3, 1}, c, /*seed=*/9, /*roll=*/4);
    QCOMPARE(p.view1.count, int64_t(2));
    QCOMPARE(p.view1.height, int64_t(12));
    QCOMPARE(p.originals.label(0), int64_t(3));

    Augmenter a(c, 3, 16, 20);
    auto gen = makeStepGenerator(9, 4, 0);
    const auto p1 = a.sample(2, gen);
    const auto p2 = a.sample(2, gen);
    const auto chosen = d.images.index_select(0, torch::tensor({3, 1}, torch::kInt64));
    const auto expect1 = a.applyUnnormalized(chosen, p1).mul(255).round().clamp(0, 255).to(torch::kUInt8);
    const auto expect2 = a.applyUnnormalized(chosen, p2).mul(255).round().clamp(0, 255).to(torch::kUInt8);
    const auto got1 = torch::from_blob(const_cast<uint8_t*>(p.view1.pixels.get()), {2, 3, 12, 12}, torch::kUInt8);
    const auto got2 = torch::from_blob(const_cast<uint8_t*>(p.view2.pixels.get()), {2, 3, 12, 12}, torch::kUInt8);
    QVERIFY(torch::equal(got1, expect1));
    QVERIFY(torch::equal(got2, expect2));
    QVERIFY(!torch::equal(got1, got2));

    // Another roll draws other views.
    const AugmentPreview q = renderAugmentPreview(table, {3, 1}, c, 9, 5);
    QVERIFY(std::memcmp(q.view1.pixels.get(), p.view1.pixels.get(), 2 * 3 * 12 * 12) != 0);
    bool threw = false;
    try {
      renderAugmentPreview(table, {5}, c, 9, 4);
    } catch (const Error& e) {
      threw = std::string(e.what()).find("image index 5") != std::string::npos;
    }
    QVERIFY(threw);
  }

  void previewShowsTheLocalViewsTrainingDraws() {
    // Multi-crop: the local views come after the two global ones from the same generator, at
    // the local side, with the local crop scales; asking for them leaves the global views as
    // they were.
    Dataset d;
    d.images = torch::randint(0, 256, {4, 1, 28, 28}, torch::kUInt8);
    d.labels = torch::arange(4, torch::kInt64);
    d.class_names = {"a", "b", "c", "d"};
    const ImageTable table = toImageTable(d);
    AugmentConfig c;
    const AugmentPreview two = renderAugmentPreview(table, {2, 0, 3}, c, 5, 7);
    QVERIFY(two.local_views.empty());
    c.local_crops = 3;
    const AugmentPreview multi = renderAugmentPreview(table, {2, 0, 3}, c, 5, 7);
    const size_t global_bytes = 3 * 28 * 28;
    QCOMPARE(std::memcmp(two.view1.pixels.get(), multi.view1.pixels.get(), global_bytes), 0);
    QCOMPARE(std::memcmp(two.view2.pixels.get(), multi.view2.pixels.get(), global_bytes), 0);
    QCOMPARE(multi.local_views.size(), size_t(3));

    const AugmentConfig local_config = localViewConfig(c, 28);
    QCOMPARE(local_config.out_size, int64_t(12));  // 3/7 of 28
    QCOMPARE(local_config.crop_scale_min, c.local_scale_min);
    QCOMPARE(local_config.crop_scale_max, c.local_scale_max);
    Augmenter global(c, 1, 28, 28), local(local_config, 1, 28, 28);
    auto gen = makeStepGenerator(5, 7, 0);
    global.sample(3, gen);
    global.sample(3, gen);
    const auto params = local.sample(3 * 3, gen);
    const auto chosen = d.images.index_select(0, torch::tensor({2, 0, 3}, torch::kInt64));
    for (int64_t l = 0; l < 3; ++l) {
      const ImageTable& view = multi.local_views[size_t(l)];
      QCOMPARE(view.count, int64_t(3));
      QCOMPARE(view.height, int64_t(12));
      QCOMPARE(view.width, int64_t(12));
      QCOMPARE(view.label(1), int64_t(0));
      AugmentParams block;
      block.table = params.table.slice(0, l * 3, (l + 1) * 3);
      // Each crop keeps at most local_scale_max of the image's area, plus the rounding of its
      // sides to whole pixels (half a pixel on each: less than one row and one column, 2/28).
      const auto area = block.table.select(1, kCropW) * block.table.select(1, kCropH);
      QVERIFY2(area.max().item<double>() <= c.local_scale_max + 2.0 / 28,
               qPrintable(QString::number(area.max().item<double>())));
      const auto expect = local.applyUnnormalized(chosen, block).mul(255).round().clamp(0, 255).to(torch::kUInt8);
      const auto got = torch::from_blob(const_cast<uint8_t*>(view.pixels.get()), {3, 1, 12, 12}, torch::kUInt8);
      QVERIFY2(torch::equal(got, expect), qPrintable(QString("local view %1").arg(l)));
    }
  }

  void localViewSides() {
    AugmentConfig c;
    QCOMPARE(localViewSide(c, 28), int64_t(12));
    QCOMPARE(localViewSide(c, 32), int64_t(14));
    QCOMPARE(localViewSide(c, 224), int64_t(96));  // DINO's 96 of 224
    QCOMPARE(localViewSide(c, 12), kMinLocalViewSide);
    c.local_size = 20;
    QCOMPARE(localViewSide(c, 28), int64_t(20));
    c.blur_kernel = 9;
    c.crop = false;
    const AugmentConfig l = localViewConfig(c, 28);
    QVERIFY(l.crop);                     // a local view is a crop
    QCOMPARE(l.blur_kernel, int64_t(0));  // automatic for the smaller side
  }

  void isolatedOperationAlone() {
    AugmentConfig c;
    c.blur_p = 0.3;
    const AugmentConfig only_blur = isolateAugmentation(c, "blur");
    QCOMPARE(only_blur.blur_p, 1.0);
    QVERIFY(!only_blur.crop);
    QCOMPARE(only_blur.flip_p, 0.0);
    QCOMPARE(only_blur.jitter_p, 0.0);
    QCOMPARE(only_blur.grayscale_p, 0.0);
    QCOMPARE(only_blur.solarize_p, 0.0);
    QCOMPARE(only_blur.blur_sigma_max, c.blur_sigma_max);  // parameters kept
    const AugmentConfig only_crop = isolateAugmentation(c, "crop");
    QVERIFY(only_crop.crop);
    QCOMPARE(only_crop.blur_p, 0.0);
    QCOMPARE(augmentationIds().size(), size_t(6));
    bool threw = false;
    try {
      isolateAugmentation(c, "rotate");
    } catch (const Error& e) {
      threw = std::string(e.what()).find("\"rotate\"") != std::string::npos;
    }
    QVERIFY(threw);
  }

  void shapesAndRanges() {
    AugmentConfig c;
    c.out_size = 24;
    c.blur_p = 0.5;
    c.solarize_p = 0.3;
    Augmenter aug(c, 3, 32, 32);
    auto gen = makeStepGenerator(1, 2);
    const auto images = torch::randint(0, 256, {16, 3, 32, 32}, torch::kUInt8);
    const auto p = aug.sample(16, gen);
    QCOMPARE(p.table.sizes().vec(), (std::vector<int64_t>{16, kAugmentColumns}));
    const auto views = aug.applyUnnormalized(images, p);
    QCOMPARE(views.sizes().vec(), (std::vector<int64_t>{16, 3, 24, 24}));
    QVERIFY2(views.min().item<float>() >= 0.f && views.max().item<float>() <= 1.f,
             qPrintable(QString("range [%1, %2]").arg(views.min().item<float>(), 0, 'g', 9).arg(views.max().item<float>(), 0, 'g', 9)));
    QVERIFY(views.isfinite().all().item<bool>());
    const auto normalised = aug.apply(images, p);
    QVERIFY(maxAbs(normalised, (views - 0.5) / 0.25) < 1e-5);
  }

  void sameSeedSameViews() {
    AugmentConfig c;
    Augmenter aug(c, 3, 16, 16);
    const auto images = torch::randint(0, 256, {8, 3, 16, 16}, torch::kUInt8);
    auto g1 = makeStepGenerator(7, 100), g2 = makeStepGenerator(7, 100), g3 = makeStepGenerator(7, 101);
    const auto p1 = aug.sample(8, g1), p2 = aug.sample(8, g2), p3 = aug.sample(8, g3);
    QVERIFY(torch::equal(p1.table, p2.table));
    QVERIFY(!torch::equal(p1.table, p3.table));
    QVERIFY(torch::equal(aug.apply(images, p1), aug.apply(images, p2)));
  }

  void identityIsExact() {
    Augmenter aug(plainConfig(), 3, 9, 7);  // odd, non-square
    const auto images = torch::randint(0, 256, {4, 3, 9, 7}, torch::kUInt8);
    // Resampling to the same grid must not blur: output size 9 from a 9x7 image is a
    // different grid, so use a square image for exactness.
    Augmenter square(plainConfig(), 3, 9, 9);
    const auto sq = torch::randint(0, 256, {4, 3, 9, 9}, torch::kUInt8);
    auto gen = makeStepGenerator(0, 0);
    const auto out = square.applyUnnormalized(sq, square.sample(4, gen));
    QVERIFY(maxAbs(out, sq.to(torch::kFloat32) / 255) < 1e-6);
    QCOMPARE(aug.outSize(), int64_t(9));
  }

  void flipIsExact() {
    auto c = plainConfig();
    c.flip_p = 1.0;
    Augmenter aug(c, 1, 5, 5);
    const auto images = torch::randint(0, 256, {3, 1, 5, 5}, torch::kUInt8);
    auto gen = makeStepGenerator(0, 0);
    const auto p = aug.sample(3, gen);
    QCOMPARE(p.table.select(1, kFlip).sum().item<float>(), 3.f);
    const auto out = aug.applyUnnormalized(images, p);
    QVERIFY(maxAbs(out, images.flip({3}).to(torch::kFloat32) / 255) < 1e-6);
  }

  void cropTakesTheBox() {
    // Left half black, right half white; a half-width box resampled to 4x4 samples exact
    // pixel centres horizontally.
    auto images = torch::zeros({2, 1, 8, 8}, torch::kUInt8);
    images.narrow(3, 4, 4).fill_(255);
    auto t = neutralTable(2);
    t[0][kCropX0] = 0.0f;
    t[0][kCropW] = 0.5f;
    t[1][kCropX0] = 0.5f;
    t[1][kCropW] = 0.5f;
    const auto out = cropFlipResample(images.to(torch::kFloat32) / 255, t, 4);
    QCOMPARE(out[0].max().item<float>(), 0.f);
    QCOMPARE(out[1].min().item<float>(), 1.f);
  }

  void cropStatistics() {
    AugmentConfig c;
    c.crop_scale_min = 0.2;
    c.crop_scale_max = 1.0;
    Augmenter aug(c, 1, 64, 64);
    auto gen = makeStepGenerator(3, 0);
    const auto t = aug.sample(4000, gen).table;
    const auto area = t.select(1, kCropW) * t.select(1, kCropH);
    const auto ratio = t.select(1, kCropW) / t.select(1, kCropH);
    // Boxes that do not fit are redrawn (as torchvision does), which favours small areas:
    // on a square image a share s > 3/4 fits only when |log r| <= -log s, so the accepted
    // share has density 1 on [0.2, 0.75] and -ln(s)/ln(4/3) on [0.75, 1]: mean 0.538.
    QVERIFY2(std::abs(area.mean().item<double>() - 0.538) < 0.015, qPrintable(QString::number(area.mean().item<double>())));
    QVERIFY(area.min().item<double>() > 0.18 && area.max().item<double>() <= 1.0 + 1e-6);
    QVERIFY(ratio.min().item<double>() > 0.70 && ratio.max().item<double>() < 1.42);
    // Boxes lie inside the image.
    QVERIFY((t.select(1, kCropX0) + t.select(1, kCropW)).max().item<double>() <= 1.0 + 1e-6);
    QVERIFY(t.select(1, kCropX0).min().item<double>() >= 0);
    // Flip probability 0.5.
    QVERIFY(std::abs(t.select(1, kFlip).mean().item<double>() - 0.5) < 0.04);
  }

  void colourJitterFactors() {
    auto x = torch::full({4, 3, 2, 2}, 0.6f);
    x[3].select(0, 0).fill_(1.0f);  // pure red for the hue check
    x[3].select(0, 1).fill_(0.0f);
    x[3].select(0, 2).fill_(0.0f);
    auto t = neutralTable(4);
    t[0][kBrightness] = 0.5f;  // 0.6 -> 0.3
    t[1][kContrast] = 0.0f;    // constant image: stays at its mean
    t[2][kSaturation] = 0.0f;  // grey stays grey
    t[3][kHue] = 1.0f / 3.0f;  // red -> green
    const auto out = colorJitter(x, t);
    QVERIFY(maxAbs(out[0], torch::full({3, 2, 2}, 0.3f)) < 1e-6);
    QVERIFY(maxAbs(out[1], torch::full({3, 2, 2}, 0.6f)) < 1e-6);
    QVERIFY(maxAbs(out[2], torch::full({3, 2, 2}, 0.6f)) < 1e-6);
    QVERIFY(maxAbs(out[3][0], torch::zeros({2, 2})) < 1e-5);
    QVERIFY(maxAbs(out[3][1], torch::ones({2, 2})) < 1e-5);
    QVERIFY(maxAbs(out[3][2], torch::zeros({2, 2})) < 1e-5);
  }

  void contrastAndSaturationMix() {
    auto x = torch::rand({2, 3, 5, 5});
    auto t = neutralTable(2);
    t[0][kContrast] = 0.0f;
    t[1][kSaturation] = 0.0f;
    const auto out = colorJitter(x, t);
    const auto gray_mean = rgbToGray(x[0].unsqueeze(0)).mean().item<float>();
    QVERIFY(maxAbs(out[0], torch::full({3, 5, 5}, gray_mean)) < 1e-5);
    const auto g = rgbToGray(x[1].unsqueeze(0))[0][0];
    for (int c = 0; c < 3; ++c) QVERIFY(maxAbs(out[1][c], g) < 1e-5);
  }

  void grayscaleAndSolarize() {
    auto c = plainConfig();
    c.grayscale_p = 1.0;
    c.solarize_p = 1.0;
    c.solarize_threshold = 0.5;
    Augmenter aug(c, 3, 4, 4);
    auto images = torch::zeros({1, 3, 4, 4}, torch::kUInt8);
    images[0][0].fill_(255);  // red -> gray 0.299 (below threshold: unchanged)
    images[0][1].narrow(0, 0, 2).fill_(255);  // top rows yellow -> gray 0.886 -> solarized 0.114
    auto gen = makeStepGenerator(0, 0);
    const auto out = aug.applyUnnormalized(images, aug.sample(1, gen));
    QVERIFY(maxAbs(out[0][0], out[0][1]) < 1e-6 && maxAbs(out[0][0], out[0][2]) < 1e-6);
    QVERIFY(std::abs(out[0][0][3][0].item<float>() - 0.299f) < 1e-5);
    QVERIFY(std::abs(out[0][0][0][0].item<float>() - (1 - 0.886f)) < 1e-5);
  }

  void blur() {
    auto x = torch::zeros({2, 1, 15, 15});
    x.select(2, 7).select(2, 7).fill_(1.0f);  // an impulse in the centre
    const auto sigmas = torch::tensor({1.5f, 0.0f});
    const auto out = gaussianBlur(x, sigmas, 7);
    QVERIFY(std::abs(out[0].sum().item<float>() - 1.0f) < 1e-5);  // mass kept away from the borders
    QVERIFY(out[0][0][7][7].item<float>() < 0.2f);
    QVERIFY(maxAbs(out[0][0], out[0][0].flip({0})) < 1e-6);  // symmetric
    QVERIFY(maxAbs(out[0][0], out[0][0].t()) < 1e-6);
    QVERIFY(maxAbs(out[1], x[1]) < 1e-7);                    // sigma 0: untouched
    // Narrower than the kernel radius still works (replicate padding).
    const auto tiny = gaussianBlur(torch::rand({1, 3, 2, 2}), torch::tensor({1.0f}), 7);
    QCOMPARE(tiny.sizes().vec(), (std::vector<int64_t>{1, 3, 2, 2}));
  }

  void grayscaleImagesSkipColourOps() {
    AugmentConfig c;
    c.jitter_p = 1.0;
    c.grayscale_p = 1.0;
    Augmenter aug(c, 1, 8, 8);
    auto gen = makeStepGenerator(0, 0);
    const auto t = aug.sample(32, gen).table;
    QCOMPARE(t.select(1, kSaturation).min().item<float>(), 1.f);
    QCOMPARE(t.select(1, kHue).abs().max().item<float>(), 0.f);
    QCOMPARE(t.select(1, kGray).max().item<float>(), 0.f);
    QVERIFY(t.select(1, kBrightness).std().item<float>() > 0.05f);
  }

  void prepareResizesAndNormalises() {
    AugmentConfig c;
    c.out_size = 8;
    c.mean = {0.5};
    c.std = {0.5};
    Augmenter aug(c, 1, 4, 4);
    const auto images = torch::full({2, 1, 4, 4}, 255, torch::kUInt8);
    const auto out = aug.prepare(images);
    QCOMPARE(out.sizes().vec(), (std::vector<int64_t>{2, 1, 8, 8}));
    QVERIFY(maxAbs(out, torch::ones_like(out)) < 1e-6);
  }
};

QTEST_MAIN(TestAugment)
#include "test_augment.moc"
