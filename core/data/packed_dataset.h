#pragma once
// The studio's own dataset format: one file holding uint8 NCHW pixels, int32 labels,
// class names and a JSON manifest (source paths, content hash, import report).
// Torch-free so the importer and other light clients can write it.
//
// Layout (little-endian):
//   8 bytes   magic "CSDSET01"
//   8 bytes   uint64 manifest length M
//   M bytes   manifest, UTF-8 JSON: {"format_version":1,"count":N,"channels":C,"height":H,
//             "width":W,"class_names":[...],"sources":[...],"content_hash":"<16 hex>",
//             "extra":{...}}
//   N*C*H*W   pixels, uint8, NCHW
//   N*4       labels, int32 (-1 = unlabeled)
// The reader refuses wrong magic, a manifest that is not JSON or lacks a key, and a file
// whose size differs from what the manifest implies (truncated or padded).
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace studio {

struct PackedDataset {
  int64_t count = 0;
  int64_t channels = 0;
  int64_t height = 0;
  int64_t width = 0;
  std::vector<uint8_t> pixels;           // count*channels*height*width, NCHW
  std::vector<int32_t> labels;           // count; -1 = unlabeled
  std::vector<std::string> class_names;  // empty for an unlabeled set
  std::vector<std::string> sources;      // count source paths, or empty; bytes that are not
                                         // UTF-8 are written as U+FFFD (the manifest is JSON)
  std::string content_hash;              // 16 lowercase hex digits, FNV-1a 64 of pixels then labels
  nlohmann::json extra = nlohmann::json::object();  // free-form: import report, licence note
};

// FNV-1a 64-bit over pixels then labels, as 16 lowercase hex digits.
std::string packedContentHash(const std::vector<uint8_t>& pixels, const std::vector<int32_t>& labels);
// The same hash over data in pieces: start from kFnv1aOffsetBasis and feed each block (pixels,
// then labels as little-endian int32), then print with "%016llx".
constexpr uint64_t kFnv1aOffsetBasis = 14695981039346656037ULL;
uint64_t fnv1a64(uint64_t h, const uint8_t* data, size_t n);

// Writes atomically (temporary file in the same folder, then rename). Computes and stores
// content_hash. Throws studio::Error(BadInput) on inconsistent sizes, (Failure) on I/O error.
void writePackedDataset(const std::string& path, const PackedDataset& data);

// Reads the whole file into memory. Throws studio::Error(BadInput) naming the file and
// what is wrong. verify_hash recomputes the content hash and refuses a mismatch.
PackedDataset readPackedDataset(const std::string& path, bool verify_hash = false);

// True when the file starts with the packed-format magic (cheap sniffing for loaders).
bool isPackedDatasetFile(const std::string& path);

}  // namespace studio
