// Data widgets: planar -> QImage conversion, the thumbnail grid model and dataset browser
// (100,000 images, filters, lazy thumbnails), the augmentation designer form and the
// augmentation preview grid. Runs on the offscreen platform; no LibTorch.
#include <QtTest/QtTest>

#include <QAbstractButton>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QElapsedTimer>
#include <QGroupBox>
#include <QLabel>
#include <QListView>
#include <QScrollArea>
#include <QSpinBox>
#include <QStackedWidget>
#include <QTableWidget>
#include <QToolButton>
#include <QTreeWidget>

#include <cmath>
#include <memory>

#include "core/experiment/config.h"
#include "core/data/image_table.h"
#include "widgets/augment_preview_grid.h"
#include "widgets/augmentation_designer.h"
#include "widgets/dataset_browser.h"
#include "widgets/image_grid_model.h"
#include "widgets/qimage_convert.h"

using namespace studio;

namespace {

constexpr int64_t kBigCount = 100000;

// count x 1 x 28 x 28, labels cycling 0..9, pixel value a function of image and position.
ImageTable makeGrayTable(int64_t count) {
  ImageTable t;
  t.count = count;
  t.channels = 1;
  t.height = 28;
  t.width = 28;
  auto* data = new uint8_t[static_cast<size_t>(count * 28 * 28)];
  for (int64_t i = 0; i < count; ++i)
    for (int64_t p = 0; p < 28 * 28; ++p) data[i * 28 * 28 + p] = static_cast<uint8_t>((i * 7 + p) % 256);
  t.pixels = std::shared_ptr<const uint8_t>(data, std::default_delete<uint8_t[]>());
  t.labels.resize(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) t.labels[static_cast<size_t>(i)] = i % 10;
  for (int c = 0; c < 10; ++c) t.class_names.push_back("class" + std::to_string(c));
  return t;
}

// Planar value of channel c at (y, x) of image i in the colour table.
uint8_t colorValue(int64_t i, int c, int y, int x) { return static_cast<uint8_t>(i * 50 + c * 80 + y * 10 + x); }

// 2 images x 3 x 2 x 5 (width 5: QImage pads rows, the planar buffer does not).
ImageTable makeColorTable() {
  ImageTable t;
  t.count = 2;
  t.channels = 3;
  t.height = 2;
  t.width = 5;
  auto* data = new uint8_t[2 * 3 * 2 * 5];
  for (int64_t i = 0; i < 2; ++i)
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 2; ++y)
        for (int x = 0; x < 5; ++x) data[((i * 3 + c) * 2 + y) * 5 + x] = colorValue(i, c, y, x);
  t.pixels = std::shared_ptr<const uint8_t>(data, std::default_delete<uint8_t[]>());
  return t;
}

QImage solid(QColor color, int side = 8) {
  QImage image(side, side, QImage::Format_RGB888);
  image.fill(color);
  return image;
}

// Every field of AugmentConfig, so a round trip through the form is checked exactly.
QString configDifference(const AugmentConfig& a, const AugmentConfig& b) {
  QStringList diff;
#define STUDIO_CHECK_FIELD(f) \
  if (!(a.f == b.f)) diff << QStringLiteral(#f);
  STUDIO_CHECK_FIELD(out_size)
  STUDIO_CHECK_FIELD(crop)
  STUDIO_CHECK_FIELD(crop_scale_min)
  STUDIO_CHECK_FIELD(crop_scale_max)
  STUDIO_CHECK_FIELD(crop_ratio_min)
  STUDIO_CHECK_FIELD(crop_ratio_max)
  STUDIO_CHECK_FIELD(flip_p)
  STUDIO_CHECK_FIELD(jitter_p)
  STUDIO_CHECK_FIELD(brightness)
  STUDIO_CHECK_FIELD(contrast)
  STUDIO_CHECK_FIELD(saturation)
  STUDIO_CHECK_FIELD(hue)
  STUDIO_CHECK_FIELD(grayscale_p)
  STUDIO_CHECK_FIELD(blur_p)
  STUDIO_CHECK_FIELD(blur_sigma_min)
  STUDIO_CHECK_FIELD(blur_sigma_max)
  STUDIO_CHECK_FIELD(blur_kernel)
  STUDIO_CHECK_FIELD(solarize_p)
  STUDIO_CHECK_FIELD(solarize_threshold)
  STUDIO_CHECK_FIELD(local_crops)
  STUDIO_CHECK_FIELD(local_size)
  STUDIO_CHECK_FIELD(local_scale_min)
  STUDIO_CHECK_FIELD(local_scale_max)
  STUDIO_CHECK_FIELD(mean)
  STUDIO_CHECK_FIELD(std)
#undef STUDIO_CHECK_FIELD
  return diff.join(QStringLiteral(", "));
}

AugmentConfig unusualConfig() {
  AugmentConfig c;
  c.out_size = 64;
  c.crop = false;
  c.crop_scale_min = 0.3;
  c.crop_scale_max = 0.9;
  c.crop_ratio_min = 0.5;
  c.crop_ratio_max = 2.0;
  c.flip_p = 0.25;
  c.jitter_p = 0.6;
  c.brightness = 0.3;
  c.contrast = 0.2;
  c.saturation = 0.1;
  c.hue = 0.05;
  c.grayscale_p = 0.15;
  c.blur_p = 0.4;
  c.blur_sigma_min = 0.2;
  c.blur_sigma_max = 3.0;
  c.blur_kernel = 7;
  c.solarize_p = 0.1;
  c.solarize_threshold = 0.7;
  c.local_crops = 3;
  c.local_size = 10;
  c.local_scale_min = 0.1;
  c.local_scale_max = 0.3;
  c.mean = {0.4};
  c.std = {0.2};
  return c;
}

QString number(int64_t n) { return QLocale().toString(static_cast<qlonglong>(n)); }

}  // namespace

class TestDataWidgets : public QObject {
  Q_OBJECT

  ImageTable big_;

 private Q_SLOTS:
  void initTestCase() { big_ = makeGrayTable(kBigCount); }

  // --- qimage_convert ---

  void colorImageIsInterleaved() {
    const ImageTable t = makeColorTable();
    for (int64_t i = 0; i < 2; ++i) {
      const QImage image = toQImage(t, i);
      QCOMPARE(image.format(), QImage::Format_RGB888);
      QCOMPARE(image.size(), QSize(5, 2));
      for (int y = 0; y < 2; ++y) {
        const uchar* line = image.constScanLine(y);
        for (int x = 0; x < 5; ++x) {
          QCOMPARE(int(line[3 * x + 0]), int(colorValue(i, 0, y, x)));
          QCOMPARE(int(line[3 * x + 1]), int(colorValue(i, 1, y, x)));
          QCOMPARE(int(line[3 * x + 2]), int(colorValue(i, 2, y, x)));
          QCOMPARE(image.pixel(x, y), qRgb(colorValue(i, 0, y, x), colorValue(i, 1, y, x), colorValue(i, 2, y, x)));
        }
      }
    }
    QVERIFY(toQImage(t, 2).isNull());
    QVERIFY(toQImage(t, -1).isNull());
  }

  void grayImageAndDeepCopy() {
    uint8_t planar[3 * 5];
    for (int p = 0; p < 15; ++p) planar[p] = static_cast<uint8_t>(p * 17);
    const QImage image = toQImage(planar, 1, 3, 5);
    QCOMPARE(image.format(), QImage::Format_Grayscale8);
    QCOMPARE(image.size(), QSize(5, 3));
    for (int y = 0; y < 3; ++y)
      for (int x = 0; x < 5; ++x) QCOMPARE(int(image.constScanLine(y)[x]), (y * 5 + x) * 17);
    planar[0] = 99;  // the QImage owns its pixels
    QCOMPARE(int(image.constScanLine(0)[0]), 0);
    QVERIFY(toQImage(planar, 2, 3, 5).isNull());

    const QImage from_table = toQImage(big_, 3);
    QCOMPARE(from_table.format(), QImage::Format_Grayscale8);
    QCOMPARE(int(from_table.constScanLine(1)[2]), int((3 * 7 + 28 + 2) % 256));
  }

  void thumbnailUpscalesCrisplyAndDownscalesToFit() {
    QImage checker(28, 28, QImage::Format_Grayscale8);
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < 28; ++x) checker.scanLine(y)[x] = ((x + y) % 2) ? 255 : 0;
    const QImage up = thumbnail(checker, 96);
    QCOMPARE(up.size(), QSize(96, 96));
    // Nearest neighbour: only the original two values, no blended greys.
    for (int y = 0; y < up.height(); ++y)
      for (int x = 0; x < up.width(); ++x) {
        const int v = qGray(up.pixel(x, y));
        QVERIFY2(v == 0 || v == 255, qPrintable(QStringLiteral("grey %1 at %2,%3").arg(v).arg(x).arg(y)));
      }
    QCOMPARE(thumbnail(QImage(200, 100, QImage::Format_RGB888), 50).size(), QSize(50, 25));
    QCOMPARE(thumbnail(checker, 28).size(), QSize(28, 28));
    QVERIFY(thumbnail(QImage(), 64).isNull());
  }

  // --- ImageGridModel / DatasetBrowser ---

  void modelRolesAndFilter() {
    ImageGridModel model;
    model.setImages(big_);
    QCOMPARE(model.rowCount(), int(kBigCount));
    const QModelIndex i12 = model.index(12);
    QCOMPARE(model.data(i12, ImageGridModel::kImageIndexRole).toLongLong(), 12LL);
    QCOMPARE(model.data(i12, Qt::UserRole + 1).toLongLong(), 2LL);
    QCOMPARE(model.data(i12, Qt::ToolTipRole).toString(), QStringLiteral("#12 \u00b7 class2"));
    QCOMPARE(model.cachedThumbnailCount(), 0);  // nothing made ahead of time

    model.setThumbnailSide(40);
    const QVariant decoration = model.data(i12, Qt::DecorationRole);
    QCOMPARE(decoration.value<QPixmap>().size(), QSize(40, 40));
    QCOMPARE(model.cachedThumbnailCount(), 1);

    model.setFilter({42, 7, 100001 /* out of range: dropped */});
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(model.imageIndex(0), int64_t(42));
    QCOMPARE(model.imageIndex(1), int64_t(7));
    QCOMPARE(model.imageIndex(2), int64_t(-1));
    QCOMPARE(model.rowOfImage(7), 1);
    model.setFilter({});
    QCOMPARE(model.rowCount(), 0);
    model.clearFilter();
    QCOMPARE(model.rowCount(), int(kBigCount));
  }

  void browserShowsClassesAndCounts() {
    DatasetBrowser browser;
    QElapsedTimer timer;
    timer.start();
    browser.setImages(big_, QStringLiteral("Synthetic"));
    const qint64 set_ms = timer.elapsed();
    QCOMPARE(browser.model()->rowCount(), int(kBigCount));
    QCOMPARE(browser.visibleCount(), int(kBigCount));

    auto* combo = browser.findChild<QComboBox*>(QStringLiteral("classFilter"));
    QVERIFY(combo);
    QCOMPARE(combo->count(), 11);
    QCOMPARE(combo->itemText(0), QStringLiteral("All classes (%1)").arg(number(kBigCount)));
    QCOMPARE(combo->itemText(4), QStringLiteral("class3 (%1)").arg(number(10000)));

    browser.showClass(3);
    QCOMPARE(browser.visibleCount(), 10000);
    QCOMPARE(combo->currentIndex(), 4);
    const ImageGridModel* model = browser.model();
    for (int row = 0; row < model->rowCount(); ++row)
      QCOMPARE(model->data(model->index(row), ImageGridModel::kLabelRole).toLongLong(), 3LL);

    combo->setCurrentIndex(0);  // the user picks "All classes"
    QCOMPARE(browser.visibleCount(), int(kBigCount));
    combo->setCurrentIndex(10);
    QCOMPARE(browser.visibleCount(), 10000);
    QCOMPARE(model->imageIndex(0), int64_t(9));
    browser.showClass(-1);
    QCOMPARE(combo->currentIndex(), 0);
    QCOMPARE(browser.visibleCount(), int(kBigCount));

    auto* counts = browser.findChild<QTableWidget*>(QStringLiteral("classCounts"));
    QVERIFY(counts);
    QCOMPARE(counts->rowCount(), 10);
    QCOMPARE(counts->item(3, 0)->text(), QStringLiteral("class3"));
    QCOMPARE(counts->item(3, 1)->text(), number(10000));
    QCOMPARE(counts->item(3, 2)->text(), QStringLiteral("%1 %").arg(QLocale().toString(10.0, 'f', 1)));
    QVERIFY(browser.findChild<QLabel*>(QStringLiteral("totalsLabel"))->text().contains(QStringLiteral("Synthetic")));
    qInfo("setImages(100,000 images): %lld ms", set_ms);
  }

  void browserMakesOnlyVisibleThumbnails() {
    DatasetBrowser browser;
    browser.resize(900, 600);
    browser.setImages(big_, QStringLiteral("Synthetic"));
    browser.show();
    QVERIFY(QTest::qWaitForWindowExposed(&browser));
    QElapsedTimer timer;
    timer.start();
    // Let the batched layout run, then paint.
    QTest::qWait(200);
    browser.view()->viewport()->grab();
    const int made = browser.model()->cachedThumbnailCount();
    qInfo("thumbnails made after showing 100,000 images: %d (%lld ms)", made, timer.elapsed());
    QVERIFY(made > 0);
    QVERIFY2(made < 1000, qPrintable(QString::number(made)));

    // Scrolling to the end makes the thumbnails there, not the ones between.
    browser.view()->scrollToBottom();
    QTest::qWait(50);
    browser.view()->viewport()->grab();
    QVERIFY(browser.model()->cachedThumbnailCount() < 2000);
  }

  void showIndicesShowsExactlyThose() {
    DatasetBrowser browser;
    browser.setImages(big_, QStringLiteral("Synthetic"));
    browser.showIndices({5, 7, 9}, QStringLiteral("lasso in the embedding map"));
    QCOMPARE(browser.visibleCount(), 3);
    QCOMPARE(browser.model()->imageIndex(0), int64_t(5));
    QCOMPARE(browser.model()->imageIndex(1), int64_t(7));
    QCOMPARE(browser.model()->imageIndex(2), int64_t(9));
    auto* combo = browser.findChild<QComboBox*>(QStringLiteral("classFilter"));
    QCOMPARE(combo->currentText(), QStringLiteral("Selection (3)"));
    QCOMPARE(combo->itemData(combo->currentIndex(), Qt::ToolTipRole).toString(),
             QStringLiteral("lasso in the embedding map"));

    // A new selection replaces the entry rather than adding one.
    browser.showIndices({1, 2}, QStringLiteral("second"));
    QCOMPARE(browser.visibleCount(), 2);
    QCOMPARE(combo->count(), 12);
    QCOMPARE(combo->currentText(), QStringLiteral("Selection (2)"));
  }

  void currentAndActivatedImage() {
    DatasetBrowser browser;
    browser.setImages(big_, QStringLiteral("Synthetic"));
    QSignalSpy current(&browser, &DatasetBrowser::currentImageChanged);
    QSignalSpy activated(&browser, &DatasetBrowser::imageActivated);
    QCOMPARE(browser.currentImageIndex(), int64_t(-1));

    browser.showIndices({5, 7, 9}, QString());
    browser.view()->setCurrentIndex(browser.model()->index(1));
    QCOMPARE(browser.currentImageIndex(), int64_t(7));
    QCOMPARE(current.count(), 1);
    QCOMPARE(current.last().at(0).value<int64_t>(), int64_t(7));

    QTest::keyClick(browser.view(), Qt::Key_Return);
    QCOMPARE(activated.count(), 1);
    QCOMPARE(activated.last().at(0).value<int64_t>(), int64_t(7));

    browser.showClass(7);  // image 7 is in class 7: it stays current, no signal
    QCOMPARE(browser.currentImageIndex(), int64_t(7));
    QCOMPARE(current.count(), 1);
    browser.showClass(3);  // not in class 3: nothing is current any more
    QCOMPARE(browser.currentImageIndex(), int64_t(-1));
    QCOMPARE(current.count(), 2);
    QCOMPARE(current.last().at(0).value<int64_t>(), int64_t(-1));
  }

  void unlabeledImagesGetTheirEntry() {
    ImageTable t = makeGrayTable(50);
    for (int64_t i = 0; i < 50; i += 5) t.labels[static_cast<size_t>(i)] = -1;  // 10 unlabeled
    DatasetBrowser browser;
    browser.setImages(t, QStringLiteral("partly labeled"));
    auto* combo = browser.findChild<QComboBox*>(QStringLiteral("classFilter"));
    QCOMPARE(combo->itemText(combo->count() - 1), QStringLiteral("Unlabeled (10)"));
    browser.showClass(DatasetBrowser::kUnlabeled);
    QCOMPARE(browser.visibleCount(), 10);
    QCOMPARE(browser.model()->data(browser.model()->index(0), Qt::ToolTipRole).toString(),
             QStringLiteral("#0 \u00b7 Unlabeled"));
    QCOMPARE(browser.findChild<QTableWidget*>(QStringLiteral("classCounts"))->rowCount(), 11);
  }

  void skippedFilesAndPlaceholder() {
    DatasetBrowser browser;
    browser.show();
    auto* placeholder = browser.findChild<QLabel*>(QStringLiteral("placeholder"));
    QVERIFY(placeholder);
    QCOMPARE(placeholder->text(), QStringLiteral("No dataset loaded"));
    QVERIFY(placeholder->isVisible());
    QVERIFY(!browser.view()->isVisible());

    auto* tree = browser.findChild<QTreeWidget*>(QStringLiteral("skippedFiles"));
    QVERIFY(tree);
    QVERIFY(!tree->isVisible());
    browser.setSkippedFiles({{QStringLiteral("cats/broken.jpg"), QStringLiteral("cannot decode")},
                             {QStringLiteral("readme.txt"), QStringLiteral("outside any class folder")}});
    QVERIFY(tree->isVisible());
    QCOMPARE(tree->topLevelItemCount(), 2);
    QCOMPARE(tree->topLevelItem(0)->text(0), QStringLiteral("cats/broken.jpg"));
    QCOMPARE(tree->topLevelItem(0)->text(1), QStringLiteral("cannot decode"));
    QCOMPARE(tree->topLevelItem(1)->text(1), QStringLiteral("outside any class folder"));
    QVERIFY(tree->headerItem()->text(0).contains(QStringLiteral("2")));
    browser.setSkippedFiles({});
    QVERIFY(!tree->isVisible());

    browser.setImages(makeGrayTable(20), QStringLiteral("small"));
    QVERIFY(browser.view()->isVisible());
    QVERIFY(!placeholder->isVisible());
    browser.showIndices({}, QStringLiteral("empty lasso"));
    QVERIFY(placeholder->isVisible());
    browser.setImages(ImageTable{}, QString());
    QCOMPARE(placeholder->text(), QStringLiteral("No dataset loaded"));
    QVERIFY(placeholder->isVisible());
  }

  // --- AugmentationDesigner ---

  void designerRoundTripsEveryField() {
    AugmentationDesigner designer;
    QSignalSpy changed(&designer, &AugmentationDesigner::configChanged);
    const AugmentConfig unusual = unusualConfig();
    designer.setConfig(unusual);
    QCOMPARE(configDifference(designer.config(), unusual), QString());
    const AugmentConfig defaults;  // includes 4/3, which the 2-decimal spins cannot show exactly
    designer.setConfig(defaults);
    QCOMPARE(configDifference(designer.config(), defaults), QString());
    AugmentConfig all_off = unusual;
    all_off.flip_p = all_off.jitter_p = all_off.grayscale_p = all_off.blur_p = all_off.solarize_p = 0;
    designer.setConfig(all_off);
    QCOMPARE(configDifference(designer.config(), all_off), QString());
    for (const QString& op : AugmentationDesigner::operationIds())
      QVERIFY2(!designer.operationGroup(op)->isChecked(), qPrintable(op));
    QCOMPARE(changed.count(), 0);
  }

  void switchingOffRemembersProbability() {
    AugmentationDesigner designer;
    AugmentConfig c = unusualConfig();
    designer.setConfig(c);
    QSignalSpy changed(&designer, &AugmentationDesigner::configChanged);
    QGroupBox* blur = designer.operationGroup(QStringLiteral("blur"));
    QVERIFY(blur && blur->isCheckable() && blur->isChecked());
    blur->setChecked(false);
    QCOMPARE(designer.config().blur_p, 0.0);
    QCOMPARE(changed.count(), 1);
    blur->setChecked(true);
    QCOMPARE(designer.config().blur_p, 0.4);
    QCOMPARE(changed.count(), 2);

    QGroupBox* crop = designer.operationGroup(QStringLiteral("crop"));
    QVERIFY(!crop->isChecked());  // unusualConfig has crop off
    crop->setChecked(true);
    QVERIFY(designer.config().crop);

    // An op that was never on gets a useful probability when switched on.
    designer.setConfig(AugmentConfig{});
    QGroupBox* solarize = designer.operationGroup(QStringLiteral("solarize"));
    QVERIFY(!solarize->isChecked());
    solarize->setChecked(true);
    QVERIFY(designer.config().solarize_p > 0.0);
    // setConfig with the op off keeps the probability the form remembers.
    AugmentConfig off;
    off.flip_p = 0.35;
    designer.setConfig(off);
    off.flip_p = 0;
    designer.setConfig(off);
    designer.operationGroup(QStringLiteral("flip"))->setChecked(true);
    QCOMPARE(designer.config().flip_p, 0.35);
  }

  void editsEmitOnceAndKeepRangesConsistent() {
    AugmentationDesigner designer;
    designer.setConfig(AugmentConfig{});
    QSignalSpy changed(&designer, &AugmentationDesigner::configChanged);
    auto* brightness = designer.findChild<QDoubleSpinBox*>(QStringLiteral("brightness"));
    QVERIFY(brightness);
    brightness->setValue(0.55);
    QCOMPARE(changed.count(), 1);
    QCOMPARE(designer.config().brightness, 0.55);

    auto* scale_min = designer.findChild<QDoubleSpinBox*>(QStringLiteral("crop_scale_min"));
    auto* scale_max = designer.findChild<QDoubleSpinBox*>(QStringLiteral("crop_scale_max"));
    scale_max->setValue(0.8);
    scale_min->setValue(0.9);  // above max: max follows
    QCOMPARE(changed.count(), 3);
    QCOMPARE(designer.config().crop_scale_min, 0.9);
    QCOMPARE(designer.config().crop_scale_max, 0.9);
    QCOMPARE(scale_max->value(), 0.9);
    auto* sigma_min = designer.findChild<QDoubleSpinBox*>(QStringLiteral("blur_sigma_min"));
    auto* sigma_max = designer.findChild<QDoubleSpinBox*>(QStringLiteral("blur_sigma_max"));
    sigma_max->setValue(0.05);  // below min (0.1): min follows
    QCOMPARE(sigma_min->value(), 0.05);
    QCOMPARE(designer.config().blur_sigma_min, 0.05);
    QCOMPARE(changed.count(), 4);

    auto* kernel = designer.findChild<QSpinBox*>(QStringLiteral("blur_kernel"));
    QVERIFY(kernel);
    QCOMPARE(kernel->specialValueText(), QStringLiteral("Auto"));
    kernel->setValue(8);
    QCOMPARE(kernel->value(), 9);
    QCOMPARE(designer.config().blur_kernel, int64_t(9));
    QCOMPARE(changed.count(), 5);
    kernel->setValue(0);
    kernel->stepBy(1);  // Auto -> the smallest real kernel
    QCOMPARE(kernel->value(), 3);
    kernel->stepBy(-1);  // and back to Auto, not stuck on 3
    QCOMPARE(kernel->value(), 0);
    AugmentConfig even;
    even.blur_kernel = 10;
    designer.setConfig(even);
    QCOMPARE(designer.config().blur_kernel, int64_t(11));

    auto* out_size = designer.findChild<QSpinBox*>(QStringLiteral("out_size"));
    QVERIFY(out_size);
    QCOMPARE(out_size->specialValueText(), QStringLiteral("Same as dataset"));
    QCOMPARE(out_size->text(), QStringLiteral("Same as dataset"));
    out_size->setValue(96);
    QCOMPARE(designer.config().out_size, int64_t(96));
  }

  void previewAloneIsExclusive() {
    AugmentationDesigner designer;
    QSignalSpy preview(&designer, &AugmentationDesigner::previewOperationChanged);
    auto* blur = designer.findChild<QToolButton*>(QStringLiteral("blurPreview"));
    auto* crop = designer.findChild<QToolButton*>(QStringLiteral("cropPreview"));
    QVERIFY(blur && crop);
    QVERIFY(blur->isCheckable());
    QVERIFY(blur->isEnabled());  // blur is off by default, yet can be previewed
    blur->click();
    QCOMPARE(preview.count(), 1);
    QCOMPARE(preview.last().at(0).toString(), QStringLiteral("blur"));
    QCOMPARE(designer.previewOperation(), QStringLiteral("blur"));
    crop->click();
    QCOMPARE(preview.count(), 2);
    QCOMPARE(preview.last().at(0).toString(), QStringLiteral("crop"));
    QVERIFY(!blur->isChecked());
    int checked = 0;
    for (const QString& op : AugmentationDesigner::operationIds())
      checked += designer.findChild<QToolButton*>(op + QStringLiteral("Preview"))->isChecked() ? 1 : 0;
    QCOMPARE(checked, 1);
    crop->click();  // unchecking the only one: whole pipeline
    QCOMPARE(preview.count(), 3);
    QCOMPARE(preview.last().at(0).toString(), QString());
    QCOMPARE(designer.previewOperation(), QString());
  }

  void everyControlExplainsItself() {
    AugmentationDesigner designer;
    QCOMPARE(AugmentationDesigner::operationIds(),
             QStringList({"crop", "flip", "jitter", "grayscale", "blur", "solarize"}));
    for (const QString& op : AugmentationDesigner::operationIds()) {
      QVERIFY2(AugmentationDesigner::operationTooltip(op).size() > 40, qPrintable(op));
      QGroupBox* group = designer.operationGroup(op);
      QVERIFY2(group, qPrintable(op));
      QCOMPARE(group->toolTip(), AugmentationDesigner::operationTooltip(op));
      QCOMPARE(group->whatsThis(), group->toolTip());
    }
    QVERIFY(AugmentationDesigner::operationTooltip(QStringLiteral("nonsense")).isEmpty());

    // Groups in pipeline order.
    QList<QGroupBox*> groups = designer.findChildren<QGroupBox*>();
    QStringList order;
    for (QGroupBox* g : groups)
      if (g->isCheckable()) order << g->objectName();
    QCOMPARE(order, AugmentationDesigner::operationIds());

    QList<QWidget*> controls;
    for (auto* w : designer.findChildren<QAbstractSpinBox*>()) controls << w;
    for (auto* w : designer.findChildren<QToolButton*>())
      if (!w->objectName().isEmpty()) controls << w;
    QVERIFY(controls.size() >= 20);
    for (QWidget* w : controls) {
      QVERIFY2(!w->toolTip().isEmpty(), qPrintable(w->objectName()));
      QCOMPARE(w->whatsThis(), w->toolTip());
      QVERIFY2(w->focusPolicy() & Qt::TabFocus, qPrintable(w->objectName()));
    }
    // Every label names its control and has a mnemonic.
    int labels = 0;
    for (QLabel* label : designer.findChildren<QLabel*>()) {
      if (label->text().isEmpty()) continue;
      ++labels;
      QVERIFY2(label->buddy(), qPrintable(label->text()));
      QVERIFY2(label->text().contains(QLatin1Char('&')), qPrintable(label->text()));
    }
    QVERIFY(labels >= 15);
    QVERIFY(designer.findChild<QScrollArea*>());

    // Tab reaches every spin box from the first group.
    designer.show();
    QSet<QWidget*> reached;
    QWidget* w = designer.operationGroup(QStringLiteral("crop"));
    for (int i = 0; i < 200 && w; ++i, w = w->nextInFocusChain()) reached.insert(w);
    for (auto* spin : designer.findChildren<QAbstractSpinBox*>())
      QVERIFY2(reached.contains(spin), qPrintable(spin->objectName()));
  }

  // --- AugmentPreviewGrid ---

  void previewGridShowsTriplets() {
    AugmentPreviewGrid grid;
    QCOMPARE(grid.sampleCount(), 0);
    QVector<QImage> originals, view1, view2;
    for (int i = 0; i < 4; ++i) {
      originals << solid(QColor(200, 10 * i, 0));
      view1 << solid(QColor(0, 200, 10 * i));
      view2 << solid(QColor(10 * i, 0, 200), 4);
    }
    grid.setPreview(originals, view1, view2);
    QCOMPARE(grid.sampleCount(), 4);
    for (int i = 0; i < 4; ++i) {
      QCOMPARE(grid.viewImage(i, 0), originals[i]);
      QCOMPARE(grid.viewImage(i, 1), view1[i]);
      QCOMPARE(grid.viewImage(i, 2), view2[i]);
    }
    QVERIFY(grid.viewImage(4, 0).isNull());
    QVERIFY(grid.viewImage(0, 3).isNull());

    // Cells follow the widget's size; a wide widget puts triplets side by side.
    grid.resize(300, 400);
    const int small = grid.cellSide();
    grid.resize(600, 800);
    const int large = grid.cellSide();
    QVERIFY2(large > small, qPrintable(QStringLiteral("%1 vs %2").arg(small).arg(large)));
    QCOMPARE(grid.groupsPerRow(), 1);
    grid.resize(1600, 300);
    QVERIFY(grid.groupsPerRow() > 1);

    // The images are really painted where cellRect says (8x8 upscaled, 4x4 centred).
    grid.resize(600, 800);
    QImage shot = grid.grab().toImage();
    const QPoint p = grid.cellRect(2, 1).center();
    QCOMPARE(QColor(shot.pixel(p)), QColor(0, 200, 20));
    QCOMPARE(QColor(shot.pixel(grid.cellRect(3, 2).center())), QColor(30, 0, 200));

    grid.setBusy(true);
    QVERIFY(grid.isBusy());
    shot = grid.grab().toImage();
    QVERIFY(QColor(shot.pixel(p)) != QColor(0, 200, 20));  // dimmed
    grid.setBusy(false);
    grid.setMessage(QStringLiteral("config: augment.blur_kernel = 4 must be odd"));
    QCOMPARE(grid.message(), QStringLiteral("config: augment.blur_kernel = 4 must be odd"));
    grid.grab();
    grid.setPreview(originals, view1, view2);
    QVERIFY(grid.message().isEmpty());
    grid.clear();
    QCOMPARE(grid.sampleCount(), 0);
    grid.grab();
  }

  void previewGridShowsLocalViewsAtTheirSize() {
    // Multi-crop: two local columns after the global views, each local view drawn at its size
    // relative to the global ones (4 pixels beside 8: half the cell, centred).
    AugmentPreviewGrid grid;
    QVector<QImage> originals, view1, view2;
    QVector<QVector<QImage>> locals(2);
    for (int i = 0; i < 3; ++i) {
      originals << solid(QColor(200, 10 * i, 0));
      view1 << solid(QColor(0, 200, 10 * i));
      view2 << solid(QColor(10 * i, 0, 200));
      locals[0] << solid(QColor(250, 250, 10 * i), 4);
      locals[1] << solid(QColor(10 * i, 250, 250), 4);
    }
    grid.setPreview(originals, view1, view2, locals);
    QCOMPARE(grid.columnCount(), 5);
    QCOMPARE(grid.viewImage(1, 3), locals[0][1]);
    QCOMPARE(grid.viewImage(2, 4), locals[1][2]);
    QVERIFY(grid.viewImage(0, 5).isNull());
    grid.resize(800, 600);
    const QImage shot = grid.grab().toImage();
    const QRect global = grid.cellRect(1, 2), local = grid.cellRect(1, 3);
    QCOMPARE(local.size(), global.size());
    QVERIFY(local.left() > global.right());
    QCOMPARE(QColor(shot.pixel(local.center())), QColor(250, 250, 10));
    // A quarter of the way in from the corner lies outside the half-size local view ...
    const QPoint outside = local.topLeft() + QPoint(local.width() / 8, local.height() / 8);
    QVERIFY(QColor(shot.pixel(outside)) != QColor(250, 250, 10));
    // ... but inside a global view, which fills its cell.
    const QPoint inside = global.topLeft() + QPoint(global.width() / 8, global.height() / 8);
    QCOMPARE(QColor(shot.pixel(inside)), QColor(10, 0, 200));
    // Back to two views: the local columns go.
    grid.setPreview(originals, view1, view2);
    QCOMPARE(grid.columnCount(), 3);
  }

  void designerEditsTheLocalViews() {
    AugmentationDesigner designer;
    auto* count = designer.findChild<QSpinBox*>(QStringLiteral("local_crops"));
    auto* side = designer.findChild<QSpinBox*>(QStringLiteral("local_size"));
    auto* low = designer.findChild<QDoubleSpinBox*>(QStringLiteral("local_scale_min"));
    auto* high = designer.findChild<QDoubleSpinBox*>(QStringLiteral("local_scale_max"));
    QVERIFY(count && side && low && high);
    QCOMPARE(count->value(), 0);
    QVERIFY(!side->isEnabled() && !low->isEnabled());  // nothing to size without local views
    QSignalSpy changed(&designer, &AugmentationDesigner::configChanged);
    count->setValue(4);
    QCOMPARE(designer.config().local_crops, int64_t(4));
    QVERIFY(side->isEnabled() && low->isEnabled() && high->isEnabled());
    side->setValue(5);  // below the smallest side: raised to it
    QCOMPARE(side->value(), int(kMinLocalViewSide));
    QCOMPARE(designer.config().local_size, kMinLocalViewSide);
    side->setValue(7);  // stepping down from the smallest: back to Auto
    QCOMPARE(designer.config().local_size, int64_t(0));
    low->setValue(0.6);  // past the high end: it follows
    QCOMPARE(designer.config().local_scale_min, 0.6);
    QCOMPARE(designer.config().local_scale_max, 0.6);
    QCOMPARE(changed.count(), 4);
    count->setValue(0);
    QVERIFY(!side->isEnabled());
    QCOMPARE(designer.config().local_scale_min, 0.6);  // kept for switching back on
  }
};

QTEST_MAIN(TestDataWidgets)
#include "test_data_widgets.moc"
