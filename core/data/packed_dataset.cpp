#include "core/data/packed_dataset.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "core/base/error.h"
#include "core/base/file_io.h"

namespace studio {
namespace {

constexpr char kMagic[8] = {'C', 'S', 'D', 'S', 'E', 'T', '0', '1'};
constexpr int64_t kFormatVersion = 1;
constexpr uint64_t kHeaderBytes = 16;
constexpr uint64_t kFnvPrime = 1099511628211ULL;

using Json = nlohmann::json;

void putUint64Le(uint8_t* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(v >> (8 * i));
}

uint64_t getUint64Le(const uint8_t* in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(in[i]) << (8 * i);
  return v;
}

// Labels are stored (and hashed) as little-endian int32 whatever the host's byte order.
std::vector<uint8_t> labelBytes(const std::vector<int32_t>& labels) {
  std::vector<uint8_t> out(labels.size() * 4);
  for (size_t i = 0; i < labels.size(); ++i) {
    const auto u = static_cast<uint32_t>(labels[i]);
    for (int b = 0; b < 4; ++b) out[i * 4 + b] = static_cast<uint8_t>(u >> (8 * b));
  }
  return out;
}


// Product of the four dimensions, or false when it does not fit in 63 bits (a hostile or
// corrupt manifest must not wrap around into a plausible size).
bool checkedElementCount(int64_t n, int64_t c, int64_t h, int64_t w, uint64_t& out) {
  const uint64_t limit = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  uint64_t total = 1;
  for (int64_t d : {n, c, h, w}) {
    if (d < 0) return false;
    const auto u = static_cast<uint64_t>(d);
    if (u != 0 && total > limit / u) return false;
    total *= u;
  }
  out = total;
  return true;
}

// Shared by writer and reader so a file the writer accepts is always readable.
// Returns an empty string when the labels are valid, else the problem.
std::string labelProblem(const std::vector<int32_t>& labels, size_t class_count) {
  for (size_t i = 0; i < labels.size(); ++i) {
    const int32_t l = labels[i];
    const bool ok = l == -1 || (l >= 0 && (class_count == 0 || static_cast<size_t>(l) < class_count));
    if (!ok) {
      std::string range = class_count == 0 ? ">= -1" : "-1 or in [0, " + std::to_string(class_count) + ")";
      return "label " + std::to_string(l) + " at index " + std::to_string(i) + " is out of range (expected " +
             range + ")";
    }
  }
  return {};
}

std::string ioError(const std::string& path, const std::string& what, int err) {
  return path + ": " + what + ": " + std::strerror(err);
}

const Json& requireKey(const Json& manifest, const char* key, const std::string& path) {
  auto it = manifest.find(key);
  if (it == manifest.end()) throwBadInput(path + ": manifest lacks the key \"" + key + "\"");
  return *it;
}

int64_t requireInteger(const Json& manifest, const char* key, const std::string& path) {
  const Json& v = requireKey(manifest, key, path);
  if (!v.is_number_integer())
    throwBadInput(path + ": manifest key \"" + key + "\" must be an integer, got " + v.dump());
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    throwBadInput(path + ": manifest key \"" + key + "\" = " + v.dump() + " is absurdly large");
  return v.get<int64_t>();
}

std::vector<std::string> requireStringArray(const Json& manifest, const char* key, const std::string& path) {
  const Json& v = requireKey(manifest, key, path);
  if (!v.is_array()) throwBadInput(path + ": manifest key \"" + key + "\" must be an array of strings");
  std::vector<std::string> out;
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string())
      throwBadInput(path + ": manifest key \"" + key + "\" must be an array of strings, element " +
                    std::to_string(i) + " is " + v[i].dump());
    out.push_back(v[i].get<std::string>());
  }
  return out;
}

bool isLowerHex16(const std::string& s) {
  if (s.size() != 16) return false;
  for (char ch : s)
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) return false;
  return true;
}

}  // namespace

uint64_t fnv1a64(uint64_t h, const uint8_t* data, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    h ^= data[i];
    h *= kFnvPrime;
  }
  return h;
}

std::string packedContentHash(const std::vector<uint8_t>& pixels, const std::vector<int32_t>& labels) {
  uint64_t h = fnv1a64(kFnv1aOffsetBasis, pixels.data(), pixels.size());
  const std::vector<uint8_t> lb = labelBytes(labels);
  h = fnv1a64(h, lb.data(), lb.size());
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

void writePackedDataset(const std::string& path, const PackedDataset& data) {
  if (path.empty()) throwBadInput("packed dataset: empty output path");
  if (data.count == 0) throwBadInput(path + ": empty dataset (count is 0)");
  if (data.count < 0 || data.channels <= 0 || data.height <= 0 || data.width <= 0)
    throwBadInput(path + ": invalid dimensions count=" + std::to_string(data.count) + " channels=" +
                  std::to_string(data.channels) + " height=" + std::to_string(data.height) +
                  " width=" + std::to_string(data.width) + " (all must be > 0)");
  uint64_t elements = 0;
  if (!checkedElementCount(data.count, data.channels, data.height, data.width, elements))
    throwBadInput(path + ": dimensions overflow (count*channels*height*width is too large)");
  if (data.pixels.size() != elements)
    throwBadInput(path + ": pixels hold " + std::to_string(data.pixels.size()) + " bytes, expected " +
                  std::to_string(elements) + " (count*channels*height*width)");
  if (data.labels.size() != static_cast<uint64_t>(data.count))
    throwBadInput(path + ": " + std::to_string(data.labels.size()) + " labels for " + std::to_string(data.count) +
                  " samples");
  if (!data.sources.empty() && data.sources.size() != static_cast<uint64_t>(data.count))
    throwBadInput(path + ": " + std::to_string(data.sources.size()) + " sources for " +
                  std::to_string(data.count) + " samples (expected none or one per sample)");
  const std::string problem = labelProblem(data.labels, data.class_names.size());
  if (!problem.empty()) throwBadInput(path + ": " + problem);
  if (!data.extra.is_object()) throwBadInput(path + ": extra must be a JSON object");

  Json manifest = Json::object();
  manifest["format_version"] = kFormatVersion;
  manifest["count"] = data.count;
  manifest["channels"] = data.channels;
  manifest["height"] = data.height;
  manifest["width"] = data.width;
  manifest["class_names"] = data.class_names;
  manifest["sources"] = data.sources;
  manifest["content_hash"] = packedContentHash(data.pixels, data.labels);
  manifest["extra"] = data.extra;
  // Source paths are byte strings (a file name need not be UTF-8); the manifest must stay
  // valid UTF-8 JSON, so such bytes are stored as U+FFFD rather than refusing the import.
  const std::string text = manifest.dump(-1, ' ', false, Json::error_handler_t::replace);

  uint8_t header[kHeaderBytes];
  std::memcpy(header, kMagic, 8);
  putUint64Le(header + 8, text.size());
  const std::vector<uint8_t> labels = labelBytes(data.labels);

  writeFileAtomically(path, [&](std::ostream& out) {
    out.write(reinterpret_cast<const char*>(header), sizeof header);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.write(reinterpret_cast<const char*>(data.pixels.data()), static_cast<std::streamsize>(data.pixels.size()));
    out.write(reinterpret_cast<const char*>(labels.data()), static_cast<std::streamsize>(labels.size()));
  });
}

PackedDataset readPackedDataset(const std::string& path, bool verify_hash) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) throwBadInput(path + ": no such file");
  if (std::filesystem::is_directory(status)) throwBadInput(path + ": is a folder, not a dataset file");

  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) throwBadInput(ioError(path, "cannot open", errno ? errno : EACCES));
  in.seekg(0, std::ios::end);
  const std::streamoff end = in.tellg();
  in.seekg(0, std::ios::beg);
  if (end < 0 || !in) throwBadInput(path + ": cannot determine the file size");
  const auto file_size = static_cast<uint64_t>(end);
  if (file_size < kHeaderBytes)
    throwBadInput(path + ": not a Contrastive Studio dataset (only " + std::to_string(file_size) +
                  " bytes, shorter than the 16-byte header)");

  uint8_t header[kHeaderBytes];
  if (!in.read(reinterpret_cast<char*>(header), sizeof header)) throwBadInput(path + ": cannot read the header");
  if (std::memcmp(header, kMagic, 8) != 0) throwBadInput(path + ": not a Contrastive Studio dataset (wrong magic)");
  const uint64_t manifest_size = getUint64Le(header + 8);
  if (manifest_size > file_size - kHeaderBytes)
    throwBadInput(path + ": manifest length " + std::to_string(manifest_size) + " exceeds the file size " +
                  std::to_string(file_size) + " (truncated or corrupt)");

  std::string text(static_cast<size_t>(manifest_size), '\0');
  if (!in.read(text.data(), static_cast<std::streamsize>(text.size()))) throwBadInput(path + ": cannot read the manifest");
  Json manifest;
  try {
    manifest = Json::parse(text);
  } catch (const Json::exception& e) {
    throwBadInput(path + ": manifest is not valid JSON: " + e.what());
  }
  if (!manifest.is_object()) throwBadInput(path + ": manifest must be a JSON object");

  const int64_t version = requireInteger(manifest, "format_version", path);
  if (version != kFormatVersion)
    throwBadInput(path + ": unsupported format_version " + std::to_string(version) + " (this build reads " +
                  std::to_string(kFormatVersion) + ")");

  PackedDataset data;
  data.count = requireInteger(manifest, "count", path);
  data.channels = requireInteger(manifest, "channels", path);
  data.height = requireInteger(manifest, "height", path);
  data.width = requireInteger(manifest, "width", path);
  if (data.count <= 0 || data.channels <= 0 || data.height <= 0 || data.width <= 0)
    throwBadInput(path + ": invalid dimensions count=" + std::to_string(data.count) + " channels=" +
                  std::to_string(data.channels) + " height=" + std::to_string(data.height) +
                  " width=" + std::to_string(data.width) + " (all must be > 0)");
  data.class_names = requireStringArray(manifest, "class_names", path);
  data.sources = requireStringArray(manifest, "sources", path);
  const Json& hash = requireKey(manifest, "content_hash", path);
  if (!hash.is_string() || !isLowerHex16(hash.get<std::string>()))
    throwBadInput(path + ": manifest key \"content_hash\" must be a string of 16 lowercase hex digits, got " +
                  hash.dump());
  data.content_hash = hash.get<std::string>();
  if (auto it = manifest.find("extra"); it != manifest.end()) {
    if (!it->is_object()) throwBadInput(path + ": manifest key \"extra\" must be an object, got " + it->dump());
    data.extra = *it;
  }

  uint64_t elements = 0;
  const uint64_t fixed = kHeaderBytes + manifest_size;  // <= file_size, so no overflow
  const uint64_t limit = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  const bool fits = checkedElementCount(data.count, data.channels, data.height, data.width, elements) &&
                    static_cast<uint64_t>(data.count) <= limit / 4 && elements <= limit - fixed &&
                    static_cast<uint64_t>(data.count) * 4 <= limit - fixed - elements;
  if (!fits)
    throwBadInput(path + ": absurd dimensions count=" + std::to_string(data.count) + " channels=" +
                  std::to_string(data.channels) + " height=" + std::to_string(data.height) +
                  " width=" + std::to_string(data.width) + " (size overflows)");
  const uint64_t label_bytes = static_cast<uint64_t>(data.count) * 4;
  const uint64_t expected = fixed + elements + label_bytes;
  if (file_size < expected)
    throwBadInput(path + ": truncated: expected " + std::to_string(expected) + " bytes, found " +
                  std::to_string(file_size));
  if (file_size > expected)
    throwBadInput(path + ": has " + std::to_string(file_size - expected) + " unexpected trailing bytes (expected " +
                  std::to_string(expected) + " bytes, found " + std::to_string(file_size) + ")");
  if (!data.sources.empty() && data.sources.size() != static_cast<uint64_t>(data.count))
    throwBadInput(path + ": manifest lists " + std::to_string(data.sources.size()) + " sources for " +
                  std::to_string(data.count) + " samples (expected none or one per sample)");

  data.pixels.resize(static_cast<size_t>(elements));
  if (!in.read(reinterpret_cast<char*>(data.pixels.data()), static_cast<std::streamsize>(elements)))
    throwBadInput(path + ": cannot read the pixels");
  std::vector<uint8_t> raw(static_cast<size_t>(label_bytes));
  if (!in.read(reinterpret_cast<char*>(raw.data()), static_cast<std::streamsize>(raw.size())))
    throwBadInput(path + ": cannot read the labels");
  data.labels.resize(static_cast<size_t>(data.count));
  for (size_t i = 0; i < data.labels.size(); ++i) {
    uint32_t u = 0;
    for (int b = 0; b < 4; ++b) u |= static_cast<uint32_t>(raw[i * 4 + b]) << (8 * b);
    data.labels[i] = static_cast<int32_t>(u);
  }
  const std::string problem = labelProblem(data.labels, data.class_names.size());
  if (!problem.empty()) throwBadInput(path + ": " + problem);

  if (verify_hash) {
    const std::string actual = packedContentHash(data.pixels, data.labels);
    if (actual != data.content_hash)
      throwBadInput(path + ": content hash mismatch: manifest says " + data.content_hash + ", data hashes to " +
                    actual + " (the file is corrupt)");
  }
  return data;
}

bool isPackedDatasetFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  char magic[8];
  if (!in.read(magic, sizeof magic)) return false;
  return std::memcmp(magic, kMagic, 8) == 0;
}

}  // namespace studio
