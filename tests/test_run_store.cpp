// The run store: .npy files, run.json records and the run index (SQLite, or the run
// folders alone where the build has no SQLite).
#include <QObject>
#include <QTest>

#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/test_support.h"
#include "core/base/error.h"
#include "core/base/file_io.h"
#include "core/base/metrics_record.h"
#include "core/base/npy.h"
#include "core/runs/run_index.h"

namespace fs = std::filesystem;
using studio::ErrorKind;
using studio::MetricsRecord;
using studio::NpyArray;
using studio::RunIndex;
using studio::RunRecord;

// Runs a statement that must throw studio::Error(BadInput) and keeps its message.
#define EXPECT_BAD_INPUT(statement, message)                                                 \
  do {                                                                                       \
    bool thrown_ = false;                                                                    \
    try {                                                                                    \
      statement;                                                                             \
    } catch (const studio::Error& e) {                                                       \
      thrown_ = true;                                                                        \
      QVERIFY2(e.kind() == ErrorKind::BadInput, e.what());                                   \
      (message) = e.what();                                                                  \
    }                                                                                        \
    QVERIFY2(thrown_, "expected studio::Error(BadInput) from: " #statement);                 \
  } while (0)

namespace {

constexpr char kSkipNoSqlite[] = "This build has no SQLite: the run index reads the run folders directly";

std::string readAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void writeAll(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A .npy file built by the format's rules, independently of writeNpy: magic, version,
// little-endian header length (2 bytes for 1.0, 4 for 2.0), the dict padded with spaces
// and a final newline to a multiple of 64, then the data.
std::string npyBytes(const std::string& dict, int major, const std::string& data) {
  const size_t lenBytes = major == 1 ? 2 : 4;
  const size_t preamble = 6 + 2 + lenBytes;
  size_t total = preamble + dict.size() + 1;
  total = (total + 63) / 64 * 64;
  const size_t headerLen = total - preamble;
  std::string bytes("\x93NUMPY", 6);
  bytes += static_cast<char>(major);
  bytes += '\0';
  for (size_t i = 0; i < lenBytes; ++i) bytes += static_cast<char>((headerLen >> (8 * i)) & 0xff);
  bytes += dict;
  bytes.append(headerLen - dict.size() - 1, ' ');
  bytes += '\n';
  return bytes + data;
}

std::string littleEndian(int64_t value, int size) {
  std::string out;
  for (int i = 0; i < size; ++i) out += static_cast<char>((static_cast<uint64_t>(value) >> (8 * i)) & 0xff);
  return out;
}

template <typename T>
std::vector<uint8_t> rawBytes(const std::vector<T>& values) {
  std::vector<uint8_t> out(values.size() * sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), values.data(), out.size());
  return out;
}

std::string folderPath(const fs::path& path) { return fs::absolute(path).lexically_normal().string(); }

RunRecord makeRecord(const fs::path& runs, const std::string& id, const std::string& startedAt,
                     const std::string& status, double bestKnn) {
  RunRecord r;
  r.id = id;
  r.name = "experiment " + id;
  r.dataset = "cifar10";
  r.method = "simclr";
  r.status = status;
  r.started_at = startedAt;
  r.ended_at = status == "running" ? "" : "2026-11-27T00:00:00Z";
  r.best_knn = bestKnn;
  r.path = folderPath(runs / id);
  return r;
}

// Names every field that differs, so a failure says which one.
std::string recordDiff(const RunRecord& got, const RunRecord& want) {
  std::string diff;
  auto field = [&](const char* name, const std::string& a, const std::string& b) {
    if (a != b) diff += std::string(name) + ": got '" + a + "', want '" + b + "'; ";
  };
  field("id", got.id, want.id);
  field("name", got.name, want.name);
  field("dataset", got.dataset, want.dataset);
  field("method", got.method, want.method);
  field("status", got.status, want.status);
  field("started_at", got.started_at, want.started_at);
  field("ended_at", got.ended_at, want.ended_at);
  field("path", got.path, want.path);
  if (got.best_knn != want.best_knn)
    diff += "best_knn: got " + std::to_string(got.best_knn) + ", want " + std::to_string(want.best_knn);
  return diff;
}

std::vector<std::string> ids(const std::vector<RunRecord>& records) {
  std::vector<std::string> out;
  for (const auto& r : records) out.push_back(r.id);
  return out;
}

}  // namespace

class TestRunStore : public QObject {
  Q_OBJECT

 private:
  fs::path root_;

  fs::path freshDir(const std::string& name) {
    const fs::path dir = root_ / name;
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
  }

 private Q_SLOTS:
  void initTestCase() {
    root_ = fs::absolute(fs::path(studio::test::scratchRoot()) / "test_run_store");
    fs::remove_all(root_);
    fs::create_directories(root_);
  }

  // The one atomic write every file of the studio goes through (core/base/file_io.h).
  // LibTorch's wheel exports its own std::filesystem (and filesystem_error's type); a program
  // that looked those up there first died in remove_all on Ubuntu 24.04. What this program's
  // calls bind to is the first definition in the global lookup order, which dlsym returns.
  void fileSystemCallsBindToLibstdcxx() {
    for (const char* symbol : {"_ZNSt10filesystem10remove_allERKNS_7__cxx114pathE",
                               "_ZNSt10filesystem18create_directoriesERKNS_7__cxx114pathE",
                               "_ZNSt10filesystem6renameERKNS_7__cxx114pathES3_",
                               "_ZTINSt10filesystem7__cxx1116filesystem_errorE"}) {
      void* address = ::dlsym(RTLD_DEFAULT, symbol);
      QVERIFY2(address, symbol);
      Dl_info info{};
      QVERIFY2(::dladdr(address, &info) != 0 && info.dli_fname, symbol);
      QVERIFY2(std::strstr(info.dli_fname, "libstdc++") != nullptr,
               qPrintable(QString("%1 binds to %2, not to libstdc++").arg(symbol, info.dli_fname)));
    }
    // And the call works on a tree: files, a nested folder, a symbolic link (not followed).
    const fs::path dir = root_ / "remove-all";
    fs::remove_all(dir);
    fs::create_directories(dir / "a" / "b");
    std::ofstream(dir / "a" / "b" / "f.txt") << "x";
    fs::create_directory_symlink(dir / "a", dir / "link");
    QCOMPARE(fs::remove_all(dir), std::uintmax_t(5));
    QVERIFY(!fs::exists(dir));
  }

  void atomicWriteUnderConcurrencyAndFailure() {
    const fs::path dir = freshDir("atomic_write");
    const std::string path = (dir / "shared.bin").string();
    // Eight threads replace one file 25 times each with a 64 KiB content of their own: every
    // write succeeds, the file is always one writer's whole content (never a mix), and no
    // temporary file is left behind. With temporary names by process id alone the threads
    // wrote into one another's temporary file.
    constexpr int kThreads = 8, kWrites = 25;
    constexpr size_t kSize = 64 * 1024;
    std::atomic<int> failures{0};
    std::vector<std::thread> writers;
    for (int t = 0; t < kThreads; ++t)
      writers.emplace_back([&, t] {
        const std::string content(kSize, static_cast<char>('a' + t));
        for (int i = 0; i < kWrites; ++i) {
          try {
            studio::writeFileAtomically(path, content);
          } catch (const std::exception&) {
            ++failures;
          }
        }
      });
    for (auto& w : writers) w.join();
    QCOMPARE(failures.load(), 0);
    const std::string last = studio::readTextFile(path);
    QCOMPARE(last.size(), kSize);
    QVERIFY(last[0] >= 'a' && last[0] < 'a' + kThreads);
    QCOMPARE(static_cast<size_t>(std::count(last.begin(), last.end(), last[0])), kSize);
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
    QCOMPARE(names, std::vector<std::string>{"shared.bin"});

    // A fill that throws: its exception comes out, the old file stays, no temporary file.
    studio::writeFileAtomically(path, std::string("old"));
    bool thrown = false;
    try {
      studio::writeFileAtomically(path, [](std::ostream& out) {
        out << "half of the new";
        throw std::runtime_error("the producer failed");
      });
    } catch (const std::runtime_error& e) {
      thrown = std::string(e.what()) == "the producer failed";
    }
    QVERIFY(thrown);
    QCOMPARE(studio::readTextFile(path), std::string("old"));
    QCOMPARE(static_cast<size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator())), size_t(1));

    // A folder that does not exist: a Failure naming the file and why.
    const std::string missing = (dir / "no-such-folder" / "x.json").string();
    const std::string message = studio::test::expectError([&] { studio::writeFileAtomically(missing, std::string("{}")); },
                                                          studio::ErrorKind::Failure);
    QVERIFY2(message.find(missing) != std::string::npos && message.find("cannot be written") != std::string::npos,
             message.c_str());
  }

  void metricsFileReadsBackAndSkipsATornLine() {
    const std::string dir = studio::test::scratchDir("metrics_file");
    MetricsRecord a;
    a.kind = studio::RecordKind::Step;
    a.step = 3;
    a.epoch = 0.5;
    a.values = {{"loss", 4.25}, {"lr", 0.001}, {"nan_value", std::nan("")}};
    MetricsRecord b;
    b.kind = studio::RecordKind::End;
    b.text = "finished";
    b.values = {{"best_knn_top1", 0.75}};
    {
      std::ofstream out(dir + "/metrics.jsonl");
      out << a.toJson().dump() << "\n" << b.toJson().dump() << "\n"
          << "{\"kind\": \"checkpoint\", \"step\": 4}\n"  // a kind a later version may write
          << "{\"kind\": \"step\", \"st";
    }
    const auto records = studio::readMetricsFile(dir + "/metrics.jsonl");
    QCOMPARE(records.size(), size_t(3));
    QVERIFY(records[1].kind == studio::RecordKind::End);
    QVERIFY(records[2].kind == studio::RecordKind::Other);
    QCOMPARE(a.toJson()["kind"].get<std::string>(), std::string("step"));
    QVERIFY(records[0].kind == studio::RecordKind::Step);
    QCOMPARE(records[0].step, int64_t(3));
    QCOMPARE(records[0].epoch, 0.5);
    QCOMPARE(records[0].value("loss"), 4.25);
    QCOMPARE(records[0].value("lr"), 0.001);
    QVERIFY(std::isnan(records[0].value("nan_value")));
    QCOMPARE(records[1].text, std::string("finished"));
    QCOMPARE(records[1].value("best_knn_top1"), 0.75);
    QVERIFY(studio::readMetricsFile(dir + "/missing.jsonl").empty());
  }

  void npyRoundTrip() {
    const fs::path dir = freshDir("npy_round_trip");

    const std::vector<float> f4 = {0.f, 1.5f, -2.25f, 3e7f, 4.f, 5.f, 6.f, 7.f, 8.f, 9.f, 10.f, -0.f};
    const std::string f4Path = (dir / "f4.npy").string();
    studio::writeNpy(f4Path, "<f4", {3, 4}, f4.data());
    const NpyArray a = studio::readNpy(f4Path);
    QCOMPARE(a.dtype, std::string("<f4"));
    QCOMPARE(a.shape, (std::vector<int64_t>{3, 4}));
    QCOMPARE(a.bytes, rawBytes(f4));

    const std::vector<int64_t> i8 = {-1, 0, 1, INT64_MAX, INT64_MIN};
    const std::string i8Path = (dir / "i8.npy").string();
    studio::writeNpy(i8Path, "<i8", {5}, i8.data());
    const NpyArray b = studio::readNpy(i8Path);
    QCOMPARE(b.dtype, std::string("<i8"));
    QCOMPARE(b.shape, (std::vector<int64_t>{5}));
    QCOMPARE(b.bytes, rawBytes(i8));
    QVERIFY2(readAll(i8Path).find("'shape': (5,)") != std::string::npos, "a 1-D shape is written as (5,)");

    std::vector<uint8_t> u1(2 * 3 * 1 * 2);
    for (size_t i = 0; i < u1.size(); ++i) u1[i] = static_cast<uint8_t>(i * 21);
    const std::string u1Path = (dir / "u1.npy").string();
    studio::writeNpy(u1Path, "|u1", {2, 3, 1, 2}, u1.data());
    const NpyArray c = studio::readNpy(u1Path);
    QCOMPARE(c.dtype, std::string("|u1"));
    QCOMPARE(c.shape, (std::vector<int64_t>{2, 3, 1, 2}));
    QCOMPARE(c.bytes, u1);

    for (const auto& path : {f4Path, i8Path, u1Path}) {
      const std::string file = readAll(path);
      QVERIFY(file.size() > 10);
      QCOMPARE(file.substr(0, 6), std::string("\x93NUMPY", 6));
      QCOMPARE(static_cast<int>(file[6]), 1);
      QCOMPARE(static_cast<int>(file[7]), 0);
      const size_t headerLen = static_cast<uint8_t>(file[8]) | (static_cast<size_t>(static_cast<uint8_t>(file[9])) << 8);
      QCOMPARE((10 + headerLen) % 64, size_t(0));
      QCOMPARE(file[10 + headerLen - 1], '\n');
      QVERIFY(file.find("'fortran_order': False") != std::string::npos);
    }
    // The atomic write leaves no temporary file behind.
    QCOMPARE(static_cast<int>(std::distance(fs::directory_iterator(dir), fs::directory_iterator())), 3);
  }

  void npyHandWrittenFiles() {
    const fs::path dir = freshDir("npy_hand_written");

    // Version 1.0, keys in another order, extra whitespace, no trailing comma.
    std::string data;
    const std::vector<int64_t> values = {1, -2, 3, 4, 5, 600000};
    for (int64_t v : values) data += littleEndian(v, 4);
    const fs::path v1 = dir / "v1.npy";
    writeAll(v1, npyBytes("{ 'shape' : ( 2 ,3 ) ,  'fortran_order':False, 'descr':'<i4' }", 1, data));
    const NpyArray a = studio::readNpy(v1.string());
    QCOMPARE(a.dtype, std::string("<i4"));
    QCOMPARE(a.shape, (std::vector<int64_t>{2, 3}));
    QCOMPARE(a.bytes.size(), size_t(24));
    int32_t last = 0;
    std::memcpy(&last, a.bytes.data() + 20, 4);
    QCOMPARE(last, 600000);
    int32_t second = 0;
    std::memcpy(&second, a.bytes.data() + 4, 4);
    QCOMPARE(second, -2);

    // Version 2.0 (32-bit header length), as numpy writes it.
    const double pi = 3.25;
    std::string eight(reinterpret_cast<const char*>(&pi), sizeof(pi));
    const fs::path v2 = dir / "v2.npy";
    writeAll(v2, npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", 2, eight + eight + eight));
    const NpyArray b = studio::readNpy(v2.string());
    QCOMPARE(b.dtype, std::string("<f8"));
    QCOMPARE(b.shape, (std::vector<int64_t>{3}));
    double x = 0;
    std::memcpy(&x, b.bytes.data() + 16, 8);
    QCOMPARE(x, 3.25);

    // A 0-d array (shape ()) holds one element.
    const fs::path scalar = dir / "scalar.npy";
    writeAll(scalar, npyBytes("{'descr': '|u1', 'fortran_order': False, 'shape': (), }", 1, "\x07"));
    const NpyArray c = studio::readNpy(scalar.string());
    QVERIFY(c.shape.empty());
    QCOMPARE(c.bytes, (std::vector<uint8_t>{7}));
  }

  void npyBadInput() {
    const fs::path dir = freshDir("npy_bad_input");
    const std::vector<float> f4(12, 1.f);
    std::string message;

    const std::string badMagic = (dir / "bad_magic.npy").string();
    studio::writeNpy(badMagic, "<f4", {3, 4}, f4.data());
    std::string bytes = readAll(badMagic);
    bytes[3] = 'X';
    writeAll(badMagic, bytes);
    EXPECT_BAD_INPUT(studio::readNpy(badMagic), message);
    QVERIFY2(message.rfind(badMagic, 0) == 0, message.c_str());
    QVERIFY2(message.find("NUMPY") != std::string::npos, message.c_str());

    const std::string truncated = (dir / "truncated.npy").string();
    studio::writeNpy(truncated, "<f4", {3, 4}, f4.data());
    fs::resize_file(truncated, fs::file_size(truncated) - 5);
    EXPECT_BAD_INPUT(studio::readNpy(truncated), message);
    QVERIFY2(message.rfind(truncated, 0) == 0, message.c_str());
    QVERIFY2(message.find("truncated: expected 48 data bytes, found 43") != std::string::npos, message.c_str());

    const std::string fortran = (dir / "fortran.npy").string();
    writeAll(fortran, npyBytes("{'descr': '<f4', 'fortran_order': True, 'shape': (3, 4), }", 1, std::string(48, '\0')));
    EXPECT_BAD_INPUT(studio::readNpy(fortran), message);
    QVERIFY2(message.rfind(fortran, 0) == 0, message.c_str());
    QVERIFY2(message.find("fortran_order") != std::string::npos, message.c_str());

    const std::string complex = (dir / "complex.npy").string();
    writeAll(complex, npyBytes("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", 1, std::string(16, '\0')));
    EXPECT_BAD_INPUT(studio::readNpy(complex), message);
    QVERIFY2(message.rfind(complex, 0) == 0, message.c_str());
    QVERIFY2(message.find("'<c8'") != std::string::npos, message.c_str());

    const std::string missing = (dir / "missing.npy").string();
    EXPECT_BAD_INPUT(studio::readNpy(missing), message);
    QVERIFY2(message.rfind(missing, 0) == 0, message.c_str());

    const std::string unsupported = (dir / "unsupported.npy").string();
    EXPECT_BAD_INPUT(studio::writeNpy(unsupported, "<c8", {2}, f4.data()), message);
    QVERIFY2(message.find("<c8") != std::string::npos, message.c_str());
    QVERIFY(!fs::exists(unsupported));
  }

  void runRecordRoundTrip() {
    const fs::path runs = freshDir("run_record");
    RunRecord none = makeRecord(runs, "run-none", "2026-11-25T10:00:00Z", "running", -1.0);
    fs::create_directories(none.path);
    studio::writeRunRecord(none.path, none);
    QVERIFY2(recordDiff(studio::readRunRecord(none.path), none).empty(),
             recordDiff(studio::readRunRecord(none.path), none).c_str());
    const auto json = nlohmann::json::parse(readAll(fs::path(none.path) / "run.json"));
    QVERIFY(json.at("best_knn").is_null());
    QVERIFY(!json.contains("path"));

    RunRecord some = makeRecord(runs, "run-some", "2026-11-25T11:00:00Z", "finished", 0.71875);
    fs::create_directories(some.path);
    studio::writeRunRecord(some.path + "/", some);  // a trailing separator names the same folder
    const RunRecord back = studio::readRunRecord(some.path);
    QVERIFY2(recordDiff(back, some).empty(), recordDiff(back, some).c_str());
    QCOMPARE(static_cast<int>(std::distance(fs::directory_iterator(some.path), fs::directory_iterator())), 1);
  }

  void readRunRecordErrors() {
    const fs::path runs = freshDir("run_record_errors");
    std::string message;

    const fs::path missing = runs / "no-record";
    fs::create_directories(missing);
    EXPECT_BAD_INPUT(studio::readRunRecord(missing.string()), message);
    QVERIFY2(message.find((missing / "run.json").string()) != std::string::npos, message.c_str());

    const fs::path noStatus = runs / "no-status";
    fs::create_directories(noStatus);
    writeAll(noStatus / "run.json",
             R"({"id": "no-status", "name": "n", "dataset": "d", "method": "simclr",
                 "started_at": "2026-11-25T10:00:00Z", "ended_at": "", "best_knn": null})");
    EXPECT_BAD_INPUT(studio::readRunRecord(noStatus.string()), message);
    QVERIFY2(message.find((noStatus / "run.json").string()) != std::string::npos, message.c_str());
    QVERIFY2(message.find("'status'") != std::string::npos, message.c_str());

    const fs::path wrongType = runs / "wrong-type";
    fs::create_directories(wrongType);
    writeAll(wrongType / "run.json",
             R"({"id": "wrong-type", "name": "n", "dataset": "d", "method": "simclr", "status": "finished",
                 "started_at": "2026-11-25T10:00:00Z", "ended_at": "", "best_knn": "high"})");
    EXPECT_BAD_INPUT(studio::readRunRecord(wrongType.string()), message);
    QVERIFY2(message.find("'best_knn'") != std::string::npos, message.c_str());

    const fs::path notJson = runs / "not-json";
    fs::create_directories(notJson);
    writeAll(notJson / "run.json", "{\"id\": \"not-json\",");
    EXPECT_BAD_INPUT(studio::readRunRecord(notJson.string()), message);
    QVERIFY2(message.find((notJson / "run.json").string()) != std::string::npos, message.c_str());
  }

  void runIndexBasics() {
    const fs::path runs = freshDir("index_basics");
    RunIndex index(runs.string());
    QVERIFY(index.list().empty());
    QVERIFY(!index.find("run-a"));

    RunRecord a = makeRecord(runs, "run-a", "2026-11-25T10:00:00Z", "running", -1.0);
    const RunRecord b = makeRecord(runs, "run-b", "2026-11-26T09:30:00Z", "finished", 0.8125);
    index.upsert(a);
    index.upsert(b);

    const auto listed = index.list();
    QCOMPARE(ids(listed), (std::vector<std::string>{"run-b", "run-a"}));
    const auto foundA = index.find("run-a");
    QVERIFY(foundA);
    QVERIFY2(recordDiff(*foundA, a).empty(), recordDiff(*foundA, a).c_str());
    QCOMPARE(foundA->best_knn, -1.0);
    const auto foundB = index.find("run-b");
    QVERIFY(foundB);
    QVERIFY2(recordDiff(*foundB, b).empty(), recordDiff(*foundB, b).c_str());

    a.status = "finished";
    a.ended_at = "2026-11-25T12:00:00Z";
    a.best_knn = 0.5;
    index.upsert(a);
    QCOMPARE(index.list().size(), size_t(2));
    const auto updated = index.find("run-a");
    QVERIFY(updated);
    QCOMPARE(updated->status, std::string("finished"));
    QVERIFY2(recordDiff(*updated, a).empty(), recordDiff(*updated, a).c_str());

    index.remove("run-b");
    QVERIFY(!index.find("run-b"));
    QCOMPARE(ids(index.list()), (std::vector<std::string>{"run-a"}));
    index.remove("never-existed");
    QCOMPARE(index.list().size(), size_t(1));

    std::string message;
    RunRecord noId = a;
    noId.id.clear();
    EXPECT_BAD_INPUT(index.upsert(noId), message);
  }

  void runIndexTwoConnections() {
#ifndef STUDIO_HAVE_SQLITE
    QSKIP(kSkipNoSqlite);
#endif
    const fs::path runs = freshDir("index_two_connections");
    RunIndex first(runs.string());
    RunIndex second(runs.string());
    const RunRecord a = makeRecord(runs, "run-a", "2026-11-25T10:00:00Z", "running", -1.0);
    const RunRecord b = makeRecord(runs, "run-b", "2026-11-26T10:00:00Z", "running", 0.25);
    first.upsert(a);
    second.upsert(b);
    QCOMPARE(ids(first.list()), (std::vector<std::string>{"run-b", "run-a"}));
    QCOMPARE(ids(second.list()), (std::vector<std::string>{"run-b", "run-a"}));

    RunRecord done = a;
    done.status = "finished";
    second.upsert(done);
    QCOMPARE(first.find("run-a")->status, std::string("finished"));

    // WAL mode keeps its log beside the database while connections are open.
    QVERIFY(fs::exists(runs / "runs.sqlite-wal"));
  }

  void runIndexConcurrentWriters() {
#ifndef STUDIO_HAVE_SQLITE
    QSKIP(kSkipNoSqlite);
#endif
    const fs::path runs = freshDir("index_concurrent");
    { RunIndex create(runs.string()); }
    constexpr int kPerWriter = 100;
    std::atomic<int> failures{0};
    std::string firstError;
    auto writer = [&](const std::string& prefix) {
      try {
        RunIndex index(runs.string());
        for (int i = 0; i < kPerWriter; ++i) {
          index.upsert(makeRecord(runs, prefix + std::to_string(i), "2026-11-25T10:00:00Z", "running", -1.0));
          index.upsert(makeRecord(runs, "shared", "2026-11-25T10:00:00Z", prefix, 0.5));
        }
      } catch (const std::exception& e) {
        if (failures++ == 0) firstError = e.what();
      }
    };
    std::thread one(writer, "one-");
    std::thread two(writer, "two-");
    one.join();
    two.join();
    QVERIFY2(failures == 0, firstError.c_str());
    RunIndex index(runs.string());
    QCOMPARE(index.list().size(), size_t(2 * kPerWriter + 1));
  }

  void rebuildFromFolders() {
    const fs::path runs = freshDir("index_rebuild");
    RunIndex index(runs.string());

    // Rows the folders no longer back: one whose folder was deleted, one whose run.json
    // was damaged afterwards.
    index.upsert(makeRecord(runs, "run-gone", "2026-11-20T10:00:00Z", "finished", 0.4));
    fs::remove_all(runs / "run-gone");
    const RunRecord broken = makeRecord(runs, "run-broken", "2026-11-21T10:00:00Z", "failed", -1.0);
    index.upsert(broken);
    fs::create_directories(broken.path);
    writeAll(fs::path(broken.path) / "run.json", "{\"id\": \"run-broken\", \"name\": ");

    std::vector<RunRecord> valid;
    for (int i = 0; i < 3; ++i) {
      valid.push_back(makeRecord(runs, "run-" + std::to_string(i), "2026-11-2" + std::to_string(2 + i) + "T10:00:00Z",
                                 "finished", 0.1 * (i + 1)));
      fs::create_directories(valid.back().path);
      studio::writeRunRecord(valid.back().path, valid.back());
    }
    fs::create_directories(runs / "not-a-run");  // no run.json: ignored

    QCOMPARE(index.rebuildFromFolders(), 3);
    QCOMPARE(ids(index.list()), (std::vector<std::string>{"run-2", "run-1", "run-0"}));
    for (const auto& want : valid) {
      const auto got = index.find(want.id);
      QVERIFY(got);
      QVERIFY2(recordDiff(*got, want).empty(), recordDiff(*got, want).c_str());
    }
    QVERIFY(!index.find("run-gone"));
    QVERIFY(!index.find("run-broken"));

    // A second rebuild changes nothing.
    QCOMPARE(index.rebuildFromFolders(), 3);
  }

  void garbageDatabase() {
#ifndef STUDIO_HAVE_SQLITE
    QSKIP(kSkipNoSqlite);
#endif
    const fs::path runs = freshDir("index_garbage");
    std::string garbage;
    for (int i = 0; i < 256; ++i) garbage += "this is not a database ";
    writeAll(runs / "runs.sqlite", garbage);
    std::string message;
    EXPECT_BAD_INPUT(RunIndex index(runs.string()), message);
    QVERIFY2(message.find((runs / "runs.sqlite").string()) != std::string::npos, message.c_str());
    QVERIFY2(message.find("not an SQLite database") != std::string::npos, message.c_str());
  }
};

STUDIO_TEST_MAIN(TestRunStore)
#include "test_run_store.moc"
