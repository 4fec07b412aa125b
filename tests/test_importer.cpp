// The packed dataset format (core/data/packed_dataset.h) and the image-folder importer
// (app/importer): round trips, refusals of damaged files, class folders, fits, EXIF
// orientation and cancellation. Images are generated here with OpenCV.
#include <QtTest/QtTest>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "app/importer/image_folder_importer.h"
#include "tests/test_support.h"
#include "core/base/error.h"
#include "core/data/packed_dataset.h"

namespace fs = std::filesystem;

namespace {

struct Caught {
  bool thrown = false;
  studio::ErrorKind kind = studio::ErrorKind::Failure;
  std::string message;
};

Caught catchError(const std::function<void()>& f) {
  Caught c;
  try {
    f();
  } catch (const studio::Error& e) {
    c.thrown = true;
    c.kind = e.kind();
    c.message = e.what();
  }
  return c;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

QByteArray qb(const std::string& s) { return QByteArray::fromStdString(s); }

// A fresh, empty folder per test function so runs never see each other's files.
fs::path scratch(const std::string& name) {
  const fs::path dir = fs::path(studio::test::scratchRoot()) / "test_importer" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string readBytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void writeBytes(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// bgr is OpenCV's channel order: (255, 0, 0) is blue.
void writeSolid(const fs::path& p, int width, int height, const cv::Scalar& bgr) {
  const cv::Mat image(height, width, CV_8UC3, bgr);
  if (!cv::imwrite(p.string(), image)) throw std::runtime_error("imwrite failed: " + p.string());
}

int pixel(const studio::PackedDataset& d, int64_t n, int64_t c, int64_t y, int64_t x) {
  return d.pixels[static_cast<size_t>(((n * d.channels + c) * d.height + y) * d.width + x)];
}

// A raw packed file with an arbitrary manifest, for the refusal tests.
std::string rawPacked(const std::string& manifest, const std::string& payload) {
  std::string out = "CSDSET01";
  uint64_t m = manifest.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((m >> (8 * i)) & 0xff));
  return out + manifest + payload;
}

studio::PackedDataset sampleDataset() {
  studio::PackedDataset d;
  d.count = 3;
  d.channels = 2;
  d.height = 4;
  d.width = 5;
  for (int i = 0; i < 3 * 2 * 4 * 5; ++i) d.pixels.push_back(static_cast<uint8_t>((i * 37 + 11) % 256));
  d.labels = {0, -1, 2};
  d.class_names = {"alpha", "beta", "gamma"};
  d.sources = {"x/1.png", "x/2.png", "\xc3\xbcnicode/3.png"};
  d.extra = {{"note", "hello"}, {"n", 3}};
  return d;
}

void putBe32(std::string& out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint32_t crc32(const std::string& bytes) {
  uint32_t crc = 0xffffffffu;
  for (unsigned char b : bytes) {
    crc ^= b;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void appendPngChunk(std::string& png, const std::string& type, const std::string& data) {
  putBe32(png, static_cast<uint32_t>(data.size()));
  png += type + data;
  putBe32(png, crc32(type + data));
}

// A valid PNG header claiming 100000 x 100000 pixels: beyond OpenCV's pixel limit, so the
// decoder throws instead of allocating 30 GB.
std::string hugePngHeader() {
  std::string png("\x89PNG\r\n\x1a\n", 8);
  std::string ihdr;
  putBe32(ihdr, 100000);
  putBe32(ihdr, 100000);
  ihdr += std::string("\x08\x02\x00\x00\x00", 5);  // 8-bit RGB, no interlace
  appendPngChunk(png, "IHDR", ihdr);
  // libpng reads the header up to the first IDAT; its content is never reached.
  appendPngChunk(png, "IDAT", std::string("\x78\x01\x00\x00\x00\xff\xff", 7));
  appendPngChunk(png, "IEND", "");
  return png;
}

// Orientation=6 (rotate 90 degrees clockwise to display) as a minimal EXIF APP1 segment.
std::string exifOrientation6() {
  std::string tiff;
  tiff += std::string("II*\0", 4);                    // little-endian TIFF header
  tiff += std::string("\x08\x00\x00\x00", 4);         // first IFD at offset 8
  tiff += std::string("\x01\x00", 2);                 // one entry
  tiff += std::string("\x12\x01\x03\x00", 4);         // tag 0x0112 Orientation, type 3 SHORT
  tiff += std::string("\x01\x00\x00\x00", 4);         // count 1
  tiff += std::string("\x06\x00\x00\x00", 4);         // value 6
  tiff += std::string("\x00\x00\x00\x00", 4);         // no next IFD
  const std::string body = std::string("Exif\0\0", 6) + tiff;
  const size_t length = body.size() + 2;  // the length field counts itself
  std::string segment = "\xff\xe1";
  segment.push_back(static_cast<char>(length >> 8));
  segment.push_back(static_cast<char>(length & 0xff));
  return segment + body;
}

}  // namespace

class TestImporter : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void packedRoundTrip();
  void packedWriteRefusesInconsistentData();
  void packedBadInput();
  void importerClassFolders();
  void importerGrayscale();
  void importerFlatFolder();
  void importerLetterboxAndCenterCrop();
  void importerExifOrientation();
  void importerCancellation();
  void importerBadInput();
};

void TestImporter::packedRoundTrip() {
  const fs::path dir = scratch("packedRoundTrip");
  const std::string path = (dir / "set.csds").string();
  const studio::PackedDataset d = sampleDataset();
  studio::writePackedDataset(path, d);

  // Atomic write: only the final file remains, no temporary.
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    (void)e;
    ++entries;
  }
  QCOMPARE(entries, 1);
  QVERIFY(studio::isPackedDatasetFile(path));

  const studio::PackedDataset r = studio::readPackedDataset(path);
  QCOMPARE(r.count, d.count);
  QCOMPARE(r.channels, d.channels);
  QCOMPARE(r.height, d.height);
  QCOMPARE(r.width, d.width);
  QVERIFY(r.pixels == d.pixels);
  QVERIFY(r.labels == d.labels);
  QVERIFY(r.class_names == d.class_names);
  QVERIFY(r.sources == d.sources);
  QCOMPARE(qb(r.extra.dump()), qb(d.extra.dump()));
  QCOMPARE(qb(r.content_hash), qb(studio::packedContentHash(d.pixels, d.labels)));
  QCOMPARE(r.content_hash.size(), size_t{16});
  for (char ch : r.content_hash) QVERIFY((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'));
  const studio::PackedDataset verified = studio::readPackedDataset(path, true);
  QCOMPARE(qb(verified.content_hash), qb(r.content_hash));

  // File size is exactly header + manifest + pixels + labels.
  const std::string bytes = readBytes(path);
  uint64_t m = 0;
  for (int i = 0; i < 8; ++i) m |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[8 + i])) << (8 * i);
  QCOMPARE(static_cast<uint64_t>(bytes.size()), 16 + m + 3 * 2 * 4 * 5 + 3 * 4);
  // Labels are little-endian int32 at the end: -1 in the middle.
  QCOMPARE(qb(bytes.substr(bytes.size() - 12)), QByteArray("\x00\x00\x00\x00\xff\xff\xff\xff\x02\x00\x00\x00", 12));

  // FNV-1a 64 reference values: "" and "a", and labels hashed as little-endian bytes.
  QCOMPARE(qb(studio::packedContentHash({}, {})), QByteArray("cbf29ce484222325"));
  QCOMPARE(qb(studio::packedContentHash({'a'}, {})), QByteArray("af63dc4c8601ec8c"));
  QCOMPARE(qb(studio::packedContentHash({}, {0x64636261})), QByteArray("fc179f83ee0724dd"));  // "abcd"
  QCOMPARE(qb(studio::packedContentHash({1, 2, 3}, {-1, 5})), QByteArray("38220e2fc46e9552"));

  // An unwritable destination is a Failure naming the path and the system's reason.
  const std::string nowhere = (dir / "no_such_dir" / "set.csds").string();
  const Caught failed = catchError([&] { studio::writePackedDataset(nowhere, d); });
  QVERIFY(failed.thrown);
  QVERIFY2(failed.kind == studio::ErrorKind::Failure, failed.message.c_str());
  QVERIFY2(contains(failed.message, nowhere), failed.message.c_str());
  QVERIFY2(contains(failed.message, "No such file or directory"), failed.message.c_str());

  // Overwriting an existing file replaces it.
  studio::PackedDataset d2 = d;
  d2.labels = {1, 1, 1};
  studio::writePackedDataset(path, d2);
  QVERIFY(studio::readPackedDataset(path, true).labels == d2.labels);
}

void TestImporter::packedWriteRefusesInconsistentData() {
  const fs::path dir = scratch("packedWriteRefusesInconsistentData");
  const std::string path = (dir / "bad.csds").string();
  auto expectBadInput = [&](const studio::PackedDataset& d, const std::string& what) {
    const Caught c = catchError([&] { studio::writePackedDataset(path, d); });
    QVERIFY2(c.thrown, what.c_str());
    QVERIFY2(c.kind == studio::ErrorKind::BadInput, c.message.c_str());
    QVERIFY2(contains(c.message, path), c.message.c_str());
    QVERIFY2(contains(c.message, what), c.message.c_str());
  };
  studio::PackedDataset d = sampleDataset();
  d.pixels.pop_back();
  expectBadInput(d, "pixels");
  d = sampleDataset();
  d.labels.push_back(0);
  expectBadInput(d, "labels");
  d = sampleDataset();
  d.labels[0] = 3;  // only three classes
  expectBadInput(d, "label 3");
  d = sampleDataset();
  d.labels[1] = -2;
  expectBadInput(d, "label -2");
  d = sampleDataset();
  d.sources.pop_back();
  expectBadInput(d, "sources");
  d = studio::PackedDataset{};
  d.channels = d.height = d.width = 1;
  expectBadInput(d, "empty dataset");
  QVERIFY(!fs::exists(path));
  QVERIFY(fs::is_empty(dir));
}

void TestImporter::packedBadInput() {
  const fs::path dir = scratch("packedBadInput");
  const std::string good = (dir / "good.csds").string();
  studio::writePackedDataset(good, sampleDataset());
  const std::string bytes = readBytes(good);

  auto expectBadInput = [](const std::string& path, const std::string& what, bool verify = false) {
    const Caught c = catchError([&] { studio::readPackedDataset(path, verify); });
    QVERIFY2(c.thrown, ("no error for " + path).c_str());
    QVERIFY2(c.kind == studio::ErrorKind::BadInput, c.message.c_str());
    QVERIFY2(contains(c.message, path), c.message.c_str());
    QVERIFY2(contains(c.message, what), c.message.c_str());
  };

  const std::string magic = (dir / "magic.csds").string();
  writeBytes(magic, "XSDSET01" + bytes.substr(8));
  expectBadInput(magic, "wrong magic");
  QVERIFY(!studio::isPackedDatasetFile(magic));

  const std::string truncated = (dir / "truncated.csds").string();
  writeBytes(truncated, bytes.substr(0, bytes.size() - 10));
  expectBadInput(truncated, "truncated: expected " + std::to_string(bytes.size()) + " bytes, found " +
                                std::to_string(bytes.size() - 10));
  QVERIFY(studio::isPackedDatasetFile(truncated));

  const std::string trailing = (dir / "trailing.csds").string();
  writeBytes(trailing, bytes + "xyz");
  expectBadInput(trailing, "has 3 unexpected trailing bytes");

  const std::string short_file = (dir / "short.csds").string();
  writeBytes(short_file, "CSDSET01\x01");
  expectBadInput(short_file, "16-byte header");
  QVERIFY(studio::isPackedDatasetFile(short_file));
  const std::string tiny = (dir / "tiny.csds").string();
  writeBytes(tiny, "CSD");
  QVERIFY(!studio::isPackedDatasetFile(tiny));

  const std::string not_json = (dir / "notjson.csds").string();
  writeBytes(not_json, rawPacked("{\"count\": 1, oops", std::string(4, '\0')));
  expectBadInput(not_json, "manifest is not valid JSON");

  const std::string oversized = (dir / "oversized.csds").string();
  std::string big = bytes;
  big[15] = '\x7f';  // manifest length far beyond the file
  writeBytes(oversized, big);
  expectBadInput(oversized, "exceeds the file size");

  const std::string payload(1 * 1 * 2 * 2 + 4, '\0');
  const std::string hash = studio::packedContentHash({0, 0, 0, 0}, {0});
  const std::string missing_key = (dir / "missingkey.csds").string();
  writeBytes(missing_key, rawPacked("{\"format_version\":1,\"channels\":1,\"height\":2,\"width\":2,"
                                    "\"class_names\":[],\"sources\":[],\"content_hash\":\"" + hash + "\"}",
                                    payload));
  expectBadInput(missing_key, "lacks the key \"count\"");

  const std::string wrong_type = (dir / "wrongtype.csds").string();
  writeBytes(wrong_type, rawPacked("{\"format_version\":1,\"count\":\"1\",\"channels\":1,\"height\":2,\"width\":2,"
                                   "\"class_names\":[],\"sources\":[],\"content_hash\":\"" + hash + "\"}",
                                   payload));
  expectBadInput(wrong_type, "\"count\" must be an integer");

  const std::string absurd = (dir / "absurd.csds").string();
  writeBytes(absurd, rawPacked("{\"format_version\":1,\"count\":4611686018427387904,\"channels\":4,\"height\":4,"
                               "\"width\":4,\"class_names\":[],\"sources\":[],\"content_hash\":\"" + hash + "\"}",
                               payload));
  expectBadInput(absurd, "absurd dimensions");

  const std::string zero = (dir / "zero.csds").string();
  writeBytes(zero, rawPacked("{\"format_version\":1,\"count\":1,\"channels\":0,\"height\":2,\"width\":2,"
                             "\"class_names\":[],\"sources\":[],\"content_hash\":\"" + hash + "\"}",
                             payload));
  expectBadInput(zero, "invalid dimensions");

  const std::string bad_label = (dir / "badlabel.csds").string();
  std::string labelled = payload;
  labelled[4] = '\x05';  // label 5 with two classes
  writeBytes(bad_label, rawPacked("{\"format_version\":1,\"count\":1,\"channels\":1,\"height\":2,\"width\":2,"
                                  "\"class_names\":[\"a\",\"b\"],\"sources\":[],\"content_hash\":\"" + hash + "\"}",
                                  labelled));
  expectBadInput(bad_label, "label 5 at index 0 is out of range");

  const std::string bad_sources = (dir / "badsources.csds").string();
  writeBytes(bad_sources, rawPacked("{\"format_version\":1,\"count\":1,\"channels\":1,\"height\":2,\"width\":2,"
                                    "\"class_names\":[],\"sources\":[\"a\",\"b\"],\"content_hash\":\"" + hash + "\"}",
                                    payload));
  expectBadInput(bad_sources, "2 sources for 1 samples");

  // A flipped pixel is only caught when the hash is verified.
  const std::string flipped = (dir / "flipped.csds").string();
  std::string corrupt = bytes;
  corrupt[corrupt.size() - 13] ^= 0x01;  // last pixel byte
  writeBytes(flipped, corrupt);
  QCOMPARE(studio::readPackedDataset(flipped, false).count, int64_t{3});
  expectBadInput(flipped, "content hash mismatch", true);

  const std::string missing = (dir / "missing.csds").string();
  expectBadInput(missing, "no such file");
  QVERIFY(!studio::isPackedDatasetFile(missing));
  QVERIFY(studio::isPackedDatasetFile(good));
}

void TestImporter::importerClassFolders() {
  const fs::path dir = scratch("importerClassFolders");
  const fs::path in = dir / "in";
  fs::create_directories(in / "cat");
  fs::create_directories(in / "dog" / "sub");
  fs::create_directories(in / ".thumbs");
  const std::string odd_name = std::string("img_\xff\xfe.png");  // not UTF-8
  writeSolid(in / "cat" / "red.png", 48, 40, cv::Scalar(0, 0, 255));
  writeSolid(in / "cat" / "green.png", 40, 48, cv::Scalar(0, 255, 0));
  writeSolid(in / "cat" / "blue.png", 20, 20, cv::Scalar(255, 0, 0));
  writeSolid(in / "cat" / odd_name, 30, 30, cv::Scalar(128, 128, 128));
  writeSolid(in / "cat" / ".hidden.png", 30, 30, cv::Scalar(1, 2, 3));     // hidden: ignored
  writeSolid(in / "dog" / "a.jpg", 50, 30, cv::Scalar(255, 255, 255));
  writeSolid(in / "dog" / "b.jpg", 30, 50, cv::Scalar(0, 0, 0));
  writeSolid(in / "dog" / "sub" / "deep.png", 30, 30, cv::Scalar(9, 9, 9));  // too deep: ignored
  writeSolid(in / ".thumbs" / "t.png", 30, 30, cv::Scalar(9, 9, 9));         // hidden folder: not a class
  writeSolid(in / "readme.png", 30, 30, cv::Scalar(9, 9, 9));                // outside any class
  writeBytes(in / "dog" / "notes.txt", "these are not pixels\n");
  writeBytes(in / "dog" / "empty.jpg", "");
  std::mt19937 rng(42);
  std::string junk = "\xff\xd8\xff";
  for (int i = 0; i < 300; ++i) junk.push_back(static_cast<char>(rng() & 0xff));
  writeBytes(in / "dog" / "corrupt.jpg", junk);
  const std::string odd_text = std::string("bad_\xff.txt");
  writeBytes(in / "dog" / odd_text, "text");
  writeBytes(in / "cat" / "huge.png", hugePngHeader());

  const std::string out = (dir / "out.csds").string();
  studio::ImportOptions options;
  options.size = 16;
  std::vector<std::pair<int64_t, int64_t>> calls;
  options.progress = [&](int64_t done, int64_t total) {
    calls.emplace_back(done, total);
    return true;
  };
  const studio::ImportReport report = studio::importImageFolder(in.string(), out, options);

  QCOMPARE(report.imported, int64_t{6});
  QCOMPARE(qb(report.output_path), qb(out));
  QVERIFY(report.class_names == (std::vector<std::string>{"cat", "dog"}));
  std::map<std::string, std::string> skipped;
  for (const auto& s : report.skipped) skipped[s.path] = s.reason;
  QCOMPARE(report.skipped.size(), size_t{6});
  QCOMPARE(qb(skipped["readme.png"]), QByteArray("outside any class folder"));
  QCOMPARE(qb(skipped["dog/empty.jpg"]), QByteArray("empty file"));
  QCOMPARE(qb(skipped["dog/notes.txt"]), QByteArray("not a decodable image"));
  QCOMPARE(qb(skipped["dog/corrupt.jpg"]), QByteArray("not a decodable image"));
  QCOMPARE(qb(skipped["dog/" + odd_text]), QByteArray("not a decodable image"));  // byte path kept
  const std::string huge = skipped["cat/huge.png"];
  QVERIFY2(huge.rfind("decoder error: ", 0) == 0, huge.c_str());
  QVERIFY2(huge.find('\n') == std::string::npos, huge.c_str());
  // Progress once per candidate file in the class folders (5 in cat, 6 in dog).
  QCOMPARE(calls.size(), size_t{11});
  for (size_t i = 0; i < calls.size(); ++i) {
    QCOMPARE(calls[i].first, static_cast<int64_t>(i + 1));
    QCOMPARE(calls[i].second, int64_t{11});
  }

  const studio::PackedDataset d = studio::readPackedDataset(out, true);
  QCOMPARE(d.count, int64_t{6});
  QCOMPARE(d.channels, int64_t{3});
  QCOMPARE(d.height, int64_t{16});
  QCOMPARE(d.width, int64_t{16});
  QVERIFY(d.class_names == (std::vector<std::string>{"cat", "dog"}));
  QVERIFY(d.labels == (std::vector<int32_t>{0, 0, 0, 0, 1, 1}));
  QCOMPARE(d.sources.size(), size_t{6});
  QCOMPARE(qb(d.sources[0]), QByteArray("cat/blue.png"));
  QCOMPARE(qb(d.sources[1]), QByteArray("cat/green.png"));
  QVERIFY(contains(d.sources[2], "cat/img_"));  // non-UTF-8 bytes stored as U+FFFD
  QCOMPARE(qb(d.sources[3]), QByteArray("cat/red.png"));
  QCOMPARE(qb(d.sources[4]), QByteArray("dog/a.jpg"));
  QCOMPARE(qb(d.sources[5]), QByteArray("dog/b.jpg"));

  // Solid red (BGR 0,0,255 on disk) must come out as RGB 255,0,0.
  QCOMPARE(pixel(d, 3, 0, 8, 8), 255);
  QCOMPARE(pixel(d, 3, 1, 8, 8), 0);
  QCOMPARE(pixel(d, 3, 2, 8, 8), 0);
  QCOMPARE(pixel(d, 0, 0, 8, 8), 0);  // blue
  QCOMPARE(pixel(d, 0, 2, 8, 8), 255);
  QCOMPARE(pixel(d, 1, 1, 8, 8), 255);  // green
  for (int c = 0; c < 3; ++c) {
    QCOMPARE(pixel(d, 2, c, 8, 8), 128);
    QVERIFY(pixel(d, 4, c, 8, 8) >= 250);  // white JPEG
    QVERIFY(pixel(d, 5, c, 8, 8) <= 5);    // black JPEG
  }
  QCOMPARE(d.extra["importer"]["size"].get<int>(), 16);
  QCOMPARE(qb(d.extra["importer"]["fit"].get<std::string>()), QByteArray("center_crop"));
  QCOMPARE(d.extra["importer"]["channels"].get<int>(), 3);
  QCOMPARE(d.extra["skipped"].size(), size_t{6});
  QCOMPARE(qb(d.extra["source_folder"].get<std::string>()), qb(in.string()));
}

void TestImporter::importerGrayscale() {
  const fs::path dir = scratch("importerGrayscale");
  const fs::path in = dir / "in";
  fs::create_directories(in);
  writeSolid(in / "red.png", 20, 20, cv::Scalar(0, 0, 255));
  const std::string out = (dir / "gray.csds").string();
  studio::ImportOptions options;
  options.size = 8;
  options.channels = 1;
  const studio::ImportReport report = studio::importImageFolder(in.string(), out, options);
  QCOMPARE(report.imported, int64_t{1});
  const studio::PackedDataset d = studio::readPackedDataset(out);
  QCOMPARE(d.channels, int64_t{1});
  QCOMPARE(d.pixels.size(), size_t{64});
  QCOMPARE(pixel(d, 0, 0, 4, 4), 76);  // 0.299 * 255
}

void TestImporter::importerFlatFolder() {
  const fs::path dir = scratch("importerFlatFolder");
  const fs::path in = dir / "in";
  fs::create_directories(in);
  writeSolid(in / "a.png", 32, 32, cv::Scalar(10, 20, 30));
  writeSolid(in / "b.png", 64, 16, cv::Scalar(40, 50, 60));
  writeSolid(in / "c.jpg", 16, 64, cv::Scalar(70, 80, 90));
  writeSolid(in / ".hidden.png", 16, 16, cv::Scalar(1, 1, 1));
  const std::string out = (dir / "flat.csds").string();
  const studio::ImportReport report = studio::importImageFolder(in.string(), out, studio::ImportOptions{});
  QCOMPARE(report.imported, int64_t{3});
  QVERIFY(report.class_names.empty());
  QVERIFY(report.skipped.empty());
  const studio::PackedDataset d = studio::readPackedDataset(out, true);
  QCOMPARE(d.count, int64_t{3});
  QCOMPARE(d.height, int64_t{32});
  QCOMPARE(d.width, int64_t{32});
  QVERIFY(d.class_names.empty());
  QVERIFY(d.labels == (std::vector<int32_t>{-1, -1, -1}));
  QVERIFY(d.sources == (std::vector<std::string>{"a.png", "b.png", "c.jpg"}));
  QCOMPARE(pixel(d, 0, 0, 0, 0), 30);  // same size: copied exactly, BGR -> RGB
  QCOMPARE(pixel(d, 0, 2, 31, 31), 10);
}

void TestImporter::importerLetterboxAndCenterCrop() {
  const fs::path dir = scratch("importerLetterboxAndCenterCrop");
  const fs::path in = dir / "in";
  fs::create_directories(in);
  // 64x32: red left quarter, green middle half, blue right quarter.
  cv::Mat image(32, 64, CV_8UC3, cv::Scalar(0, 255, 0));
  image(cv::Rect(0, 0, 16, 32)).setTo(cv::Scalar(0, 0, 255));
  image(cv::Rect(48, 0, 16, 32)).setTo(cv::Scalar(255, 0, 0));
  QVERIFY(cv::imwrite((in / "wide.png").string(), image));

  studio::ImportOptions options;
  options.size = 32;
  options.fit = studio::ImportOptions::Fit::Letterbox;
  const std::string boxed_path = (dir / "boxed.csds").string();
  studio::importImageFolder(in.string(), boxed_path, options);
  const studio::PackedDataset boxed = studio::readPackedDataset(boxed_path);
  QCOMPARE(qb(boxed.extra["importer"]["fit"].get<std::string>()), QByteArray("letterbox"));
  // Content is 32x16 at rows 8..23; rows 0..7 and 24..31 are black padding.
  for (int x = 0; x < 32; ++x) {
    for (int c = 0; c < 3; ++c) {
      QCOMPARE(pixel(boxed, 0, c, 0, x), 0);
      QCOMPARE(pixel(boxed, 0, c, 7, x), 0);
      QCOMPARE(pixel(boxed, 0, c, 24, x), 0);
      QCOMPARE(pixel(boxed, 0, c, 31, x), 0);
    }
    int sum = 0;
    for (int c = 0; c < 3; ++c) sum += pixel(boxed, 0, c, 16, x);
    QVERIFY2(sum > 0, "centre row must be image content");
  }
  QCOMPARE(pixel(boxed, 0, 0, 16, 1), 255);  // red quarter survives at the left
  QCOMPARE(pixel(boxed, 0, 1, 16, 16), 255);  // green in the middle
  QCOMPARE(pixel(boxed, 0, 2, 16, 30), 255);  // blue at the right

  options.fit = studio::ImportOptions::Fit::CenterCrop;
  const std::string cropped_path = (dir / "cropped.csds").string();
  studio::importImageFolder(in.string(), cropped_path, options);
  const studio::PackedDataset cropped = studio::readPackedDataset(cropped_path);
  // Shorter side already 32: the crop is the middle 32 columns, all green, no padding.
  for (int y = 0; y < 32; ++y) {
    for (int x = 0; x < 32; ++x) {
      QCOMPARE(pixel(cropped, 0, 0, y, x), 0);
      QCOMPARE(pixel(cropped, 0, 1, y, x), 255);
      QCOMPARE(pixel(cropped, 0, 2, y, x), 0);
    }
  }
}

void TestImporter::importerExifOrientation() {
  const fs::path dir = scratch("importerExifOrientation");
  const fs::path in = dir / "in";
  fs::create_directories(in);
  // 40 wide, 20 high: left half white, right half black.
  cv::Mat image(20, 40, CV_8UC3, cv::Scalar(0, 0, 0));
  image(cv::Rect(0, 0, 20, 20)).setTo(cv::Scalar(255, 255, 255));
  std::vector<uchar> jpeg;
  QVERIFY(cv::imencode(".jpg", image, jpeg, {cv::IMWRITE_JPEG_QUALITY, 95}));
  QVERIFY(jpeg.size() > 2 && jpeg[0] == 0xff && jpeg[1] == 0xd8);
  std::string bytes(jpeg.begin(), jpeg.end());
  bytes.insert(2, exifOrientation6());
  writeBytes(in / "rotated.jpg", bytes);

  studio::ImportOptions options;
  options.size = 40;
  options.fit = studio::ImportOptions::Fit::Letterbox;
  const std::string out = (dir / "exif.csds").string();
  studio::importImageFolder(in.string(), out, options);
  const studio::PackedDataset d = studio::readPackedDataset(out);
  // Rotated 90 degrees clockwise the image is 20 wide and 40 high: padding left and right,
  // the white half on top, the black half below.
  for (int y = 0; y < 40; ++y) {
    for (int c = 0; c < 3; ++c) {
      QCOMPARE(pixel(d, 0, c, y, 0), 0);
      QCOMPARE(pixel(d, 0, c, y, 5), 0);
      QCOMPARE(pixel(d, 0, c, y, 34), 0);
      QCOMPARE(pixel(d, 0, c, y, 39), 0);
    }
  }
  for (int c = 0; c < 3; ++c) {
    QVERIFY2(pixel(d, 0, c, 0, 20) > 200, "top row is content (white), not padding");
    QVERIFY(pixel(d, 0, c, 5, 20) > 200);
    QVERIFY(pixel(d, 0, c, 35, 20) < 50);
  }
}

void TestImporter::importerCancellation() {
  const fs::path dir = scratch("importerCancellation");
  const fs::path in = dir / "in";
  const fs::path out_dir = dir / "out";
  fs::create_directories(in);
  fs::create_directories(out_dir);
  writeSolid(in / "a.png", 20, 20, cv::Scalar(1, 2, 3));
  writeSolid(in / "b.png", 20, 20, cv::Scalar(4, 5, 6));
  writeSolid(in / "c.png", 20, 20, cv::Scalar(7, 8, 9));
  const std::string out = (out_dir / "cancelled.csds").string();
  studio::ImportOptions options;
  int64_t last_done = 0;
  options.progress = [&](int64_t done, int64_t total) {
    last_done = done;
    return !(done == 2 && total == 3);
  };
  const Caught c = catchError([&] { studio::importImageFolder(in.string(), out, options); });
  QVERIFY(c.thrown);
  QVERIFY2(c.kind == studio::ErrorKind::Cancelled, c.message.c_str());
  QCOMPARE(qb(c.message), QByteArray("import cancelled"));
  QCOMPARE(last_done, int64_t{2});
  QVERIFY(!fs::exists(out));
  QVERIFY(fs::is_empty(out_dir));
}

void TestImporter::importerBadInput() {
  const fs::path dir = scratch("importerBadInput");
  const std::string out = (dir / "out.csds").string();
  auto expectBadInput = [&](const std::string& folder, const studio::ImportOptions& options,
                            const std::string& what) {
    const Caught c = catchError([&] { studio::importImageFolder(folder, out, options); });
    QVERIFY2(c.thrown, what.c_str());
    QVERIFY2(c.kind == studio::ErrorKind::BadInput, c.message.c_str());
    QVERIFY2(contains(c.message, what), c.message.c_str());
  };

  const std::string missing = (dir / "no_such_folder").string();
  expectBadInput(missing, {}, missing + ": folder does not exist");

  const fs::path file = dir / "plain.txt";
  writeBytes(file, "x");
  expectBadInput(file.string(), {}, file.string() + ": not a folder");

  const fs::path texts = dir / "texts";
  fs::create_directories(texts);
  writeBytes(texts / "a.txt", "hello");
  writeBytes(texts / "b.txt", "world");
  expectBadInput(texts.string(), {}, texts.string() + ": no importable images (2 files skipped)");

  const fs::path empty = dir / "empty";
  fs::create_directories(empty);
  expectBadInput(empty.string(), {}, empty.string() + ": no importable images (0 files skipped)");

  studio::ImportOptions tiny;
  tiny.size = 4;
  expectBadInput(texts.string(), tiny, "size 4 is out of range [8, 1024]");
  studio::ImportOptions rgba;
  rgba.channels = 4;
  expectBadInput(texts.string(), rgba, "channels must be 1 (grayscale) or 3 (RGB)");
  QVERIFY(!fs::exists(out));
}

QTEST_MAIN(TestImporter)
#include "test_importer.moc"
