// Files other tools read, read back as they would: PNG images (deflated and stored) decoded
// by Qt's PNG reader, the Embedding Projector folder with its sprite and TensorBoard config,
// and label-efficiency studies as JSON, CSV and SVG. Also the study runner itself: arms as
// data (any arm slots in), seeds, progress and cancel.
#include <QtTest/QtTest>

#include <QImage>
#include <QXmlStreamReader>

#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/exchange/embedding_export.h"
#include "core/eval/label_study.h"
#include "core/base/png_writer.h"
#include "core/eval/study_result.h"
#include "tests/test_support.h"

using namespace studio;
using studio::test::contains;
using studio::test::split;
using studio::test::expectError;

namespace {

// CSV fields of one line (no quoting in these rows), keeping empty trailing fields.
std::vector<std::string> fieldsOf(const std::string& line) {
  std::vector<std::string> out(1);
  for (const char c : line) {
    if (c == ',') out.emplace_back();
    else out.back() += c;
  }
  return out;
}

QImage decode(const std::vector<uint8_t>& png) {
  QImage image;
  image.loadFromData(png.data(), static_cast<int>(png.size()), "PNG");
  return image;
}

// A hand-made study with three arms, one of them of a kind the studio does not make itself
// ("fine-tune"): every writer must take it like the others.
StudyResult sampleStudy() {
  StudyResult r;
  r.title = "run-7";
  r.class_names = {"cat", "dog, \"big\""};
  r.train_images = 1000;
  r.test_images = 200;
  r.seeds = 2;
  const struct {
    const char* representation;
    const char* classifier;
    double base;
  } arms[] = {{"pretrained", "linear probe", 0.7}, {"raw-pixels", "kNN", 0.5}, {"pretrained", "fine-tune", 0.75}};
  for (const auto& a : arms)
    for (const double f : {0.01, 0.1, 1.0}) {
      StudyCell c;
      c.representation = a.representation;
      c.classifier = a.classifier;
      c.arm = c.representation + " / " + c.classifier;
      c.label_fraction = f;
      c.labeled_images = static_cast<int64_t>(1000 * f);
      c.top1 = f < 1 ? std::vector<double>{a.base + f / 10, a.base + f / 10 + 0.02} : std::vector<double>{a.base + 0.2};
      meanAndSpread(c.top1, c.mean, c.std);
      c.per_class_accuracy = {c.mean - 0.05, c.mean + 0.05};
      c.confusion = {90, 10, 5, 95};
      c.expected_calibration_error = std::string(a.classifier) == "kNN" ? -1 : 0.031;
      r.cells.push_back(c);
    }
  return r;
}

// Gaussian blobs around 4 e_c in 16-D: separable, so accuracy grows with the labels.
std::pair<torch::Tensor, torch::Tensor> blobs(int64_t n, uint64_t seed) {
  torch::manual_seed(seed);
  const auto y = torch::arange(n, torch::kLong).remainder(4);
  return {4.0 * torch::eye(4, 16).index_select(0, y) + torch::randn({n, 16}), y};
}

}  // namespace

class TestExports : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void crcMatchesTheStandardCheckValue() {
    const std::string text = "123456789";
    QCOMPARE(crc32Of(reinterpret_cast<const uint8_t*>(text.data()), text.size()), 0xCBF43926u);
  }

  void pngDecodesToTheSamePixels_data() {
    QTest::addColumn<int>("channels");
    QTest::addColumn<int>("width");
    QTest::addColumn<int>("height");
    QTest::addColumn<bool>("deflate");
    for (const bool deflate : {true, false}) {
      const char* how = deflate ? "deflated" : "stored";
      QTest::newRow(qPrintable(QString("grey %1").arg(how))) << 1 << 37 << 23 << deflate;
      QTest::newRow(qPrintable(QString("grey+alpha %1").arg(how))) << 2 << 5 << 9 << deflate;
      QTest::newRow(qPrintable(QString("rgb %1").arg(how))) << 3 << 64 << 31 << deflate;
      QTest::newRow(qPrintable(QString("rgba %1").arg(how))) << 4 << 17 << 3 << deflate;
      // Over 65,535 bytes of image data: several stored blocks.
      QTest::newRow(qPrintable(QString("large grey %1").arg(how))) << 1 << 300 << 280 << deflate;
    }
  }
  void pngDecodesToTheSamePixels() {
    QFETCH(int, channels);
    QFETCH(int, width);
    QFETCH(int, height);
    QFETCH(bool, deflate);
    std::vector<uint8_t> pixels(static_cast<size_t>(width * height * channels));
    uint32_t rng = 99;
    for (auto& p : pixels) {
      rng = rng * 1664525u + 1013904223u;
      p = static_cast<uint8_t>(rng >> 24);
    }
    const auto png = encodePng(pixels.data(), width, height, channels, deflate);
    if (!deflate) QVERIFY(png.size() > pixels.size());  // stored: no compression at all
    const QImage image = decode(png);
    QVERIFY2(!image.isNull(), "Qt's PNG reader refused the file");
    QCOMPARE(image.width(), width);
    QCOMPARE(image.height(), height);
    for (int y = 0; y < height; ++y)
      for (int x = 0; x < width; ++x) {
        const uint8_t* p = pixels.data() + (static_cast<size_t>(y) * width + x) * channels;
        const QRgb got = image.pixel(x, y);
        if (channels <= 2) {
          QCOMPARE(qRed(got), int(p[0]));
          QCOMPARE(qGreen(got), int(p[0]));
        } else {
          QCOMPARE(qRed(got), int(p[0]));
          QCOMPARE(qGreen(got), int(p[1]));
          QCOMPARE(qBlue(got), int(p[2]));
        }
        if (channels == 2 || channels == 4) QCOMPARE(qAlpha(got), int(p[channels - 1]));
      }
  }

  void pngRefusesBadInput() {
    std::vector<uint8_t> pixels(12);
    QVERIFY(contains(expectError([&] { encodePng(pixels.data(), 0, 3, 1); }), "0 x 3"));
    QVERIFY(contains(expectError([&] { encodePng(pixels.data(), 2, 2, 5); }), "got 5"));
    QVERIFY(contains(expectError([&] { encodePng(nullptr, 2, 2, 1); }), "no pixel data"));
  }

  void projectorFolderWithSprite() {
    const auto dir = test::scratchDir("exports_projector");
    const int64_t n = 30, side = 8;
    auto images = torch::empty({n, 1, side, side}, torch::kByte);
    for (int64_t i = 0; i < n; ++i) images[i].fill_(5 * i + 3);
    torch::manual_seed(3);
    const auto embeddings = torch::randn({n, 4});
    const auto labels = torch::arange(n, torch::kLong).remainder(2);
    const auto files = exportProjector(dir, embeddings, labels, {"even", "odd"}, "run", images);
    QCOMPARE(files.size(), size_t(5));
    QVERIFY(std::filesystem::exists(dir + "/sprite.png"));
    const QImage sprite(QString::fromStdString(dir + "/sprite.png"));
    QVERIFY(!sprite.isNull());
    QCOMPARE(sprite.size(), QSize(6 * side, 6 * side));  // ceil(sqrt(30)) = 6 cells a side
    for (int64_t i = 0; i < n; ++i) {
      const int x = static_cast<int>((i % 6) * side + 3), y = static_cast<int>((i / 6) * side + 4);
      QCOMPARE(qGray(sprite.pixel(x, y)), int(5 * i + 3));
    }
    QCOMPARE(qGray(sprite.pixel(5 * side + 1, 5 * side + 1)), 0);  // unused cell
    const std::string pbtxt = readTextFile(dir + "/projector_config.pbtxt");
    QVERIFY(contains(pbtxt, "image_path: \"sprite.png\""));
    QVERIFY(contains(pbtxt, "single_image_dim: 8"));
    QCOMPARE(split(readTextFile(dir + "/metadata.tsv"), '\n')[2], std::string("1\t1\todd"));
    // The Projector's 8192-pixel limit decides the cell.
    QCOMPARE(spriteCellFor(70000, 28, 28), int64_t(28));
    QCOMPARE(spriteCellFor(1000000, 28, 28), int64_t(8));
    QCOMPARE(spriteCellFor(100000000, 28, 28), int64_t(0));
    QVERIFY(contains(expectError([&] { exportProjector(dir, embeddings, labels, {}, "run", images.slice(0, 0, 3)); }),
                     "one uint8"));
  }

  void studyJsonRoundTrips() {
    const StudyResult r = sampleStudy();
    const StudyResult back = studyFromJson(studyToJson(r));
    QCOMPARE(back.title, r.title);
    QCOMPARE(back.class_names, r.class_names);
    QCOMPARE(back.seeds, r.seeds);
    QCOMPARE(back.cells.size(), r.cells.size());
    for (size_t i = 0; i < r.cells.size(); ++i) {
      QCOMPARE(back.cells[i].arm, r.cells[i].arm);
      QCOMPARE(back.cells[i].top1, r.cells[i].top1);
      QCOMPARE(back.cells[i].std, r.cells[i].std);
      QCOMPARE(back.cells[i].confusion, r.cells[i].confusion);
      QCOMPARE(back.cells[i].expected_calibration_error, r.cells[i].expected_calibration_error);
    }
    QCOMPARE(studyArms(back), (std::vector<std::string>{"pretrained / linear probe", "raw-pixels / kNN",
                                                          "pretrained / fine-tune"}));
    QVERIFY(contains(expectError([] { studyFromJson("{"); }), "not valid JSON"));
    QVERIFY(contains(expectError([] { studyFromJson("{\"title\": \"x\"}"); }), "class_names"));
    auto broken = nlohmann::json::parse(studyToJson(r));
    broken["cells"][1]["confusion"] = {1, 2, 3};
    QVERIFY(contains(expectError([&] { studyFromJson(broken.dump()); }), "cell 1"));
  }

  void studyCsvParsesBack() {
    const auto dir = test::scratchDir("exports_study");
    const StudyResult r = sampleStudy();
    writeStudyCsv(dir + "/study.csv", r);
    const auto lines = split(readTextFile(dir + "/study.csv"), '\n');
    QCOMPARE(lines.size(), r.cells.size() + 1);
    QCOMPARE(lines[0], std::string("arm,representation,classifier,label_fraction,labeled_images,seeds,top1_mean,"
                                   "top1_std,ece,top1_seed0,top1_seed1"));
    const auto first = fieldsOf(lines[1]);
    QCOMPARE(first.size(), size_t(11));
    QCOMPARE(first[0], std::string("pretrained / linear probe"));
    QCOMPARE(std::stod(first[3]), 0.01);
    QCOMPARE(std::stod(first[6]), r.cells[0].mean);
    QCOMPARE(std::stod(first[9]), r.cells[0].top1[0]);
    const auto knn_full = fieldsOf(lines[6]);  // raw-pixels / kNN at 100%: one seed, no ECE
    QCOMPARE(knn_full.size(), size_t(11));
    QCOMPARE(knn_full[8], std::string(""));
    QCOMPARE(knn_full[10], std::string(""));
  }

  void studySvgHasEveryArm() {
    const StudyResult r = sampleStudy();
    const std::string svg = studySvg(r);
    QXmlStreamReader xml(QByteArray::fromStdString(svg));
    int series = 0, markers = 0, error_bars = 0;
    QStringList legend;
    while (!xml.atEnd()) {
      xml.readNext();
      if (!xml.isStartElement()) continue;
      if (xml.name() == QLatin1String("g") && xml.attributes().value("class") == QLatin1String("series")) ++series;
      if (xml.name() == QLatin1String("circle")) ++markers;
      if (xml.name() == QLatin1String("path")) ++error_bars;
      if (xml.name() == QLatin1String("text")) legend << xml.readElementText();
    }
    QVERIFY2(!xml.hasError(), qPrintable(xml.errorString()));
    QCOMPARE(series, 3);
    QCOMPARE(markers, 9);
    QCOMPARE(error_bars, 6);  // the cells with two seeds
    QVERIFY(legend.contains(QStringLiteral("pretrained / fine-tune")));
    QVERIFY(legend.contains(QStringLiteral("Label efficiency: run-7")));
    QVERIFY(legend.contains(QStringLiteral("labelled training images (log scale)")));
    const std::string table = studyTable(r);
    QVERIFY(contains(table, "raw-pixels / kNN"));
    QVERIFY(contains(table, "1.0%"));
    QVERIFY(contains(table, "+-"));
    QVERIFY(contains(expectError([&] { studySvg(r, 100, 100); }), "too small"));
  }

  void labelStudyArmsAreData() {
    const auto [train_x, train_y] = blobs(800, 1);
    const auto [test_x, test_y] = blobs(400, 2);
    std::vector<StudyArm> arms = {linearProbeArm("blobs", train_x, train_y, test_x, test_y, 4),
                                  knnArm("blobs", train_x, train_y, test_x, test_y, 4)};
    // Any other arm slots in the same way: here one that predicts the true labels, and reports
    // the subset it was given so the test can check the subsets.
    std::vector<int64_t> oracle_subset_sizes;
    StudyArm oracle;
    oracle.representation = "oracle";
    oracle.classifier = "fine-tune";
    oracle.seeds_at_full_labels = true;
    oracle.evaluate = [&](const torch::Tensor& subset, int64_t) {
      oracle_subset_sizes.push_back(subset.size(0));
      return classificationReport(test_y, test_y, 4);
    };
    arms.push_back(oracle);
    LabelStudyOptions o;
    o.fractions = {0.1, 0.01, 1.0};  // sorted by the study
    o.seeds = 3;
    o.title = "blobs";
    int64_t last_done = -1, last_total = 0;
    bool monotone = true;
    const StudyResult r = runLabelStudy(arms, train_y, test_x.size(0), 4, o, [&](int64_t done, int64_t total, const std::string&) {
      monotone = monotone && done >= last_done;
      last_done = done;
      last_total = total;
      return true;
    });
    QVERIFY(monotone);
    // probe and kNN: 3 + 3 + 1 fits each; the oracle runs every seed also at 100%.
    QCOMPARE(last_total, int64_t(7 + 7 + 9));
    QCOMPARE(last_done, last_total);
    QCOMPARE(r.cells.size(), size_t(9));
    QCOMPARE(r.cells[0].label_fraction, 0.01);
    QCOMPARE(r.cells[0].labeled_images, int64_t(8));  // 1% of 200 per class
    QCOMPARE(r.cells[2].labeled_images, int64_t(800));
    QCOMPARE(r.cells[2].top1.size(), size_t(1));
    QCOMPARE(r.cells[8].top1.size(), size_t(3));
    QCOMPARE(r.cells[8].mean, 1.0);
    QCOMPARE(oracle_subset_sizes, (std::vector<int64_t>{8, 8, 8, 80, 80, 80, 800, 800, 800}));
    for (const auto& c : r.cells) {
      qInfo("%s at %g: %.4f +- %.4f", c.arm.c_str(), c.label_fraction, c.mean, c.std);
      // Separable blobs: far above chance (0.25). The probe with 2 labels a class (one of them
      // held out to choose the weight decay) measured 0.61; everything else 0.97 or more.
      const bool starved = c.classifier == "linear probe" && c.label_fraction < 0.05;
      QVERIFY2(c.mean > (starved ? 0.45 : 0.9), qPrintable(QString::fromStdString(c.arm)));
      QCOMPARE(c.per_class_accuracy.size(), size_t(4));
      QCOMPARE(c.confusion.size(), size_t(16));
    }
    QVERIFY(r.cells[2].mean >= r.cells[0].mean);          // more labels, no worse (probe)
    QVERIFY(r.cells[0].expected_calibration_error >= 0);  // the probe's probabilities
    QCOMPARE(r.cells[3].expected_calibration_error, -1.0);
    QVERIFY(r.cells[0].std > 0 || r.cells[0].top1[0] == r.cells[0].top1[1]);

    // Cancelling through the progress callback.
    const auto cancelled = expectError(
        [&] { runLabelStudy(arms, train_y, test_x.size(0), 4, o, [](int64_t done, int64_t, const std::string&) { return done < 2; }); },
        ErrorKind::Cancelled);
    QVERIFY(contains(cancelled, "cancelled"));
    o.fractions = {0.0};
    QVERIFY(contains(expectError([&] { runLabelStudy(arms, train_y, 400, 4, o); }), "outside (0, 1]"));
  }
};

QTEST_MAIN(TestExports)
#include "test_exports.moc"
