#include "core/data/dataset.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#ifdef STUDIO_HAVE_ZLIB
#include <zlib.h>
#endif

#include "core/data/dataset_images.h"
#include "core/base/error.h"
#include "core/data/packed_dataset.h"

namespace fs = std::filesystem;

namespace studio {
namespace {

const std::vector<std::string> kFashionMnistClasses = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                       "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
const std::vector<std::string> kDigitClasses = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
const std::vector<std::string> kCifar10Classes = {"airplane", "automobile", "bird",  "cat",  "deer",
                                                  "dog",      "frog",       "horse", "ship", "truck"};

// Reads a whole file, transparently gunzipping (zlib reads raw files unchanged).
std::vector<uint8_t> readMaybeGzip(const std::string& path) {
  if (!fs::exists(path)) throwBadInput(path + ": file not found");
  std::vector<uint8_t> out;
#ifdef STUDIO_HAVE_ZLIB
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throwBadInput(path + ": cannot be opened (" + std::string(std::strerror(errno)) + ")");
  std::vector<uint8_t> chunk(1 << 20);
  while (true) {
    const int n = gzread(f, chunk.data(), static_cast<unsigned>(chunk.size()));
    if (n < 0) {
      int code = 0;
      const std::string msg = gzerror(f, &code);
      gzclose(f);
      throwBadInput(path + ": corrupt or truncated gzip data (" + msg + ")");
    }
    if (n == 0) break;
    out.insert(out.end(), chunk.begin(), chunk.begin() + n);
  }
  // gzread returns 0 at a premature end of a gzip stream; gzerror tells.
  int code = 0;
  const char* msg = gzerror(f, &code);
  if (code != Z_OK && code != Z_STREAM_END) {
    const std::string m = msg ? msg : "";
    gzclose(f);
    throwBadInput(path + ": corrupt or truncated gzip data (" + m + ")");
  }
  gzclose(f);
#else
  std::ifstream in(path, std::ios::binary);
  if (!in) throwBadInput(path + ": cannot be opened");
  unsigned char magic[2] = {0, 0};
  in.read(reinterpret_cast<char*>(magic), 2);
  if (magic[0] == 0x1f && magic[1] == 0x8b)
    throwBadInput(path + ": gzip-compressed, but this build has no zlib; decompress it with gunzip first");
  in.seekg(0);
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
#endif
  return out;
}

uint32_t readBigEndian32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

// Parses an IDX header; returns the dims and checks the payload size exactly.
std::vector<int64_t> idxDims(const std::vector<uint8_t>& bytes, const std::string& path, int expected_ndim) {
  if (bytes.size() < 4) throwBadInput(path + ": too short to be an IDX file (" + std::to_string(bytes.size()) + " bytes)");
  if (bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 0x08)
    throwBadInput(path + ": not an IDX unsigned-byte file (wrong magic)");
  const int ndim = bytes[3];
  if (ndim != expected_ndim)
    throwBadInput(path + ": IDX file has " + std::to_string(ndim) + " dimensions, expected " + std::to_string(expected_ndim) +
                  (expected_ndim == 3 ? " (images)" : " (labels)"));
  const size_t header = 4 + 4 * static_cast<size_t>(ndim);
  if (bytes.size() < header) throwBadInput(path + ": truncated IDX header");
  std::vector<int64_t> dims;
  int64_t total = 1;
  for (int i = 0; i < ndim; ++i) {
    const int64_t d = readBigEndian32(bytes.data() + 4 + 4 * i);
    if (d <= 0 || d > (int64_t(1) << 31)) throwBadInput(path + ": IDX dimension " + std::to_string(i) + " is " + std::to_string(d));
    dims.push_back(d);
    total *= d;
    if (total > (int64_t(1) << 40)) throwBadInput(path + ": IDX dimensions are implausibly large");
  }
  const size_t have = bytes.size() - header;
  if (have < static_cast<size_t>(total))
    throwBadInput(path + ": truncated: the header promises " + std::to_string(total) + " bytes of data, the file has " +
                  std::to_string(have));
  if (have > static_cast<size_t>(total))
    throwBadInput(path + ": " + std::to_string(have - total) + " unexpected bytes after the data");
  return dims;
}

std::string joinPath(const std::string& dir, const std::string& name) { return (fs::path(dir) / name).string(); }

// First existing file among name and name + ".gz".
std::string findIdxFile(const std::string& dir, const std::string& name) {
  for (const auto& candidate : {name + ".gz", name}) {
    const auto p = joinPath(dir, candidate);
    if (fs::exists(p)) return p;
  }
  throwBadInput(dir + ": no " + name + " or " + name + ".gz found");
}

Dataset loadIdxSplit(const std::string& dir, const std::string& prefix, const std::vector<std::string>& classes,
                     const std::string& name) {
  Dataset d = readIdxDataset(findIdxFile(dir, prefix + "-images-idx3-ubyte"), findIdxFile(dir, prefix + "-labels-idx1-ubyte"));
  d.class_names = classes;
  d.name = name;
  const int64_t max_label = d.labels.numel() ? d.labels.max().item<int64_t>() : -1;
  if (max_label >= static_cast<int64_t>(classes.size()))
    throwBadInput(dir + ": label " + std::to_string(max_label) + " is outside the " + std::to_string(classes.size()) + " classes");
  return d;
}

std::vector<std::string> readClassNames(const std::string& path, size_t expected) {
  std::vector<std::string> names;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) names.push_back(line);
  }
  if (names.size() != expected) {
    names.clear();
    for (size_t i = 0; i < expected; ++i) names.push_back(std::to_string(i));
  }
  return names;
}

void checkNotEmpty(const Dataset& d, const std::string& what) {
  if (d.size() == 0) throwBadInput(what + ": the dataset is empty");
}

}  // namespace

bool Dataset::labeled() const {
  return !class_names.empty() && labels.defined() && labels.numel() > 0 && labels.min().item<int64_t>() >= 0;
}

Dataset Dataset::subset(const torch::Tensor& indices) const {
  Dataset d;
  d.name = name;
  d.class_names = class_names;
  d.images = images.index_select(0, indices).contiguous();
  d.labels = labels.index_select(0, indices).contiguous();
  return d;
}

std::string builtinFashionMnistDir() {
  if (const char* env = std::getenv("STUDIO_FASHION_MNIST_DIR"); env && *env) return env;
  return "/usr/share/datasets/fashion-mnist";
}

Dataset readIdxDataset(const std::string& images_path, const std::string& labels_path) {
  const auto img = readMaybeGzip(images_path);
  const auto dims = idxDims(img, images_path, 3);
  const auto lab = readMaybeGzip(labels_path);
  const auto ldims = idxDims(lab, labels_path, 1);
  if (ldims[0] != dims[0])
    throwBadInput(labels_path + ": has " + std::to_string(ldims[0]) + " labels but " + images_path + " has " +
                  std::to_string(dims[0]) + " images");
  Dataset d;
  d.images = torch::empty({dims[0], 1, dims[1], dims[2]}, torch::kUInt8);
  std::memcpy(d.images.data_ptr<uint8_t>(), img.data() + 16, static_cast<size_t>(dims[0] * dims[1] * dims[2]));
  d.labels = torch::from_blob(const_cast<uint8_t*>(lab.data() + 8), {ldims[0]}, torch::kUInt8).to(torch::kInt64);
  checkNotEmpty(d, images_path);
  return d;
}

Dataset readCifarBinary(const std::vector<std::string>& files, int label_bytes) {
  constexpr int64_t kPixels = 3 * 32 * 32;
  const int64_t record = label_bytes + kPixels;
  std::vector<std::vector<uint8_t>> contents;
  int64_t total = 0;
  for (const auto& f : files) {
    if (!fs::exists(f)) throwBadInput(f + ": file not found");
    std::ifstream in(f, std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.empty()) throwBadInput(f + ": empty file");
    if (bytes.size() % record != 0)
      throwBadInput(f + ": size " + std::to_string(bytes.size()) + " is not a multiple of the " + std::to_string(record) +
                    "-byte CIFAR record (truncated, or not a CIFAR binary file)");
    total += static_cast<int64_t>(bytes.size()) / record;
    contents.push_back(std::move(bytes));
  }
  Dataset d;
  d.images = torch::empty({total, 3, 32, 32}, torch::kUInt8);
  d.labels = torch::empty({total}, torch::kInt64);
  auto* px = d.images.data_ptr<uint8_t>();
  auto* lb = d.labels.data_ptr<int64_t>();
  int64_t row = 0;
  const int64_t max_label = label_bytes == 1 ? 9 : 99;
  for (size_t fi = 0; fi < contents.size(); ++fi) {
    const auto& bytes = contents[fi];
    for (size_t off = 0; off < bytes.size(); off += record, ++row) {
      const int64_t label = bytes[off + label_bytes - 1];
      if (label > max_label)
        throwBadInput(files[fi] + ": record " + std::to_string(off / record) + " has label " + std::to_string(label) +
                      ", expected 0.." + std::to_string(max_label) + " (wrong CIFAR variant?)");
      lb[row] = label;
      std::memcpy(px + row * kPixels, bytes.data() + off + label_bytes, kPixels);
    }
  }
  return d;
}

Dataset readPackedAsDataset(const std::string& path) {
  PackedDataset p = readPackedDataset(path);
  Dataset d;
  d.name = fs::path(path).stem().string();
  d.class_names = p.class_names;
  d.images = torch::from_blob(p.pixels.data(), {p.count, p.channels, p.height, p.width}, torch::kUInt8).clone();
  d.labels = torch::from_blob(p.labels.data(), {p.count}, torch::kInt32).to(torch::kInt64);
  checkNotEmpty(d, path);
  return d;
}

DatasetSplits loadDataset(const DatasetConfig& config, int64_t seed) {
  DatasetSplits s;
  if (config.kind == DatasetKind::FashionMnist || config.kind == DatasetKind::Mnist) {
    std::string dir = config.path;
    if (dir.empty()) {
      if (config.kind == DatasetKind::Mnist) throwBadInput("config: dataset.path must name the MNIST folder (IDX files)");
      dir = builtinFashionMnistDir();
    }
    if (!fs::is_directory(dir))
      throwBadInput(dir + ": dataset folder not found" +
                    (config.kind == DatasetKind::FashionMnist && config.path.empty()
                         ? std::string(" (install the Debian package dataset-fashion-mnist: ./studio setup)")
                         : std::string()));
    const auto& classes = config.kind == DatasetKind::Mnist ? kDigitClasses : kFashionMnistClasses;
    s.train = loadIdxSplit(dir, "train", classes, wordOf(config.kind));
    s.eval = loadIdxSplit(dir, "t10k", classes, wordOf(config.kind) + "-test");
  } else if (config.kind == DatasetKind::Cifar10 || config.kind == DatasetKind::Cifar100) {
    const std::string& dir = config.path;
    if (dir.empty() || !fs::is_directory(dir))
      throwBadInput("config: dataset.path must name the CIFAR binary folder, got \"" + dir + "\"");
    if (config.kind == DatasetKind::Cifar10) {
      std::vector<std::string> train_files;
      for (int i = 1; i <= 5; ++i) train_files.push_back(joinPath(dir, "data_batch_" + std::to_string(i) + ".bin"));
      s.train = readCifarBinary(train_files, 1);
      s.eval = readCifarBinary({joinPath(dir, "test_batch.bin")}, 1);
      const auto meta = joinPath(dir, "batches.meta.txt");
      s.train.class_names = fs::exists(meta) ? readClassNames(meta, 10) : kCifar10Classes;
    } else {
      s.train = readCifarBinary({joinPath(dir, "train.bin")}, 2);
      s.eval = readCifarBinary({joinPath(dir, "test.bin")}, 2);
      s.train.class_names = readClassNames(joinPath(dir, "fine_label_names.txt"), 100);
    }
    s.eval.class_names = s.train.class_names;
    s.train.name = wordOf(config.kind);
    s.eval.name = wordOf(config.kind) + "-test";
  } else if (config.kind == DatasetKind::Packed) {
    if (config.path.empty()) throwBadInput("config: dataset.path must name a packed dataset file (.csds)");
    Dataset all = readPackedAsDataset(config.path);
    const int64_t n = all.size();
    const int64_t held = all.labeled() ? static_cast<int64_t>(n * config.holdout_fraction) : 0;
    if (held > 0 && n - held >= 2) {
      auto gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(seed) ^ 0x5eed5eedULL);
      const auto perm = torch::randperm(n, gen, torch::kInt64);
      s.eval = all.subset(perm.slice(0, 0, held));
      s.train = all.subset(perm.slice(0, held, n));
    } else {
      s.train = std::move(all);
    }
  }
  if (config.train_limit > 0 && config.train_limit < s.train.size())
    s.train = s.train.subset(torch::arange(config.train_limit, torch::kInt64));
  checkNotEmpty(s.train, config.path.empty() ? wordOf(config.kind) : config.path);
  return s;
}

ImageTable toImageTable(const Dataset& data) {
  ImageTable t;
  if (data.size() == 0) return t;
  t.count = data.size();
  t.channels = data.channels();
  t.height = data.height();
  t.width = data.width();
  // The aliasing constructor keeps the tensor (and so its buffer) alive with the table.
  auto holder = std::make_shared<torch::Tensor>(data.images.contiguous());
  t.pixels = std::shared_ptr<const uint8_t>(holder, holder->data_ptr<uint8_t>());
  if (data.labels.defined() && data.labels.numel() == t.count) {
    const auto l = data.labels.to(torch::kInt64).contiguous();
    t.labels.assign(l.data_ptr<int64_t>(), l.data_ptr<int64_t>() + t.count);
  }
  t.class_names = data.class_names;
  return t;
}

DatasetImages loadDatasetImages(const DatasetConfig& config, int64_t seed) {
  DatasetSplits s = loadDataset(config, seed);
  DatasetImages images;
  images.name = s.train.name.empty() ? wordOf(config.kind) : s.train.name;
  images.train = toImageTable(s.train);
  images.eval = toImageTable(s.eval);
  if (images.eval.class_names.empty()) images.eval.class_names = images.train.class_names;
  return images;
}

void channelStats(const Dataset& data, std::vector<double>& mean, std::vector<double>& std, int64_t max_images) {
  const int64_t n = std::min<int64_t>(data.size(), max_images);
  const auto x = data.images.slice(0, 0, n).to(torch::kFloat64).div(255.0).transpose(0, 1).reshape({data.channels(), -1});
  const auto m = x.mean(1);
  const auto s = x.std(1).clamp_min(1e-3);
  mean.assign(m.data_ptr<double>(), m.data_ptr<double>() + m.numel());
  std.assign(s.data_ptr<double>(), s.data_ptr<double>() + s.numel());
}

}  // namespace studio
