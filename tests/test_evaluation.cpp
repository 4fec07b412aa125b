// Evaluation on frozen embeddings: classification reports and calibration on hand-checkable
// cases, the linear probe on separable and on random labels, balanced subsets, neighbour
// queries (with their timing), duplicate and leak search across blocks, the embeddings'
// health (collapse diagnostics) on cases with known answers, and the exports read back as
// other tools would.
#include <QtTest/QtTest>

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "core/exchange/embedding_export.h"
#include "core/eval/embedding_health.h"
#include "core/eval/evaluation.h"
#include "core/eval/knn.h"
#include "test_support.h"

using namespace studio;
using studio::test::contains;
using studio::test::split;
using studio::test::expectError;
using studio::test::scratchDir;

namespace F = torch::nn::functional;

namespace {

torch::Tensor unitRows(const torch::Tensor& x) { return F::normalize(x, F::NormalizeFuncOptions().dim(1)); }

torch::Tensor longs(const std::vector<int64_t>& values) { return torch::tensor(values, torch::kLong); }

// A near-copy of a unit row: 1e-3 noise per component, renormalised.
torch::Tensor nearCopy(const torch::Tensor& row) {
  return F::normalize(row + 1e-3 * torch::randn_like(row), F::NormalizeFuncOptions().dim(0));
}

std::set<std::pair<int64_t, int64_t>> pairSet(const DuplicateReport& report) {
  std::set<std::pair<int64_t, int64_t>> pairs;
  for (const auto& p : report.pairs) pairs.insert({p.a, p.b});
  return pairs;
}

// Gaussian blobs around 5 * e_c in 32-D: linearly separable up to a vanishing tail.
std::pair<torch::Tensor, torch::Tensor> blobs(int64_t n) {
  const auto y = torch::arange(n, torch::kLong).remainder(4);
  const auto centres = 5.0 * torch::eye(4, 32);
  return {centres.index_select(0, y) + torch::randn({n, 32}), y};
}

}  // namespace

class TestEvaluation : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void classificationReportHandMade() {
    // True 0,0,0,1,1,2,2,2 predicted 0,0,1,1,2,2,2,0.
    const auto labels = longs({0, 0, 0, 1, 1, 2, 2, 2});
    const auto predictions = longs({0, 0, 1, 1, 2, 2, 2, 0});
    const auto r = classificationReport(predictions, labels, 3);
    QCOMPARE(r.top1, 5.0 / 8.0);
    QCOMPARE(r.per_class_accuracy.size(), size_t(3));
    QCOMPARE(r.per_class_accuracy[0], 2.0 / 3.0);
    QCOMPARE(r.per_class_accuracy[1], 0.5);
    QCOMPARE(r.per_class_accuracy[2], 2.0 / 3.0);
    QCOMPARE(r.confusion.scalar_type(), torch::kLong);
    QCOMPARE(r.confusion.sizes().vec(), (std::vector<int64_t>{3, 3}));
    const std::vector<std::vector<int64_t>> want = {{2, 1, 0}, {0, 1, 1}, {1, 0, 2}};
    for (int64_t t = 0; t < 3; ++t)
      for (int64_t p = 0; p < 3; ++p) QCOMPARE(r.confusion[t][p].item<int64_t>(), want[t][p]);
    QCOMPARE(r.expected_calibration_error, -1.0);

    // A class absent from the test set reads -1, never NaN.
    const auto r4 = classificationReport(predictions, labels, 4);
    QCOMPARE(r4.per_class_accuracy[3], -1.0);
    QCOMPARE(r4.confusion.sum().item<int64_t>(), int64_t(8));
    QCOMPARE(r4.top1, 5.0 / 8.0);
  }

  void knnPredictionsReport() {
    // kNN (core/eval/knn.h) gives labels without probabilities: the report has no ECE.
    const auto bank = unitRows(torch::tensor({1.f, 0.f, 0.9f, 0.1f, 0.f, 1.f, 0.1f, 0.9f}).view({4, 2}));
    const auto bank_labels = longs({0, 0, 1, 1});
    const auto queries = unitRows(torch::tensor({1.f, 0.05f, 0.05f, 1.f, 0.95f, 0.f}).view({3, 2}));
    KnnOptions knn;
    knn.k = 2;
    const auto predicted = knnPredict(bank, bank_labels, queries, 2, knn);
    const auto r = classificationReport(predicted, longs({0, 1, 1}), 2);
    QCOMPARE(r.top1, 2.0 / 3.0);
    QCOMPARE(r.per_class_accuracy[0], 1.0);
    QCOMPARE(r.per_class_accuracy[1], 0.5);
    QCOMPARE(r.expected_calibration_error, -1.0);
  }

  void calibration() {
    // Confidence 0.9 everywhere, 9 of 10 right: perfectly calibrated.
    auto p = torch::tensor({0.9f, 0.1f}).repeat({10, 1});
    auto y = torch::zeros({10}, torch::kLong);
    y[3] = 1;
    QVERIFY(std::abs(expectedCalibrationError(p, y)) < 1e-6);
    // Confidence 1, half right: ECE 0.5.
    const auto certain = torch::tensor({1.f, 0.f}).repeat({10, 1});
    const auto half = torch::arange(10, torch::kLong).remainder(2);
    QVERIFY(std::abs(expectedCalibrationError(certain, half) - 0.5) < 1e-9);
    // Two bins: 4 at 0.9 all right (gap 0.1), 4 at 0.6 with 2 right (gap 0.1) -> 0.1.
    const auto mixed = torch::cat({torch::tensor({0.9f, 0.1f}).repeat({4, 1}), torch::tensor({0.6f, 0.4f}).repeat({4, 1})});
    const auto mixed_y = longs({0, 0, 0, 0, 0, 0, 1, 1});
    QVERIFY(std::abs(expectedCalibrationError(mixed, mixed_y) - 0.1) < 1e-6);
    // One bin takes everything: |0.75 - 0.75| = 0.
    QVERIFY(std::abs(expectedCalibrationError(mixed, mixed_y, 1) - 0.0) < 1e-6);
    // The report carries the same figure.
    const auto r = classificationReport(mixed.argmax(1), mixed_y, 2, mixed);
    QVERIFY(std::abs(r.expected_calibration_error - 0.1) < 1e-6);
    QCOMPARE(r.top1, 6.0 / 8.0);
  }

  void linearProbeSeparable() {
    torch::manual_seed(11);
    const auto [train_x, train_y] = blobs(400);
    const auto [test_x, test_y] = blobs(200);
    const LinearProbeOptions options;
    const auto r = linearProbe(train_x, train_y, test_x, test_y, 4, options);
    qInfo("linear probe: test top1 %.4f, validation top1 %.4f, weight decay %g, ECE %.4f", r.report.top1,
          r.validation_top1, r.chosen_weight_decay, r.report.expected_calibration_error);
    QVERIFY2(r.report.top1 > 0.97, qPrintable(QString::number(r.report.top1)));
    QVERIFY(std::find(options.weight_decays.begin(), options.weight_decays.end(), r.chosen_weight_decay) !=
            options.weight_decays.end());
    QVERIFY(r.validation_top1 > 0.9 && r.validation_top1 <= 1.0);
    QCOMPARE(r.test_probabilities.sizes().vec(), (std::vector<int64_t>{200, 4}));
    QVERIFY((r.test_probabilities.sum(1) - 1).abs().max().item<float>() < 1e-5f);
    QVERIFY(r.report.expected_calibration_error >= 0 && r.report.expected_calibration_error < 0.1);
    QCOMPARE(r.report.confusion.sum().item<int64_t>(), int64_t(200));

    // Same seed, same result: the split and the fit are deterministic.
    const auto again = linearProbe(train_x, train_y, test_x, test_y, 4, options);
    QCOMPARE(again.chosen_weight_decay, r.chosen_weight_decay);
    QCOMPARE(again.report.top1, r.report.top1);

    // One candidate: it is the one used.
    LinearProbeOptions single;
    single.weight_decays = {1e-3};
    QCOMPARE(linearProbe(train_x, train_y, test_x, test_y, 4, single).chosen_weight_decay, 1e-3);
  }

  void linearProbeRandomLabels() {
    torch::manual_seed(12);
    const auto [train_x, ignored_train] = blobs(400);
    const auto [test_x, ignored_test] = blobs(200);
    const auto train_y = torch::randint(0, 4, {400}, torch::kLong);
    const auto test_y = torch::randint(0, 4, {200}, torch::kLong);
    const auto r = linearProbe(train_x, train_y, test_x, test_y, 4, LinearProbeOptions{});
    qInfo("linear probe on random labels: test top1 %.4f", r.report.top1);
    QVERIFY2(r.report.top1 < 0.4, qPrintable(QString::number(r.report.top1)));
    QVERIFY((r.test_probabilities.sum(1) - 1).abs().max().item<float>() < 1e-5f);
  }

  void balancedSubsets() {
    const auto labels = torch::arange(1000, torch::kLong).remainder(10);
    const auto a = balancedSubset(labels, 10, 0.1, 3);
    QCOMPARE(a.numel(), int64_t(100));
    QCOMPARE(a.scalar_type(), torch::kLong);
    QVERIFY(torch::equal(torch::bincount(labels.index_select(0, a), {}, 10), torch::full({10}, 10, torch::kLong)));
    QCOMPARE(std::get<0>(torch::_unique(a)).numel(), int64_t(100));
    QVERIFY(torch::equal(a, balancedSubset(labels, 10, 0.1, 3)));
    QVERIFY(!torch::equal(a, balancedSubset(labels, 10, 0.1, 4)));
    // With one seed, the 1% subset lies inside the 10% one.
    const auto small = balancedSubset(labels, 10, 0.01, 3);
    QCOMPARE(small.numel(), int64_t(10));
    QVERIFY(torch::isin(small, a).all().item<bool>());
    QCOMPARE(balancedSubset(labels, 10, 1.0, 3).numel(), int64_t(1000));

    // A class of 3 at 1% still gets one member; an empty class gets none.
    const auto skewed = torch::cat({torch::zeros({500}, torch::kLong), torch::ones({3}, torch::kLong)});
    const auto s = balancedSubset(skewed, 3, 0.01, 0);
    const auto counts = torch::bincount(skewed.index_select(0, s), {}, 3);
    QCOMPARE(counts[0].item<int64_t>(), int64_t(5));
    QCOMPARE(counts[1].item<int64_t>(), int64_t(1));
    QCOMPARE(counts[2].item<int64_t>(), int64_t(0));
  }

  void nearestNeighbourQueries() {
    torch::manual_seed(13);
    auto bank = unitRows(torch::randn({70000, 128}));
    bank[4567] = nearCopy(bank[123]);
    const auto n = nearestNeighbours(bank, bank[123], 10, 123);
    QCOMPARE(n.indices.size(), size_t(10));
    QCOMPARE(n.similarities.size(), size_t(10));
    QCOMPARE(n.indices[0], int64_t(4567));
    QVERIFY(n.similarities[0] > 0.99f);
    QVERIFY(std::find(n.indices.begin(), n.indices.end(), int64_t(123)) == n.indices.end());
    for (size_t i = 1; i < n.similarities.size(); ++i) QVERIFY(n.similarities[i] <= n.similarities[i - 1]);
    // Without the exclusion the query finds itself first; [1, D] queries work too.
    const auto self = nearestNeighbours(bank, bank[123].unsqueeze(0), 2);
    QCOMPARE(self.indices[0], int64_t(123));
    QVERIFY(std::abs(self.similarities[0] - 1.f) < 1e-5f);
    QCOMPARE(self.indices[1], int64_t(4567));
    // k beyond the bank returns every other row.
    const auto tiny = unitRows(torch::randn({3, 4}));
    QCOMPARE(nearestNeighbours(tiny, tiny[0], 10, 0).indices.size(), size_t(2));

    // Interactive speed: median of 20 queries over 70,000 x 128.
    nearestNeighbours(bank, bank[0], 10, 0);  // warm-up
    std::vector<double> ms;
    for (int64_t q = 0; q < 20; ++q) {
      QElapsedTimer timer;
      timer.start();
      const auto r = nearestNeighbours(bank, bank[q * 997], 10, q * 997);
      ms.push_back(static_cast<double>(timer.nsecsElapsed()) / 1e6);
      QCOMPARE(r.indices.size(), size_t(10));
    }
    std::sort(ms.begin(), ms.end());
    const double median = (ms[9] + ms[10]) / 2;
    qInfo("nearestNeighbours over 70000 x 128: median %.2f ms (min %.2f, max %.2f) over 20 queries", median, ms.front(),
          ms.back());
    QVERIFY2(median < 50.0, qPrintable(QString("median %1 ms").arg(median)));
  }

  void duplicatesPlanted() {
    torch::manual_seed(14);
    const auto base = unitRows(torch::randn({500, 64}));
    const std::vector<int64_t> sources = {0, 17, 99, 250, 251, 420, 499};
    std::vector<torch::Tensor> copies;
    for (int64_t s : sources) copies.push_back(nearCopy(base[s]));
    const auto x = torch::cat({base, torch::stack(copies)});
    const auto r = findDuplicates(x, 0.99);
    QCOMPARE(r.total_pairs, int64_t(7));
    QCOMPARE(r.pairs.size(), size_t(7));
    QCOMPARE(r.images_involved, int64_t(14));
    QCOMPARE(r.threshold, 0.99);
    std::set<std::pair<int64_t, int64_t>> want;
    for (size_t k = 0; k < sources.size(); ++k) want.insert({sources[k], 500 + static_cast<int64_t>(k)});
    QVERIFY(pairSet(r) == want);
    for (size_t i = 1; i < r.pairs.size(); ++i) QVERIFY(r.pairs[i].similarity <= r.pairs[i - 1].similarity);
    for (const auto& p : r.pairs) QVERIFY(p.a < p.b && p.similarity >= 0.99f);

    const auto distinct = findDuplicates(base, 0.99);
    QCOMPARE(distinct.total_pairs, int64_t(0));
    QCOMPARE(distinct.images_involved, int64_t(0));
    QVERIFY(distinct.pairs.empty());

    // Exact copies reach threshold 1 despite float rounding; scale does not matter.
    auto exact = base.slice(0, 0, 10).clone();
    exact[7] = exact[2] * 3.0;
    const auto ones = findDuplicates(exact, 1.0);
    QCOMPARE(ones.total_pairs, int64_t(1));
    QCOMPARE(ones.pairs[0].a, int64_t(2));
    QCOMPARE(ones.pairs[0].b, int64_t(7));
  }

  void duplicatesAcrossBlocks() {
    torch::manual_seed(15);
    const int64_t n = 2 * kDuplicateBlockRows + 452;  // three blocks, the last one partial
    auto x = unitRows(torch::randn({n, 64}));
    // Within the first block, within the diagonal of the last, and across every block pair.
    const std::vector<std::pair<int64_t, int64_t>> planted = {
        {10, 11}, {5, n - 1}, {1030, 2100}, {1000, 1500}, {2050, 2051}, {1023, 1024}};
    for (const auto& [a, b] : planted) x[b] = nearCopy(x[a]);
    const auto r = findDuplicates(x, 0.99);
    QCOMPARE(r.total_pairs, int64_t(planted.size()));
    const std::set<std::pair<int64_t, int64_t>> want(planted.begin(), planted.end());
    QVERIFY(pairSet(r) == want);
    QCOMPARE(r.images_involved, int64_t(2 * planted.size()));

    // Capped: the count stays the total, the kept pairs are the most similar ones.
    const auto capped = findDuplicates(x, 0.99, 2);
    QCOMPARE(capped.total_pairs, int64_t(planted.size()));
    QCOMPARE(capped.pairs.size(), size_t(2));
    QCOMPARE(capped.pairs[0].a, r.pairs[0].a);
    QCOMPARE(capped.pairs[0].b, r.pairs[0].b);
    QCOMPARE(capped.pairs[1].a, r.pairs[1].a);
    QCOMPARE(capped.images_involved, r.images_involved);
    const auto counted = findDuplicates(x, 0.99, 0);
    QVERIFY(counted.pairs.empty());
    QCOMPARE(counted.total_pairs, int64_t(planted.size()));
  }

  void leaksPlanted() {
    torch::manual_seed(16);
    const auto train = unitRows(torch::randn({kDuplicateBlockRows + 476, 64}));
    auto test = unitRows(torch::randn({300, 64}));
    const std::vector<std::pair<int64_t, int64_t>> planted = {{3, 7}, {1200, 150}, {777, 299}};
    for (const auto& [a, b] : planted) test[b] = nearCopy(train[a]);
    const auto r = findLeaks(train, test, 0.99);
    QCOMPARE(r.total_pairs, int64_t(3));
    const std::set<std::pair<int64_t, int64_t>> want(planted.begin(), planted.end());
    QVERIFY(pairSet(r) == want);
    QCOMPARE(r.images_involved, int64_t(6));
    QCOMPARE(findLeaks(train, unitRows(torch::randn({300, 64})), 0.99).total_pairs, int64_t(0));
  }

  void projectorExport() {
    const auto dir = scratchDir("projector");
    const auto folder = dir + "/out";  // created by the export
    torch::manual_seed(17);
    auto embeddings = torch::randn({20, 5});
    embeddings[0][0] = 1e-8f;
    embeddings[0][1] = 12345.678f;
    embeddings[0][2] = -3.4e30f;
    const auto labels = torch::arange(20, torch::kLong).remainder(3);
    const std::vector<std::string> classes = {"t-shirt", "trou\tser", "bag\nstrap"};
    const auto files = exportProjectorTsv(folder, embeddings, labels, classes, "simclr epoch 10", "sprite.png", 28);
    QCOMPARE(files.size(), size_t(4));
    for (const auto& f : files) QVERIFY2(std::filesystem::exists(f), f.c_str());
    // Atomic writes leave nothing else behind.
    QCOMPARE(static_cast<size_t>(std::distance(std::filesystem::directory_iterator(folder),
                                               std::filesystem::directory_iterator())),
             size_t(4));

    const auto rows = split(readTextFile(folder + "/tensors.tsv"), '\n');
    QCOMPARE(rows.size(), size_t(20));
    for (int64_t i = 0; i < 20; ++i) {
      const auto fields = split(rows[i], '\t');
      QCOMPARE(fields.size(), size_t(5));
      for (int64_t j = 0; j < 5; ++j) {
        bool ok = false;
        const double got = QByteArray::fromStdString(fields[j]).toDouble(&ok);
        QVERIFY2(ok, fields[j].c_str());
        const double want = embeddings[i][j].item<float>();
        QVERIFY2(std::abs(got - want) <= 1e-6 * std::abs(want), qPrintable(QString("%1 vs %2").arg(got).arg(want)));
      }
    }

    const auto metadata = split(readTextFile(folder + "/metadata.tsv"), '\n');
    QCOMPARE(metadata.size(), size_t(21));
    QCOMPARE(metadata[0], std::string("index\tlabel\tclass"));
    QCOMPARE(metadata[1], std::string("0\t0\tt-shirt"));
    QCOMPARE(metadata[2], std::string("1\t1\ttrou ser"));
    QCOMPARE(metadata[3], std::string("2\t2\tbag strap"));
    for (size_t i = 1; i < metadata.size(); ++i) QCOMPARE(split(metadata[i], '\t').size(), size_t(3));

    const auto config = nlohmann::json::parse(readTextFile(folder + "/projector_config.json"));
    QCOMPARE(config["embeddings"].size(), size_t(1));
    const auto& e = config["embeddings"][0];
    QCOMPARE(e["tensorName"].get<std::string>(), std::string("simclr epoch 10"));
    QCOMPARE(e["tensorShape"].get<std::vector<int64_t>>(), (std::vector<int64_t>{20, 5}));
    QCOMPARE(e["tensorPath"].get<std::string>(), std::string("tensors.tsv"));
    QCOMPARE(e["metadataPath"].get<std::string>(), std::string("metadata.tsv"));
    QCOMPARE(e["sprite"]["imagePath"].get<std::string>(), std::string("sprite.png"));
    QCOMPARE(e["sprite"]["singleImageDim"].get<std::vector<int64_t>>(), (std::vector<int64_t>{28, 28}));
    // TensorBoard's projector plugin reads the protobuf text format from the log folder.
    QCOMPARE(readTextFile(folder + "/projector_config.pbtxt"),
             std::string("embeddings {\n  tensor_name: \"simclr epoch 10\"\n  tensor_path: \"tensors.tsv\"\n"
                         "  metadata_path: \"metadata.tsv\"\n  sprite {\n    image_path: \"sprite.png\"\n"
                         "    single_image_dim: 28\n    single_image_dim: 28\n  }\n}\n"));

    // Into an existing folder, without labels or sprite: rewritten in place.
    exportProjectorTsv(folder, embeddings.slice(0, 0, 4), {}, {}, "raw");
    const auto plain = nlohmann::json::parse(readTextFile(folder + "/projector_config.json"));
    QVERIFY(!plain["embeddings"][0].contains("sprite"));
    QVERIFY(!contains(readTextFile(folder + "/projector_config.pbtxt"), "sprite"));
    QCOMPARE(split(readTextFile(folder + "/tensors.tsv"), '\n').size(), size_t(4));
    QCOMPARE(split(readTextFile(folder + "/metadata.tsv"), '\n')[1], std::string("0\t-1\t"));
  }

  void spriteLayout() {
    // Image i is filled with 10 * (i + 1) + channel.
    const int64_t count = 5, cell = 4;
    auto images = torch::empty({count, 3, cell, cell}, torch::kByte);
    for (int64_t i = 0; i < count; ++i)
      for (int64_t c = 0; c < 3; ++c) images[i][c].fill_(10 * (i + 1) + c);
    const auto canvas = spriteCanvas(images, cell);
    QCOMPARE(canvas.scalar_type(), torch::kByte);
    QCOMPARE(canvas.sizes().vec(), (std::vector<int64_t>{12, 12, 3}));  // 3 x 3 cells
    // Image 4: grid row 4 / 3 = 1, column 4 % 3 = 1.
    QCOMPARE(canvas[1 * cell + 2][1 * cell + 3][1].item<int64_t>(), int64_t(51));
    // Image 2: grid row 0, column 2.
    QCOMPARE(canvas[1][2 * cell + 0][0].item<int64_t>(), int64_t(30));
    QCOMPARE(canvas[0][0][2].item<int64_t>(), int64_t(12));  // image 0
    QCOMPARE(canvas[2 * cell + 1][2 * cell + 1][0].item<int64_t>(), int64_t(0));  // unused cell
    QCOMPARE(spriteCanvas(images.slice(0, 0, 4), cell).size(0), 2 * cell);
    QCOMPARE(spriteCanvas(images.slice(0, 0, 1), cell).size(0), cell);
    // Images of another size are resized into the cells; flat tiles stay flat.
    const auto big = images.repeat_interleave(2, 2).repeat_interleave(2, 3);
    const auto resized = spriteCanvas(big, cell);
    QCOMPARE(resized.sizes().vec(), (std::vector<int64_t>{12, 12, 3}));
    QCOMPARE(resized[1 * cell + 2][1 * cell + 3][1].item<int64_t>(), int64_t(51));
  }

  void csvExports() {
    const auto dir = scratchDir("csv");
    writeCsv(dir + "/table.csv", {"name", "note", "value"},
             {{"a,b", "say \"hi\"", "1"}, {"plain", "line\nbreak", "2.5"}});
    QCOMPARE(readTextFile(dir + "/table.csv"),
             std::string("name,note,value\n\"a,b\",\"say \"\"hi\"\"\",1\nplain,\"line\nbreak\",2.5\n"));

    const auto layout = torch::tensor({0.5f, -1.25f, 3.f, 1e-3f}).view({2, 2});
    exportLayoutCsv(dir + "/layout.csv", layout, longs({4, -1}));
    QCOMPARE(readTextFile(dir + "/layout.csv"), std::string("index,x,y,label\n0,0.5,-1.25,4\n1,3,0.001,-1\n"));
    exportLayoutCsv(dir + "/unlabelled.csv", layout, {});
    QCOMPARE(readTextFile(dir + "/unlabelled.csv"), std::string("index,x,y,label\n0,0.5,-1.25,-1\n1,3,0.001,-1\n"));
  }

  // The health numbers on embeddings whose answers are known in closed form.
  void embeddingHealthOnKnownCases() {
    torch::manual_seed(5);
    // Isotropic Gaussian rows, N = 4000, d = 64: on the sphere every coordinate has variance
    // 1/d, so spread = std * sqrt(d) -> 1 (sampling error ~ 1/sqrt(2N) per dimension, far under
    // the 0.03 allowed); the singular values are sqrt(N/d) (1 +- sqrt(d/N)), nearly flat, so
    // RankMe is close to d; and with cos(x, y) ~ N(0, 1/d), E exp(-2 |x - y|^2) =
    // e^-4 E e^(4 cos) ~ e^(-4 + 8/d), so uniformity ~ -4 + 8/d (0.02: higher moments, sampling).
    const auto gauss = torch::randn({4000, 64}, torch::kDouble);
    const EmbeddingHealth g = measureEmbeddingHealth(gauss);
    QCOMPARE(g.rows, int64_t(4000));
    QCOMPARE(g.dims, int64_t(64));
    QVERIFY2(std::abs(g.spread - 1.0) < 0.03, qPrintable(QString::number(g.spread)));
    QVERIFY2(std::abs(g.std - 1.0 / 8.0) < 0.03 / 8.0, qPrintable(QString::number(g.std)));
    QVERIFY2(g.effective_rank > 60 && g.effective_rank <= 64, qPrintable(QString::number(g.effective_rank)));
    // Uniformity on the first 2048 rows (max_rows).
    QVERIFY2(std::abs(g.uniformity - (-4.0 + 8.0 / 64)) < 0.02, qPrintable(QString::number(g.uniformity)));
    QVERIFY(std::isnan(g.alignment));  // no views given
    QVERIFY(!g.collapsing());

    // Rows on k = 5 orthogonal directions, each equally often: 5 equal singular values, so
    // RankMe = exp(log 5) = 5 up to the paper's 1e-7 per value (d of them: < 1e-4 here).
    const auto eye = torch::eye(16, torch::kDouble).slice(0, 0, 5);
    const auto five = eye.repeat({40, 1}).mul(3.0);  // scale does not matter
    const EmbeddingHealth f = measureEmbeddingHealth(five);
    QVERIFY2(std::abs(f.effective_rank - 5.0) < 1e-3, qPrintable(QString::number(f.effective_rank)));
    QVERIFY(!f.collapsing());

    // Every image on one point: spread 0, rank 1, uniformity log e^0 = 0. Collapse.
    const auto point = torch::ones({300, 32}, torch::kDouble);
    const EmbeddingHealth p = measureEmbeddingHealth(point);
    QVERIFY(p.spread < 1e-9);
    QVERIFY2(std::abs(p.effective_rank - 1.0) < 1e-3, qPrintable(QString::number(p.effective_rank)));
    QVERIFY(std::abs(p.uniformity) < 1e-12);
    QVERIFY(p.collapsing());

    // A line through the origin (+v and -v): the spread stays high (each coordinate flips
    // sign), but the rank says 1: the rank catches what the spread misses.
    const auto v = torch::randn({1, 32}, torch::kDouble);
    const auto signs = torch::randint(0, 2, {500, 1}, torch::kDouble).mul(2).sub(1);
    const EmbeddingHealth line = measureEmbeddingHealth(signs * v);
    QVERIFY(line.spread > 0.5);
    QVERIFY(line.effective_rank < 1.01);
    QVERIFY(line.collapsing());

    // Alignment: identical views 0; antipodal views |x - (-x)|^2 = 4; orthogonal views 2.
    const auto a = unitRows(torch::randn({50, 8}, torch::kDouble));
    QVERIFY(measureEmbeddingHealth(a, a, a).alignment < 1e-12);
    QVERIFY(std::abs(measureEmbeddingHealth(a, a, -a).alignment - 4.0) < 1e-12);
    const auto e0 = torch::eye(8, torch::kDouble).slice(0, 0, 1).repeat({10, 1});
    const auto e1 = torch::eye(8, torch::kDouble).slice(0, 1, 2).repeat({10, 1});
    QVERIFY(std::abs(measureEmbeddingHealth(a, e0, e1).alignment - 2.0) < 1e-12);

    // Values for metrics.jsonl, named; nothing for an empty or one-row input.
    std::vector<std::pair<std::string, double>> values;
    p.appendTo(values);
    std::set<std::string> names;
    for (const auto& nv : values) names.insert(nv.first);
    QVERIFY((names == std::set<std::string>{"embedding_std", "embedding_spread", "effective_rank", "embedding_dims",
                                            "collapsing", "uniformity"}));
    QCOMPARE(values[4].second, 1.0);  // collapsing
    QVERIFY(!measureEmbeddingHealth(torch::ones({1, 4})).measured());
    QVERIFY(!measureEmbeddingHealth(torch::Tensor()).measured());
    values.clear();
    measureEmbeddingHealth(torch::Tensor()).appendTo(values);
    QVERIFY(values.empty());
  }

  // The warning says what is happening and the method's own advice; none while healthy.
  void collapseWarningNamesTheFix() {
    const EmbeddingHealth collapsed = measureEmbeddingHealth(torch::ones({100, 16}));
    const std::string w = collapseWarning(collapsed, "BYOL", "A higher target momentum usually fixes it.");
    QVERIFY2(contains(w, "BYOL embeddings are collapsing") && contains(w, "spread 0.000") &&
                 contains(w, "effective rank 1.0 of 16") && contains(w, "A higher target momentum usually fixes it."),
             w.c_str());
    QVERIFY(contains(collapseWarning(collapsed, "X", ""), "lower learning rate"));
    QVERIFY(collapseWarning(measureEmbeddingHealth(torch::randn({500, 16})), "BYOL", "hint").empty());
  }

  void badInput() {
    const auto x = unitRows(torch::randn({10, 8}));
    const auto y = torch::arange(10, torch::kLong).remainder(2);
    QVERIFY(contains(expectError([&] { findDuplicates(x, 0.0); }), "threshold"));
    QVERIFY(contains(expectError([&] { findDuplicates(x, 1.5); }), "threshold"));
    QVERIFY(contains(expectError([&] { findLeaks(x, torch::randn({4, 7}), 0.9); }), "test"));
    QVERIFY(contains(expectError([&] { findDuplicates(x, 0.9, -1); }), "max_pairs"));
    QVERIFY(contains(expectError([&] { nearestNeighbours(x, x[0], 0); }), "k:"));
    QVERIFY(contains(expectError([&] { nearestNeighbours(x, torch::randn({7}), 3); }), "query"));
    QVERIFY(contains(expectError([&] { nearestNeighbours(x, x[0], 3, 10); }), "exclude_index"));
    QVERIFY(contains(expectError([&] { classificationReport(y.slice(0, 0, 9), y, 2); }), "labels"));
    QVERIFY(contains(expectError([&] { classificationReport(y + 1, y, 2); }), "predictions"));
    QVERIFY(contains(expectError([&] { classificationReport(y, y, 2, torch::full({10, 3}, 0.5)); }), "probabilities"));
    QVERIFY(contains(expectError([&] { expectedCalibrationError(torch::full({10, 2}, 1.5), y); }), "probabilities"));
    QVERIFY(contains(expectError([&] { expectedCalibrationError(torch::full({10, 2}, 0.5), y, 0); }), "bins"));
    QVERIFY(contains(expectError([&] { linearProbe(x, y.slice(0, 0, 9), x, y, 2, {}); }), "train_y"));
    QVERIFY(contains(expectError([&] { linearProbe(x, y, torch::randn({4, 7}), y.slice(0, 0, 4), 2, {}); }), "test_x"));
    QVERIFY(contains(expectError([&] { linearProbe(x, y.to(torch::kFloat32), x, y, 2, {}); }), "train_y"));
    LinearProbeOptions none;
    none.weight_decays.clear();
    QVERIFY(contains(expectError([&] { linearProbe(x, y, x, y, 2, none); }), "weight_decays"));
    LinearProbeOptions all_held;
    all_held.validation_fraction = 1.0;
    QVERIFY(contains(expectError([&] { linearProbe(x, y, x, y, 2, all_held); }), "validation_fraction"));
    QVERIFY(contains(expectError([&] { balancedSubset(y, 2, 0.0, 0); }), "fraction"));
    QVERIFY(contains(expectError([&] { balancedSubset(y, 2, 1.5, 0); }), "fraction"));
    QVERIFY(contains(expectError([&] { balancedSubset(y + 5, 2, 0.5, 0); }), "labels"));

    const auto dir = scratchDir("bad_exports");
    QVERIFY(contains(expectError([&] { exportProjectorTsv(dir, x, y.slice(0, 0, 3), {}, "t"); }), "labels"));
    QVERIFY(contains(expectError([&] { exportProjectorTsv(dir, x, y, {"only one"}, "t"); }), "class_names"));
    QVERIFY(contains(expectError([&] { exportProjectorTsv(dir, x, y, {}, "t", "sprite.png"); }), "sprite_cell"));
    QVERIFY(contains(expectError([&] { exportProjectorTsv(dir, x, y, {}, ""); }), "tensor_name"));
    QVERIFY(contains(expectError([&] { spriteCanvas(torch::zeros({2, 3, 4, 4}), 4); }), "images_uint8_nchw"));
    QVERIFY(contains(expectError([&] { spriteCanvas(torch::zeros({2, 3, 4, 4}, torch::kByte), 0); }), "cell"));
    QVERIFY(contains(expectError([&] { exportLayoutCsv(dir + "/l.csv", torch::zeros({3, 3}), {}); }), "layout"));
    QVERIFY(contains(expectError([&] { writeCsv(dir + "/t.csv", {"a", "b"}, {{"1"}}); }), "rows[0]"));
  }
};

QTEST_MAIN(TestEvaluation)
#include "test_evaluation.moc"
