// Dataset readers on files the tests write: IDX (raw and gzip), CIFAR binary, packed;
// every malformed-file case; and the built-in Fashion-MNIST.
#include <QtTest/QtTest>

#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "core/data/dataset.h"
#include "core/data/packed_dataset.h"
#include "tests/test_support.h"

using namespace studio;
using studio::test::contains;
using studio::test::expectError;

namespace {

void writeBytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

void putBigEndian(std::vector<uint8_t>& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
}

// n images of rows x cols with pixel (i, r, c) = (7*i + 3*r + c) % 256; label i % 10.
void writeIdxPair(const std::string& dir, const std::string& prefix, uint32_t n, uint32_t rows, uint32_t cols) {
  std::vector<uint8_t> img = {0, 0, 8, 3};
  putBigEndian(img, n);
  putBigEndian(img, rows);
  putBigEndian(img, cols);
  for (uint32_t i = 0; i < n; ++i)
    for (uint32_t r = 0; r < rows; ++r)
      for (uint32_t c = 0; c < cols; ++c) img.push_back(static_cast<uint8_t>((7 * i + 3 * r + c) % 256));
  writeBytes(dir + "/" + prefix + "-images-idx3-ubyte", img);
  std::vector<uint8_t> lab = {0, 0, 8, 1};
  putBigEndian(lab, n);
  for (uint32_t i = 0; i < n; ++i) lab.push_back(static_cast<uint8_t>(i % 10));
  writeBytes(dir + "/" + prefix + "-labels-idx1-ubyte", lab);
}

std::vector<uint8_t> readBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void gzipFile(const std::string& path) {
  QCOMPARE(QProcess::execute("gzip", {"-f", QString::fromStdString(path)}), 0);
}

// CIFAR record: label byte(s) then 3072 pixels, pixel value = (label + k) % 256.
std::vector<uint8_t> cifarRecords(const std::vector<int>& labels, int label_bytes) {
  std::vector<uint8_t> b;
  for (int l : labels) {
    if (label_bytes == 2) b.push_back(static_cast<uint8_t>(l / 10));  // coarse
    b.push_back(static_cast<uint8_t>(l));
    for (int k = 0; k < 3072; ++k) b.push_back(static_cast<uint8_t>((l + k) % 256));
  }
  return b;
}

}  // namespace

class TestDatasets : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void idxRaw() {
    const std::string dir = test::scratchDir("idx_raw");
    writeIdxPair(dir, "train", 5, 4, 3);
    const Dataset d = readIdxDataset(dir + "/train-images-idx3-ubyte", dir + "/train-labels-idx1-ubyte");
    QCOMPARE(d.images.sizes().vec(), (std::vector<int64_t>{5, 1, 4, 3}));
    QCOMPARE(d.images.scalar_type(), torch::kUInt8);
    for (int i = 0; i < 5; ++i)
      for (int r = 0; r < 4; ++r)
        for (int c = 0; c < 3; ++c) QCOMPARE(d.images[i][0][r][c].item<int>(), (7 * i + 3 * r + c) % 256);
    QCOMPARE(d.labels[3].item<int64_t>(), int64_t(3));
  }

  void idxGzipAndLoader() {
    const std::string dir = test::scratchDir("idx_gz");
    writeIdxPair(dir, "train", 12, 6, 6);
    writeIdxPair(dir, "t10k", 4, 6, 6);
    for (const char* f : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte"})
      gzipFile(dir + "/" + f);  // t10k labels stay raw: both forms in one folder
    DatasetConfig config;
    config.kind = DatasetKind::Mnist;
    config.path = dir;
    const auto splits = loadDataset(config, 0);
    QCOMPARE(splits.train.size(), int64_t(12));
    QCOMPARE(splits.eval.size(), int64_t(4));
    QCOMPARE(splits.train.numClasses(), int64_t(10));
    QCOMPARE(splits.train.images[11][0][5][5].item<int>(), (7 * 11 + 15 + 5) % 256);
    config.train_limit = 5;
    QCOMPARE(loadDataset(config, 0).train.size(), int64_t(5));
  }

  void idxBadInput() {
    const std::string dir = test::scratchDir("idx_bad");
    writeIdxPair(dir, "train", 5, 4, 3);
    const std::string img = dir + "/train-images-idx3-ubyte", lab = dir + "/train-labels-idx1-ubyte";
    auto bytes = readBytes(img);

    writeBytes(dir + "/cut", std::vector<uint8_t>(bytes.begin(), bytes.end() - 7));
    auto m = expectError([&] { readIdxDataset(dir + "/cut", lab); });
    QVERIFY2(contains(m, dir + "/cut") && contains(m, "truncated"), m.c_str());

    auto wrong = bytes;
    wrong[2] = 0x0D;  // float data
    writeBytes(dir + "/magic", wrong);
    m = expectError([&] { readIdxDataset(dir + "/magic", lab); });
    QVERIFY2(contains(m, "wrong magic"), m.c_str());

    m = expectError([&] { readIdxDataset(lab, lab); });
    QVERIFY2(contains(m, "has 1 dimensions, expected 3"), m.c_str());

    writeIdxPair(dir, "other", 6, 4, 3);
    m = expectError([&] { readIdxDataset(img, dir + "/other-labels-idx1-ubyte"); });
    QVERIFY2(contains(m, "6 labels") && contains(m, "5 images"), m.c_str());

    writeBytes(dir + "/padded", [&] { auto b = bytes; b.push_back(1); return b; }());
    m = expectError([&] { readIdxDataset(dir + "/padded", lab); });
    QVERIFY2(contains(m, "unexpected bytes"), m.c_str());

    writeBytes(dir + "/empty", {});
    m = expectError([&] { readIdxDataset(dir + "/empty", lab); });
    QVERIFY2(contains(m, "too short"), m.c_str());

    m = expectError([&] { readIdxDataset(dir + "/nope", lab); });
    QVERIFY2(contains(m, dir + "/nope: file not found"), m.c_str());

    // A gzip stream cut in the middle.
    writeBytes(dir + "/whole", bytes);
    gzipFile(dir + "/whole");
    auto gz = readBytes(dir + "/whole.gz");
    writeBytes(dir + "/torn.gz", std::vector<uint8_t>(gz.begin(), gz.begin() + gz.size() / 2));
    m = expectError([&] { readIdxDataset(dir + "/torn.gz", lab); });
    QVERIFY2(contains(m, dir + "/torn.gz"), m.c_str());

    DatasetConfig config;
    config.kind = DatasetKind::FashionMnist;
    config.path = dir + "/no-such-folder";
    m = expectError([&] { loadDataset(config, 0); });
    QVERIFY2(contains(m, "no-such-folder: dataset folder not found"), m.c_str());
  }

  void cifar10() {
    const std::string dir = test::scratchDir("cifar10");
    for (int i = 1; i <= 5; ++i) writeBytes(dir + "/data_batch_" + std::to_string(i) + ".bin", cifarRecords({i, 9 - i}, 1));
    writeBytes(dir + "/test_batch.bin", cifarRecords({0, 1, 2}, 1));
    DatasetConfig config;
    config.kind = DatasetKind::Cifar10;
    config.path = dir;
    const auto s = loadDataset(config, 0);
    QCOMPARE(s.train.images.sizes().vec(), (std::vector<int64_t>{10, 3, 32, 32}));
    QCOMPARE(s.eval.size(), int64_t(3));
    QCOMPARE(s.train.labels[2].item<int64_t>(), int64_t(2));  // batch 2, first record
    QCOMPARE(s.train.labels[3].item<int64_t>(), int64_t(7));
    // Channel-major planes: pixel k of the record is channel k/1024, row (k%1024)/32.
    QCOMPARE(s.train.images[0][1][0][5].item<int>(), (1 + 1024 + 5) % 256);
    QCOMPARE(QString::fromStdString(s.train.class_names[3]), QString("cat"));
  }

  void cifar100UsesFineLabels() {
    const std::string dir = test::scratchDir("cifar100");
    writeBytes(dir + "/train.bin", cifarRecords({42, 99, 7}, 2));
    writeBytes(dir + "/test.bin", cifarRecords({5}, 2));
    DatasetConfig config;
    config.kind = DatasetKind::Cifar100;
    config.path = dir;
    const auto s = loadDataset(config, 0);
    QCOMPARE(s.train.labels[0].item<int64_t>(), int64_t(42));
    QCOMPARE(s.train.labels[1].item<int64_t>(), int64_t(99));
    QCOMPARE(s.train.numClasses(), int64_t(100));
  }

  void cifarBadInput() {
    const std::string dir = test::scratchDir("cifar_bad");
    auto rec = cifarRecords({1, 2}, 1);
    writeBytes(dir + "/cut.bin", std::vector<uint8_t>(rec.begin(), rec.end() - 100));
    auto m = expectError([&] { readCifarBinary({dir + "/cut.bin"}, 1); });
    QVERIFY2(contains(m, "not a multiple") && contains(m, "cut.bin"), m.c_str());
    writeBytes(dir + "/label.bin", cifarRecords({12}, 1));
    m = expectError([&] { readCifarBinary({dir + "/label.bin"}, 1); });
    QVERIFY2(contains(m, "label 12"), m.c_str());
    DatasetConfig config;
    config.kind = DatasetKind::Cifar10;
    config.path = dir;  // no data_batch_1.bin
    m = expectError([&] { loadDataset(config, 0); });
    QVERIFY2(contains(m, "data_batch_1.bin: file not found"), m.c_str());
  }

  void packedSplitsDeterministically() {
    const std::string dir = test::scratchDir("packed");
    PackedDataset p;
    p.count = 50;
    p.channels = 3;
    p.height = 4;
    p.width = 4;
    for (int i = 0; i < 50; ++i) {
      for (int k = 0; k < 48; ++k) p.pixels.push_back(static_cast<uint8_t>(i));
      p.labels.push_back(i % 5);
    }
    p.class_names = {"a", "b", "c", "d", "e"};
    writePackedDataset(dir + "/set.csds", p);
    DatasetConfig config;
    config.kind = DatasetKind::Packed;
    config.path = dir + "/set.csds";
    config.holdout_fraction = 0.2;
    const auto s1 = loadDataset(config, 3), s2 = loadDataset(config, 3);
    QCOMPARE(s1.train.size(), int64_t(40));
    QCOMPARE(s1.eval.size(), int64_t(10));
    QVERIFY(torch::equal(s1.eval.images, s2.eval.images));
    // Every image is in exactly one split, with its own label.
    std::set<int> seen;
    for (const Dataset* d : {&s1.train, &s1.eval})
      for (int64_t i = 0; i < d->size(); ++i) {
        const int id = d->images[i][0][0][0].item<int>();
        QVERIFY(seen.insert(id).second);
        QCOMPARE(d->labels[i].item<int64_t>(), int64_t(id % 5));
      }
    QCOMPARE(seen.size(), size_t(50));
  }

  void channelStatistics() {
    Dataset d;
    d.images = torch::zeros({2, 2, 2, 2}, torch::kUInt8);
    d.images.select(1, 0).fill_(255);  // channel 0 all ones, channel 1 all zeros
    d.images[1][1].fill_(255);         // channel 1: half ones
    std::vector<double> mean, std;
    channelStats(d, mean, std);
    QCOMPARE(mean.size(), size_t(2));
    QVERIFY(std::abs(mean[0] - 1.0) < 1e-9);
    QVERIFY(std::abs(mean[1] - 0.5) < 1e-9);
    QVERIFY(std[0] >= 1e-3);  // clamped, never zero
  }

  void builtinFashionMnist() {
    // ./studio setup installs Debian's dataset-fashion-mnist: its absence is a set-up failure.
    DatasetConfig config;
    const auto s = loadDataset(config, 0);
    QCOMPARE(s.train.images.sizes().vec(), (std::vector<int64_t>{60000, 1, 28, 28}));
    QCOMPARE(s.eval.size(), int64_t(10000));
    QCOMPARE(s.train.labels.min().item<int64_t>(), int64_t(0));
    QCOMPARE(s.train.labels.max().item<int64_t>(), int64_t(9));
    // Balanced: 6000 of each class.
    QCOMPARE(torch::bincount(s.train.labels).min().item<int64_t>(), int64_t(6000));
    QCOMPARE(QString::fromStdString(s.train.class_names[9]), QString("Ankle boot"));
    QVERIFY(s.train.labeled() && s.eval.labeled());
  }
};

QTEST_MAIN(TestDatasets)
#include "test_datasets.moc"
